"""Local matching of parsed queries against papers, with arXiv's search semantics.

A paper is tokenized once into a :class:`PaperText` (each field's stems in order and as
a set, author name tokens, category codes); a query is compiled once into a
:class:`Matcher`, a tree of small closures. Matching is then set lookups and, for
phrases, a comparison wherever the phrase's first stem occurs: no regular expression
and no re-tokenizing per term.

Semantics, after arXiv's: case-insensitive and accent-folded; ``ti``, ``abs``, ``co``,
``jr`` and ``all`` compare Porter stems, so "medical imaging" matches "medical image
segmentation"; a phrase (or an unquoted term of several words such as
``self-supervised``) matches consecutive words within one field; ``all`` covers the
title, abstract, comment, journal reference, author names and category codes; ``au``
is not stemmed, and a name's words must appear in order within one author's name, a
one-letter word matching an initial (``au:"G Hinton"`` matches "Geoffrey E. Hinton");
``cat`` matches the primary category and the cross-lists, ``cat:cs.*`` any of an
archive's categories.

For many subscriptions against many papers, :attr:`Matcher.anchors` and
:attr:`PaperText.anchors` let an index skip most pairs: a paper can only match a query
whose anchors it shares, unless the query's anchors are None (check it everywhere).
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
    """The stems of one field, in order and as a set.

    A field may hold several segments (the ``all`` field holds the title, the abstract,
    each author ...); a phrase never matches across two of them.
    """

    __slots__ = ("stems", "tokens")

    def __init__(self, segments: Iterable[Sequence[str]]) -> None:
        tokens: list[str] = []
        for segment in segments:
            if tokens:
                tokens.append(_SEPARATOR)
            tokens.extend(segment)
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.stems: frozenset[str] = frozenset(tokens) - {_SEPARATOR}

    def __contains__(self, stem: object) -> bool:
        return stem in self.stems

    def has_phrase(self, phrase: tuple[str, ...]) -> bool:
        """True if the stems of ``phrase`` occur consecutively, within one segment."""
        first, size, tokens = phrase[0], len(phrase), self.tokens
        if first not in self.stems:
            return False
        start = tokens.index(first)
        while True:  # tuple.index scans in C; phrases are rare enough not to need positions
            if tokens[start : start + size] == phrase:
                return True
            try:
                start = tokens.index(first, start + 1)
            except ValueError:
                return False


@dataclass(frozen=True, slots=True)
class PaperText:
    """The searchable text of one paper, tokenized once and matched many times.

    ``fields`` maps ``ti``, ``abs``, ``co``, ``jr`` and ``all`` to their stems;
    ``authors`` holds each author's folded, unstemmed name words; ``anchors`` is every
    key (see :attr:`Matcher.anchors`) the paper has.
    """

    arxiv_id: str
    fields: Mapping[str, FieldIndex]
    authors: tuple[tuple[str, ...], ...]
    categories: frozenset[str]
    archives: frozenset[str]
    anchors: frozenset[str]

    @classmethod
    def from_paper(cls, paper: Paper) -> PaperText:
        title = stems(paper.title)
        abstract = stems(paper.abstract)
        comment = stems(paper.comment or "")
        journal = stems(paper.journal_ref or "")
        names = [stems(author) for author in paper.authors]
        codes = [stems(code) for code in paper.categories]
        categories = frozenset(normalize_category(code) or code for code in paper.categories)
        archives = frozenset(archive_of(code) for code in categories)
        fields = {
            "ti": FieldIndex([title]),
            "abs": FieldIndex([abstract]),
            "co": FieldIndex([comment]),
            "jr": FieldIndex([journal]),
            "all": FieldIndex([title, abstract, comment, journal, *names, *codes]),
        }
        authors = tuple(tuple(words(author)) for author in paper.authors)
        anchors = {f"{field}:{stem}" for field, index in fields.items() for stem in index.stems}
        anchors.update(f"au:{word}" for name in authors for word in name)
        anchors.update(f"cat:{code}" for code in categories)
        anchors.update(f"cat:{archive}.*" for archive in archives)
        return cls(paper.arxiv_id, fields, authors, categories, archives, frozenset(anchors))


class Matcher:
    """A query compiled for fast repeated matching.

    ``anchors`` are keys of which every matching paper has at least one, or None when
    the query requires none. Keys look like ``ti:imag`` (a field and a stem),
    ``au:hinton``, ``cat:cs.CV`` and ``cat:cs.*``.
    """

    __slots__ = ("_predicate", "anchors", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self._predicate = _compile(query.root)
        self.anchors: frozenset[str] | None = _anchors(query.root)

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
                return lambda paper: single in paper.fields[field].stems
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


def _anchors(node: Node) -> frozenset[str] | None:
    match node:
        case Term(field="au", words=name):
            # One-letter words match initials, so only a whole word can be required.
            whole = [word for word in name if len(word) > 1]
            return frozenset({f"au:{max(whole, key=len)}"}) if whole else None
        case Term(field=field, words=found):
            return frozenset({f"{field}:{max((stem(word) for word in found), key=len)}"})
        case Category(code=code):
            return frozenset({f"cat:{code}"})
        case And(children=children):
            required = [keys for child in children if (keys := _anchors(child)) is not None]
            return min(required, key=len, default=None)
        case Or(children=children):
            union: set[str] = set()
            for child in children:
                keys = _anchors(child)
                if keys is None:
                    return None
                union |= keys
            return frozenset(union)
        case AndNot(left=left):
            return _anchors(left)


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
