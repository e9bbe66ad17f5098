"""``arxiv-bot db check`` on PostgreSQL: the schema version, and the search index
against the papers. (The server checks its own pages and keeps the foreign keys; a
backup is ``pg_dump``'s job.)"""

from __future__ import annotations

from typing import Any

import psycopg

from bot.errors import StorageError
from bot.store.migrations import LATEST_VERSION
from bot.store.postgres import shown_url
from bot.store.upkeep import CheckReport

__all__ = ["BACKUP_ADVICE", "check_postgres"]

BACKUP_ADVICE = (
    "DATABASE_URL is a PostgreSQL database: back it up with PostgreSQL's own tools, e.g. "
    "pg_dump --format=custom --file=arxiv-bot.dump '<DATABASE_URL>' (safe while the bot "
    "runs; pg_restore restores it). arxiv-bot db backup copies SQLite files."
)


def check_postgres(url: str) -> CheckReport:
    """Check the PostgreSQL database ``url``; a server that cannot be reached, or a
    database arxiv-bot never used, raises :class:`StorageError`."""
    label = shown_url(url)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            return _check(conn, label)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        raise StorageError(
            f"The database {label} cannot be reached ({reason}): check that PostgreSQL runs "
            "and DATABASE_URL is right."
        ) from error


def _check(conn: psycopg.Connection[Any], label: str) -> CheckReport:
    if _scalar(conn, "SELECT to_regclass('schema_version') IS NOT NULL") is not True:
        raise StorageError(
            f"The database {label} holds no arxiv-bot data (no schema_version table): "
            "point DATABASE_URL at the bot's database, or start the bot once to create it."
        )
    version = int(_scalar(conn, "SELECT coalesce(max(version), 0) FROM schema_version"))
    size = int(_scalar(conn, "SELECT pg_database_size(current_database())"))
    problems: list[str] = []
    if version > LATEST_VERSION:
        problems.append(
            f"schema version {version} was written by a newer arxiv-bot (this one knows up "
            f"to {LATEST_VERSION}): upgrade arxiv-bot"
        )
    invalid = [
        str(row[0])
        for row in conn.execute(
            "SELECT c.relname FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND NOT i.indisvalid"
        )
    ]
    problems += [f"the index {name} is invalid: REINDEX INDEX {name}" for name in invalid]
    if _scalar(conn, "SELECT to_regclass('paper_index') IS NOT NULL") is True:
        missing = int(
            _scalar(
                conn,
                "SELECT count(*) FROM papers AS p"
                " WHERE NOT EXISTS (SELECT 1 FROM paper_index AS i WHERE i.id = p.id)",
            )
        )
        if missing:
            problems.append(f"{missing:,} papers missing from the search index")
    return CheckReport(
        label, size, version, tuple(problems), checked="Schema, indexes and search index"
    )


def _scalar(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None
