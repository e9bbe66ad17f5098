"""What the store's SQL runs on: a connection of either database, behind one interface.

The store writes its SQL once, with SQLite's parameter marks (``?`` and ``:name``);
the PostgreSQL connection rewrites them for its driver (:func:`to_pyformat`). Where the
two databases must differ, the store asks the connection's :class:`Dialect`.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "POSTGRES_SCHEMES",
    "Connection",
    "Dialect",
    "Params",
    "Row",
    "check_postgres_url",
    "is_postgres_url",
    "placeholders",
    "to_pyformat",
]

Params = Sequence[Any] | Mapping[str, Any]
"""Bound parameters: positional (``?``) or named (``:name``)."""


class Dialect(enum.Enum):
    """Which database, and its words for what the two say differently."""

    SQLITE = "sqlite"
    POSTGRES = "postgresql"

    @property
    def same(self) -> str:
        """NULL-safe equality (``a IS b``): SQLite below 3.39 lacks the standard form."""
        return "IS" if self is Dialect.SQLITE else "IS NOT DISTINCT FROM"

    @property
    def differs(self) -> str:
        """NULL-safe inequality (``a IS NOT b``)."""
        return "IS NOT" if self is Dialect.SQLITE else "IS DISTINCT FROM"

    @property
    def greatest(self) -> str:
        """The larger of its arguments (``max(a, b)`` in SQLite)."""
        return "max" if self is Dialect.SQLITE else "greatest"

    @property
    def no_limit(self) -> int | None:
        """The ``LIMIT`` value that means none."""
        return -1 if self is Dialect.SQLITE else None

    def day_after(self, moment: str, days: str) -> str:
        """The day (``YYYY-MM-DD``) ``days`` days after the ISO-8601 text ``moment``."""
        if self is Dialect.SQLITE:
            return f"date({moment}, '+' || {days} || ' days')"
        return (
            f"to_char(CAST(substr({moment}, 1, 10) AS date) + CAST({days} AS integer),"
            " 'YYYY-MM-DD')"
        )

    def json_array(self, expression: str) -> str:
        """An aggregate: the values of ``expression`` as JSON array text (``[]`` for none)."""
        if self is Dialect.SQLITE:
            return f"json_group_array({expression})"
        return f"coalesce(json_agg({expression})::text, '[]')"


class Row(Protocol):
    """A result row, read by position or by column name (``sqlite3.Row`` is one)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """One database connection inside a transaction (or, for reads, outside one)."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """Run one statement for each of ``rows``; return the rows changed in all."""
        ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: object) -> bool:
    """True for a ``postgresql://`` URL; an SQLite target is a path."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def check_postgres_url(url: str) -> str:
    """``url`` when libpq can read it and it names a database; else a ValueError saying
    what is wrong (checked when read, not at the first connection)."""
    import psycopg  # only a PostgreSQL URL pays for the import

    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        raise ValueError(f"not a PostgreSQL URL libpq can read ({error})") from None
    port = str(info.get("port") or "5432")
    if not all(part.isdigit() for part in port.split(",")):
        raise ValueError(f"the PostgreSQL URL's port {port!r} is not a number")
    if not info.get("dbname"):
        raise ValueError(
            "the PostgreSQL URL names no database: use postgresql://user:password@host/database"
        )
    return url


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``count`` values."""
    return ", ".join("?" * count)


_TOKENS = re.compile(
    r"""
      (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*")   # literals and quoted names: kept
    | (?P<comment>--[^\n]*)                        # comments: kept
    | (?P<cast>::)                                 # PostgreSQL casts: kept
    | (?P<named>:[A-Za-z_][A-Za-z0-9_]*)           # :name
    | (?P<positional>\?)                           # ?
    | (?P<percent>%)                               # a literal % for the driver: %%
    """,
    re.VERBOSE,
)


@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``sql`` with SQLite's ``?`` and ``:name`` marks as psycopg's ``%s`` and
    ``%(name)s``; marks in quoted text and comments are left alone. Every ``%`` is
    doubled, quoted ones too: psycopg reads marks everywhere in the statement."""

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        text = match.group()
        if kind == "named":
            return f"%({text[1:]})s"
        if kind == "positional":
            return "%s"
        if kind == "cast":
            return text
        return text.replace("%", "%%")

    return _TOKENS.sub(replace, sql)
