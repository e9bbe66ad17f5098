"""A parsed query as a search expression over the index of :mod:`bot.localsearch.terms`.

The expression (:mod:`bot.localsearch.expression`) selects the papers the local matcher
would match. It is exact for
nearly every query: words and phrases in any field, categories, archives, author names
of one or two words (a two-word name is one token of the ``aup`` column), AND, OR and
ANDNOT. Two things the index cannot say exactly are widened instead: an author name of three
or more words becomes "every ordered pair of its words in some author", and a name of
initials only selects everything. A widened expression is marked inexact; the engine
then checks each hit with the matcher, and the right side of an ANDNOT is never
widened (that would narrow the result), it is dropped and left to the check.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.localsearch.expression import AllOf, AnyOf, Expression, Phrase, Without
from bot.localsearch.terms import (
    PAIRED_WORDS,
    archive_token,
    author_pair,
    category_token,
    title_token,
    token,
)
from bot.query import And, AndNot, Category, Node, Or, Query, Term
from bot.textproc import stem

__all__ = ["FtsQuery", "translate"]

_OTHER_COLUMNS = ("abs", "co", "jr", "aus", "cats")
"""Where ``all:`` looks besides the title."""


@dataclass(frozen=True, slots=True)
class FtsQuery:
    """``expression`` for the index, or None when the query cannot be narrowed at all
    (every paper is a candidate); ``exact`` when it selects exactly the matches."""

    expression: Expression | None
    exact: bool


def translate(query: Query) -> FtsQuery:
    return _translate(query.root)


def _words(found: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(token(stem(word)) for word in found)


def _translate(node: Node) -> FtsQuery:
    match node:
        case Term(field="au", words=name):
            return _author(name)
        case Term(field="ti", words=found):
            return FtsQuery(_title(found), exact=True)
        case Term(field="all", words=found):
            other = Phrase(_OTHER_COLUMNS, _words(found))
            return FtsQuery(AnyOf((_title(found), other)), exact=True)
        case Term(field=field, words=found):  # abs, co, jr
            return FtsQuery(Phrase((field,), _words(found)), exact=True)
        case Category() if node.is_archive:
            return FtsQuery(Phrase(("cat",), (archive_token(node.archive),)), exact=True)
        case Category(code=code):
            return FtsQuery(Phrase(("cat",), (category_token(code),)), exact=True)
        case And(children=children):
            parts = [_translate(child) for child in children]
            kept = [part.expression for part in parts if part.expression is not None]
            exact = all(part.exact for part in parts)
            if not kept:
                return FtsQuery(None, exact=False)
            return FtsQuery(_joined(kept, AllOf), exact)
        case Or(children=children):
            parts = [_translate(child) for child in children]
            if any(part.expression is None for part in parts):
                return FtsQuery(None, exact=False)
            return FtsQuery(
                _joined([part.expression for part in parts if part.expression], AnyOf),
                all(part.exact for part in parts),
            )
        case AndNot(left=left, right=right):
            keep, drop = _translate(left), _translate(right)
            if keep.expression is None or drop.expression is None or not drop.exact:
                return FtsQuery(keep.expression, exact=False)
            return FtsQuery(Without(keep.expression, drop.expression), keep.exact)


def _title(found: tuple[str, ...]) -> Phrase:
    return Phrase(("ti",), tuple(title_token(stem(word)) for word in found))


def _author(name: tuple[str, ...]) -> FtsQuery:
    if len(name) == 1:
        if len(name[0]) == 1:  # an initial alone: any author with that letter
            return FtsQuery(None, exact=False)
        return FtsQuery(Phrase(("au",), (token(name[0]),)), exact=True)
    # Each ordered pair of the name's words must be in the pairs of some author; for two
    # words that is exactly the matcher's "in order within one name, gaps allowed".
    paired = name[:PAIRED_WORDS]
    pairs = [
        author_pair(first, second)
        for i, first in enumerate(paired)
        for second in paired[i + 1 :]
        if len(first) > 1 or len(second) > 1
    ]
    if not pairs:  # initials only
        return FtsQuery(None, exact=False)
    phrases = tuple(Phrase(("aup",), (pair,)) for pair in dict.fromkeys(pairs))
    return FtsQuery(_joined(list(phrases), AllOf), exact=len(name) == 2)


def _joined(parts: list[Expression], kind: type[AllOf] | type[AnyOf]) -> Expression:
    return parts[0] if len(parts) == 1 else kind(tuple(parts))
