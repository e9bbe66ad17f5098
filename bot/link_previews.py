"""Paper previews for links pasted in chat (Slack's link unfurls, Discord's opt-in
previews): which links name arXiv papers, and the card each one gets.

Links are read with :func:`bot.arxiv_ids.parse_arxiv_id` (abstract, PDF and HTML pages,
with or without a version, also via export.arxiv.org, alphaXiv, Hugging Face papers and
doi.org). At most :data:`MAX_LINKS` arXiv links of a message are previewed; links to the
same paper are looked up once. A link that names no paper, or a paper that cannot be
found now, simply gets no preview: nothing here raises for a bad link.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.arxiv_ids import parse_arxiv_id
from bot.errors import UserError
from bot.models import PaperPost
from bot.typography import cut_at_word

__all__ = ["MAX_LINKS", "LinkPreview", "arxiv_links", "first_sentence", "previews"]

log = logging.getLogger(__name__)

MAX_LINKS = 5
"""Links previewed per message at most; the rest of a long list of links stays bare."""
MAX_URL_CHARS = 2000
"""Longer "links" are not links anyone pasted by hand; they are skipped unread."""

Lookup = Callable[[str], Awaitable[PaperPost]]
"""The card for a paper reference (``2506.11674`` or ``2506.11674v2``): the core's
``/arxiv paper`` lookup, from the store when it holds the paper, else from arXiv."""


@dataclass(frozen=True, slots=True)
class LinkPreview:
    """The card for one pasted link: ``url`` exactly as the platform gave it."""

    url: str
    post: PaperPost


def _reference(url: str) -> str | None:
    """``2506.11674`` or ``2506.11674v2`` for a link to an arXiv paper, else None."""
    if not url or len(url) > MAX_URL_CHARS:
        return None
    try:
        arxiv_id, version = parse_arxiv_id(url)
    except UserError:
        return None
    return arxiv_id if version is None else f"{arxiv_id}v{version}"


def arxiv_links(urls: Iterable[str], limit: int = MAX_LINKS) -> list[tuple[str, str]]:
    """``(url, paper reference)`` for the first ``limit`` distinct URLs that name an
    arXiv paper, in order."""
    found: dict[str, str] = {}
    for url in urls:
        if len(found) >= limit:
            break
        if url not in found and (reference := _reference(url)) is not None:
            found[url] = reference
    return list(found.items())


async def _post_or_none(lookup: Lookup, reference: str) -> PaperPost | None:
    try:
        return await lookup(reference)
    except UserError as error:  # unknown paper, arXiv busy or down: no preview
        log.info("no preview for arXiv:%s: %s", reference, error)
    except Exception:
        log.warning("preview of arXiv:%s failed", reference, exc_info=True)
    return None


async def previews(
    urls: Iterable[str], lookup: Lookup, *, limit: int = MAX_LINKS
) -> list[LinkPreview]:
    """The previews of the arXiv links among ``urls`` (at most ``limit``), each paper
    looked up once; links whose paper cannot be shown now are left out."""
    links = arxiv_links(urls, limit)
    references = list(dict.fromkeys(reference for _, reference in links))
    posts = await asyncio.gather(*(_post_or_none(lookup, ref) for ref in references))
    by_reference = dict(zip(references, posts, strict=True))
    return [
        LinkPreview(url, post)
        for url, reference in links
        if (post := by_reference[reference]) is not None
    ]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])")
MIN_SENTENCE = 40
"""A sentence end this early is more likely an abbreviation ("e.g. a") than an end."""


def first_sentence(text: str, limit: int) -> str:
    """The first sentence of ``text`` (one line), cut at a word to ``limit`` characters."""
    line = " ".join(text.split())
    for end in _SENTENCE_END.finditer(line):
        if end.start() >= MIN_SENTENCE:
            line = line[: end.start()]
            break
    return cut_at_word(line, limit)
