"""The repository: every read and write of the bot's SQLite database goes through here."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.channels import ChannelStore
from bot.store.papers import PaperStore


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
