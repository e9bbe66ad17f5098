"""The SQLite engine: one aiosqlite connection to the bot's file, serialised writers."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path
from typing import cast

import aiosqlite

from bot.errors import QueryTimeoutError
from bot.store import database
from bot.store.failures import primary_code, storage_errors
from bot.store.migrations import Migration
from bot.store.sql import Connection, Dialect, Params, Row

logger = logging.getLogger(__name__)

PROGRESS_STEPS = 20_000
"""SQLite virtual machine steps between deadline checks (a few milliseconds)."""


class SqliteConnection:
    """:class:`~bot.store.sql.Connection` over an aiosqlite connection."""

    dialect = Dialect.SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        cursor = await self._conn.executemany(sql, rows)
        return cursor.rowcount

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return cast(list[Row], list(await self._conn.execute_fetchall(sql, params)))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


class SqliteEngine:
    """The bot's SQLite file. Writers take the file's lock at ``BEGIN IMMEDIATE``, so a
    read-then-write transaction (the subscription limit) is never interleaved, even
    with another process; an :class:`asyncio.Lock` keeps this process's coroutines out
    of each other's transactions on the one connection."""

    dialect = Dialect.SQLITE

    def __init__(
        self, conn: aiosqlite.Connection, *, path: Path | str, lock_wait: database.LockWait
    ) -> None:
        self._conn = conn
        self._wrapped = SqliteConnection(conn)
        self.path = path
        self.label = str(path)
        self._lock_wait = lock_wait
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls, path: Path | str, *, migrations: Sequence[Migration], busy_timeout: float
    ) -> tuple[SqliteEngine, int]:
        """Open (creating if needed) the file and migrate it; return it and its version."""
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
        return cls(conn, path=path, lock_wait=lock_wait), version

    def stop_waiting(self) -> None:
        self._lock_wait.stop()

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    def _storage_errors(self) -> AbstractContextManager[None]:
        """The boundary: a failing file's ``sqlite3`` errors become a StorageError."""
        return storage_errors(self.path, busy_timeout=self._lock_wait.timeout)

    @asynccontextmanager
    async def transaction(self, *, exclusive: bool = True) -> AsyncIterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE``, then ``COMMIT`` or ``ROLLBACK``
        (every one is exclusive: SQLite has one writer at a time)."""
        async with self._lock:
            with self._storage_errors():
                try:
                    await self._lock_wait.run(lambda: self._conn.execute("BEGIN IMMEDIATE"))
                    yield self._wrapped
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await database.rollback(self._conn)
                    raise

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            with self._storage_errors():
                rows = await self._lock_wait.run(lambda: self._wrapped.fetchall(sql, params))
                return rows

    async def fetchall_until(self, sql: str, params: Params, *, deadline: float) -> list[Row]:
        limit = deadline

        def late() -> int:
            return 1 if time.monotonic() > limit else 0

        async with self._lock:
            with self._storage_errors():
                await self._conn.set_progress_handler(late, PROGRESS_STEPS)
                try:
                    return await self._lock_wait.run(lambda: self._wrapped.fetchall(sql, params))
                except sqlite3.OperationalError as error:
                    if primary_code(error) == sqlite3.SQLITE_INTERRUPT:
                        raise QueryTimeoutError(sql.split(None, 1)[0]) from None
                    raise
                finally:
                    await self._conn.set_progress_handler(_never, 0)  # 0 steps: off

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One write statement as its own transaction (SQLite makes every statement
        outside a transaction atomic by itself)."""
        async with self._lock:
            with self._storage_errors():
                return await self._lock_wait.run(lambda: self._wrapped.execute(sql, params))

    async def notify(self, channel: str) -> None:
        """Nothing: processes on one SQLite file have no way to be told."""

    async def listen(self, channel: str) -> AsyncIterator[None]:
        """Ends at once (see :meth:`notify`)."""
        return
        yield  # an async generator that yields nothing

    async def table_exists(self, name: str) -> bool:
        rows = await self.fetchall("SELECT 1 FROM sqlite_schema WHERE name = ?", (name,))
        return bool(rows)


def _never() -> int:
    return 0
