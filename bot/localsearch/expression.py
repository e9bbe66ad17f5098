"""Search expressions over the index's columns, and how each database spells them.

:mod:`bot.localsearch.translate` builds an :data:`Expression` from a query; the store
renders it for its database: an FTS5 ``MATCH`` string on SQLite (:func:`to_fts5`), a
``tsquery`` over the column-prefixed lexemes of :func:`to_tsvector` on PostgreSQL
(:func:`to_tsquery`). Tokens hold only ASCII letters, digits and ``_``
(:mod:`bot.localsearch.terms`), so neither spelling needs escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AllOf",
    "AnyOf",
    "Expression",
    "Phrase",
    "Without",
    "to_fts5",
    "to_tsquery",
    "to_tsvector",
]


@dataclass(frozen=True, slots=True)
class Phrase:
    """``tokens`` in a row, in any one of ``columns``."""

    columns: tuple[str, ...]
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Without:
    keep: Expression
    drop: Expression


Expression = Phrase | AllOf | AnyOf | Without


def to_fts5(expression: Expression) -> str:
    match expression:
        case Phrase(columns=columns, tokens=tokens):
            return "{" + " ".join(columns) + '} : "' + " ".join(tokens) + '"'
        case AllOf(parts=parts):
            return _joined([to_fts5(part) for part in parts], " AND ")
        case AnyOf(parts=parts):
            return _joined([to_fts5(part) for part in parts], " OR ")
        case Without(keep=keep, drop=drop):
            return f"({to_fts5(keep)}) NOT ({to_fts5(drop)})"


def to_tsquery(expression: Expression) -> str:
    match expression:
        case Phrase(columns=columns, tokens=tokens):
            return _joined(
                [" <-> ".join(f"'{column}.{token}'" for token in tokens) for column in columns],
                " | ",
            )
        case AllOf(parts=parts):
            return _joined([to_tsquery(part) for part in parts], " & ")
        case AnyOf(parts=parts):
            return _joined([to_tsquery(part) for part in parts], " | ")
        case Without(keep=keep, drop=drop):
            return f"({to_tsquery(keep)}) & !({to_tsquery(drop)})"


def _joined(parts: Sequence[str], operator: str) -> str:
    if len(parts) == 1:
        return parts[0]
    return operator.join(f"({part})" for part in parts)


MAX_POSITION = 16_383
"""PostgreSQL's largest position in a tsvector."""
MAX_POSITIONS = 256
"""PostgreSQL keeps at most this many positions of one lexeme."""


def to_tsvector(columns: Sequence[str], values: Sequence[str], weights: dict[str, str]) -> str:
    """A document's tsvector text: each column's tokens as ``column.token`` lexemes with
    their positions (counted from 1 in every column: lexemes of two columns never
    meet in a phrase) and the column's weight letter from ``weights`` (A to D)."""
    positions: dict[str, list[int]] = {}
    for column, value in zip(columns, values, strict=True):
        for position, token in enumerate(value.split()[:MAX_POSITION], start=1):
            seen = positions.setdefault(f"{column}.{token}", [])
            if len(seen) < MAX_POSITIONS:
                seen.append(position)
    parts = []
    for lexeme, places in positions.items():
        weight = weights.get(lexeme.split(".", 1)[0], "D")
        parts.append(f"'{lexeme}':" + ",".join(f"{place}{weight}" for place in places))
    return " ".join(parts)
