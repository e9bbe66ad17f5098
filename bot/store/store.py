"""The repository: every read and write of the bot's SQLite database goes through here."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Paper
from bot.store.channels import ChannelStore
from bot.store.papers import PaperStore
from bot.store.values import check_versionless


@dataclass(frozen=True, slots=True)
class StoreCounts:
    papers: int
    channels: int
    subscriptions: int
    deliveries: int
    """Papers delivered to channels (queued and failed ones not counted)."""


class Store(ChannelStore, PaperStore):
    """SQLite storage for papers, channels, subscriptions, deliveries and small state.

    One aiosqlite connection serves the whole process. An :class:`asyncio.Lock` keeps
    coroutines from interleaving inside each other's transactions on that connection;
    ``BEGIN IMMEDIATE`` keeps other processes (a CLI next to the running bot) out of a
    read-then-write sequence such as the subscription limit check.
    """

    # -- deliveries -------------------------------------------------------------------

    async def mark_delivered(self, channel_id: int, paper: Paper) -> bool:
        """Record that ``paper`` was posted to the channel.

        Returns False, changing nothing, when the channel already has this paper under
        any version: the key is the version-less id.
        """
        check_versionless(paper.arxiv_id)
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
