"""Opening the SQLite file: connection settings and the migration runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from bot.errors import ArxivBotError, ConfigError
from bot.store.migrations import MIGRATIONS, Migration

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a writer waits for another connection's lock before failing."""

MEMORY = ":memory:"


class MigrationError(ArxivBotError):
    """A schema migration failed; it was rolled back and the version left unchanged."""


async def connect(
    path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> aiosqlite.Connection:
    """Open ``path`` (creating parent directories) and set the connection pragmas.

    The connection is in autocommit mode (``isolation_level=None``): every write goes
    through an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT`` of our own.
    """
    if str(path) != MEMORY:
        await asyncio.to_thread(Path(path).parent.mkdir, parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
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


async def migrate(
    conn: aiosqlite.Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    label: str = "database",
) -> int:
    """Bring the schema up to ``len(migrations)`` and return the resulting version.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with its
    ``PRAGMA user_version`` bump, and the version is re-read inside that transaction, so
    two processes starting at once do not both apply the same step. Raises
    :class:`ConfigError` for a database newer than this code and :class:`MigrationError`
    (after rolling back) when a step fails.
    """
    latest = len(migrations)
    current = await user_version(conn)
    _check_not_newer(current, latest, label)
    while current < latest:
        await conn.execute("BEGIN IMMEDIATE")
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
            if isinstance(exc, sqlite3.Error):
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
