"""Platform-neutral presentation: the pieces every adapter shows, and plain-text output.

Adapters build their own markup (Block Kit, embeds) from these helpers; the console and
the one-shot CLI print :func:`reply_text` and :func:`post_text` as they are.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.categories import category_name
from bot.links import find_code_links
from bot.models import Digest, Paper, PaperPost, Reply, Snippet, Subscription, Tone
from bot.signals import (
    TLDR_CHARS,
    TLDR_LABEL,
    TOP_PICK,
    Link,
    code_piece,
    community_line,
    signal_for,
    tldr_text,
    top_pick_line,
    votes_mark,
)
from bot.store.coverage import ALL_SETS, Coverage, since
from bot.tex import readable
from bot.typography import CONTROL_CHARS
from bot.typography import clean as clean
from bot.typography import cut_at_word as cut_at_word

MAX_AUTHORS = 8


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 paper``, ``2 papers``, ``1,024 papers``; irregular plurals via ``nouns``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {nouns or noun + 's'}"


def shown_title(paper: Paper) -> str:
    """The paper's title as every card and list shows it: TeX made readable
    (:func:`bot.tex.readable`), then cleaned. Adapters escape it for their markup."""
    return clean(readable(paper.title))


def shown_abstract(paper: Paper) -> str:
    """The paper's abstract as shown (TeX made readable, cleaned), whole or cut."""
    return clean(readable(paper.abstract))


def shown_name(name: str) -> str:
    """An author's name as shown: ``M\\"uller`` is Müller."""
    return clean(readable(name))


def author_line(authors: Sequence[str], limit: int = MAX_AUTHORS) -> str:
    """The first ``limit`` authors, then "et al." with the total."""
    names = [shown_name(name) for name in authors]
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} et al. ({len(names)} authors)"


def category_line(paper: Paper) -> str:
    """The primary category with its name, then the cross-lists."""
    primary = paper.primary_category
    name = category_name(primary)
    line = f"{primary} ({name})" if name else primary
    if paper.cross_lists:
        line += "; cross-listed in " + ", ".join(paper.cross_lists)
    return line


def format_date(moment: datetime, zone: ZoneInfo | None = None) -> str:
    return (moment.astimezone(zone) if zone else moment).strftime("%Y-%m-%d")


def date_line(paper: Paper, zone: ZoneInfo | None = None) -> str:
    line = f"Submitted {format_date(paper.submitted, zone)}"
    if paper.version > 1:
        line += f", updated {format_date(paper.updated, zone)} (v{paper.version})"
    return line


def make_post(paper: Paper, matched: Iterable[Subscription] = ()) -> PaperPost:
    """A post for ``paper``, with its code links found in the abstract and comment."""
    return PaperPost(
        paper=paper,
        matched=tuple(matched),
        code_links=find_code_links(paper.abstract, paper.comment),
    )


def matched_line(post: PaperPost) -> str:
    return "; ".join(f"#{sub.id} {clean(sub.query)}" for sub in post.matched)


def digest_line_suffix(post: PaperPost) -> str:
    """What follows a paper in a chat digest's numbered list: `` (revised)`` for a new
    version, then `` · matched #1, #2`` naming the subscriptions it matched."""
    suffix = " (revised)" if post.revised else ""
    if post.matched:
        suffix += " · matched " + ", ".join(f"#{sub.id}" for sub in post.matched)
    return suffix


def paper_summary(paper: Paper) -> str:
    """One compact line for result lists: title, first authors, id, category, date."""
    return (
        f"{shown_title(paper)} — {author_line(paper.authors, 3)} "
        f"[{paper.versioned_id}, {paper.primary_category}, {format_date(paper.submitted)}]"
    )


def channel_prefix(channel: str | None) -> str:
    """``#channel · `` before a post printed for the terminal (nothing without one)."""
    return f"#{clean(channel)} · " if channel is not None else ""


def revision_text(post: PaperPost, *, channel: str | None = None) -> str:
    """The compact note for a revision of a paper the channel already received."""
    paper = post.paper
    return (
        f"{channel_prefix(channel)}[{paper.versioned_id}] revised: {shown_title(paper)}"
        f" ({format_date(paper.updated)}) {paper.abs_url}"
    )


def digest_title(digest: Digest) -> str:
    count = plural(len(digest.posts), "new paper")
    if digest.folded:
        return f"{count} from arXiv today, folded into one digest"
    return f"Digest: {count} from arXiv"


def digest_text(digest: Digest, *, channel: str | None = None) -> str:
    """A digest as plain text: a numbered list of the papers."""
    lines = [channel_prefix(channel) + digest_title(digest)]
    for number, post in enumerate(digest.posts, start=1):
        pick = f"{TOP_PICK} " if post.top_pick else ""
        lines.append(f"{number:>3}. {pick}{paper_summary(post.paper)}")
        lines.append(f"     {post.paper.abs_url}")
        if post.matched:
            lines.append(f"     matched {matched_line(post)}")
    return "\n".join(lines)


def _url(link: Link) -> str:
    """A link in plain text: its URL, which terminals make clickable."""
    return link.url


def _signal_lines(post: PaperPost) -> list[str]:
    """The top-pick note, the TL;DR and the Hugging Face line (those the post has)."""
    tldr = cut_at_word(tldr_text(post), TLDR_CHARS)
    lines = [
        top_pick_line(post, _url),
        f"{TLDR_LABEL} {tldr}" if tldr else "",
        community_line(post.community, _url),
    ]
    return [line for line in lines if line]


def post_text(post: PaperPost, *, channel: str | None = None, width: int = 88) -> str:
    """A paper card as readable plain text."""
    if post.revised:
        return revision_text(post, channel=channel)
    paper = post.paper
    header = channel_prefix(channel) + f"[{paper.versioned_id}] {paper.primary_category}"
    lines = [header, shown_title(paper), *_signal_lines(post)]
    lines.append(f"Authors: {author_line(paper.authors)}")
    lines.append(f"Categories: {category_line(paper)}")
    lines.append(date_line(paper))
    if paper.comment:
        lines.append(f"Comment: {clean(paper.comment)}")
    if paper.journal_ref:
        lines.append(f"Journal: {clean(paper.journal_ref)}")
    lines.append("")
    lines.extend(textwrap.wrap(shown_abstract(paper), width=width) or ["(no abstract)"])
    lines.append("")
    lines.append(f"Abstract: {paper.abs_url}")
    lines.append(f"PDF:      {paper.pdf_url}")
    lines.append(f"HTML:     {paper.html_url}")
    for link in post.code_links:
        lines.append(f"Code:     {link}")
    if post.matched:
        lines.append(f"Matched:  {matched_line(post)}")
    return "\n".join(lines)


# -- snippets and the next page

Run = tuple[str, bool]
"""A stretch of a snippet's text and whether it is highlighted."""

ELLIPSIS = "…"
_SNIPPET_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def snippet_runs(snippet: Snippet, limit: int) -> list[Run]:
    """The snippet as one clean line of runs ``(text, highlighted)``, cut to ``limit``.

    Control and bidi characters are dropped and spaces collapsed as by :func:`clean`,
    keeping the marks on the characters they cover. Marks out of range are clipped,
    overlapping or touching ones merge, and each grows to whole words (a bold marker in
    the middle of a word is not read as one by Slack); a highlighted run never starts or
    ends with a space. A text longer than ``limit`` characters is cut at a word with
    :data:`ELLIPSIS` (which is never highlighted), and the marks are cut with it: a mark
    past the cut is dropped, one across it ends there. Empty when nothing is left.
    """
    if limit < len(ELLIPSIS) + 1:
        return []
    text = snippet.text
    marked = [False] * len(text)
    for start, end in snippet.marks:
        for index in range(max(start, 0), min(end, len(text))):
            marked[index] = True
    # Whole words: a mark that starts or ends inside a word covers all of it.
    for index in range(1, len(text)):
        if marked[index] and not marked[index - 1] and _is_word(text[index]):
            back = index - 1
            while back >= 0 and _is_word(text[back]) and not marked[back]:
                marked[back] = True
                back -= 1
    for index in range(len(text) - 2, -1, -1):
        if marked[index] and not marked[index + 1] and _is_word(text[index]):
            ahead = index + 1
            while ahead < len(text) and _is_word(text[ahead]) and not marked[ahead]:
                marked[ahead] = True
                ahead += 1
    for url in _SNIPPET_URL.finditer(text):  # a link is not half bold
        marked[url.start() : url.end()] = [False] * (url.end() - url.start())
    chars: list[tuple[str, bool]] = []
    for char, mark in zip(text, marked, strict=True):
        if CONTROL_CHARS.match(char):
            continue
        if char.isspace():
            if not chars or chars[-1][0] == " ":
                continue
            char = " "
        chars.append((char, mark))
    while chars and chars[-1][0] == " ":
        chars.pop()
    # Spaces at a highlight's edges are not highlighted (``* word*`` is not bold).
    for index, (char, mark) in enumerate(chars):
        if char == " " and mark:
            before = chars[index - 1][1] if index else False
            after = chars[index + 1][1] if index + 1 < len(chars) else False
            if not (before and after):
                chars[index] = (" ", False)
    line = "".join(char for char, _ in chars)
    cut = cut_at_word(line, max(limit, 0), ELLIPSIS)
    if cut != line:
        keep = len(cut) - len(ELLIPSIS)
        chars = chars[:keep]
        while chars and chars[-1][0] == " ":
            chars.pop()
        chars.append((ELLIPSIS, False))
    runs: list[Run] = []
    for char, mark in chars:
        if runs and runs[-1][1] == mark:
            runs[-1] = (runs[-1][0] + char, mark)
        else:
            runs.append((char, mark))
    return runs


def snippet_for(reply: Reply, index: int) -> Snippet | None:
    """The snippet of ``reply.papers[index]``, or None (there may be fewer snippets)."""
    return reply.snippets[index] if index < len(reply.snippets) else None


MORE_PREFIX = "/arxiv "


def more_line(more: str, *, shell: bool = False) -> str:
    """The footer naming the command for the next page: ``More: /arxiv search x --page 2``.

    With ``shell`` (the one-shot CLI), a search is given as the ``arxiv-bot search``
    command line that shows that page, its query and options quoted as one word (the CLI
    reads options inside a quoted query). ``more`` holds what someone typed: it is cleaned.
    """
    command = clean(more)
    name, _, rest = command.partition(" ")
    if shell and name == "search" and rest:
        return f"More: arxiv-bot search {shlex.quote(rest)}"
    return f"More: {MORE_PREFIX}{command}"


_TONE_MARK = {Tone.INFO: "", Tone.SUCCESS: "✓ ", Tone.ERROR: "✗ "}
SNIPPET_INDENT = "     "


def reply_text(reply: Reply, *, width: int = 88, shell: bool = False) -> str:
    """A reply as readable plain text (console, pipes, the one-shot CLI).

    Each result's snippet is a line under its link, cut to ``width`` with "…". This text
    goes to pipes and logs as well as terminals, so it carries no escape codes and the
    snippet's highlights are not shown at all (a marker such as ``[word]`` could not be
    told from the abstract's own characters); :func:`bot.tables.print_reply_table` shows
    them on a terminal. ``reply.more`` ends the text as :func:`more_line` (``shell`` for
    the one-shot CLI).
    """
    parts = [_TONE_MARK[reply.tone] + reply.title]
    parts.extend(reply.lines)
    parts.extend(f"    {line}" for line in reply.code)
    room = max(width - len(SNIPPET_INDENT), 20)
    for number, paper in enumerate(reply.papers, start=1):
        signals = signal_for(reply, number - 1)
        votes = votes_mark(signals)
        parts.append(f"{number:>3}. {votes + '  ' if votes else ''}{paper_summary(paper)}")
        parts.append(f"{SNIPPET_INDENT}{paper.abs_url}")
        if code := code_piece(signals, _url):
            parts.append(SNIPPET_INDENT + code)
        snippet = snippet_for(reply, number - 1)
        if snippet is not None:
            line = "".join(text for text, _ in snippet_runs(snippet, room))
            if line:
                parts.append(SNIPPET_INDENT + line)
    text = "\n".join(parts)
    for post in reply.posts:
        text += "\n\n" + post_text(post, width=width)
    if reply.footer:
        text += "\n" + reply.footer
    if reply.more:
        text += "\n" + more_line(reply.more, shell=shell)
    return text


def index_line(coverage: Iterable[Coverage], papers: int) -> str:
    """``Local index: cs, eess since 2024-01-01 (123,456 papers).``: each set's latest
    unbroken range, sets starting the same day together."""
    by_day: dict[str, list[str]] = {}
    for name, start in since(coverage).items():
        by_day.setdefault(start.isoformat(), []).append(
            "all of arXiv" if name == ALL_SETS else name
        )
    if not by_day:
        return f"Local index: nothing harvested in full yet ({papers:,} papers)."
    held = "; ".join(f"{', '.join(names)} since {day}" for day, names in sorted(by_day.items()))
    return f"Local index: {held} ({papers:,} papers)."
