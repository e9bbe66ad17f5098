"""Keeping the database file healthy: online backups, checks, and pruning old rows.

:func:`backup` and :func:`check` work on the file with the standard ``sqlite3`` module
(no migrations, nothing created); :func:`prune` deletes through an open
:class:`~bot.store.store.Store`. Policy (how old is old, how often to prune) lives in
:mod:`bot.retention`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.errors import StorageError
from bot.store.failures import primary_code, storage_errors
from bot.store.migrations import LATEST_VERSION
from bot.store.store import Store
from bot.store.values import ID_CHUNK, to_text

__all__ = [
    "BACKUP_PAGES",
    "BackupResult",
    "CheckReport",
    "PruneCounts",
    "backup",
    "backup_name",
    "check",
    "prune",
    "same_database",
    "size_text",
]

BACKUP_PAGES = 1024
"""Pages copied per backup step (4 MiB with SQLite's default page size)."""
BACKUP_PAUSE = 0.005
"""Seconds between two backup steps, leaving the disk to a running bot meanwhile."""
SHOWN_PROBLEMS = 20
"""Most problems ``PRAGMA integrity_check`` is asked to list."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    """Where the backup was written."""
    size: int
    """Its size in bytes."""
    schema_version: int
    seconds: float

    def describe(self, source: Path) -> str:
        return (
            f"Backed up {source.absolute()} to {self.path.absolute()}: {size_text(self.size)}, "
            f"schema version {self.schema_version}, in {self.seconds:.1f} s."
        )


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What :func:`check` (or :func:`bot.store.pg_upkeep.check_postgres`) found; the
    database is healthy when ``problems`` is empty."""

    database: str
    """The database as the report names it: the file's absolute path, or the URL."""
    size: int
    schema_version: int
    problems: tuple[str, ...]
    """One line per problem found (damage, broken references, a newer schema)."""
    checked: str = "Integrity, references and full-text index"
    """What was checked, for the line that says it is ok."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report for a person: the file, its schema, then ok or each problem."""
        if self.schema_version < LATEST_VERSION:
            schema = f"; arxiv-bot migrates it to {LATEST_VERSION} at its next start"
        else:
            schema = f" (this arxiv-bot's is {LATEST_VERSION})"
        lines = [
            f"Database {self.database}: {size_text(self.size)}, "
            f"schema version {self.schema_version}{schema}."
        ]
        if self.ok:
            return [*lines, f"{self.checked}: ok."]
        return [*lines, "Problems:", *(f"  {problem}" for problem in self.problems)]


@dataclass(frozen=True, slots=True)
class PruneCounts:
    papers: int = 0
    """Harvested papers deleted (with their full-text index entries)."""
    messages: int = 0
    """Sent or failed outbox messages deleted."""

    def __str__(self) -> str:
        return f"{_count(self.papers, 'paper')} and {_count(self.messages, 'sent message')}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def size_text(size: int) -> str:
    """Bytes for a person: ``12.3 MB``."""
    amount = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def backup_name(now: datetime) -> str:
    """The file name of a backup made at ``now`` into a directory."""
    return f"arxiv-bot-{now.astimezone(UTC):%Y%m%d-%H%M%S}.db"


def same_database(target: Path, database: Path) -> bool:
    """Whether writing ``target`` would write the database file or its -wal or -shm."""
    resolved = target.resolve()
    base = database.resolve()
    return resolved in (base, Path(f"{base}-wal"), Path(f"{base}-shm"))


# -- backup ----------------------------------------------------------------------------


def backup(
    source: Path,
    target: Path,
    *,
    overwrite: bool = False,
    busy_timeout: float = 5.0,
    pages: int = BACKUP_PAGES,
    pause: float = BACKUP_PAUSE,
) -> BackupResult:
    """Copy the database ``source`` to ``target`` with SQLite's online backup API.

    Safe while a bot writes to ``source``: the copy is read from one snapshot (a read
    transaction held for the whole copy, which in WAL mode never blocks writers, and
    without which every write by another connection would restart a paged backup), in
    steps of ``pages`` pages with ``pause`` seconds between them. The copy goes to a
    temporary file beside ``target``, is checked (``PRAGMA quick_check``), switched to
    rollback-journal mode so it is one self-contained file, and only then renamed to
    ``target``. Raises :class:`FileExistsError` when ``target`` exists and not
    ``overwrite``, :class:`StorageError` when either file cannot be used.
    """
    if target.exists() and not overwrite:
        raise FileExistsError(target)
    started = time.monotonic()
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with _open_existing(source, busy_timeout) as conn:
            version = _user_version(conn)
            conn.execute("BEGIN")  # one snapshot for the whole copy
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            with storage_errors(temporary, busy_timeout=busy_timeout):
                copy = sqlite3.connect(temporary, isolation_level=None)
                try:
                    conn.backup(copy, pages=pages, progress=lambda *_: time.sleep(pause))
                    conn.execute("COMMIT")
                    copy.execute("PRAGMA journal_mode = DELETE")
                    damage = _problems(copy, "PRAGMA quick_check")
                finally:
                    copy.close()
        if damage:
            raise StorageError(
                f"The backup of {os.path.abspath(source)} does not pass SQLite's check "
                f"({damage[0]}): the database itself may be damaged; run arxiv-bot db check."
            )
        os.replace(temporary, target)
        _sync_directory(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return BackupResult(target, target.stat().st_size, version, time.monotonic() - started)


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); nothing to do where directories cannot be opened."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# -- check -----------------------------------------------------------------------------


def check(path: Path, *, busy_timeout: float = 5.0) -> CheckReport:
    """Check the database ``path``: SQLite's ``integrity_check``, ``foreign_key_check``,
    the full-text index, and the schema version against this code's.

    Damage found while checking is reported as a problem, not raised; a file that is not
    a database at all, or cannot be opened, raises :class:`StorageError`.
    """
    with _open_existing(path, busy_timeout) as conn:
        version = _user_version(conn)
        problems: list[str] = []
        if version > LATEST_VERSION:
            problems.append(
                f"schema version {version} was written by a newer arxiv-bot (this one knows "
                f"up to {LATEST_VERSION}): upgrade arxiv-bot"
            )
        problems += _problems(conn, f"PRAGMA integrity_check({SHOWN_PROBLEMS})")
        broken = Counter(
            (str(row[0]), str(row[2])) for row in _rows(conn, "PRAGMA foreign_key_check")
        )
        problems += [
            f"{_count(number, f'row of {table}')} point{'s' if number == 1 else ''} at "
            f"missing rows of {parent}"
            for (table, parent), number in sorted(broken.items())
        ]
        if _has_table(conn, "paper_index"):
            problems += _index_problems(conn)
    return CheckReport(str(path.absolute()), path.stat().st_size, version, tuple(problems))


def _problems(conn: sqlite3.Connection, pragma: str) -> list[str]:
    """The lines an integrity pragma reports, none when it says ``ok``."""
    lines = [str(row[0]) for row in _rows(conn, pragma)]
    return [] if lines == ["ok"] else lines


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple[object, ...]]:
    """``sql``'s rows; damage that stops the statement itself is one row saying so."""
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    except sqlite3.DatabaseError as error:
        if primary_code(error) != sqlite3.SQLITE_CORRUPT:
            raise
        return [(f"{sql.split()[1]} stopped: {error}",)]


def _index_problems(conn: sqlite3.Connection) -> list[str]:
    """FTS5's own check of the search index, and that it has one document per paper."""
    try:
        conn.execute("INSERT INTO paper_index (paper_index, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as error:
        if primary_code(error) != sqlite3.SQLITE_CORRUPT:
            raise
        return [f"the search index paper_index is damaged: {error}"]
    missing, stray = conn.execute(
        """
        SELECT (SELECT count(*) FROM papers WHERE id NOT IN (SELECT rowid FROM paper_index)),
               (SELECT count(*) FROM paper_index WHERE rowid NOT IN (SELECT id FROM papers))
        """
    ).fetchone()
    problems = []
    if missing:
        problems.append(f"{_count(missing, 'paper')} missing from the search index")
    if stray:
        problems.append(f"{_count(stray, 'document')} of the search index without a paper")
    return problems


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = ?", (name,)).fetchone()
    return found is not None


# -- shared ----------------------------------------------------------------------------


@contextlib.contextmanager
def _open_existing(path: Path, busy_timeout: float) -> Iterator[sqlite3.Connection]:
    """A connection to the existing database ``path`` (never created here), whose
    failing-file errors become :class:`StorageError`."""
    if not path.exists():
        raise StorageError(
            f"There is no database at {os.path.abspath(path)}: check DATABASE_URL "
            "(arxiv-bot creates the file when it first runs)."
        )
    with storage_errors(path, busy_timeout=busy_timeout):
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
        try:
            conn.isolation_level = None
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            yield conn
        finally:
            conn.close()


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


# -- prune -----------------------------------------------------------------------------

_OLD_PAPERS_TEMPLATE = """
coalesce(p.announced, substr(p.first_seen_at, 1, 10)) < :cutoff
AND substr(p.submitted, 1, 10) < :submitted_before
AND p.matched_at IS NOT NULL
AND NOT EXISTS (SELECT 1 FROM deliveries AS d
                WHERE d.arxiv_id = p.arxiv_id AND d.status IN ('queued', 'sending'))
AND NOT EXISTS (SELECT 1 FROM subscriptions AS s
                WHERE substr(s.created_at, 1, 10) > p.announced
                  AND substr(s.created_at, 1, 10) <= {grace_after_submission})
"""
"""Papers (``p``) that nothing needs any more (see :func:`prune`)."""

_OLD_MESSAGES = """
p.status IN ('sent', 'failed') AND coalesce(p.sent_at, p.created_at) < :cutoff
AND NOT EXISTS (SELECT 1 FROM outbox AS t
                WHERE t.thread_of = p.id AND t.status IN ('pending', 'sending'))
AND NOT EXISTS (SELECT 1 FROM deliveries AS d
                WHERE d.message_id = p.id AND d.status IN ('queued', 'sending'))
"""
"""Messages (``p``) done with: sent or given up, no reply in their thread still to send."""


async def prune(store: Store, *, before: date, today: date, grace_days: int) -> PruneCounts:
    """Delete papers announced and messages finished before ``before`` that nothing needs.

    A paper stays while a queued or sending delivery shows it, while it waits for
    matching, while it was first submitted less than ``grace_days`` days before
    ``today``, and while a subscription exists that was created after its announcement
    but within ``grace_days`` of its submission: re-harvested after pruning (a
    revision), it would count as newly announced, and so as new to that subscription,
    which it never was. The full-text index follows through the table's triggers. Rows
    of ``deliveries``, the at-most-once key, are never deleted; a deleted message leaves
    its deliveries' ``message_id`` empty. Deletes in short transactions, so a running
    bot is not held. The local index's coverage is trimmed to start at ``before``.
    """
    await store.trim_coverage(before)  # first: the index never claims what it lacks
    papers = await _delete_in_chunks(
        store,
        "papers",
        _OLD_PAPERS_TEMPLATE.format(
            grace_after_submission=store.dialect.day_after("p.submitted", ":grace")
        ),
        {
            "cutoff": before.isoformat(),
            "submitted_before": (today - timedelta(days=grace_days)).isoformat(),
            "grace": grace_days,
        },
    )
    start_of_day = datetime.combine(before, datetime.min.time(), tzinfo=UTC)
    messages = await _delete_in_chunks(
        store, "outbox", _OLD_MESSAGES, {"cutoff": to_text(start_of_day)}
    )
    return PruneCounts(papers=papers, messages=messages)


async def _delete_in_chunks(
    store: Store, table: str, old: str, params: dict[str, str | int]
) -> int:
    """Delete the rows of ``table`` (as ``p``) that the condition ``old`` holds for, newest
    first (a thread's replies before the message they reply to), in short transactions
    that check ``old`` again for their own rows."""
    rows = await store.fetchall(
        f"SELECT p.id FROM {table} AS p WHERE {old} ORDER BY 1 DESC", params
    )
    ids = [int(row[0]) for row in rows]
    deleted = 0
    for start in range(0, len(ids), ID_CHUNK):
        chunk = {
            f"id{number}": row_id for number, row_id in enumerate(ids[start : start + ID_CHUNK])
        }
        marks = ", ".join(f":{name}" for name in chunk)
        async with store.transaction() as conn:
            deleted += await conn.execute(
                f"DELETE FROM {table} AS p WHERE p.id IN ({marks}) AND {old}",
                {**chunk, **params},
            )
    return deleted
