"""The PostgreSQL engine: a shared database for one bot or several replicas of it.

One connection per process, as with SQLite. Write transactions take a transaction-level
advisory lock first, so they are serialised across every replica exactly as SQLite's
``BEGIN IMMEDIATE`` serialises processes on one file: every read-then-write sequence
of the store keeps its meaning. Reads run outside transactions and are not held up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import RowMaker

from bot.errors import ConfigError, QueryTimeoutError, StorageError
from bot.store.database import MigrationError
from bot.store.migrations import Migration
from bot.store.sql import Connection, Dialect, Params, Row, to_pyformat

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10
WRITE_LOCK = "arxiv-bot.write"
"""The advisory lock every write transaction holds (per schema: see :func:`_lock_key`)."""
MIGRATE_LOCK = "arxiv-bot.migrate"
_NOTHING_LOST = "nothing was lost, the last change was rolled back"


def shown_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


def _lock_key(name: str) -> str:
    """SQL for an advisory lock key of ``name`` in the connection's schema, so that bots
    in other schemas of one database (the tests) do not wait for each other."""
    return f"hashtext(current_schema() || ':{name}')"


class PgRow(tuple[Any, ...]):
    """A row read by position or by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[PgRow]:
    names = [column.name for column in cursor.description or ()]
    index = {name: position for position, name in enumerate(names)}
    return lambda values: PgRow(values, index)


def _params(params: Params) -> Params:
    """SQLite keeps booleans as 0 and 1, and so do the store's integer columns here."""
    if isinstance(params, dict):
        return {
            key: int(value) if isinstance(value, bool) else value for key, value in params.items()
        }
    return [int(value) if isinstance(value, bool) else value for value in params]


class PostgresConnection:
    """:class:`~bot.store.sql.Connection` over a psycopg connection."""

    dialect = Dialect.POSTGRES

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(to_pyformat(sql), _params(params))
        return max(cursor.rowcount, 0)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        batch = [_params(row) for row in rows]
        if not batch:
            return 0
        async with self._conn.cursor() as cursor:
            await cursor.executemany(to_pyformat(sql), batch)
            return max(cursor.rowcount, 0)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._conn.cursor(row_factory=_rows) as cursor:
            await cursor.execute(to_pyformat(sql), _params(params))
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


class PostgresEngine:
    """A PostgreSQL database: see the module's docstring."""

    dialect = Dialect.POSTGRES

    def __init__(
        self, url: str, conn: psycopg.AsyncConnection[Any], *, lock_timeout: float
    ) -> None:
        self.url = url
        self.label = shown_url(url)
        self._conn = conn
        self._lock_timeout = lock_timeout
        self._lock = asyncio.Lock()
        self._stopped = False

    @classmethod
    async def open(
        cls, url: str, *, migrations: Sequence[Migration], busy_timeout: float
    ) -> tuple[PostgresEngine, int]:
        label = shown_url(url)
        with _storage_errors(label, busy_timeout):
            conn = await _connect(url)
            engine = cls(url, conn, lock_timeout=busy_timeout)
            try:
                version = await engine._migrate(migrations)
            except BaseException:
                await conn.close()
                raise
        return engine, version

    def stop_waiting(self) -> None:
        self._stopped = True

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The connection, made again when the server dropped the last one (a restart,
        a failover): one lost connection must not stop a long-running bot."""
        if self._conn.closed or self._conn.broken:
            logger.warning("Connection to %s lost; connecting again", self.label)
            self._conn = await _connect(self.url)
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with _storage_errors(self.label, self._lock_timeout):
            yield

    @asynccontextmanager
    async def transaction(self, *, exclusive: bool = True) -> AsyncIterator[Connection]:
        """A write transaction, holding the write lock when ``exclusive`` (see the
        module's docstring); row locks it takes wait at most the busy timeout."""
        async with self._lock:
            with self._errors():
                conn = await self._connection()
                async with conn.transaction():
                    wait = 1 if self._stopped else max(1, int(self._lock_timeout * 1000))
                    await conn.execute(f"SET LOCAL lock_timeout = {wait}")
                    if exclusive:
                        await conn.execute(f"SELECT pg_advisory_xact_lock({_lock_key(WRITE_LOCK)})")
                    yield PostgresConnection(conn)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            with self._errors():
                return await PostgresConnection(await self._connection()).fetchall(sql, params)

    async def fetchall_until(self, sql: str, params: Params, *, deadline: float) -> list[Row]:
        milliseconds = int((deadline - time.monotonic()) * 1000)
        if milliseconds <= 0:
            raise QueryTimeoutError(sql.split(None, 1)[0])
        async with self._lock:
            with self._errors():
                conn = await self._connection()
                try:
                    async with conn.transaction():
                        await conn.execute(f"SET LOCAL statement_timeout = {milliseconds}")
                        return await PostgresConnection(conn).fetchall(sql, params)
                except pg_errors.QueryCanceled:
                    raise QueryTimeoutError(sql.split(None, 1)[0]) from None

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self.transaction() as conn:
            return await conn.execute(sql, params)

    async def notify(self, channel: str) -> None:
        """Wake every listener of ``channel`` in this schema (see :meth:`listen`)."""
        async with self._lock:
            with self._errors():
                conn = await self._connection()
                await conn.execute("SELECT pg_notify(%s, current_schema())", (channel,))

    async def listen(self, channel: str) -> AsyncIterator[None]:
        """Yield whenever a process notifies ``channel`` in this schema. On a connection
        of its own (a listening connection waits for notices and runs nothing else);
        raises :class:`StorageError` when that connection fails."""
        with self._errors():
            conn = await _connect(self.url)
        try:
            with self._errors():
                schema = await (await conn.execute("SELECT current_schema()")).fetchone()
                await conn.execute(f"LISTEN {channel}")
                async for notice in conn.notifies():
                    if schema is not None and notice.payload == schema[0]:
                        yield
        finally:
            await conn.close()

    async def table_exists(self, name: str) -> bool:
        rows = await self.fetchall("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(rows and rows[0][0])

    async def _migrate(self, migrations: Sequence[Migration]) -> int:
        """Apply pending migrations, each in its own transaction with its version bump,
        under a lock, so replicas starting together apply each step once."""
        latest = len(migrations)
        conn = self._conn
        while True:
            async with conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({_lock_key(MIGRATE_LOCK)})")
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"
                )
                row = await (
                    await conn.execute("SELECT max(version) FROM schema_version")
                ).fetchone()
                current = int(row[0]) if row and row[0] is not None else 0
                if current > latest:
                    raise ConfigError(
                        f"The database {self.label} has schema version {current}, but this "
                        f"arxiv-bot only knows versions up to {latest}: it was written by a "
                        "newer arxiv-bot. Upgrade arxiv-bot, or point DATABASE_URL at another "
                        "database."
                    )
                if current == latest:
                    return current
                step = migrations[current]
                script = step.postgres if step.postgres is not None else step.sql
                try:
                    async with conn.transaction():  # a savepoint: the error is reworded
                        if script.strip():
                            await conn.execute(script.encode())
                except psycopg.Error as error:
                    if isinstance(error, psycopg.OperationalError):
                        raise
                    raise MigrationError(
                        f"schema migration {current + 1} ({step.name}) of {self.label} failed "
                        f"and was rolled back; the schema stays at version {current}: {error}"
                    ) from error
                await conn.execute("DELETE FROM schema_version")
                await conn.execute(
                    "INSERT INTO schema_version (version) VALUES (%s)", (current + 1,)
                )
            logger.info("Migrated %s to schema version %s (%s)", self.label, current + 1, step.name)


async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(
        url,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
        application_name="arxiv-bot",
        prepare_threshold=None,
    )


@contextmanager
def _storage_errors(label: str, lock_timeout: float) -> Iterator[None]:
    """PostgreSQL's errors that are not our SQL's fault, as a :class:`StorageError`."""
    try:
        yield
    except pg_errors.LockNotAvailable as error:
        raise StorageError(
            f"The database {label} is locked by another arxiv-bot for more than "
            f"{lock_timeout:g} s: let it finish, or raise DATABASE_BUSY_TIMEOUT; "
            f"{_NOTHING_LOST}."
        ) from error
    except pg_errors.InsufficientPrivilege as error:
        raise StorageError(
            f"The database user may not do this in {label} ({error}): grant it the rights "
            "to create and change tables in the database (or its schema)."
        ) from error
    except (pg_errors.DiskFull, pg_errors.ReadOnlySqlTransaction) as error:
        raise StorageError(
            f"The database {label} cannot take writes ({error}); {_NOTHING_LOST}."
        ) from error
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StorageError(
            f"The database {label} cannot be reached ({reason}): check that PostgreSQL runs "
            f"and DATABASE_URL is right; {_NOTHING_LOST}."
        ) from error
