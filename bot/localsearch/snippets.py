"""The line of an abstract to show under a search result, with the matched words marked.

A word is marked when its stem is one the query looks for in the abstract (``abs:`` and
bare terms; a phrase's words each count), so "imaging" in a query marks "images" in the
abstract, as the search itself would have matched it. The line is the abstract's
sentence with the most different marked words (the first sentence when nothing is
marked), cut to :data:`SNIPPET_CHARS` around its first mark.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from bot.models import Snippet
from bot.query import Query
from bot.tex import readable
from bot.textproc import stem, words

__all__ = ["SNIPPET_CHARS", "query_stems", "snippet"]

SNIPPET_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\\$])")
_WORD = re.compile(r"[^\W_]+")
_SNIPPET_FIELDS = frozenset({"abs", "all"})


def query_stems(query: Query, fields: Collection[str] = _SNIPPET_FIELDS) -> frozenset[str]:
    """The stems ``query`` looks for in ``fields`` (negated terms left out)."""
    return frozenset(stem(word) for term in query.positive_terms(fields) for word in term.words)


def snippet(abstract: str, stems: frozenset[str], *, width: int = SNIPPET_CHARS) -> Snippet:
    """One line of ``abstract`` (spaces collapsed), marked where its words have ``stems``.

    The abstract's TeX is made readable first (:func:`bot.tex.readable`, as cards show
    it), so the marks are offsets into the text shown and a cut never splits ``$...$``."""
    text = " ".join(readable(abstract).split())
    if not text:
        return Snippet("")
    sentences = _sentences(text)
    scored = [(len(_marked_stems(text[a:b], stems)), -a, a, b) for a, b in sentences]
    best = max(scored) if stems else (0, 0, *sentences[0])
    start, end = best[2], best[3]
    marks = _marks(text, start, end, stems)
    if end - start > width:
        anchor = marks[0][0] if marks else start
        start = max(start, min(anchor - width // 4, end - width))
        start = _word_start(text, start)
        end = min(end, start + width)
        end = _word_end(text, end, start)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    body = text[start:end]
    shift = len(prefix) - start
    kept = tuple((a + shift, b + shift) for a, b in marks if a >= start and b <= end)
    return Snippet(prefix + body + suffix, kept)


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    start = 0
    for gap in _SENTENCE_END.finditer(text):
        bounds.append((start, gap.start()))
        start = gap.end()
    bounds.append((start, len(text)))
    return bounds


def _marked_stems(text: str, stems: frozenset[str]) -> set[str]:
    return {found for word in words(text) if (found := stem(word)) in stems}


def _marks(text: str, start: int, end: int, stems: frozenset[str]) -> list[tuple[int, int]]:
    if not stems:
        return []
    marks: list[tuple[int, int]] = []
    for match in _WORD.finditer(text, start, end):
        folded = words(match.group())
        if folded and any(stem(word) in stems for word in folded):
            marks.append(match.span())
    return marks


def _word_start(text: str, position: int) -> int:
    """``position`` moved forward to the start of a word, unless that is far."""
    if position <= 0 or not text[position - 1].isalnum():
        return max(position, 0)
    space = text.find(" ", position, position + 20)
    return space + 1 if space != -1 else position


def _word_end(text: str, position: int, floor: int) -> int:
    """``position`` moved back to the end of a word, unless that is far."""
    if position >= len(text) or not text[position].isalnum():
        return position
    space = text.rfind(" ", max(floor, position - 20), position)
    return space if space != -1 else position
