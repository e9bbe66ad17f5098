"""Local matching of parsed queries against papers, with arXiv's search semantics.

A paper is tokenized once into a :class:`PaperText` (stems and their positions per
field, author name tokens, category codes); a query is compiled once into a
:class:`Matcher`, a tree of small closures. Matching is then set lookups and, for
phrases, a comparison at each position of the phrase's first stem: no text scanning
and no regular expressions per term.

Semantics, after arXiv's: case-insensitive and accent-folded; ``ti``, ``abs``, ``co``,
``jr`` and ``all`` compare Porter stems, so "medical imaging" matches "medical image
segmentation"; a phrase (or an unquoted term of several words such as
``self-supervised``) matches consecutive words within one field; ``all`` covers the
title, abstract, comment, journal reference, author names and category codes; ``au``
is not stemmed, and a name's words must appear in order within one author's name, a
one-letter word matching an initial (``au:"G Hinton"`` matches "Geoffrey E. Hinton");
``cat`` matches the primary category and the cross-lists, ``cat:cs.*`` any of an
archive's categories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.categories import archive_of, normalize_category
from bot.models import Paper
from bot.query import And, AndNot, Category, Node, Or, Query, Term
from bot.textproc import stem, stems, words

__all__ = ["FieldIndex", "Matcher", "PaperText", "compile_matcher"]

_SEPARATOR = ""  # between the segments of one field; never a stem, so phrases never span it

Predicate = Callable[["PaperText"], bool]


class FieldIndex:
    """The stems of one field in order, and where each stem occurs."""

    __slots__ = ("positions", "tokens")

    def __init__(self, segments: Iterable[Sequence[str]]) -> None:
        tokens: list[str] = []
        for segment in segments:
            if tokens:
                tokens.append(_SEPARATOR)
            tokens.extend(segment)
        positions: dict[str, list[int]] = {}
        for index, token in enumerate(tokens):
            if token:
                positions.setdefault(token, []).append(index)
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.positions: Mapping[str, Sequence[int]] = positions

    def __contains__(self, stem: object) -> bool:
        return stem in self.positions

    def has_phrase(self, phrase: tuple[str, ...]) -> bool:
        """True if the stems of ``phrase`` occur consecutively, within one segment."""
        size = len(phrase)
        tokens = self.tokens
        return any(
            tokens[start : start + size] == phrase for start in self.positions.get(phrase[0], ())
        )


@dataclass(frozen=True, slots=True)
class PaperText:
    """The searchable text of one paper, tokenized once and matched many times.

    ``fields`` maps ``ti``, ``abs``, ``co``, ``jr`` and ``all`` to their stems;
    ``authors`` holds each author's folded, unstemmed name words.
    """

    arxiv_id: str
    fields: Mapping[str, FieldIndex]
    authors: tuple[tuple[str, ...], ...]
    categories: frozenset[str]
    archives: frozenset[str]

    @classmethod
    def from_paper(cls, paper: Paper) -> PaperText:
        title = stems(paper.title)
        abstract = stems(paper.abstract)
        comment = stems(paper.comment or "")
        journal = stems(paper.journal_ref or "")
        names = [stems(author) for author in paper.authors]
        codes = [stems(code) for code in paper.categories]
        categories = frozenset(normalize_category(code) or code for code in paper.categories)
        return cls(
            arxiv_id=paper.arxiv_id,
            fields={
                "ti": FieldIndex([title]),
                "abs": FieldIndex([abstract]),
                "co": FieldIndex([comment]),
                "jr": FieldIndex([journal]),
                "all": FieldIndex([title, abstract, comment, journal, *names, *codes]),
            },
            authors=tuple(tuple(words(author)) for author in paper.authors),
            categories=categories,
            archives=frozenset(archive_of(code) for code in categories),
        )


class Matcher:
    """A query compiled for fast repeated matching."""

    __slots__ = ("_predicate", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self._predicate = _compile(query.root)

    def matches(self, paper: PaperText) -> bool:
        return self._predicate(paper)


def compile_matcher(query: Query) -> Matcher:
    return Matcher(query)


def _compile(node: Node) -> Predicate:
    match node:
        case Term(field="au", words=name):
            return lambda paper: any(_name_matches(author, name) for author in paper.authors)
        case Term(field=field, words=found):
            phrase = tuple(stem(word) for word in found)
            if len(phrase) == 1:
                single = phrase[0]
                return lambda paper: single in paper.fields[field].positions
            return lambda paper: paper.fields[field].has_phrase(phrase)
        case Category(code=code) if node.is_archive:
            archive = node.archive
            return lambda paper: archive in paper.archives
        case Category(code=code):
            return lambda paper: code in paper.categories
        case And(children=children):
            parts = tuple(_compile(child) for child in children)
            return lambda paper: all(part(paper) for part in parts)
        case Or(children=children):
            parts = tuple(_compile(child) for child in children)
            return lambda paper: any(part(paper) for part in parts)
        case AndNot(left=left, right=right):
            keep, drop = _compile(left), _compile(right)
            return lambda paper: keep(paper) and not drop(paper)


def _name_matches(author: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """True if ``name``'s words occur in order among ``author``'s, gaps allowed; a
    one-letter word matches any word with that initial."""
    wanted = 0
    for token in author:
        word = name[wanted]
        if token == word or (len(word) == 1 and token.startswith(word)):
            wanted += 1
            if wanted == len(name):
                return True
    return False
