"""The durable delivery queue: the ``deliveries`` table, one row per (channel, paper).

The row is both the "at most once" key (a channel never gets a paper twice, whatever
its version) and the queue entry that carries a post from "matched" to "shown in the
channel". Every state change is one short transaction, so a crash at any point leaves
the queue in a state the next run can continue from:

* ``queued``: matched, waiting to be planned into messages;
* ``sending``: planned: ``message_id`` names the :mod:`outbox <bot.store.outbox>`
  message that shows it;
* ``delivered``: that message landed (``delivered_version`` says which version);
* ``failed``: that message used its last allowed attempt; never retried automatically.

Policy (what is eligible, when to retry, how to group posts) lives in
:mod:`bot.delivery`; this module only reads and writes rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from bot.models import Paper
from bot.store.channels import Channel, channel_from_row
from bot.store.rows import paper_from_row
from bot.store.sql import Connection, Row
from bot.store.store import Store
from bot.store.values import ID_CHUNK, from_text, to_text

__all__ = [
    "DeliveryKind",
    "DeliveryQueue",
    "DueDelivery",
    "EnqueueCounts",
    "FailedDelivery",
    "PaperMatches",
    "PendingPaper",
]

logger = logging.getLogger(__name__)

DeliveryKind = Literal["new", "revised"]

QUEUED_PAGE = 500
"""Queued rows read per query when planning a channel's backlog."""


@dataclass(frozen=True, slots=True)
class PendingPaper:
    """A harvested paper that still has to go through local matching.

    ``version``, ``categories_text`` and ``announced`` are the stored values read with
    it: the paper is marked matched only if they are unchanged when the matches are
    recorded, so a revision stored meanwhile is matched again, not lost.
    """

    row_id: int
    paper: Paper
    announced: date | None
    categories_text: str


@dataclass(frozen=True, slots=True)
class PaperMatches:
    """What matching found for one paper, by channel id.

    ``new``: the subscriptions for which the paper is new (matching and eligible);
    ``matching``: every matching subscription, used for revised notes about a paper the
    channel already received.
    """

    pending: PendingPaper
    new: Mapping[int, tuple[int, ...]]
    matching: Mapping[int, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class EnqueueCounts:
    papers: int = 0
    """Papers marked matched."""
    queued: int = 0
    """New (channel, paper) deliveries queued."""
    revisions: int = 0
    """Revised notes queued."""
    changed: int = 0
    """Papers that changed while being matched; they stay unmatched for the next run."""


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A queued row to plan into messages: only its own columns, light enough to hold a
    channel's whole backlog (planning reads the papers a page at a time with
    :meth:`DeliveryQueue.papers`)."""

    channel_id: int
    arxiv_id: str
    version: int
    """The version the row was read at: planning only takes it if it is unchanged."""
    kind: DeliveryKind
    queued_at: str
    """As stored: with ``kind`` and ``arxiv_id``, the row's place in sending order."""
    stored: bool
    """False if the paper is missing from the store (it is then marked failed)."""
    subscription_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A delivery row with an error, for ``/arxiv status``."""

    channel: Channel
    arxiv_id: str
    status: str
    attempts: int
    error: str
    at: datetime | None


class DeliveryQueue:
    """Reads and writes the ``deliveries`` table through a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- matching -----------------------------------------------------------------------

    async def unmatched(self, *, after_id: int = 0, limit: int = 500) -> list[PendingPaper]:
        """Papers waiting for matching, in store order, starting after row ``after_id``."""
        rows = await self._store.fetchall(
            "SELECT * FROM papers WHERE matched_at IS NULL AND id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [
            PendingPaper(
                row_id=int(row["id"]),
                paper=paper_from_row(row),
                announced=date.fromisoformat(row["announced"]) if row["announced"] else None,
                categories_text=row["categories"],
            )
            for row in rows
        ]

    async def unmatched_count(self) -> int:
        """Harvested papers still waiting for matching."""
        row = await self._store.fetchone("SELECT count(*) FROM papers WHERE matched_at IS NULL")
        return int(row[0]) if row is not None else 0

    async def record_matches(
        self, matches: Sequence[PaperMatches], *, now: datetime, revision_notes: bool
    ) -> EnqueueCounts:
        """Queue what ``matches`` call for and mark their papers matched, in one transaction.

        A channel without a row for the paper gets a new one naming every matching
        subscription. A row still queued takes the newer version and the union of the
        subscriptions (once planned into messages, a row is left as it is). A delivered
        row becomes a revised note (when ``revision_notes`` and the version is newer than
        the one last sent); otherwise nothing changes, so a paper is never queued twice
        for a channel as new.
        """
        if not matches:
            return EnqueueCounts()
        stamp = to_text(now)
        queued = revisions = marked = 0
        async with self._store.transaction() as conn:
            existing = await _rows_for(conn, [m.pending.paper.arxiv_id for m in matches])
            inserts: list[tuple[Any, ...]] = []
            for match in matches:
                paper = match.pending.paper
                for channel_id, sub_ids in match.new.items():
                    row = existing.get((channel_id, paper.arxiv_id))
                    if row is None:
                        inserts.append(
                            (channel_id, paper.arxiv_id, paper.version, _ids(sub_ids), stamp)
                        )
                        existing[(channel_id, paper.arxiv_id)] = {
                            "status": "queued",
                            "delivered_version": None,
                            "version": paper.version,
                            "subscription_ids": _ids(sub_ids),
                        }
                        queued += 1
                    elif row["delivered_version"] is None and row["status"] == "queued":
                        merged = sorted({*json.loads(row["subscription_ids"]), *sub_ids})
                        await conn.execute(
                            f"UPDATE deliveries SET version = {conn.dialect.greatest}(version, ?),"
                            " subscription_ids = ?"
                            " WHERE channel_id = ? AND arxiv_id = ?",
                            (paper.version, _ids(merged), channel_id, paper.arxiv_id),
                        )
                if revision_notes:
                    for channel_id, sub_ids in match.matching.items():
                        row = existing.get((channel_id, paper.arxiv_id))
                        if row is None or row["delivered_version"] is None:
                            continue
                        if row["status"] in ("delivered", "failed"):
                            if paper.version <= int(row["version"]):
                                continue
                            await conn.execute(
                                _QUEUE_REVISION,
                                (paper.version, _ids(sub_ids), stamp, channel_id, paper.arxiv_id),
                            )
                            row["status"] = "queued"
                            revisions += 1
                        elif row["status"] == "queued":  # a note waits: the newest version
                            newest = f"{conn.dialect.greatest}(version, ?)"
                            await conn.execute(
                                f"UPDATE deliveries SET version = {newest}"
                                " WHERE channel_id = ? AND arxiv_id = ?",
                                (paper.version, channel_id, paper.arxiv_id),
                            )
            if inserts:
                await conn.executemany(_INSERT_NEW, inserts)
            for match in matches:
                pending = match.pending
                changed = await conn.execute(
                    "UPDATE papers SET matched_at = ? WHERE id = ? AND version = ?"
                    f" AND categories = ? AND announced {conn.dialect.same} ?",
                    (
                        stamp,
                        pending.row_id,
                        pending.paper.version,
                        pending.categories_text,
                        pending.announced.isoformat() if pending.announced else None,
                    ),
                )
                marked += changed
        return EnqueueCounts(
            papers=marked, queued=queued, revisions=revisions, changed=len(matches) - marked
        )

    # -- planning -----------------------------------------------------------------------

    async def queued_channels(self) -> list[Channel]:
        """Channels with rows waiting to be planned, paused ones included, by id."""
        rows = await self._store.fetchall(
            "SELECT * FROM channels WHERE id IN"
            " (SELECT channel_id FROM deliveries WHERE status = 'queued') ORDER BY id"
        )
        return [channel_from_row(row) for row in rows]

    async def queued(
        self, channel_id: int, *, after: DueDelivery | None = None, limit: int | None = None
    ) -> list[DueDelivery]:
        """Up to ``limit`` of the channel's queued rows in sending order (new papers before
        revised notes, then by when they were queued, then by id), starting after the row
        ``after`` (a row of the previous page), without their papers. ``limit`` defaults
        to :data:`QUEUED_PAGE`."""
        where = ""
        params: tuple[Any, ...] = (channel_id,)
        if after is not None:
            where = " AND (d.kind, d.queued_at, d.arxiv_id) > (?, ?, ?)"
            params += (after.kind, after.queued_at, after.arxiv_id)
        rows = await self._store.fetchall(
            "SELECT d.arxiv_id, d.version, d.kind, d.queued_at, d.subscription_ids,"
            " EXISTS (SELECT 1 FROM papers AS p WHERE p.arxiv_id = d.arxiv_id) AS stored"
            " FROM deliveries AS d"
            f" WHERE d.channel_id = ? AND d.status = 'queued'{where}"
            " ORDER BY d.kind, d.queued_at, d.arxiv_id LIMIT ?",
            (*params, max(QUEUED_PAGE if limit is None else limit, 1)),
        )
        return [
            DueDelivery(
                channel_id=channel_id,
                arxiv_id=row["arxiv_id"],
                version=int(row["version"]),
                kind=row["kind"],
                queued_at=row["queued_at"],
                stored=bool(row["stored"]),
                subscription_ids=tuple(json.loads(row["subscription_ids"])),
            )
            for row in rows
        ]

    async def papers(self, arxiv_ids: Sequence[str], *, abstracts: bool = True) -> dict[str, Paper]:
        """The stored papers (newest version) of ``arxiv_ids`` that exist, by id, read
        :data:`~bot.store.values.ID_CHUNK` at a time. Without ``abstracts``, each paper's
        abstract is left empty: a list of many papers then takes a fraction of the memory."""
        abstract = "abstract" if abstracts else "'' AS abstract"
        found: dict[str, Paper] = {}
        unique = list(dict.fromkeys(arxiv_ids))
        for start in range(0, len(unique), ID_CHUNK):
            chunk = unique[start : start + ID_CHUNK]
            rows = await self._store.fetchall(
                "SELECT arxiv_id, version, title, authors, categories, submitted, updated,"
                f" comment, journal_ref, doi, {abstract} FROM papers"
                f" WHERE arxiv_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for row in rows:
                found[row["arxiv_id"]] = paper_from_row(row)
        return found

    async def queued_new_papers(self, limit: int) -> list[Paper]:
        """Up to ``limit`` distinct papers queued as new for some channel (with abstracts):
        those more channels wait for first, then the newest."""
        rows = await self._store.fetchall(
            "SELECT p.arxiv_id, p.version, p.title, p.authors, p.categories, p.submitted,"
            " p.updated, p.comment, p.journal_ref, p.doi, p.abstract FROM papers AS p JOIN"
            " (SELECT arxiv_id, count(*) AS wanted FROM deliveries"
            "  WHERE status = 'queued' AND kind = 'new' GROUP BY arxiv_id) AS q"
            " ON q.arxiv_id = p.arxiv_id"
            " ORDER BY q.wanted DESC, p.submitted DESC, p.arxiv_id DESC LIMIT ?",
            (max(limit, 0),),
        )
        return [paper_from_row(row) for row in rows]

    async def give_up(
        self, channel_id: int, rows: Sequence[DueDelivery], *, error: str, now: datetime
    ) -> None:
        """Mark queued rows that cannot be planned (their paper is missing) failed."""
        async with self._store.transaction() as conn:
            await conn.executemany(
                "UPDATE deliveries SET status = 'failed', last_error = ?, last_attempt_at = ?"
                " WHERE channel_id = ? AND arxiv_id = ? AND status = 'queued'",
                [(error, to_text(now), channel_id, row.arxiv_id) for row in rows],
            )

    async def cancel(self, channel_id: int, arxiv_ids: Iterable[str]) -> None:
        """Drop queued rows nobody wants any more (every subscription that matched was
        removed).

        A paper never delivered loses its row; a revised note that was waiting is dropped
        and the row goes back to what the channel last received.
        """
        params = [(channel_id, arxiv_id) for arxiv_id in arxiv_ids]
        if not params:
            return
        async with self._store.transaction() as conn:
            await conn.executemany(
                "DELETE FROM deliveries WHERE channel_id = ? AND arxiv_id = ?"
                " AND status = 'queued' AND delivered_version IS NULL",
                params,
            )
            await conn.executemany(
                "UPDATE deliveries SET status = 'delivered', version = delivered_version,"
                " next_attempt_at = NULL, last_error = NULL"
                " WHERE channel_id = ? AND arxiv_id = ? AND status = 'queued'",
                params,
            )

    # -- reporting ----------------------------------------------------------------------

    async def pending_count(self) -> int:
        """Rows queued or being sent (paused channels and stopped platforms included)."""
        row = await self._store.fetchone(
            "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'sending')"
        )
        return int(row[0]) if row is not None else 0

    async def recent_errors(self, limit: int) -> list[FailedDelivery]:
        """The newest errors of rows not delivered (still pending or given up)."""
        rows = await self._store.fetchall(
            "SELECT d.arxiv_id AS d_arxiv_id, d.status AS d_status, d.attempts AS d_attempts,"
            " d.last_error AS d_last_error, d.last_attempt_at AS d_last_attempt_at, c.*"
            " FROM deliveries AS d JOIN channels AS c ON c.id = d.channel_id"
            " WHERE d.last_error IS NOT NULL AND d.status <> 'delivered'"
            " ORDER BY d.last_attempt_at DESC, d.arxiv_id LIMIT ?",
            (max(limit, 0),),
        )
        return [
            FailedDelivery(
                channel=channel_from_row(row),
                arxiv_id=row["d_arxiv_id"],
                status=row["d_status"],
                attempts=int(row["d_attempts"]),
                error=row["d_last_error"],
                at=from_text(row["d_last_attempt_at"]) if row["d_last_attempt_at"] else None,
            )
            for row in rows
        ]


_INSERT_NEW = (
    "INSERT INTO deliveries (channel_id, arxiv_id, version, kind, subscription_ids, status,"
    " attempts, queued_at) VALUES (?, ?, ?, 'new', ?, 'queued', 0, ?)"
    " ON CONFLICT (channel_id, arxiv_id) DO NOTHING"
)
_QUEUE_REVISION = (
    "UPDATE deliveries SET kind = 'revised', status = 'queued', version = ?,"
    " subscription_ids = ?, attempts = 0, queued_at = ?, next_attempt_at = NULL,"
    " claim = NULL, last_error = NULL WHERE channel_id = ? AND arxiv_id = ?"
)


def _ids(values: Iterable[int]) -> str:
    return json.dumps(sorted(set(values)))


async def _rows_for(
    conn: Connection, arxiv_ids: Sequence[str]
) -> dict[tuple[int, str], dict[str, Any]]:
    found: dict[tuple[int, str], dict[str, Any]] = {}
    unique = list(dict.fromkeys(arxiv_ids))
    for start in range(0, len(unique), ID_CHUNK):
        chunk = unique[start : start + ID_CHUNK]
        rows: Iterable[Row] = await conn.fetchall(
            "SELECT channel_id, arxiv_id, status, version, delivered_version, subscription_ids"
            f" FROM deliveries WHERE arxiv_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for row in rows:
            found[(int(row["channel_id"]), row["arxiv_id"])] = dict(row)
    return found
