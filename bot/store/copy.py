"""Copying a bot's data to another database (``arxiv-bot db copy``): SQLite to
PostgreSQL when a lab moves up, PostgreSQL to SQLite to move back.

Both databases are opened as stores (each migrated to the latest schema); every row of
:data:`TABLES` is copied with its ids, table by table in foreign-key order, in batches
of ``batch`` rows (memory stays flat however large the database), inside ONE target
transaction: an error or a killed process leaves the target as empty as it was. The
source is read inside its own write transaction, so nothing changes it meanwhile.

The search index is not copied (FTS5 and tsvector documents differ): the copy drops
the target's ``index.*`` state keys, and the target store rebuilds its index when
:func:`copy_database` opens it once more at the end.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.errors import UserError
from bot.store import database
from bot.store.paper_index import FORMAT_KEY, PROGRESS_KEY
from bot.store.sql import (
    POSTGRES_SCHEMES,
    Connection,
    Dialect,
    check_postgres_url,
    placeholders,
)
from bot.store.store import Store

__all__ = [
    "BATCH",
    "LEFT_OUT",
    "TABLES",
    "CopyError",
    "CopyInputError",
    "CopyReport",
    "Table",
    "build_index",
    "copy_database",
    "parse_url",
]

logger = logging.getLogger(__name__)

BATCH = 5000
"""Rows read and written at a time: a few MB of papers."""
PROGRESS_SECONDS = 2.0
"""Least time between two progress lines of one table."""

SQLITE_SCHEME = "sqlite:///"
URL_FORMS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db "
    "or postgresql://user:password@host:5432/database"
)


class CopyInputError(UserError):
    """The command line names the wrong databases (a usage error: exit 2)."""


class CopyError(UserError):
    """The copy cannot go on: tables that do not fit, a value that cannot be converted."""


@dataclass(frozen=True, slots=True)
class Table:
    """One table to copy: its name, the key it is read in order of, and whether its
    ``id`` column draws from a sequence that must move past the copied ids."""

    name: str
    key: tuple[str, ...]
    sequence: bool = False
    autoincrement: bool = False
    """SQLite's AUTOINCREMENT: ``sqlite_sequence`` remembers removed ids too."""


TABLES: tuple[Table, ...] = (
    Table("channels", ("id",), sequence=True),
    Table("subscriptions", ("id",), sequence=True, autoincrement=True),
    Table("papers", ("id",)),
    Table("outbox", ("id",), sequence=True),  # a reply's thread_of is an earlier id
    Table("outbox_papers", ("message_id", "arxiv_id")),
    Table("deliveries", ("channel_id", "arxiv_id")),
    Table("feedback", ("channel_id", "arxiv_id", "user", "source", "emoji")),
    Table("coverage", ("set_spec", "start")),
    Table("state", ("key",)),
    Table("slack_installations", ("id",), sequence=True, autoincrement=True),
    Table("slack_bots", ("id",), sequence=True, autoincrement=True),
)
"""What a copy holds, parents before children."""

LEFT_OUT: Mapping[str, str] = {
    "schema_version": "each database's own (PostgreSQL; SQLite's is a pragma)",
    "paper_index": "rebuilt by the target's store (FTS5 and tsvector differ)",
    "oauth_states": "Slack install links, which expire in minutes",
    "leases": "held by running processes, and the bot is stopped",
}
"""Tables deliberately not copied, and why (a test checks every table is in one list)."""

INDEX_KEYS = (FORMAT_KEY, PROGRESS_KEY)
"""State keys of the target's own index: dropped so that it is rebuilt."""

# slack_sdk keeps installs differently in its SQLite and SQLAlchemy stores (see
# migrations _V2_SLACK_OAUTH and _V2_SLACK_OAUTH_PG).
SLACK_TABLES = frozenset({"slack_installations", "slack_bots"})
SLACK_TIMES = frozenset({"bot_token_expires_at", "user_token_expires_at", "installed_at"})
"""SQLite: epoch seconds (expiries) or ``YYYY-MM-DD HH:MM:SS`` text (installed_at);
PostgreSQL: TIMESTAMP, naive UTC."""
SLACK_FLAGS = frozenset({"is_enterprise_install"})
"""SQLite: 0 or 1; PostgreSQL: BOOLEAN."""
SLACK_BLANKS = frozenset({"enterprise_id", "team_id"})
"""None saved as '' by the SQLite store, as NULL by the SQLAlchemy one: each looks up
its own spelling."""


def parse_url(url: str, *, role: str) -> Path | str:
    """What :meth:`Store.open` takes for ``url`` (``role``: SOURCE or TARGET, for the
    message). Raises :class:`CopyInputError`."""
    if url.startswith(POSTGRES_SCHEMES):
        try:
            return check_postgres_url(url)
        except ValueError as error:
            raise CopyInputError(f"{role}: {error}") from None
    if url.startswith(SQLITE_SCHEME) and url.removeprefix(SQLITE_SCHEME):
        return Path(url.removeprefix(SQLITE_SCHEME))
    raise CopyInputError(f"{role} {url!r} is not a database URL: use {URL_FORMS}")


def _same_database(source: Path | str, target: Path | str) -> bool:
    if isinstance(source, Path) and isinstance(target, Path):
        if source.exists() and target.exists():
            return source.samefile(target)
        return source.resolve() == target.resolve()
    if isinstance(source, str) and isinstance(target, str):
        import psycopg

        def key(url: str) -> dict[str, str]:
            info = psycopg.conninfo.conninfo_to_dict(url)
            return {k: str(v) for k, v in info.items() if k not in ("password", "connect_timeout")}

        return key(source) == key(target)
    return False


def _check_urls(source: Path | str, target: Path | str) -> None:
    """Refuse what cannot work before anything is opened (and so created)."""
    if isinstance(source, Path) and not source.is_file():
        raise CopyInputError(
            f"SOURCE {source.absolute()} does not exist: name the bot's SQLite file "
            "(its DATABASE_URL)"
        )
    if isinstance(target, Path) and not target.absolute().parent.is_dir():
        raise CopyInputError(
            f"TARGET's directory {target.absolute().parent} does not exist: create it first"
        )
    if _same_database(source, target):
        raise CopyInputError("SOURCE and TARGET are the same database: name another TARGET")


@dataclass(slots=True)
class CopyReport:
    """What a copy did, for the summary."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    """Rows copied per table, in copying order."""
    seconds: float = 0.0

    def lines(self) -> list[str]:
        width = max((len(name) for name in self.rows), default=0)
        return [
            f"Copied {self.source} to {self.target} in {self.seconds:.1f} s:",
            *(f"  {name:<{width}}  {count:>10,}" for name, count in self.rows.items()),
        ]


Progress = Callable[[str], None]


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    batch: int = BATCH,
    busy_timeout: float = database.BUSY_TIMEOUT,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy everything of the bot at ``source_url`` to the empty database at
    ``target_url`` (both URLs as ``DATABASE_URL`` takes them); :func:`build_index`
    next. ``progress`` gets a line now and then while a large table is copied.

    Raises :class:`CopyInputError` (wrong URLs, the same database twice, a target that
    holds data already) or :class:`~bot.errors.StorageError` (a database that cannot be
    used); the target is left unchanged then.
    """
    source_target = parse_url(source_url, role="SOURCE")
    target_target = parse_url(target_url, role="TARGET")
    _check_urls(source_target, target_target)
    say: Progress = progress or (lambda line: None)
    async with (
        await Store.open(source_target, busy_timeout=busy_timeout) as source,
        await Store.open(target_target, busy_timeout=busy_timeout) as target,
    ):
        report = CopyReport(source=_shown(source_url), target=_shown(target_url))
        started = time.monotonic()
        async with source.transaction() as read, target.transaction() as write:
            await _refuse_empty(read, report.source)
            await _refuse_data(write, report.target)
            # The target's own state (what its migrations and opening wrote) gives way
            # to the source's, its index keys aside.
            await write.execute("DELETE FROM state")
            for table in TABLES:
                report.rows[table.name] = await _copy_table(
                    read, write, table, batch=batch, say=say
                )
            for table in TABLES:
                if table.sequence:
                    await _move_sequence(read, write, table)
        report.seconds = time.monotonic() - started
        logger.info("Copied %s to %s: %s", report.source, report.target, report.rows)
    return report


async def build_index(target_url: str, *, busy_timeout: float = database.BUSY_TIMEOUT) -> int:
    """Open the copied database once, so that its store builds the search index (logging
    its progress) now rather than at the bot's first start; return the papers indexed.

    An interruption loses nothing: the store goes on with the index at its next open.
    """
    target = parse_url(target_url, role="TARGET")
    async with await Store.open(target, busy_timeout=busy_timeout) as store:
        return await store.indexed_papers()


def _shown(url: str) -> str:
    """``url`` as the summary names it: whole (a schema in its options counts), but
    without its password."""
    if not url.startswith(POSTGRES_SCHEMES):
        return url
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo.split(':', 1)[0]}@{hostport}" if at else hostport
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


async def _refuse_empty(conn: Connection, shown: str) -> None:
    """A source without channels or papers is most likely a mistyped URL (opening it
    made an empty database): copying it would give the bot nothing to go on with."""
    row = await conn.fetchone(
        "SELECT (SELECT count(*) FROM channels) + (SELECT count(*) FROM papers)"
    )
    if row is None or not row[0]:
        raise CopyInputError(
            f"SOURCE {shown} holds no channels and no papers: name the database the bot "
            "ran on (its DATABASE_URL); nothing was copied."
        )


async def _refuse_data(conn: Connection, shown: str) -> None:
    """Never merge: a target holding any of the bot's data is refused."""
    held = []
    for table in TABLES:
        if table.name == "state":  # written by the migrations and every open
            continue
        row = await conn.fetchone(f"SELECT count(*) FROM {table.name}")
        count = int(row[0]) if row is not None else 0
        if count:
            held.append(f"{table.name}: {count:,}")
    if held:
        raise CopyInputError(
            f"TARGET {shown} already holds data ({', '.join(held)}): db copy never merges. "
            "Copy into an empty database or schema (a new SQLite file, or CREATE DATABASE / "
            "CREATE SCHEMA on the server)."
        )


async def _columns(conn: Connection, table: str) -> list[str]:
    if conn.dialect is Dialect.SQLITE:
        rows = await conn.fetchall("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))
    else:
        rows = await conn.fetchall(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?"
            " ORDER BY ordinal_position",
            (table,),
        )
    return [str(row[0]) for row in rows]


def _quoted(name: str) -> str:
    """A column name as SQL (``user`` and ``end`` are keywords in PostgreSQL)."""
    return f'"{name}"'


async def _copy_table(
    read: Connection, write: Connection, table: Table, *, batch: int, say: Progress
) -> int:
    """Copy ``table`` in batches in key order; return the rows copied."""
    columns = await _columns(read, table.name)
    missing = sorted(set(columns) - set(await _columns(write, table.name)))
    if not columns or missing:
        raise CopyError(
            f"table {table.name}: the target lacks columns {missing or '(all)'}; nothing was copied"
        )
    total_row = await read.fetchone(f"SELECT count(*) FROM {table.name}")
    total = int(total_row[0]) if total_row is not None else 0
    names = ", ".join(_quoted(column) for column in columns)
    key = ", ".join(_quoted(column) for column in table.key)
    key_at = [columns.index(column) for column in table.key]
    values = ", ".join(_value_sql(write.dialect, table.name, column) for column in columns)
    insert = f"INSERT INTO {table.name} ({names}) VALUES ({values})"
    convert = _converter(table.name, columns, read.dialect, write.dialect)
    after: tuple[Any, ...] | None = None
    read_rows = copied = 0
    reported = time.monotonic()
    while True:
        where = "" if after is None else f"WHERE ({key}) > ({placeholders(len(key_at))})"
        rows = await read.fetchall(
            f"SELECT {names} FROM {table.name} {where} ORDER BY {key} LIMIT ?",
            (*(after or ()), batch),
        )
        if not rows:
            break
        kept = [convert(tuple(row)) for row in rows if not _skipped(table, row[key_at[0]])]
        await write.executemany(insert, kept)
        read_rows += len(rows)
        copied += len(kept)
        after = tuple(rows[-1][position] for position in key_at)
        if time.monotonic() - reported >= PROGRESS_SECONDS:
            reported = time.monotonic()
            say(f"{table.name}: {read_rows:,} of {total:,} rows")
        if len(rows) < batch:
            break
    if read_rows != total:  # the source is locked: only a bug can get here
        raise CopyError(f"table {table.name}: {read_rows} rows read of {total}")
    return copied


def _skipped(table: Table, key: Any) -> bool:
    """The source's index state: the target builds its own index."""
    return table.name == "state" and key in INDEX_KEYS


def _value_sql(dialect: Dialect, table: str, column: str) -> str:
    """The placeholder of ``column``: PostgreSQL's driver gets booleans as 0 and 1."""
    if dialect is Dialect.POSTGRES and table in SLACK_TABLES and column in SLACK_FLAGS:
        return "CAST(CAST(? AS INTEGER) AS BOOLEAN)"
    return "?"


Converter = Callable[[tuple[Any, ...]], tuple[Any, ...]]


def _converter(table: str, columns: Sequence[str], source: Dialect, target: Dialect) -> Converter:
    """How a row of ``table`` read from ``source`` is written to ``target``: as it is,
    except the Slack tables' times, flags and blank ids between the two databases."""
    if table not in SLACK_TABLES or source is target:
        return lambda row: row
    to_postgres = target is Dialect.POSTGRES
    changes: dict[int, Callable[[Any], Any]] = {}
    for position, column in enumerate(columns):
        if column in SLACK_TIMES:
            if to_postgres:
                changes[position] = _pg_time
            elif column == "installed_at":
                changes[position] = _sqlite_time
            else:
                changes[position] = _epoch
        elif column in SLACK_FLAGS:
            changes[position] = _pg_flag if to_postgres else _sqlite_flag
        elif column in SLACK_BLANKS:
            changes[position] = (lambda value: value or None) if to_postgres else _blank
    return lambda row: _changed(table, row, changes)


def _changed(
    table: str, row: tuple[Any, ...], changes: Mapping[int, Callable[[Any], Any]]
) -> tuple[Any, ...]:
    try:
        return tuple(
            changes[position](value) if position in changes else value
            for position, value in enumerate(row)
        )
    except (TypeError, ValueError, OverflowError) as error:
        raise CopyError(
            f"{table} row {row[0]} holds a value that cannot be copied ({error}); "
            "nothing was copied"
        ) from None


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _pg_flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _sqlite_flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _pg_time(value: Any) -> datetime | None:
    """An SQLite Slack time (epoch seconds, or ISO text without or with an offset) as
    PostgreSQL's naive UTC TIMESTAMP, as slack_sdk's SQLAlchemy store writes it."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (
        isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()
    ):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        moment = datetime.fromisoformat(str(value).strip())
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_time(value: Any) -> Any:
    """PostgreSQL's TIMESTAMP as SQLite's ``current_timestamp`` text (UTC)."""
    if not isinstance(value, datetime):
        return value
    return _utc(value).replace(tzinfo=None).isoformat(sep=" ")


def _epoch(value: Any) -> Any:
    """PostgreSQL's TIMESTAMP as the epoch seconds slack_sdk's SQLite store writes."""
    return int(_utc(value).timestamp()) if isinstance(value, datetime) else value


async def _source_high(conn: Connection, table: Table) -> int:
    """The highest id ``table`` ever handed out in the source, removed rows' included."""
    if conn.dialect is Dialect.POSTGRES:
        row = await conn.fetchone(
            "SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(?, 'id') AS regclass))",
            (table.name,),
        )
    elif table.autoincrement:
        row = await conn.fetchone("SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,))
    else:
        row = None
    return int(row[0]) if row is not None and row[0] is not None else 0


async def _move_sequence(read: Connection, write: Connection, table: Table) -> None:
    """Let the target hand out ids after the copied ones (and after removed ones the
    source would never reuse: users see subscription numbers)."""
    top = await write.fetchone(f"SELECT max(id) FROM {table.name}")
    copied = int(top[0]) if top is not None and top[0] is not None else 0
    high = max(copied, await _source_high(read, table))
    if high < 1:
        return
    if write.dialect is Dialect.POSTGRES:
        await write.execute(
            "SELECT setval(pg_get_serial_sequence(?, 'id'), ?, true)", (table.name, high)
        )
    elif table.autoincrement:
        changed = await write.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (high, table.name)
        )
        if not changed:
            await write.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table.name, high)
            )
