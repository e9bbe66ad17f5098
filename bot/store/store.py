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
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.clock import utc_now
from bot.errors import LimitError, NotFoundError, UserError
from bot.models import ChannelRef, DeliveryMode, Paper, Subscription
from bot.store import database
from bot.store.migrations import MIGRATIONS, Migration

if TYPE_CHECKING:
    from bot.sources.oai import HarvestedRecord

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
class HarvestCounts:
    """What :meth:`Store.upsert_harvested` made of a batch of harvested records.

    Counted per record: ``new`` papers the store did not hold (or held only from a
    search, never harvested), ``revised`` ones that brought a new version, ``changed``
    ones with the same version but other metadata (a new cross-list, a journal
    reference), and ``unchanged`` ones (typically the day of overlap re-harvested).
    """

    new: int = 0
    revised: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.revised + self.changed + self.unchanged

    def __add__(self, other: HarvestCounts) -> HarvestCounts:
        return HarvestCounts(
            new=self.new + other.new,
            revised=self.revised + other.revised,
            changed=self.changed + other.changed,
            unchanged=self.unchanged + other.unchanged,
        )


@dataclass(frozen=True, slots=True)
class Channel:
    """A stored channel: where it is, how it receives posts, and whether posting is paused."""

    id: int
    ref: ChannelRef
    mode: DeliveryMode
    paused_reason: str | None
    created_at: datetime
    paused_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None


@dataclass(frozen=True, slots=True)
class StoreCounts:
    papers: int
    channels: int
    subscriptions: int
    deliveries: int
    """Papers delivered to channels (queued and failed ones not counted)."""


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

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement as its own transaction; return the rows it changed.

        Cheaper than :meth:`transaction` for a single statement (SQLite makes every
        statement outside a transaction atomic by itself).
        """
        async with self._lock:
            cursor = await self._conn.execute(sql, params)
            return cursor.rowcount

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

    async def get_channel(self, channel_id: int) -> Channel:
        row = await self.fetchone("SELECT * FROM channels WHERE id = ?", (channel_id,))
        if row is None:
            raise NotFoundError(f"No channel #{channel_id}.")
        return _channel(row)

    async def set_channel_mode(self, channel_id: int, mode: DeliveryMode) -> None:
        await self._update_channel(channel_id, "mode = ?", (DeliveryMode(mode).value,))
        logger.info("Channel %s set to mode %s", channel_id, mode)

    async def pause_channel(self, channel_id: int, reason: str) -> None:
        """Stop delivering to a channel (its queued posts wait), showing ``reason``."""
        await self._update_channel(
            channel_id, "paused_reason = ?, paused_at = ?", (reason, self.now_text())
        )
        logger.warning("Channel %s paused: %s", channel_id, reason)

    async def resume_channel(self, channel_id: int) -> bool:
        """Deliver to a paused channel again; False if it was not paused."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE channels SET paused_reason = NULL, paused_at = NULL"
                " WHERE id = ? AND paused_reason IS NOT NULL",
                (channel_id,),
            )
            resumed = cursor.rowcount == 1
        if resumed:
            logger.info("Channel %s resumed", channel_id)
        return resumed

    async def _update_channel(
        self, channel_id: int, assignments: str, params: Sequence[Any]
    ) -> None:
        async with self.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE channels SET {assignments} WHERE id = ?", (*params, channel_id)
            )
            if cursor.rowcount != 1:
                raise NotFoundError(f"No channel #{channel_id}.")

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

        Papers seen only here (search results) are not harvested announcements, so they
        are stored as already matched; a harvested paper that gets a newer version or
        other categories this way is queued for matching again.
        """
        now = self.now_text()
        params = [(*_paper_params(paper, now), now) for paper in papers]
        if not params:
            return 0
        async with self.transaction() as conn:
            cursor = await conn.executemany(_UPSERT_PAPER, params)
            written = cursor.rowcount
        logger.debug("Upserted %s papers, %s rows written", len(params), written)
        return written

    async def upsert_harvested(self, records: Iterable[HarvestedRecord]) -> HarvestCounts:
        """Store a page of OAI-PMH records in one transaction; see :class:`HarvestCounts`.

        Versions: OAI's ``arXiv`` format has none, so a record whose ``updated`` is later
        than the stored paper's is the stored version + 1; otherwise it is the stored
        version (its metadata replacing the stored one). A paper not stored yet keeps the
        record's provisional version (1 without ``<updated>``, else 2).

        ``announced`` is set from the record's datestamp the first time a paper is
        harvested, and never changed after. ``matched_at`` becomes NULL (the paper goes
        through local matching again) for a new paper, a new version, or changed
        categories. Rows whose record brings nothing new are not written at all.
        """
        batch = list(records)
        if not batch:
            return HarvestCounts()
        now = self.now_text()
        counts = {"new": 0, "revised": 0, "changed": 0, "unchanged": 0}
        async with self.transaction() as conn:
            ids = list(dict.fromkeys(record.paper.arxiv_id for record in batch))
            stored: dict[str, dict[str, Any]] = {}
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start : start + _ID_CHUNK]
                rows = await conn.execute_fetchall(
                    f"SELECT * FROM papers WHERE arxiv_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
                stored.update((row["arxiv_id"], dict(row)) for row in rows)
            inserts: dict[str, dict[str, Any]] = {}
            updates: dict[str, dict[str, Any]] = {}
            for record in batch:
                arxiv_id = record.paper.arxiv_id
                old = inserts.get(arxiv_id) or updates.get(arxiv_id) or stored.get(arxiv_id)
                kind, row = _harvested_row(record, old, now)
                counts[kind] += 1
                if row is None:
                    continue
                if arxiv_id in stored:
                    updates[arxiv_id] = row
                else:
                    inserts[arxiv_id] = row
            if inserts:
                params = [tuple(row[c] for c in _HARVEST_INSERT) for row in inserts.values()]
                await conn.executemany(_INSERT_HARVESTED, params)
            if updates:
                params = [
                    (*(row[c] for c in _HARVEST_UPDATE), row["arxiv_id"])
                    for row in updates.values()
                ]
                await conn.executemany(_UPDATE_HARVESTED, params)
        result = HarvestCounts(**counts)
        logger.debug("Stored %s harvested records: %s", len(batch), result)
        return result

    async def recent_papers(self, since: date, *, limit: int | None = None) -> list[Paper]:
        """Harvested papers announced on or after ``since``, newest announcement first."""
        rows = await self.fetchall(
            "SELECT * FROM papers WHERE announced >= ?"
            " ORDER BY announced DESC, submitted DESC, arxiv_id DESC LIMIT ?",
            (since.isoformat(), -1 if limit is None else max(limit, 0)),
        )
        return [_paper(row) for row in rows]

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
                    (channel_id, arxiv_id, version, status, attempts, queued_at, delivered_at,
                     delivered_version)
                VALUES (?, ?, ?, 'delivered', 1, ?, ?, ?)
                ON CONFLICT (channel_id, arxiv_id) DO NOTHING
                """,
                (channel_id, paper.arxiv_id, paper.version, now, now, paper.version),
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
                   (SELECT count(*) FROM deliveries WHERE status = 'delivered')
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
    f"INSERT INTO papers ({', '.join(_PAPER_COLUMNS)}, matched_at) "
    f"VALUES ({', '.join('?' for _ in _PAPER_COLUMNS)}, ?) "
    "ON CONFLICT (arxiv_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _REPLACED)
    + ", matched_at = CASE WHEN papers.announced IS NOT NULL AND ("
    "excluded.version > papers.version OR excluded.categories IS NOT papers.categories"
    ") THEN NULL ELSE papers.matched_at END"
    + " WHERE excluded.version > papers.version OR (excluded.version = papers.version AND ("
    + " OR ".join(f"excluded.{c} IS NOT papers.{c}" for c in _REPLACED if c != "version")
    + "))"
)


_ID_CHUNK = 500
"""Ids per ``IN (...)`` lookup, well under SQLite's limit on bound parameters."""

_HARVEST_INSERT = (*_PAPER_COLUMNS, "announced")
_HARVEST_UPDATE = (
    "version",
    "title",
    "authors",
    "abstract",
    "categories",
    "primary_category",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "announced",
    "matched_at",
)
_INSERT_HARVESTED = (
    f"INSERT INTO papers ({', '.join(_HARVEST_INSERT)}) "
    f"VALUES ({', '.join('?' for _ in _HARVEST_INSERT)})"
)
_UPDATE_HARVESTED = (
    "UPDATE papers SET " + ", ".join(f"{c} = ?" for c in _HARVEST_UPDATE) + " WHERE arxiv_id = ?"
)
# Same-version metadata that a harvested record may correct.
_HARVEST_METADATA = ("title", "authors", "abstract", "categories", "comment", "journal_ref", "doi")


def _harvested_row(
    record: HarvestedRecord, old: dict[str, Any] | None, now: str
) -> tuple[str, dict[str, Any] | None]:
    """``(kind, row to write or None)`` for one record against the stored row ``old``."""
    paper = record.paper
    _check_versionless(paper.arxiv_id)
    fresh = dict(zip(_PAPER_COLUMNS, _paper_params(paper, now), strict=True))
    if old is None:
        return "new", {**fresh, "announced": record.datestamp.isoformat(), "matched_at": None}
    row = dict(old)
    newly_announced = row.get("announced") is None
    if newly_announced:
        row["announced"] = record.datestamp.isoformat()
    revised = paper.updated > _from_text(row["updated"])
    if revised:
        row.update({c: fresh[c] for c in (*_HARVEST_METADATA, "primary_category", "updated")})
        row["version"] = int(row["version"]) + 1
    changed = {c for c in _HARVEST_METADATA if fresh[c] != row[c]}
    row.update({c: fresh[c] for c in changed})
    if "categories" in changed:
        row["primary_category"] = fresh["primary_category"]
    if newly_announced or revised or "categories" in changed:
        row["matched_at"] = None
    if newly_announced:
        return "new", row
    if revised:
        return "revised", row
    return ("changed", row) if changed else ("unchanged", None)


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


def _channel(row: sqlite3.Row) -> Channel:
    return Channel(
        id=int(row["id"]),
        ref=ChannelRef(
            platform=row["platform"],
            workspace=row["workspace"],
            channel=row["channel"],
            name=row["name"],
        ),
        mode=DeliveryMode(row["mode"]),
        paused_reason=row["paused_reason"],
        created_at=_from_text(row["created_at"]),
        paused_at=_from_text(row["paused_at"]) if row["paused_at"] else None,
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
