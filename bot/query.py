"""The arXiv query language: parse and validate what a user typed, compile it for the API.

The syntax is arXiv's own: ``field:term`` with the fields in :data:`FIELDS` (a bare
term searches ``all``), ``"quoted phrases"``, the operators ``AND``, ``OR`` and
``ANDNOT`` (uppercase only: a lowercase ``and`` is an ordinary word), parentheses, and
``field:(...)`` to give every term inside a default field. Two terms side by side mean
AND. ``AND`` and ``ANDNOT`` bind tighter than ``OR``; all three are left-associative,
so ``a ANDNOT b AND c OR d`` is ``((a ANDNOT b) AND c) OR d``.

``cat:`` takes one category code (any case, normalised to arXiv's: ``cs.CV``) or a
whole archive written ``cat:cs.*`` (``cat:hep-th.*`` is just ``cat:hep-th``, an archive
without subcategories). Wildcards are not accepted anywhere else: stemming already makes
``network`` find "networks", and the local matcher could not honour them.

Anything wrong raises :class:`~bot.errors.QueryError` with a message saying what and how
to fix it, and the 0-based offset of the problem in the stripped query. Nothing else
escapes :func:`parse_query`, whatever the input.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import NoReturn

from bot.categories import (
    archive_name,
    archive_of,
    categories_in_archive,
    has_subcategories,
    normalize_archive,
    normalize_category,
    oai_set_for,
    suggest_categories,
)
from bot.errors import QueryError
from bot.textproc import words
from bot.typography import plain, sanitize

__all__ = [
    "FIELDS",
    "MAX_NESTING",
    "MAX_QUERY_LENGTH",
    "And",
    "AndNot",
    "Category",
    "Node",
    "Or",
    "Query",
    "Term",
    "parse_query",
]

MAX_QUERY_LENGTH = 300
MAX_NESTING = 100  # levels of parentheses; keeps the recursive parser far from Python's limit

FIELDS: dict[str, str] = {
    "ti": "title",
    "au": "author",
    "abs": "abstract",
    "co": "comment",
    "jr": "journal reference",
    "cat": "category",
    "all": "all fields",
}

# Whole-word names people type for a field; used only to suggest the right code.
_FIELD_ALIASES = {
    "title": "ti",
    "author": "au",
    "authors": "au",
    "abstract": "abs",
    "comment": "co",
    "comments": "co",
    "journal": "jr",
    "category": "cat",
    "categories": "cat",
}

_OPERATORS = frozenset({"AND", "OR", "ANDNOT"})
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_WORD_END = frozenset('()"')
_WILDCARDS = "*?"
_TAXONOMY_URL = "https://arxiv.org/category_taxonomy"


# -- the syntax tree -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """Words to find in one field; more than one word is a phrase (consecutive words).

    ``words`` are folded (lowercase, accents removed) but not stemmed. ``text`` and
    ``quoted`` only remember how the term was typed, for :meth:`Query.canonical`; they
    take no part in equality.
    """

    field: str
    words: tuple[str, ...]
    text: str = dataclasses.field(default="", compare=False)
    quoted: bool = dataclasses.field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Category:
    """A category (``cs.CV``, ``hep-th``) or a whole archive (``cs.*``), official case."""

    code: str

    @property
    def is_archive(self) -> bool:
        return self.code.endswith(".*")

    @property
    def archive(self) -> str:
        return archive_of(self.code)


@dataclass(frozen=True, slots=True)
class And:
    """All children match. Never directly contains another ``And`` (chains are flat).

    ``implicit[i]`` tells whether children ``i`` and ``i + 1`` were joined by a bare
    space rather than a typed ``AND``; it only affects :meth:`Query.canonical`.
    """

    children: tuple[Node, ...]
    implicit: tuple[bool, ...] = dataclasses.field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """Any child matches. Never directly contains another ``Or``."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AndNot:
    left: Node
    right: Node


Node = Term | Category | And | Or | AndNot


# -- the query -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A validated query: ``source`` as typed (stripped) and its syntax tree."""

    source: str
    root: Node

    @property
    def text(self) -> str:
        """The query as the user typed it, on one line and with plain quotes: what replies
        show and subscriptions keep (``au:Müller``). Compare queries by :meth:`canonical`."""
        return " ".join(plain(self.source).split())

    def to_api(self) -> str:
        """The arXiv API ``search_query``: every operator explicit, every group bracketed.

        arXiv reads a bare space as OR and documents no precedence, so nothing is left
        implicit. Bare terms become ``all:term``, phrases stay quoted, author names take
        arXiv's underscore form (``au:del_maestro``), and ``cat:cs.*`` is kept as is:
        arXiv's search honours ``*`` in categories (the arxivql project checks this
        against the live API), which keeps the string short.
        """
        return _render_api(self.root)

    def canonical(self) -> str:
        """A normalised human form, equal for queries that differ only in spacing, case,
        redundant parentheses, ``all:`` prefixes or field groups.

        Operators are written where they were typed (a bare space stays a space) or where
        precedence needs them; parentheses only where precedence needs them.
        """
        return _render_canonical(self.root)

    def category_scope(self) -> frozenset[str] | None:
        """The arXiv OAI-PMH sets every matching paper must belong to, or None.

        Set names are OAI-PMH set specs: the top-level sets ``cs``, ``econ``, ``eess``,
        ``math``, ``q-bio``, ``q-fin`` and ``stat``, and the physics archives written
        ``physics:<archive>`` (``physics:astro-ph``, ``physics:hep-th``,
        ``physics:math-ph``, ``physics:physics`` ...). ``cat:cs.CV`` gives ``{"cs"}``,
        ``cat:eess.IV OR cat:cs.CV`` ``{"eess", "cs"}``, ``ti:x AND cat:cs.CV`` ``{"cs"}``,
        and ``ti:x OR cat:cs.CV`` None (the ``ti:x`` branch could match anywhere). The
        right side of ``ANDNOT`` never restricts. Assumes, as arXiv's sets do, that a
        paper belongs to the set of every category it is listed in, cross-lists included.
        """
        return _scope(self.root)

    def positive_terms(self, fields: Collection[str]) -> Iterator[Term]:
        """The query's terms in ``fields`` that a match may rest on, in order: every
        one but those on the right side of an ``ANDNOT``."""
        return _positive_terms(self.root, frozenset(fields))

    def leaves(self) -> Iterator[Term | Category]:
        """Every term and category of the query, left to right (negated ones included)."""
        return _leaves(self.root)


def parse_query(text: str, *, max_length: int | None = MAX_QUERY_LENGTH) -> Query:
    """Parse and validate ``text``; raises :class:`~bot.errors.QueryError` and nothing else.

    ``max_length`` limits what a user may type; pass None to re-parse a query the bot
    produced itself (a canonical form or an API string can be longer than its source).

    Typographic quotes and spaces are read as plain ones (``ti:“medical imaging”`` is a
    phrase), but errors quote the text as typed: :mod:`bot.typography` keeps offsets.
    """
    source = sanitize(text.strip())
    if not source:
        raise QueryError(
            "The query is empty. Give some words to look for, for example: "
            'ti:"graph neural network" AND cat:cs.LG',
            source,
            0,
        )
    if max_length is not None and len(source) > max_length:
        raise QueryError(
            f"The query is {len(source)} characters long; the limit is {max_length}. "
            "Shorten it, for example with cat:cs.* instead of listing many cs categories, "
            "or split it into several subscriptions.",
            source,
            max_length,
        )
    parsed = plain(source)
    try:
        root = _Parser(parsed, _tokenize(parsed)).parse()
    except QueryError as error:
        raise QueryError(error.message, source, error.position) from None
    return Query(source, root)


# -- tokens --------------------------------------------------------------------------


class _Kind(Enum):
    WORD = auto()  # an unquoted term, with or without a field
    PHRASE = auto()  # a quoted term, with or without a field
    GROUP = auto()  # ``field:(``: opens a group with a default field
    LPAREN = auto()
    RPAREN = auto()
    OP = auto()


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    pos: int  # where the token starts (its field prefix, if any)
    text: str = ""  # an operator's name, or a term's value without field and quotes
    field: str | None = None
    value_pos: int = 0  # where ``text`` starts, or a group's "("


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(_Token(_Kind.LPAREN, i))
            i += 1
        elif char == ")":
            tokens.append(_Token(_Kind.RPAREN, i))
            i += 1
        elif char == '"':
            text, after = _read_phrase(source, i)
            tokens.append(_Token(_Kind.PHRASE, i, text, None, i + 1))
            i = after
        else:
            token, i = _word_token(source, i)
            tokens.append(token)
    return tokens


def _word_token(source: str, start: int) -> tuple[_Token, int]:
    """The token starting at ``start`` (not a space, quote or parenthesis) and where it
    ends. A bare ``field:`` takes the quoted phrase or the group that follows it."""
    stop = start
    while stop < len(source) and not source[stop].isspace() and source[stop] not in _WORD_END:
        stop += 1
    word = source[start:stop]
    if word in _OPERATORS:
        return _Token(_Kind.OP, start, word), stop
    prefix = _FIELD_PREFIX.match(word)
    if prefix is None:
        return _Token(_Kind.WORD, start, word, None, start), stop
    field = _check_field(prefix.group(1), source, start)
    value = word[prefix.end() :]
    if value:
        return _Token(_Kind.WORD, start, value, field, start + prefix.end()), stop
    following = source[stop] if stop < len(source) else ""
    if following == '"':
        text, after = _read_phrase(source, stop)
        return _Token(_Kind.PHRASE, start, text, field, stop + 1), after
    if following == "(":
        return _Token(_Kind.GROUP, start, "", field, stop), stop + 1
    raise QueryError(
        f"{field}: needs a word or a quoted phrase right after the colon, with no space: "
        f"for example {field}:{_example(field)}.",
        source,
        start,
    )


def _read_phrase(source: str, start: int) -> tuple[str, int]:
    """The text between the quote at ``start`` and the next one, and where it ends."""
    close = source.find('"', start + 1)
    if close < 0:
        raise QueryError(
            'This quote is never closed. Add a closing " after the phrase, '
            'for example ti:"medical imaging".',
            source,
            start,
        )
    return source[start + 1 : close], close + 1


def _check_field(name: str, source: str, pos: int) -> str:
    lowered = name.lower()
    if lowered in FIELDS:
        return lowered
    guess = _FIELD_ALIASES.get(lowered) or next(
        iter(difflib.get_close_matches(lowered, FIELDS, n=1, cutoff=0.5)), None
    )
    hint = f" Did you mean {guess}: ({FIELDS[guess]})?" if guess else ""
    valid = ", ".join(f"{code}: ({human})" for code, human in FIELDS.items())
    raise QueryError(
        f"Unknown field {name}:.{hint} Valid fields are {valid}. "
        f'To search for text containing a colon, put it in quotes: "{name}:...".',
        source,
        pos,
    )


def _example(field: str) -> str:
    return {"au": "hinton", "cat": "cs.CV"}.get(field, "transformer")


# -- the parser ----------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens; see the module docstring for the grammar."""

    def __init__(self, source: str, tokens: Sequence[_Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self._or(None)
        leftover = self._peek()
        if leftover is not None:  # only a ")" stops _or early
            self._fail("This ) has no matching (. Remove it or add a ( before it.", leftover.pos)
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _fail(self, message: str, pos: int) -> NoReturn:
        raise QueryError(message, self.source, pos)

    def _or(self, field: str | None) -> Node:
        children = [self._and(field, None)]
        while (token := self._peek()) is not None and token.kind is _Kind.OP and token.text == "OR":
            self.index += 1
            children.append(self._and(field, token))
        return _disjoin(children)

    def _and(self, field: str | None, after: _Token | None) -> Node:
        node = self._operand(field, after)
        while (token := self._peek()) is not None and token.kind is not _Kind.RPAREN:
            if token.kind is _Kind.OP:
                if token.text == "OR":
                    break
                self.index += 1
                right = self._operand(field, token)
                node = AndNot(node, right) if token.text == "ANDNOT" else _conjoin(node, right)
            else:
                node = _conjoin(node, self._operand(field, None), implicit=True)
        return node

    def _operand(self, field: str | None, after: _Token | None) -> Node:
        """One term or bracketed group; ``after`` is the operator just read, if any."""
        token = self._peek()
        if token is None:
            if after is None:  # the query ends right after an opening parenthesis
                self._fail_unclosed(self.tokens[self.index - 1])
            self._fail(
                f"{after.text} at the end of the query has nothing after it. Add a term "
                f"after it (a {after.text} b) or remove it.",
                after.pos,
            )
        if token.kind is _Kind.OP:
            if after is not None:
                self._fail(
                    f"{token.text} cannot follow {after.text}. Put a term between them "
                    "or remove one of them.",
                    token.pos,
                )
            self._fail(
                f"{token.text} needs a term before it, as in a {token.text} b. "
                "Add one or remove the operator.",
                token.pos,
            )
        if token.kind is _Kind.RPAREN:
            if after is not None:
                self._fail(
                    f"{after.text} needs a term after it, before this ). Add one or "
                    "remove the operator.",
                    after.pos,
                )
            opener = self.tokens[self.index - 1] if self.index else None
            if opener is not None and opener.kind in (_Kind.LPAREN, _Kind.GROUP):
                self._fail("Empty parentheses: put a term between ( and ).", opener.pos)
            self._fail("This ) has no matching (. Remove it or add a ( before it.", token.pos)
        self.index += 1
        if token.kind is _Kind.LPAREN or token.kind is _Kind.GROUP:
            return self._group(token, token.field or field)
        return _term(self.source, token, field)

    def _group(self, opener: _Token, field: str | None) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self._fail(
                f"The query nests parentheses more than {MAX_NESTING} deep. Simplify it.",
                _paren_pos(opener),
            )
        inner = self._or(field)
        if self._peek() is None:
            self._fail_unclosed(opener)
        self.index += 1
        self.depth -= 1
        return inner

    def _fail_unclosed(self, opener: _Token) -> NoReturn:
        self._fail("This ( is never closed. Add a ) where the group ends.", _paren_pos(opener))


def _paren_pos(opener: _Token) -> int:
    """Where the "(" of a group is: a ``field:(`` token starts at its field."""
    return opener.pos if opener.kind is _Kind.LPAREN else opener.value_pos


def _conjoin(left: Node, right: Node, implicit: bool = False) -> And:
    """``left AND right``, flattening nested ANDs into one chain."""
    children: list[Node] = []
    joins: list[bool] = []
    for index, node in enumerate((left, right)):
        if index:
            joins.append(implicit)
        if isinstance(node, And):
            children.extend(node.children)
            joins.extend(node.implicit or (False,) * (len(node.children) - 1))
        else:
            children.append(node)
    return And(tuple(children), tuple(joins))


def _disjoin(children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, Or) else (child,))
    return Or(tuple(flat))


# -- terms ---------------------------------------------------------------------------


def _term(source: str, token: _Token, group_field: str | None) -> Node:
    field = token.field or group_field or "all"
    quoted = token.kind is _Kind.PHRASE
    if field == "cat":
        return _category(source, token.text, quoted, token.value_pos)
    if not quoted:
        for offset, char in enumerate(token.text):
            if char in _WILDCARDS:
                raise QueryError(
                    f"Wildcards ({char}) only work in categories, as in cat:cs.*. Write the "
                    "whole word instead: matching is stemmed, so network also finds networks.",
                    source,
                    token.value_pos + offset,
                )
    found = tuple(words(token.text))
    if not found:
        shown = f'"{token.text}"' if quoted else token.text
        raise QueryError(
            f"{shown} has no letters or digits, so it cannot match anything. "
            "Remove it or put words in it.",
            source,
            token.pos,
        )
    display = " ".join(token.text.split()).lower()
    return Term(field, found, display, quoted)


def _category(source: str, value: str, quoted: bool, pos: int) -> Category:
    code = value.strip()
    if not code or any(char.isspace() for char in code):
        several = code.split() if len(code.split()) > 1 else ["cs.CV", "eess.IV"]
        raise QueryError(
            "cat: takes exactly one category code. To allow several, join them with OR: "
            f"{' OR '.join(f'cat:{one}' for one in several)}.",
            source,
            pos,
        )
    if any(char in _WILDCARDS for char in code):
        return _archive(source, code, pos)
    official = normalize_category(code)
    if official is not None:
        return Category(official)
    archive = normalize_archive(code)
    if archive is not None:  # an archive with subcategories; the others are categories
        example = categories_in_archive(archive)[0]
        raise QueryError(
            f"{code} is a whole archive ({archive_name(archive)}), not a category. Use "
            f"cat:{archive}.* for all of it, or one category such as cat:{example}.",
            source,
            pos,
        )
    suggestions = suggest_categories(code)
    hint = f" Did you mean {' or '.join(f'cat:{s}' for s in suggestions)}?" if suggestions else ""
    raise QueryError(
        f"Unknown category {code}.{hint} Codes look like cs.CV or hep-th; "
        f"the full list is at {_TAXONOMY_URL}.",
        source,
        pos,
    )


def _archive(source: str, code: str, pos: int) -> Category:
    """``cs.*`` or ``cs*`` -> ``Category("cs.*")``; ``hep-th.*`` -> ``Category("hep-th")``."""
    stem = code[:-1].removesuffix(".") if code.endswith("*") else ""
    archive = normalize_archive(stem) if stem and not any(c in _WILDCARDS for c in stem) else None
    if archive is None:
        raise QueryError(
            f"{code}: the only wildcard cat: accepts is a whole archive, such as cat:cs.* "
            f"or cat:astro-ph.*. Archives and categories are listed at {_TAXONOMY_URL}.",
            source,
            pos,
        )
    return Category(f"{archive}.*" if has_subcategories(archive) else archive)


# -- rendering -----------------------------------------------------------------------


def _render_api(node: Node) -> str:
    def operand(child: Node) -> str:
        text = _render_api(child)
        return f"({text})" if isinstance(child, And | Or | AndNot) else text

    match node:
        case Term(field="au", words=name):
            return "au:" + "_".join(name)  # arXiv's documented form: au:del_maestro
        case Term(field=field, words=found):
            value = found[0] if len(found) == 1 else '"' + " ".join(found) + '"'
            return f"{field}:{value}"
        case Category(code=code):
            return f"cat:{code}"
        case And(children=children):
            return " AND ".join(operand(child) for child in children)
        case Or(children=children):
            return " OR ".join(operand(child) for child in children)
        case AndNot(left=left, right=right):
            return f"{operand(left)} ANDNOT {operand(right)}"


def _render_canonical(node: Node) -> str:
    def bracket(child: Node, when: type | tuple[type, ...]) -> str:
        text = _render_canonical(child)
        return f"({text})" if isinstance(child, when) else text

    match node:
        case Term():
            return _canonical_term(node)
        case Category(code=code):
            return f"cat:{code}"
        case And(children=children, implicit=implicit):
            joins = implicit or (False,) * (len(children) - 1)
            parts = [bracket(children[0], Or)]
            for child, bare in zip(children[1:], joins, strict=True):
                parts.append(" " if bare else " AND ")
                parts.append(bracket(child, (Or, AndNot)))
            return "".join(parts)
        case Or(children=children):
            return " OR ".join(_render_canonical(child) for child in children)
        case AndNot(left=left, right=right):
            return f"{bracket(left, Or)} ANDNOT {bracket(right, (And, Or, AndNot))}"


def _canonical_term(term: Term) -> str:
    text = term.text or " ".join(term.words)
    quoted = term.quoted or (not term.text and len(term.words) > 1)
    value = f'"{text}"' if quoted else text
    # ``all:`` is the default, unless dropping it would make the value read as a field.
    if term.field == "all" and (quoted or not _FIELD_PREFIX.match(value)):
        return value
    return f"{term.field}:{value}"


# -- analysis ------------------------------------------------------------------------


def _positive_terms(node: Node, fields: frozenset[str]) -> Iterator[Term]:
    match node:
        case Term(field=field) if field in fields:
            yield node
        case And(children=children) | Or(children=children):
            for child in children:
                yield from _positive_terms(child, fields)
        case AndNot(left=left):
            yield from _positive_terms(left, fields)
        case _:
            return


def _scope(node: Node) -> frozenset[str] | None:
    match node:
        case Category(code=code):
            return frozenset({oai_set_for(code)})
        case Term():
            return None
        case AndNot(left=left):
            return _scope(left)
        case And(children=children):
            scopes = [scope for child in children if (scope := _scope(child)) is not None]
            return min(scopes, key=lambda scope: (len(scope), sorted(scope)), default=None)
        case Or(children=children):
            union: set[str] = set()
            for child in children:
                scope = _scope(child)
                if scope is None:
                    return None
                union |= scope
            return frozenset(union)


def _leaves(node: Node) -> Iterator[Term | Category]:
    match node:
        case Term() | Category():
            yield node
        case And(children=children) | Or(children=children):
            for child in children:
                yield from _leaves(child)
        case AndNot(left=left, right=right):
            yield from _leaves(left)
            yield from _leaves(right)
