"""One arXiv rhythm for every process that uses one database: a lock file beside it.

arXiv counts requests per client, not per process: the running bot, ``arxiv-bot run
--once`` and ``arxiv-bot search`` on one database are one client to it. So each
:class:`~bot.sources.gate.ArxivGate` built for a database file also takes
``<database>.arxiv-gate``:

* an exclusive ``flock`` on it is held for the whole of a request (retries and backoff
  included): one connection at a time across processes;
* its content says when the last request started, the interval that process keeps and
  until when arXiv asked everyone to back off, so the next request of any process waits
  its turn.

Why a lock file rather than a row in the database:

* the one-connection rule needs a lock held for as long as a request takes (up to
  ``ARXIV_TIMEOUT``, longer through a backoff). SQLite has no row locks: held as a write
  transaction, it would stall every other writer of the bot (deliveries, commands) for
  that long;
* a ``flock`` belongs to the open file and the kernel drops it when its process dies,
  even by ``kill -9``, so a crashed process never leaves the gate shut; a row would need
  a lease and a timeout to the same end;
* the gate is synchronous code in worker threads, the store is asyncio code: a file
  needs neither, and works before the database is even migrated.

Like SQLite itself, ``flock`` needs a local file system (not NFS).

Times in the file are wall-clock seconds, the one clock every process reads alike. Wall
time can jump, so it is read defensively: a clock set back counts as no time having
passed since the last request (the wait is never longer than the one recorded), and a
clock set forward can at worst let one request through early.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.store.database import MEMORY

__all__ = ["RHYTHM_SUFFIX", "Mark", "Rhythm", "SharedRhythm", "rhythm_path"]

log = logging.getLogger(__name__)

RHYTHM_SUFFIX = ".arxiv-gate"


def rhythm_path(database: Path) -> Path | None:
    """The lock file beside ``database``; None for an in-memory database (one process)."""
    if str(database) == MEMORY:
        return None
    return database.with_name(database.name + RHYTHM_SUFFIX)


class Rhythm(Protocol):
    """What the gate needs of a keeper of the shared rhythm (this lock file, or the
    PostgreSQL database's: :mod:`bot.sources.database_rhythm`)."""

    @property
    def path(self) -> Path | None: ...

    def try_lock(self) -> bool: ...

    def unlock(self) -> None: ...

    def waits(self, interval: float) -> tuple[float, float]: ...

    def started(self, interval: float) -> None: ...

    def block(self, seconds: float) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Mark:
    """What the lock file holds: the last request's start and any backoff, wall time."""

    started: float = 0.0
    interval: float = 0.0
    """The spacing the process that started it keeps."""
    blocked_until: float = 0.0
    """No request before this: arXiv answered 429 or 503."""

    def waits(self, now: float, interval: float) -> tuple[float, float]:
        """Seconds left of the spacing (the larger of both intervals) and of the backoff.

        A ``now`` before the last start (the clock was set back) counts as that start.
        """
        anchor = max(now, self.started)
        spacing = self.started + max(interval, self.interval) - anchor
        return max(0.0, spacing), max(0.0, self.blocked_until - anchor)

    def to_text(self) -> str:
        return f"{self.started:.6f} {self.interval:.6f} {self.blocked_until:.6f}\n"

    @classmethod
    def from_text(cls, text: str) -> Mark | None:
        """The mark in ``text``; None for an empty or unreadable file (no wait then)."""
        try:
            started, interval, blocked_until = (float(part) for part in text.split())
        except ValueError:
            return None
        return cls(started, interval, blocked_until)


class SharedRhythm:
    """The lock file of one database. Not thread-safe: the gate calls it under its lock.

    The file is open only while its lock is held, so a gate costs no file descriptor
    between requests.
    """

    def __init__(self, path: Path, *, now: Callable[[], float] = time.time) -> None:
        self._path = path
        self._now = now
        self._fd: int | None = None
        self._warned = False

    @property
    def path(self) -> Path:
        return self._path

    def try_lock(self) -> bool:
        """Take the file's lock without blocking; False while another process holds it.

        A file that cannot be opened is ignored (True, logged once): arXiv access goes
        on, spaced within this process only.
        """
        fd = self._open()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.unlock()
            return False
        return True

    def close(self) -> None:
        self.unlock()

    def unlock(self) -> None:
        """Release the lock (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def waits(self, interval: float) -> tuple[float, float]:
        """Seconds until the spacing and the backoff recorded by any process have passed."""
        mark = self._read()
        return mark.waits(self._now(), interval) if mark is not None else (0.0, 0.0)

    def started(self, interval: float) -> None:
        """Record that a request starts now, keeping ``interval`` before the next."""
        mark = self._read() or Mark()
        self._write(dataclasses.replace(mark, started=self._now(), interval=interval))

    def block(self, seconds: float) -> None:
        """Record that arXiv asked for no request in the next ``seconds``."""
        mark = self._read() or Mark()
        until = max(mark.blocked_until, self._now() + seconds)
        self._write(dataclasses.replace(mark, blocked_until=until))

    def _open(self) -> int | None:
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot use %s to share arXiv's request spacing with other processes "
                    "on this database (%s); spacing requests within this process only",
                    self._path,
                    exc.strerror or exc,
                )
        return self._fd

    def _read(self) -> Mark | None:
        if self._fd is None:
            return None
        return Mark.from_text(os.pread(self._fd, 200, 0).decode("ascii", "replace"))

    def _write(self, mark: Mark) -> None:
        if self._fd is None:
            return
        data = mark.to_text().encode("ascii")
        with contextlib.suppress(OSError):  # a full disk costs the sharing, not the request
            os.pwrite(self._fd, data, 0)
            os.ftruncate(self._fd, len(data))
