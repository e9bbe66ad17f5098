"""The repository: every read and write of the bot's SQLite database goes through here."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from bot.clock import utc_now
from bot.errors import LimitError, NotFoundError, UserError
from bot.models import ChannelRef, Paper, Subscription
from bot.store import database
from bot.store.migrations import MIGRATIONS, Migration

logger = logging.getLogger(__name__)

DEFAULT_SUBSCRIPTION_LIMIT = 25
"""Subscriptions a channel may hold unless configured otherwise."""

_VERSIONED_ID = re.compile(r"v\d+$")


class DuplicateSubscriptionError(UserError):
    """The channel already subscribes to exactly this query."""

    def __init__(self, existing: Subscription) -> None:
        super().__init__(
            f"This channel is already subscribed to that query as #{existing.id}. "
            "/arxiv list shows this channel's subscriptions."
        )
        self.existing = existing


@dataclass(frozen=True, slots=True)
class StoreCounts:
    papers: int
    channels: int
    subscriptions: int
    deliveries: int


class Store:
    """SQLite storage for papers, channels, subscriptions, deliveries and small state.

    One aiosqlite connection serves the whole process. An :class:`asyncio.Lock` keeps
    coroutines from interleaving inside each other's transactions on that connection;
    ``BEGIN IMMEDIATE`` keeps other processes (a CLI next to the running bot) out of a
    read-then-write sequence such as the subscription limit check.
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        path: Path | str,
        schema_version: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Wrap an already migrated connection; use :meth:`open` instead."""
        self._conn = conn
        self._path = path
        self._schema_version = schema_version
        self._clock = clock
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        clock: Callable[[], datetime] = utc_now,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> Store:
        """Open (creating if needed) the database at ``path`` and apply pending migrations.

        ``migrations`` exists for tests; production code uses the default.
        """
        conn = await database.connect(path)
        try:
            version = await database.migrate(conn, migrations, label=str(path))
        except BaseException:
            await conn.close()
            raise
        logger.debug("Opened store %s at schema version %s", path, version)
        return cls(conn, path=path, schema_version=version, clock=clock)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> Store:
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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE``, then ``COMMIT`` or ``ROLLBACK``."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                await self._conn.execute("COMMIT")
            except BaseException:
                await database.rollback(self._conn)
                raise

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    def now_text(self) -> str:
        return _to_text(self._clock())

    # -- channels ---------------------------------------------------------------------

    async def ensure_channel(self, ref: ChannelRef) -> int:
        """Return the id of the channel ``ref`` names, creating it on first sight.

        A changed non-empty ``name`` is stored; an empty one never erases a known name.
        """
        async with self.transaction() as conn:
            await conn.execute(
                """
                INSERT INTO channels (platform, workspace, channel, name, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (platform, workspace, channel) DO UPDATE SET name = excluded.name
                WHERE excluded.name <> '' AND excluded.name <> channels.name
                """,
                (ref.platform, ref.workspace, ref.channel, ref.name, self.now_text()),
            )
            rows = list(
                await conn.execute_fetchall(
                    "SELECT id FROM channels WHERE platform = ? AND workspace = ? AND channel = ?",
                    (ref.platform, ref.workspace, ref.channel),
                )
            )
        return int(rows[0]["id"])

    # -- subscriptions ----------------------------------------------------------------

    async def add_subscription(
        self, channel_id: int, query: str, *, limit: int = DEFAULT_SUBSCRIPTION_LIMIT
    ) -> Subscription:
        """Subscribe a channel to ``query`` (already canonical text).

        The duplicate check, the count check and the insert share one transaction, so
        concurrent calls never take a channel past ``limit``.
        """
        async with self.transaction() as conn:
            existing = list(
                await conn.execute_fetchall(
                    "SELECT * FROM subscriptions WHERE channel_id = ? AND query = ?",
                    (channel_id, query),
                )
            )
            if existing:
                raise DuplicateSubscriptionError(_subscription(existing[0]))
            rows = list(
                await conn.execute_fetchall(
                    "SELECT count(*) FROM subscriptions WHERE channel_id = ?", (channel_id,)
                )
            )
            count = int(rows[0][0])
            if count >= limit:
                raise LimitError(_limit_message(count, limit))
            inserted = list(
                await conn.execute_fetchall(
                    "INSERT INTO subscriptions (channel_id, query, created_at) VALUES (?, ?, ?)"
                    " RETURNING *",
                    (channel_id, query, self.now_text()),
                )
            )
        subscription = _subscription(inserted[0])
        logger.info("Channel %s subscribed to %r as #%s", channel_id, query, subscription.id)
        return subscription

    async def remove_subscription(self, channel_id: int, subscription_id: int) -> Subscription:
        """Remove one of this channel's subscriptions; another channel's is "not found"."""
        async with self.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "DELETE FROM subscriptions WHERE id = ? AND channel_id = ? RETURNING *",
                    (subscription_id, channel_id),
                )
            )
        if not rows:
            raise NotFoundError(
                f"No subscription #{subscription_id} in this channel. "
                "/arxiv list shows this channel's subscriptions."
            )
        subscription = _subscription(rows[0])
        logger.info("Channel %s removed subscription #%s", channel_id, subscription_id)
        return subscription

    async def list_subscriptions(self, channel_id: int) -> list[Subscription]:
        rows = await self.fetchall(
            "SELECT * FROM subscriptions WHERE channel_id = ? ORDER BY id", (channel_id,)
        )
        return [_subscription(row) for row in rows]

    async def all_subscriptions(self) -> list[Subscription]:
        rows = await self.fetchall("SELECT * FROM subscriptions ORDER BY channel_id, id")
        return [_subscription(row) for row in rows]

    # -- papers -----------------------------------------------------------------------

    async def upsert_papers(self, papers: Iterable[Paper]) -> int:
        """Store papers; return how many rows were inserted or changed.

        A stored paper is replaced by a newer version, or by the same version with
        different metadata (a journal reference or DOI added later); an older version
        never replaces a newer one. ``first_seen_at`` keeps its first value.
        """
        now = self.now_text()
        params = [_paper_params(paper, now) for paper in papers]
        if not params:
            return 0
        async with self.transaction() as conn:
            cursor = await conn.executemany(_UPSERT_PAPER, params)
            written = cursor.rowcount
        logger.debug("Upserted %s papers, %s rows written", len(params), written)
        return written

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        row = await self.fetchone("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
        return _paper(row) if row is not None else None

    async def search_papers(self, text: str, *, limit: int = 10) -> list[Paper]:
        """Full-text search of the local store, best match first.

        Every word of ``text`` must appear (stemmed, accents folded). FTS5 operators in
        ``text`` are taken literally, so no user input can make the query fail.
        """
        match = fts_query(text)
        if match is None or limit <= 0:
            return []
        rows = await self.fetchall(
            """
            SELECT p.* FROM (
                SELECT rowid, rank FROM papers_fts WHERE papers_fts MATCH ?
                ORDER BY rank LIMIT ?
            ) AS hit JOIN papers AS p ON p.id = hit.rowid
            ORDER BY hit.rank, p.updated DESC
            """,
            (match, limit),
        )
        return [_paper(row) for row in rows]

    # -- deliveries -------------------------------------------------------------------

    async def mark_delivered(self, channel_id: int, paper: Paper) -> bool:
        """Record that ``paper`` was posted to the channel.

        Returns False, changing nothing, when the channel already has this paper under
        any version: the key is the version-less id.
        """
        _check_versionless(paper.arxiv_id)
        now = self.now_text()
        async with self.transaction() as conn:
            cursor = await conn.execute(
                """
                INSERT INTO deliveries
                    (channel_id, arxiv_id, version, status, attempts, queued_at, delivered_at)
                VALUES (?, ?, ?, 'delivered', 1, ?, ?)
                ON CONFLICT (channel_id, arxiv_id) DO NOTHING
                """,
                (channel_id, paper.arxiv_id, paper.version, now, now),
            )
            recorded = cursor.rowcount == 1
        return recorded

    async def was_delivered(self, channel_id: int, arxiv_id: str) -> bool:
        row = await self.fetchone(
            "SELECT 1 FROM deliveries WHERE channel_id = ? AND arxiv_id = ?",
            (channel_id, arxiv_id),
        )
        return row is not None

    # -- stats and state --------------------------------------------------------------

    async def counts(self) -> StoreCounts:
        row = await self.fetchone(
            """
            SELECT (SELECT count(*) FROM papers),
                   (SELECT count(*) FROM channels),
                   (SELECT count(*) FROM subscriptions),
                   (SELECT count(*) FROM deliveries)
            """
        )
        assert row is not None
        return StoreCounts(
            papers=int(row[0]),
            channels=int(row[1]),
            subscriptions=int(row[2]),
            deliveries=int(row[3]),
        )

    async def get_state(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM state WHERE key = ?", (key,))
        return str(row["value"]) if row is not None else None

    async def set_state(self, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                """
                INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                                updated_at = excluded.updated_at
                """,
                (key, value, self.now_text()),
            )


# -- helpers --------------------------------------------------------------------------

_PAPER_COLUMNS = (
    "arxiv_id",
    "version",
    "title",
    "authors",
    "abstract",
    "categories",
    "primary_category",
    "submitted",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "first_seen_at",
)
_REPLACED = [c for c in _PAPER_COLUMNS if c not in ("arxiv_id", "first_seen_at")]
_UPSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(_PAPER_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _PAPER_COLUMNS)}) "
    "ON CONFLICT (arxiv_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _REPLACED)
    + " WHERE excluded.version > papers.version OR (excluded.version = papers.version AND ("
    + " OR ".join(f"excluded.{c} IS NOT papers.{c}" for c in _REPLACED if c != "version")
    + "))"
)


def fts_query(text: str) -> str | None:
    """Turn free text into a safe FTS5 query: every word quoted, all required.

    Quoting makes FTS5 syntax (``AND``, ``NEAR(``, ``*``, ``col:``, parentheses) plain
    words. Pieces with no letter or digit are dropped: they index to nothing, and an
    empty phrase would make the whole query match nothing. Returns None if no word is
    left.
    """
    words = [word for word in text.replace("\x00", " ").split() if _has_token(word)]
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _has_token(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def _check_versionless(arxiv_id: str) -> None:
    if _VERSIONED_ID.search(arxiv_id):
        raise ValueError(f"arXiv id {arxiv_id!r} carries a version; store the version-less id")


def _to_text(moment: datetime) -> str:
    """ISO-8601 UTC with fixed precision, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware UTC")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_text(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json_list(values: Iterable[str]) -> str:
    # ensure_ascii=False: the FTS index must see "Müller", not "M\u00fcller".
    return json.dumps(list(values), ensure_ascii=False)


def _paper_params(paper: Paper, first_seen_at: str) -> tuple[Any, ...]:
    _check_versionless(paper.arxiv_id)
    return (
        paper.arxiv_id,
        paper.version,
        paper.title,
        _json_list(paper.authors),
        paper.abstract,
        _json_list(paper.categories),
        paper.primary_category,
        _to_text(paper.submitted),
        _to_text(paper.updated),
        paper.comment,
        paper.journal_ref,
        paper.doi,
        first_seen_at,
    )


def _paper(row: sqlite3.Row) -> Paper:
    return Paper(
        arxiv_id=row["arxiv_id"],
        version=int(row["version"]),
        title=row["title"],
        authors=tuple(json.loads(row["authors"])),
        abstract=row["abstract"],
        categories=tuple(json.loads(row["categories"])),
        submitted=_from_text(row["submitted"]),
        updated=_from_text(row["updated"]),
        comment=row["comment"],
        journal_ref=row["journal_ref"],
        doi=row["doi"],
    )


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        id=int(row["id"]),
        channel_id=int(row["channel_id"]),
        query=row["query"],
        created_at=_from_text(row["created_at"]),
    )


def _limit_message(count: int, limit: int) -> str:
    noun = "subscription" if count == 1 else "subscriptions"
    most = "the most allowed" if count == limit else f"and the most allowed is {limit}"
    return (
        f"This channel already has {count} {noun}, {most}. "
        "Remove one with /arxiv unsubscribe <id> (see /arxiv list), "
        "or combine queries with OR in one subscription."
    )
