"""One arXiv rhythm for replicas on one PostgreSQL database (see :mod:`bot.sources.rhythm`
for the lock file that does this for processes on one SQLite file).

The same two parts, kept by the database server instead of a file:

* a session advisory lock, held for the whole of a request: one connection to arXiv at
  a time across every replica, and the server drops it when its holder's connection
  ends, even by ``kill -9``;
* the :class:`~bot.sources.rhythm.Mark` (last start, interval, backoff) in the ``state``
  row ``arxiv.rhythm``, stamped with the server's clock, the one clock all replicas
  read alike whatever their hosts' clocks say.

The gate is synchronous code in worker threads: this uses psycopg's synchronous
connection, one per process, made when first needed and again after a failure. A
database that cannot be reached costs the sharing, not the request (logged once).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from bot.sources.rhythm import Mark

__all__ = ["RHYTHM_KEY", "DatabaseRhythm"]

log = logging.getLogger(__name__)

RHYTHM_KEY = "arxiv.rhythm"
_LOCK = "hashtext(current_schema() || ':arxiv-bot.arxiv-gate')"
CONNECT_TIMEOUT = 5


class DatabaseRhythm:
    """The rhythm of one PostgreSQL database. Not thread-safe: the gate calls it under
    its lock."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._warned = False

    @property
    def path(self) -> None:
        """No file: the database keeps the rhythm."""
        return None

    def try_lock(self) -> bool:
        """Take the lock without blocking; False while another process holds it."""
        row = self._query(f"SELECT pg_try_advisory_lock({_LOCK})")
        if row is None:
            return True  # no database: spacing within this process only
        self._held = bool(row[0])
        return self._held

    def unlock(self) -> None:
        if self._held:
            self._held = False
            self._query(f"SELECT pg_advisory_unlock({_LOCK})")

    def waits(self, interval: float) -> tuple[float, float]:
        """Seconds until the spacing and the backoff recorded by any replica have passed."""
        mark, now = self._read() or (None, 0.0)
        return mark.waits(now, interval) if mark is not None else (0.0, 0.0)

    def started(self, interval: float) -> None:
        """Record that a request starts now (server time), keeping ``interval`` after it."""
        self._update(lambda mark, now: dataclasses.replace(mark, started=now, interval=interval))

    def block(self, seconds: float) -> None:
        """Record that arXiv asked for no request in the next ``seconds``."""
        self._update(
            lambda mark, now: dataclasses.replace(
                mark, blocked_until=max(mark.blocked_until, now + seconds)
            )
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _read(self) -> tuple[Mark | None, float] | None:
        """The recorded mark (None: none yet) and the server's time; None when the
        database fails."""
        row = self._query(
            "SELECT (SELECT value FROM state WHERE key = %s),"
            " extract(epoch FROM clock_timestamp())",
            (RHYTHM_KEY,),
        )
        if row is None:
            return None
        return (Mark.from_text(str(row[0])) if row[0] is not None else None), float(row[1])

    def _update(self, change: Callable[[Mark, float], Mark]) -> None:
        read = self._read()
        if read is None:
            return
        mark, now = read
        updated = change(mark or Mark(), now)
        self._query(
            "INSERT INTO state (key, value, updated_at) VALUES (%s, %s,"
            " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'))"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (RHYTHM_KEY, updated.to_text().strip()),
        )

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """One autocommit statement's first row; None when the database fails."""
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._held = False  # a new session holds no lock
                self._conn = psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT,
                    application_name="arxiv-bot gate",
                )
            cursor = self._conn.execute(sql, params)
            return cursor.fetchone() if cursor.description else ()
        except psycopg.Error as error:
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot share arXiv's request spacing through the database (%s); "
                    "spacing requests within this process only until it answers",
                    str(error).strip().splitlines()[0] if str(error).strip() else error,
                )
            return None
