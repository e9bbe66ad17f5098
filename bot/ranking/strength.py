"""Match strength: where a channel's subscription queries find their words in a paper.

Before a channel has given enough feedback to train its model, a harvest's papers are
ordered by match strength, then newest first: a paper whose title holds a query's words
is more likely on topic than one that only mentions them in its abstract.

Only the query's positive text terms count (``ti:``, ``abs:``, ``all:`` and bare terms;
not the right side of ``ANDNOT``, not ``au:``, ``co:``, ``jr:`` or ``cat:``), compared as
the matcher compares them (Porter stems; several words form a phrase). A term counts for
the title wherever the query asked for it: a paper with the words in its title is the
stronger match even when the query named ``abs:``. A query of only authors or
categories gives every paper :attr:`MatchStrength.NONE`, so the order is newest first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from bot.matcher import FieldIndex, PaperText
from bot.models import Paper
from bot.query import Query
from bot.textproc import stem

__all__ = ["MatchStrength", "match_strength", "reads_text", "strength_for"]

_TEXT_FIELDS = frozenset({"ti", "abs", "all"})


class MatchStrength(enum.IntEnum):
    """How strongly a paper matches: higher sorts first."""

    NONE = 0
    ABSTRACT = 1
    TITLE = 2


def _phrases(queries: Iterable[Query]) -> tuple[tuple[str, ...], ...]:
    """Each distinct positive text term of the queries, as a tuple of stems."""
    found: dict[tuple[str, ...], None] = {}
    for query in queries:
        for term in query.positive_terms(_TEXT_FIELDS):
            phrase = tuple(stem(word) for word in term.words)
            if phrase:
                found[phrase] = None
    return tuple(found)


def _has(index: FieldIndex, phrase: tuple[str, ...]) -> bool:
    return phrase[0] in index.stems if len(phrase) == 1 else index.has_phrase(phrase)


def _strength(paper: Paper, phrases: tuple[tuple[str, ...], ...]) -> MatchStrength:
    if not phrases:
        return MatchStrength.NONE
    text = PaperText.lazy(paper)  # stems a field only when it is first read
    title = text.fields["ti"]
    if any(_has(title, phrase) for phrase in phrases):
        return MatchStrength.TITLE
    abstract = text.fields["abs"]
    if any(_has(abstract, phrase) for phrase in phrases):
        return MatchStrength.ABSTRACT
    return MatchStrength.NONE


def match_strength(paper: Paper, queries: Iterable[Query]) -> MatchStrength:
    """The strongest match of any of ``queries`` (a channel's subscriptions) in ``paper``."""
    return _strength(paper, _phrases(queries))


def reads_text(queries: Iterable[Query]) -> bool:
    """Whether ``queries`` hold a text term, so that match strength reads the papers'
    titles and abstracts (without one, every paper has :attr:`MatchStrength.NONE`)."""
    return bool(_phrases(queries))


def strength_for(queries: Iterable[Query]) -> Callable[[Paper], MatchStrength]:
    """A function giving each paper's :func:`match_strength` for ``queries``, with the
    queries' terms stemmed once rather than per paper."""
    phrases = _phrases(queries)
    return lambda paper: _strength(paper, phrases)
