"""The store's connection: opening and closing it, transactions, reads and single writes."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from bot.clock import Clock, utc_now
from bot.errors import QueryTimeoutError
from bot.store import database
from bot.store.failures import primary_code, storage_errors
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.values import to_text

logger = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]
PROGRESS_STEPS = 20_000
"""SQLite virtual machine steps between deadline checks (a few milliseconds)."""
"""Bound parameters: positional (``?``) or named (``:name``)."""


class StoreBase:
    """One migrated aiosqlite connection and the plumbing every part of the store uses.

    :class:`~bot.store.store.Store` is made of this and the table-specific parts built
    on it (channels, papers).
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        path: Path | str,
        schema_version: int,
        clock: Clock = utc_now,
        lock_wait: database.LockWait | None = None,
    ) -> None:
        """Wrap an already migrated connection; use :meth:`open` instead."""
        self._conn = conn
        self._path = path
        self._schema_version = schema_version
        self._clock = clock
        self._lock_wait = lock_wait or database.LockWait()
        self._lock = asyncio.Lock()
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
        """Open (creating if needed) the database at ``path`` and apply pending migrations.

        Raises :class:`~bot.errors.StorageError` when the file cannot be used (read-only,
        damaged, locked for more than ``busy_timeout`` seconds, impossible path): here
        rather than at the first write. ``migrations`` exists for tests.
        """
        lock_wait = database.LockWait(busy_timeout)
        with storage_errors(path, busy_timeout=busy_timeout):
            conn = await database.connect(path, lock_wait)
            try:
                version = await database.migrate(
                    conn, migrations, label=str(path), lock_wait=lock_wait
                )
                await database.check_writable(conn, lock_wait)
            except BaseException:
                await conn.close()
                raise
        logger.debug("Opened store %s at schema version %s", path, version)
        store = cls(conn, path=path, schema_version=version, clock=clock, lock_wait=lock_wait)
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
        self._lock_wait.stop()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._conn.close()

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

    # -- plumbing ---------------------------------------------------------------------

    def _storage_errors(self) -> AbstractContextManager[None]:
        """The boundary: a failing file's ``sqlite3`` errors become a StorageError."""
        return storage_errors(self._path, busy_timeout=self._lock_wait.timeout)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE``, then ``COMMIT`` or ``ROLLBACK``."""
        async with self._lock:
            with self._storage_errors():
                try:
                    await self._lock_wait.run(lambda: self._conn.execute("BEGIN IMMEDIATE"))
                    yield self._conn
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await database.rollback(self._conn)
                    raise

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._lock:
            with self._storage_errors():
                rows = await self._lock_wait.run(lambda: self._conn.execute_fetchall(sql, params))
                return list(rows)

    async def fetchall_until(
        self, sql: str, params: Params = (), *, deadline: float | None
    ) -> list[sqlite3.Row]:
        """:meth:`fetchall`, stopped by SQLite once ``time.monotonic()`` passes
        ``deadline`` (None: no deadline): raises :class:`QueryTimeoutError` then, so a
        costly search cannot hold the one connection for seconds."""
        if deadline is None:
            return await self.fetchall(sql, params)
        limit = deadline

        def late() -> int:
            return 1 if time.monotonic() > limit else 0

        async with self._lock:
            with self._storage_errors():
                await self._conn.set_progress_handler(late, PROGRESS_STEPS)
                try:
                    rows = await self._lock_wait.run(
                        lambda: self._conn.execute_fetchall(sql, params)
                    )
                except sqlite3.OperationalError as error:
                    if primary_code(error) == sqlite3.SQLITE_INTERRUPT:
                        raise QueryTimeoutError(sql.split(None, 1)[0]) from None
                    raise
                finally:
                    await self._conn.set_progress_handler(_never, 0)  # 0 steps: off
                return list(rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement as its own transaction; return the rows it changed.

        Cheaper than :meth:`transaction` for a single statement (SQLite makes every
        statement outside a transaction atomic by itself).
        """
        async with self._lock:
            with self._storage_errors():
                cursor = await self._lock_wait.run(lambda: self._conn.execute(sql, params))
                return cursor.rowcount

    def now_text(self) -> str:
        return to_text(self._clock())

    async def get_state(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM state WHERE key = ?", (key,))
        return str(row["value"]) if row is not None else None

    async def set_state(self, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await put_state(conn, key, value, self.now_text())


async def put_state(conn: aiosqlite.Connection, key: str, value: str, now: str) -> None:
    """Set ``state`` row ``key`` inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, now),
    )


def _never() -> int:
    return 0
