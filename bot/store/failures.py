"""What a failing database file means to the person running the bot.

SQLite reports a read-only, damaged, full, locked or unreachable file as a bare
``sqlite3`` error ("attempt to write a readonly database"). At the store's boundary
such errors become a :class:`~bot.errors.StorageError` that says what is wrong and what
to do. Errors in our own SQL (constraints, syntax) are bugs and stay as they are.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import StorageError

__all__ = [
    "is_storage_problem",
    "primary_code",
    "storage_error",
    "storage_errors",
    "unopenable",
]

_READONLY = (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM)
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_STORAGE_CODES = frozenset(
    {
        *_READONLY,
        *_DAMAGED,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_BUSY,
    }
)
_TOO_LARGE = frozenset(
    {sqlite3.SQLITE_IOERR_WRITE, sqlite3.SQLITE_IOERR_TRUNCATE, sqlite3.SQLITE_IOERR_SHMSIZE}
)
"""Failed writes that a file size limit (EFBIG) causes."""
_NOTHING_LOST = "nothing was lost, the last change was rolled back."


def primary_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code (extended codes carry it in the low byte)."""
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_storage_problem(error: sqlite3.Error) -> bool:
    """True when the file, its directory or its disk is at fault, not our SQL."""
    return primary_code(error) in _STORAGE_CODES


def storage_error(error: sqlite3.Error, path: Path | str, *, busy_timeout: float) -> StorageError:
    """The words for ``error`` (see :func:`is_storage_problem`) about the database ``path``."""
    db = _shown(path)
    code = primary_code(error)
    if code in _READONLY:
        return StorageError(
            f"The database {db} is read-only{_unwritable(path)}: arxiv-bot needs to write to it, "
            "to its -wal and -shm files and to its directory. Fix the permissions, or point "
            "DATABASE_URL at a writable file."
        )
    if code in _DAMAGED:
        return StorageError(
            f"The database {db} is not an SQLite database or is damaged ({error}): restore it "
            "from a backup (see docs/storage.md) or move it aside to start afresh."
        )
    if code == sqlite3.SQLITE_FULL:
        return StorageError(f"The disk holding {db} is full: free some space; {_NOTHING_LOST}")
    if code == sqlite3.SQLITE_BUSY:
        return StorageError(
            f"The database {db} is locked by another program for more than {busy_timeout:g} s: "
            "let it finish (another arxiv-bot, a backup, an sqlite3 shell with an open "
            "transaction), then try again, or raise DATABASE_BUSY_TIMEOUT."
        )
    if code == sqlite3.SQLITE_CANTOPEN:
        return unopenable(path, str(error))
    limit = _file_size_limit()
    if limit is not None and error.sqlite_errorcode in _TOO_LARGE:
        return StorageError(
            f"Writing the database {db} failed ({error}): arxiv-bot may write files of at most "
            f"{limit} bytes (ulimit -f); raise that limit or free some space; {_NOTHING_LOST}"
        )
    return StorageError(
        f"Reading or writing the database {db} failed ({error}): check the disk holding it "
        f"(is it full or failing?); {_NOTHING_LOST}"
    )


def unopenable(path: Path | str, detail: str) -> StorageError:
    """The database file cannot be opened or created at ``path``; ``detail`` is the
    system's reason, used when a look at the path finds no clearer one."""
    return StorageError(
        f"The database {_shown(path)} cannot be opened: {_why_unopenable(Path(path), detail)}. "
        "Fix the path or the permissions, or point DATABASE_URL at a file in a writable "
        "directory."
    )


@contextmanager
def storage_errors(path: Path | str, *, busy_timeout: float) -> Iterator[None]:
    """Turn the ``sqlite3`` errors a failing file causes into :class:`StorageError`."""
    try:
        yield
    except sqlite3.Error as error:
        if not is_storage_problem(error):
            raise
        raise storage_error(error, path, busy_timeout=busy_timeout) from error


def _shown(path: Path | str) -> str:
    """The path as the person reading the message can find it (from any directory)."""
    return os.path.abspath(path)


def _unwritable(path: Path | str) -> str:
    """Which file beside the database (or its directory) the process may not write, if
    it is not the database itself: after a ``chmod`` of the database that is the news."""
    database = Path(_shown(path))
    if not os.access(database, os.W_OK):
        return ""
    beside = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm")]
    for candidate in [*beside, database.parent]:
        if os.path.exists(candidate) and not os.access(candidate, os.W_OK):
            return f" ({candidate} is not writable)"
    return ""


def _why_unopenable(path: Path, detail: str) -> str:
    """A clearer reason than SQLite's "unable to open database file", when one is found.

    ``os.path`` rather than ``Path`` checks: they answer False instead of raising when a
    directory on the way may not be searched.
    """
    path = Path(_shown(path))
    if os.path.isdir(path):
        return "it is a directory"
    exists = os.path.exists(path)
    for parent in path.parents:
        if os.path.exists(parent):
            if not os.path.isdir(parent):
                return f"{parent} is a file, not a directory"
            if not exists and not os.access(parent, os.W_OK | os.X_OK):
                return f"arxiv-bot may not write in the directory {parent}"
            break
    if exists and not os.access(path, os.R_OK | os.W_OK):
        return "arxiv-bot may not read and write it"
    return detail


def _file_size_limit() -> int | None:
    """The process's file size limit in bytes (``ulimit -f``), or None when unlimited."""
    if sys.platform == "win32":
        return None
    import resource  # Unix only

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft
