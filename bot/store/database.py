"""Opening the SQLite file: connection settings and the migration runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import aiosqlite

from bot.errors import ArxivBotError, ConfigError
from bot.store.failures import is_storage_problem, primary_code, unopenable
from bot.store.migrations import MIGRATIONS, Migration

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT = 5.0
"""Seconds to wait for another connection's lock before failing (``DATABASE_BUSY_TIMEOUT``)."""

LOCK_ATTEMPT_MS = 100
"""SQLite's own wait for a lock in one attempt. :class:`LockWait` repeats attempts up to
the busy timeout: SQLite's wait cannot be interrupted and blocks the connection's thread,
which would hold a stop for the whole timeout."""

LOCK_RETRY_PAUSE = 0.01
"""Seconds between attempts, for the SQLITE_BUSY that SQLite returns without waiting."""

MEMORY = ":memory:"


class MigrationError(ArxivBotError):
    """A schema migration failed; it was rolled back and the version left unchanged."""


class LockWait:
    """Runs a database operation again while another connection holds the lock, for up
    to ``timeout`` seconds in all, in attempts short enough that a stop is never held."""

    def __init__(self, timeout: float = BUSY_TIMEOUT) -> None:
        self.timeout = timeout
        self._stopped = False

    def stop(self) -> None:
        """Wait no more: from now on an operation that finds the database locked fails."""
        self._stopped = True

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``operation()``, repeated while it fails with SQLITE_BUSY and time is left.

        Only for operations that change nothing when they fail that way: a read, a
        ``BEGIN``, a single autocommit statement.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return await operation()
            except sqlite3.OperationalError as error:
                busy = primary_code(error) == sqlite3.SQLITE_BUSY
                if not busy or self._stopped or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(LOCK_RETRY_PAUSE)


THREAD_STOP_SECONDS = 5.0


async def connect(path: Path | str, lock_wait: LockWait) -> aiosqlite.Connection:
    """Open ``path`` (creating parent directories) and set the connection pragmas.

    The connection is in autocommit mode (``isolation_level=None``): every write goes
    through an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT`` of our own. A directory that
    cannot be created is a :class:`~bot.errors.StorageError`; SQLite's own errors are
    left to the caller to word (see :mod:`bot.store.failures`).
    """
    if str(path) != MEMORY:
        try:
            await asyncio.to_thread(Path(path).parent.mkdir, parents=True, exist_ok=True)
        except OSError as error:
            raise unopenable(path, error.strerror or str(error)) from error
    pending = aiosqlite.connect(path, isolation_level=None)
    try:
        conn = await pending
    except BaseException:
        # aiosqlite stops its worker thread without waiting for it; a process that
        # exits right after this failure would close the event loop first, and the
        # thread would print "Event loop is closed" to stderr. Wait for it here.
        worker = getattr(pending, "_thread", None)
        if worker is not None:
            await asyncio.to_thread(worker.join, THREAD_STOP_SECONDS)
        raise
    try:
        conn.row_factory = sqlite3.Row
        attempt_ms = min(LOCK_ATTEMPT_MS, int(lock_wait.timeout * 1000))
        await conn.execute(f"PRAGMA busy_timeout = {attempt_ms}")
        rows = list(await lock_wait.run(lambda: conn.execute_fetchall("PRAGMA journal_mode = WAL")))
        mode = str(rows[0][0]) if rows else ""
        if mode.lower() != "wal" and str(path) != MEMORY:
            logger.warning("SQLite database %s is in journal mode %s, not WAL", path, mode)
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


async def user_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


async def check_writable(conn: aiosqlite.Connection, lock_wait: LockWait) -> None:
    """Fail now rather than at the first write when the file is read-only: SQLite opens
    a file it may not write without a word. Writes nothing (the change is rolled back)."""
    await lock_wait.run(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        await conn.execute(f"PRAGMA user_version = {await user_version(conn)}")
    finally:
        await rollback(conn)


async def migrate(
    conn: aiosqlite.Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    label: str = "database",
    lock_wait: LockWait | None = None,
) -> int:
    """Bring the schema up to ``len(migrations)`` and return the resulting version.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with its
    ``PRAGMA user_version`` bump, and the version is re-read inside that transaction, so
    two processes starting at once do not both apply the same step. Raises
    :class:`ConfigError` for a database newer than this code and :class:`MigrationError`
    (after rolling back) when a step fails; a failing file's own ``sqlite3`` errors
    (read-only, full, locked) pass through for the caller to word.
    """
    lock_wait = lock_wait or LockWait()
    latest = len(migrations)
    current = await lock_wait.run(lambda: user_version(conn))
    _check_not_newer(current, latest, label)
    while current < latest:
        await lock_wait.run(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            current = await user_version(conn)
            _check_not_newer(current, latest, label)
            if current >= latest:
                await conn.execute("COMMIT")
                break
            step = migrations[current]
            target = current + 1
            for statement in split_statements(step.sql):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {target}")
            await conn.execute("COMMIT")
        except BaseException as exc:
            await rollback(conn)
            if isinstance(exc, sqlite3.Error) and not is_storage_problem(exc):
                raise MigrationError(
                    f"schema migration {current + 1} ({migrations[current].name}) of {label} "
                    f"failed and was rolled back; the schema stays at version {current}: {exc}"
                ) from exc
            raise
        logger.info("Migrated %s to schema version %s (%s)", label, target, step.name)
        current = target
    return current


async def rollback(conn: aiosqlite.Connection) -> None:
    """Roll back whatever transaction is open, if any.

    Always sent, never decided from ``conn.in_transaction``: after a cancellation the
    worker thread may still be about to run the ``BEGIN`` or a statement, and this
    ``ROLLBACK`` queues behind them.
    """
    with contextlib.suppress(sqlite3.OperationalError):  # no transaction is active
        await conn.execute("ROLLBACK")


def _check_not_newer(current: int, latest: int, label: str) -> None:
    if current > latest:
        raise ConfigError(
            f"The database {label} has schema version {current}, but this arxiv-bot only "
            f"knows versions up to {latest}: it was written by a newer arxiv-bot. "
            "Upgrade arxiv-bot, or point DATABASE_URL at another file."
        )


_AFTER_SEMICOLON = re.compile(r"(?<=;)")


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole).

    ``executescript`` cannot be used: it commits any open transaction first.
    """
    statements: list[str] = []
    pending = ""
    for piece in _AFTER_SEMICOLON.split(script):
        pending += piece
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if _strip_comments(pending).strip():
        statements.append(pending.strip())  # a last statement without its semicolon
    return statements


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)
