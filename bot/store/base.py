"""The store's database: opening and closing it, transactions, reads and single writes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from bot.clock import Clock, utc_now
from bot.store import database
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.sql import Connection, Dialect, Params, Row, is_postgres_url
from bot.store.sqlite_engine import SqliteEngine
from bot.store.values import to_text

logger = logging.getLogger(__name__)

WORK_CHANNEL = "arxiv_bot_work"
"""The PostgreSQL notification channel that wakes the replicas' delivery pumps."""


class Engine(Protocol):
    """What the store needs of a database (:class:`SqliteEngine`, :class:`PostgresEngine`)."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def label(self) -> str: ...

    def transaction(self, *, exclusive: bool = True) -> AbstractAsyncContextManager[Connection]: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchall_until(self, sql: str, params: Params, *, deadline: float) -> list[Row]: ...

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    async def table_exists(self, name: str) -> bool: ...

    async def notify(self, channel: str) -> None: ...

    def listen(self, channel: str) -> AsyncIterator[None]: ...

    def stop_waiting(self) -> None: ...

    async def close(self) -> None: ...


class StoreBase:
    """One migrated database and the plumbing every part of the store uses.

    :class:`~bot.store.store.Store` is made of this and the table-specific parts built
    on it (channels, papers).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        path: Path | str,
        schema_version: int,
        clock: Clock = utc_now,
    ) -> None:
        """Wrap an already migrated database; use :meth:`open` instead."""
        self._engine = engine
        self._path = path
        self._schema_version = schema_version
        self._clock = clock
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        clock: Clock = utc_now,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout: float = database.BUSY_TIMEOUT,
    ) -> Self:
        """Open the database at ``path`` (an SQLite file, created if needed, or a
        ``postgresql://`` URL) and apply pending migrations.

        Raises :class:`~bot.errors.StorageError` when it cannot be used (read-only,
        damaged, unreachable, locked for more than ``busy_timeout`` seconds): here
        rather than at the first write. ``migrations`` exists for tests.
        """
        engine: Engine
        if is_postgres_url(path):
            from bot.store.postgres import PostgresEngine  # psycopg only when it is used

            engine, version = await PostgresEngine.open(
                str(path), migrations=migrations, busy_timeout=busy_timeout
            )
        else:
            engine, version = await SqliteEngine.open(
                path, migrations=migrations, busy_timeout=busy_timeout
            )
        logger.debug("Opened store %s at schema version %s", engine.label, version)
        store = cls(engine, path=path, schema_version=version, clock=clock)
        try:
            await store.prepare()
        except BaseException:
            await store.close()
            raise
        return store

    async def prepare(self) -> None:
        """Bring derived data up to date after the migrations (parts add to it)."""

    def stop_waiting(self) -> None:
        """Fail at once instead of waiting for another program's lock from now on: the
        bot is stopping, and a locked database must not hold it."""
        self._engine.stop_waiting()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._engine.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def schema_version(self) -> int:
        return self._schema_version

    @property
    def path(self) -> Path | str:
        return self._path

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    @property
    def label(self) -> str:
        """The database as messages name it (a PostgreSQL URL without its password)."""
        return self._engine.label

    # -- plumbing ---------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, *, exclusive: bool = True) -> AsyncIterator[Connection]:
        """A write transaction, never interleaved with another writer's (of this process
        or another): committed when the block ends, rolled back when it raises.

        ``exclusive=False`` lets PostgreSQL run it beside other writers, for work that
        takes its own row locks (claiming a channel's messages); SQLite has only the one.
        """
        async with self._engine.transaction(exclusive=exclusive) as conn:
            yield conn

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._engine.fetchall(sql, params)

    async def fetchall_until(
        self, sql: str, params: Params = (), *, deadline: float | None
    ) -> list[Row]:
        """:meth:`fetchall`, stopped by the database once ``time.monotonic()`` passes
        ``deadline`` (None: no deadline): raises :class:`QueryTimeoutError` then, so a
        costly search cannot hold the one connection for seconds."""
        if deadline is None:
            return await self.fetchall(sql, params)
        return await self._engine.fetchall_until(sql, params, deadline=deadline)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement as its own transaction; return the rows it changed."""
        return await self._engine.execute(sql, params)

    async def notify_work(self) -> None:
        """Tell the other processes on the database that there is work to deliver (on
        PostgreSQL; on SQLite nothing: the pumps look every 30 s anyway)."""
        await self._engine.notify(WORK_CHANNEL)

    def work_notices(self) -> AsyncIterator[None]:
        """Yields whenever another process calls :meth:`notify_work` (on PostgreSQL;
        on SQLite it ends at once)."""
        return self._engine.listen(WORK_CHANNEL)

    def now_text(self) -> str:
        return to_text(self._clock())

    async def get_state(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM state WHERE key = ?", (key,))
        return str(row["value"]) if row is not None else None

    async def set_state(self, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await put_state(conn, key, value, self.now_text())


async def put_state(conn: Connection, key: str, value: str, now: str) -> None:
    """Set ``state`` row ``key`` inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, now),
    )
