"""What a paper card and a result list show of ranking and Hugging Face signals, without markup.

Platform-neutral pieces shared by every adapter: the Hugging Face line ("🤗 123 upvotes
· code: owner/repo ★ 4.5k · in the daily papers"), the votes mark of a result list
("▲ 123"), the top-pick note ("⭐ Top pick · like 2410.22454 that you liked") and the
TL;DR's label and length. Each adapter passes a ``link`` function that renders a
:class:`Link` in its own markup, escaping the label, which may be untrusted; every URL
here is one the bot built or one :func:`safe_url` accepted, so it can go into a link as
it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.arxiv_ids import parse_arxiv_id
from bot.errors import PaperIdError
from bot.models import ARXIV_BASE, CommunitySignals, PaperPost, Reply
from bot.typography import clean, cut_at_word

__all__ = [
    "TLDR_CHARS",
    "TLDR_LABEL",
    "TOP_PICK",
    "Link",
    "LinkFormat",
    "code_piece",
    "community_line",
    "compact_count",
    "like_link",
    "repo_link",
    "safe_url",
    "signal_for",
    "tldr_text",
    "top_pick_line",
    "votes_mark",
]

TLDR_CHARS = 300
"""A TL;DR at most, in raw characters (it is meant to be one sentence)."""
TLDR_LABEL = "TL;DR:"
TOP_PICK = "⭐"
TOP_PICK_LABEL = f"{TOP_PICK} Top pick"
REPO_LABEL_CHARS = 80
MAX_ID = 64
"""A liked paper's id longer than this is not an arXiv id (and is not parsed)."""
MAX_URL = 200
"""A repository URL longer than this is not shown (no real one is; it keeps cards small)."""
_UNITS = (("k", 10**3), ("M", 10**6), ("B", 10**9), ("T", 10**12))
_SAFE_URL = re.compile(
    r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%+/-]*)?",
    re.IGNORECASE,
)
"""An http(s) URL with nothing that could end or disguise a link in any markup: no
quotes, brackets, pipes, spaces, ``&``, ``?`` or ``#``."""


@dataclass(frozen=True, slots=True)
class Link:
    """A link to show: ``url`` is safe as it is; ``label`` is plain text to escape."""

    url: str
    label: str


LinkFormat = Callable[[Link], str]
"""Renders a link in an adapter's markup (escaping its label)."""


def compact_count(count: int) -> str:
    """``999``, ``1.2k``, ``45k``, ``3.4M``; rounded down, so never "1000k"; anything
    from a thousand trillion up is ``999T+``; a negative count shows as 0."""
    count = max(count, 0)
    if count < 1000:
        return str(count)
    for suffix, size in _UNITS:
        tenths = count * 10 // size
        if tenths < 100:
            whole, tenth = divmod(tenths, 10)
            return f"{whole}.{tenth}{suffix}" if tenth else f"{whole}{suffix}"
        if count // size < 1000:
            return f"{count // size}{suffix}"
    return f"999{_UNITS[-1][0]}+"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL safe to put in a link as it is, else None."""
    if url is None or len(url) > MAX_URL:
        return None
    return url if _SAFE_URL.fullmatch(url) else None


def repo_link(url: str | None) -> Link | None:
    """A repository URL as a link labelled ``owner/repo`` (or its host when the path is
    shorter); None unless :func:`safe_url` accepts it."""
    safe = safe_url(url)
    if safe is None:
        return None
    host, _, path = safe.split("://", 1)[1].partition("/")
    parts = [part for part in path.split("/") if part]
    label = "/".join(parts[:2]).removesuffix(".git") or host
    return Link(safe, cut_at_word(label, REPO_LABEL_CHARS))


def votes_mark(signals: CommunitySignals | None) -> str:
    """``▲ 123`` for a result list, or "" when the upvotes are not known."""
    if signals is None or signals.upvotes is None:
        return ""
    return f"▲ {compact_count(signals.upvotes)}"


def code_piece(signals: CommunitySignals | None, link: LinkFormat) -> str:
    """``code: <owner/repo> ★ 4.5k``, or "" without a safe repository URL."""
    repo = repo_link(signals.github_repo) if signals is not None else None
    if signals is None or repo is None:
        return ""
    piece = f"code: {link(repo)}"
    if signals.github_stars is not None:
        piece += f" ★ {compact_count(signals.github_stars)}"
    return piece


def community_line(signals: CommunitySignals | None, link: LinkFormat) -> str:
    """The Hugging Face line of a card; "" when nothing is known."""
    if signals is None:
        return ""
    pieces = []
    if signals.upvotes is not None:
        count = compact_count(signals.upvotes)
        pieces.append(f"{count} upvote" if count == "1" else f"{count} upvotes")
    if code := code_piece(signals, link):
        pieces.append(code)
    if signals.daily:
        pieces.append("in the daily papers")
    return "🤗 " + " · ".join(pieces) if pieces else ""


def like_link(post: PaperPost) -> Link | None:
    """The liked paper a top pick resembles, as a link to its abstract page; None when
    ``post.like`` is unset or not an arXiv id."""
    if not post.like or len(post.like) > MAX_ID:
        return None
    try:
        arxiv_id, _ = parse_arxiv_id(post.like)
    except PaperIdError:
        return None
    return Link(f"{ARXIV_BASE}/abs/{arxiv_id}", arxiv_id)


def top_pick_line(post: PaperPost, link: LinkFormat) -> str:
    """``⭐ Top pick · like 2410.22454 that you liked`` for a top pick, else ""."""
    if not post.top_pick:
        return ""
    liked = like_link(post)
    if liked is None:
        return TOP_PICK_LABEL
    return f"{TOP_PICK_LABEL} · like {link(liked)} that you liked"


def tldr_text(post: PaperPost) -> str:
    """The post's TL;DR as one clean line (not escaped, not cut), or ""."""
    return clean(post.tldr) if post.tldr else ""


def signal_for(reply: Reply, index: int) -> CommunitySignals | None:
    """The signals of ``reply.papers[index]``, or None (there may be fewer)."""
    return reply.signals[index] if index < len(reply.signals) else None
