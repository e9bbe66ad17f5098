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

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter

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
    each author ...); a phrase never matches across two of them. The joined token
    sequence is only built when a phrase is looked up: most papers never need it.
    """

    __slots__ = ("_segments", "_tokens", "stems")

    def __init__(self, segments: Iterable[Sequence[str]]) -> None:
        self._segments = tuple(segments)
        self._tokens: tuple[str, ...] | None = None
        self.stems: frozenset[str] = frozenset().union(*self._segments)

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every stem in order, segments separated by a marker that is never a stem."""
        if self._tokens is None:
            if len(self._segments) == 1:
                self._tokens = tuple(self._segments[0])
            else:
                tokens: list[str] = []
                for segment in self._segments:
                    if tokens:
                        tokens.append(_SEPARATOR)
                    tokens.extend(segment)
                self._tokens = tuple(tokens)
        return self._tokens

    def __contains__(self, stem: object) -> bool:
        return stem in self.stems

    def has_phrase(self, phrase: tuple[str, ...]) -> bool:
        """True if the stems of ``phrase`` occur consecutively, within one segment."""
        first, size = phrase[0], len(phrase)
        if first not in self.stems or not self.stems.issuperset(phrase):
            return False
        tokens = self.tokens
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
    ``authors`` holds each author's folded, unstemmed name words (``author_words`` all
    of them at once); :attr:`anchors` is every key (see :attr:`Matcher.anchors`) the
    paper has.
    """

    arxiv_id: str
    fields: Mapping[str, FieldIndex]
    authors: tuple[tuple[str, ...], ...]
    categories: frozenset[str]
    archives: frozenset[str]
    author_words: frozenset[str]

    @classmethod
    def from_paper(cls, paper: Paper) -> PaperText:
        title = stems(paper.title)
        abstract = stems(paper.abstract)
        comment = stems(paper.comment) if paper.comment else []
        journal = stems(paper.journal_ref) if paper.journal_ref else []
        authors = tuple(tuple(words(author)) for author in paper.authors)
        names = [[stem(word) for word in name] for name in authors]
        codes = [stems(code) for code in paper.categories]
        categories = frozenset(normalize_category(code) or code for code in paper.categories)
        archives = frozenset(archive_of(code) for code in categories)
        fields = {
            "ti": FieldIndex((title,)),
            "abs": FieldIndex((abstract,)),
            "co": FieldIndex((comment,)),
            "jr": FieldIndex((journal,)),
            "all": FieldIndex((title, abstract, comment, journal, *names, *codes)),
        }
        author_words = frozenset().union(*authors)
        return cls(paper.arxiv_id, fields, authors, categories, archives, author_words)

    @classmethod
    def lazy(cls, paper: Paper) -> PaperText:
        """Like :meth:`from_paper`, but each field is tokenized when a query first reads
        it: checking a few candidates of an author search never stems their abstracts."""
        authors = tuple(tuple(words(author)) for author in paper.authors)
        categories = frozenset(normalize_category(code) or code for code in paper.categories)
        archives = frozenset(archive_of(code) for code in categories)
        author_words = frozenset().union(*authors)
        fields = _LazyFields(paper, authors)
        return cls(paper.arxiv_id, fields, authors, categories, archives, author_words)

    @property
    def anchors(self) -> frozenset[str]:
        """Every anchor key the paper has (computed on demand: an index that looks up
        fields directly never needs the strings)."""
        anchors = {
            f"{field}:{stem}" for field, index in self.fields.items() for stem in index.stems
        }
        anchors.update(f"au:{word}" for name in self.authors for word in name)
        anchors.update(f"cat:{code}" for code in self.categories)
        anchors.update(f"cat:{archive}.*" for archive in self.archives)
        return frozenset(anchors)


class _LazyFields(Mapping[str, FieldIndex]):
    """The fields of :class:`PaperText`, each built on first use, as ``from_paper``
    builds them all."""

    __slots__ = ("_authors", "_built", "_paper", "_parts")

    _NAMES = ("ti", "abs", "co", "jr", "all")

    def __init__(self, paper: Paper, authors: tuple[tuple[str, ...], ...]) -> None:
        self._paper = paper
        self._authors = authors
        self._parts: dict[str, list[str]] = {}
        self._built: dict[str, FieldIndex] = {}

    def _part(self, name: str) -> list[str]:
        part = self._parts.get(name)
        if part is None:
            paper = self._paper
            text = {
                "ti": paper.title,
                "abs": paper.abstract,
                "co": paper.comment or "",
                "jr": paper.journal_ref or "",
            }[name]
            part = self._parts[name] = stems(text) if text else []
        return part

    def __getitem__(self, name: str) -> FieldIndex:
        built = self._built.get(name)
        if built is not None:
            return built
        if name == "all":
            names = [[stem(word) for word in author] for author in self._authors]
            codes = [stems(code) for code in self._paper.categories]
            parts = [self._part(field) for field in ("ti", "abs", "co", "jr")]
            built = FieldIndex((*parts, *names, *codes))
        elif name in self._NAMES:
            built = FieldIndex((self._part(name),))
        else:
            raise KeyError(name)
        self._built[name] = built
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


class Matcher:
    """A query compiled for fast repeated matching.

    ``anchors`` are keys of which every matching paper has at least one, or None when
    the query requires none. Keys look like ``ti:imag`` (a field and a stem),
    ``au:hinton``, ``cat:cs.CV`` and ``cat:cs.*``. Of an AND's children, the anchors
    few papers are likely to have are chosen (``ti:entangl`` rather than ``cat:hep-th``).
    """

    __slots__ = ("anchors", "matches", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self.matches: Predicate = _compile(query.root)
        """``matches(paper)`` is True if the query matches the paper (an attribute, not
        a method, to spare one call per check when an index runs thousands)."""
        self.anchors: frozenset[str] | None = _anchors(query.root)


def compile_matcher(query: Query) -> Matcher:
    return Matcher(query)


def _compile(node: Node) -> Predicate:
    match node:
        case Term(field="au", words=name):
            return _author(name)
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
            return _all_of(children)
        case Or(children=children):
            return _any_of(children)
        case AndNot(left=left, right=right):
            keep, drop = _compile(left), _compile(right)
            return lambda paper: keep(paper) and not drop(paper)


def _author(name: tuple[str, ...]) -> Predicate:
    whole = frozenset(word for word in name if len(word) > 1)
    if len(name) == 1 and whole:  # one whole word: any author having it
        word = name[0]
        return lambda paper: word in paper.author_words

    def matches(paper: PaperText) -> bool:
        if not whole <= paper.author_words:  # cheap rejection before the ordered check
            return False
        return any(_name_matches(author, name) for author in paper.authors)

    return matches


# Single-stem terms, categories, archives and one-word author names are grouped by what
# they look up: an OR of a group is one ``isdisjoint``, an AND one ``issubset``, in C.
_Group = tuple[str, str]  # (kind, field)


def _grouped(children: Sequence[Node]) -> tuple[dict[_Group, set[str]], list[Node]]:
    groups: dict[_Group, set[str]] = {}
    rest: list[Node] = []
    for child in children:
        match child:
            case Term(field="au", words=(word,)) if len(word) > 1:
                groups.setdefault(("au", ""), set()).add(word)
            case Term(field="au"):
                rest.append(child)
            case Term(field=field, words=(word,)):
                groups.setdefault(("text", field), set()).add(stem(word))
            case Category() if child.is_archive:
                groups.setdefault(("archive", ""), set()).add(child.archive)
            case Category(code=code):
                groups.setdefault(("category", ""), set()).add(code)
            case _:
                rest.append(child)
    return groups, rest


_PAPER_SETS: dict[str, Callable[[PaperText], frozenset[str]]] = {
    "au": attrgetter("author_words"),
    "archive": attrgetter("archives"),
    "category": attrgetter("categories"),
}


def _set_test(group: _Group, values: set[str], *, every: bool) -> Predicate:
    """True if the paper has every value (``every``) or any of them, in the group's set."""
    kind, field = group
    wanted = frozenset(values)
    if kind == "text":
        if len(wanted) == 1:
            (single,) = wanted
            return lambda paper: single in paper.fields[field].stems
        if every:
            return lambda paper: wanted <= paper.fields[field].stems
        return lambda paper: not wanted.isdisjoint(paper.fields[field].stems)
    get = _PAPER_SETS[kind]
    if len(wanted) == 1:
        (one,) = wanted
        return lambda paper: one in get(paper)
    if every:
        return lambda paper: wanted <= get(paper)
    return lambda paper: not wanted.isdisjoint(get(paper))


def _any_of(children: Sequence[Node]) -> Predicate:
    groups, rest = _grouped(children)
    parts = [_set_test(group, values, every=False) for group, values in groups.items()]
    parts.extend(_compile(child) for child in rest)
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda paper: first(paper) or second(paper)
    chain = tuple(parts)

    def any_part(paper: PaperText) -> bool:
        for part in chain:  # noqa: SIM110 (a plain loop is faster than any() over a generator)
            if part(paper):
                return True
        return False

    return any_part


def _all_of(children: Sequence[Node]) -> Predicate:
    groups, rest = _grouped(children)
    # Cheap set tests first, so the dearer ones (phrases, full names) rarely run.
    parts = [_set_test(group, values, every=True) for group, values in groups.items()]
    parts.extend(_compile(child) for child in rest)
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda paper: first(paper) and second(paper)
    chain = tuple(parts)

    def all_parts(paper: PaperText) -> bool:
        for part in chain:  # noqa: SIM110
            if not part(paper):
                return False
        return True

    return all_parts


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
            # Any child's keys will do; take the ones fewest papers are likely to have.
            required = [keys for child in children if (keys := _anchors(child)) is not None]
            return min(required, key=_cost, default=None)
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


# Rough share of papers having a key of each kind, to pick the most selective anchors of
# an AND: an author's name is rarer than a title word, which is rarer than a word anywhere
# in the text, which is rarer than a whole category. Only speed depends on these.
_KEY_COST = {"au": 1, "ti": 5, "jr": 5, "co": 10, "abs": 20, "all": 30, "cat": 50}
_ARCHIVE_COST = 200


def _cost(keys: frozenset[str]) -> tuple[int, int]:
    total = 0
    for key in keys:
        kind, _, value = key.partition(":")
        total += _ARCHIVE_COST if value.endswith(".*") else _KEY_COST.get(kind, _ARCHIVE_COST)
    return total, len(keys)


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
