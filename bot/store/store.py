"""The repository: every read and write of the bot's database goes through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.channels import ChannelStore
from bot.store.coverage import CoverageStore
from bot.store.feedback import FeedbackStore
from bot.store.leases import LeaseStore
from bot.store.papers import PaperStore
from bot.store.values import from_text


@dataclass(frozen=True, slots=True)
class StoreCounts:
    papers: int
    channels: int
    subscriptions: int
    deliveries: int
    """Papers delivered to channels (queued and failed ones not counted)."""


@dataclass(frozen=True, slots=True)
class StoreBacklog:
    """What waits to be posted, for the metrics."""

    outbox_pending: int
    """Outbox messages not sent yet (paused channels and stopped platforms included)."""
    oldest_pending_at: datetime | None
    """When the oldest of them was planned; None when there is none."""
    paused_channels: int


class Store(ChannelStore, PaperStore, CoverageStore, FeedbackStore, LeaseStore):
    """Storage for papers, channels, subscriptions, deliveries and small state, on
    SQLite or PostgreSQL.

    One connection serves the whole process. An :class:`asyncio.Lock` keeps coroutines
    from interleaving inside each other's transactions on that connection; write
    transactions exclude each other across processes too (``BEGIN IMMEDIATE``, or an
    advisory lock on PostgreSQL), so a read-then-write sequence such as the subscription
    limit check holds with several processes on one database.
    """

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

    async def ping(self) -> None:
        """Raise :class:`~bot.errors.StorageError` unless the database answers."""
        await self.fetchone("SELECT 1")

    async def backlog(self) -> StoreBacklog:
        row = await self.fetchone(
            """
            SELECT count(*), min(created_at),
                   (SELECT count(*) FROM channels WHERE paused_reason IS NOT NULL)
            FROM outbox WHERE status IN ('pending', 'sending')
            """
        )
        assert row is not None
        return StoreBacklog(
            outbox_pending=int(row[0]),
            oldest_pending_at=from_text(row[1]) if row[1] else None,
            paused_channels=int(row[2]),
        )
