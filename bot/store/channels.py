"""Channels (where posts go, how, and whether paused) and their subscriptions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import (
    ChannelNotFoundError,
    DuplicateSubscriptionError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
)
from bot.models import ChannelRef, DeliveryMode, Subscription
from bot.store.base import StoreBase
from bot.store.sql import Connection, Row
from bot.store.values import from_text, to_text

logger = logging.getLogger(__name__)

DEFAULT_SUBSCRIPTION_LIMIT = 25
"""Subscriptions a channel may hold unless configured otherwise."""


@dataclass(frozen=True, slots=True)
class Channel:
    """A stored channel: where it is, how it receives posts, and whether posting is paused."""

    id: int
    ref: ChannelRef
    mode: DeliveryMode
    paused_reason: str | None
    created_at: datetime
    paused_at: datetime | None = None
    digest_cards: int | None = None
    """Full cards in this channel's digests; None: the configured default."""
    ranking: bool = True
    """Order its papers by its own ranking once it has liked enough (/arxiv ranking)."""
    schedule: str | None = None
    """When it gets papers (/arxiv schedule): None right after each harvest, else the
    canonical form of a :class:`~bot.post_schedule.PostSchedule`."""
    next_post_at: datetime | None = None
    """A scheduled channel's next post time: its queued papers wait until then."""

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None


_CHANNEL_ID_SQL = "SELECT id FROM channels WHERE platform = ? AND workspace = ? AND channel = ?"


class ChannelStore(StoreBase):
    """The channel and subscription methods of :class:`~bot.store.store.Store`."""

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
                await conn.fetchall(
                    _CHANNEL_ID_SQL,
                    (ref.platform, ref.workspace, ref.channel),
                )
            )
        return int(rows[0]["id"])

    async def find_channel(self, ref: ChannelRef) -> int | None:
        """The id of the channel ``ref`` names, None when it was never seen."""
        row = await self.fetchone(
            _CHANNEL_ID_SQL,
            (ref.platform, ref.workspace, ref.channel),
        )
        return int(row["id"]) if row is not None else None

    async def get_channel(self, channel_id: int) -> Channel:
        row = await self.fetchone("SELECT * FROM channels WHERE id = ?", (channel_id,))
        if row is None:
            raise ChannelNotFoundError(channel_id)
        return channel_from_row(row)

    async def set_channel_mode(self, channel_id: int, mode: DeliveryMode) -> None:
        await self._update_channel(channel_id, "mode = ?", (DeliveryMode(mode).value,))
        logger.info("Channel %s set to mode %s", channel_id, mode)

    async def set_digest_cards(self, channel_id: int, cards: int | None) -> None:
        """How many full cards the channel's digests carry (None: the default)."""
        await self._update_channel(channel_id, "digest_cards = ?", (cards,))

    async def set_channel_ranking(self, channel_id: int, on: bool) -> None:
        """Turn the channel's own ranking on or off (off: match strength, then date)."""
        await self._update_channel(channel_id, "ranking = ?", (int(on),))
        logger.info("Channel %s ranking %s", channel_id, "on" if on else "off")

    async def set_channel_schedule(
        self, channel_id: int, schedule: str | None, next_post_at: datetime | None
    ) -> None:
        """Set when the channel gets papers: ``schedule`` (a canonical form; None: asap)
        and its first post time (None for asap)."""
        if (schedule is None) != (next_post_at is None):
            raise ValueError("a schedule and its next post time go together")
        stamp = to_text(next_post_at) if next_post_at is not None else None
        await self._update_channel(channel_id, "schedule = ?, next_post_at = ?", (schedule, stamp))
        logger.info("Channel %s schedule %s, next post %s", channel_id, schedule or "asap", stamp)

    async def due_scheduled_channels(self, now: datetime) -> list[Channel]:
        """Scheduled channels whose post time has come, by id."""
        rows = await self.fetchall(
            "SELECT * FROM channels WHERE next_post_at IS NOT NULL AND next_post_at <= ?"
            " ORDER BY id",
            (to_text(now),),
        )
        return [channel_from_row(row) for row in rows]

    async def next_scheduled_post(self, after: datetime) -> datetime | None:
        """The earliest post time of any scheduled channel later than ``after``, None when
        there is none (times already come wait for their round: a paused channel's)."""
        row = await self.fetchone(
            "SELECT min(next_post_at) AS next FROM channels WHERE next_post_at > ?",
            (to_text(after),),
        )
        return from_text(row["next"]) if row is not None and row["next"] else None

    async def advance_schedule(self, channel: Channel, following: datetime) -> bool:
        """Move a due channel's post time on to ``following`` (nothing was due to post);
        False when its schedule changed meanwhile."""
        async with self.transaction() as conn:
            return await advance_schedule_in(conn, channel, following)

    async def pause_channel(self, channel_id: int, reason: str) -> None:
        """Stop delivering to a channel (its queued posts wait), showing ``reason``."""
        await self._update_channel(
            channel_id, "paused_reason = ?, paused_at = ?", (reason, self.now_text())
        )
        logger.warning("Channel %s paused: %s", channel_id, reason)

    async def resume_channel(self, channel_id: int) -> bool:
        """Deliver to a paused channel again; False if it was not paused."""
        async with self.transaction() as conn:
            changed = await conn.execute(
                "UPDATE channels SET paused_reason = NULL, paused_at = NULL"
                " WHERE id = ? AND paused_reason IS NOT NULL",
                (channel_id,),
            )
            resumed = changed == 1
        if resumed:
            logger.info("Channel %s resumed", channel_id)
        return resumed

    async def _update_channel(
        self, channel_id: int, assignments: str, params: Sequence[Any]
    ) -> None:
        async with self.transaction() as conn:
            changed = await conn.execute(
                f"UPDATE channels SET {assignments} WHERE id = ?", (*params, channel_id)
            )
            if changed != 1:
                raise ChannelNotFoundError(channel_id)

    # -- subscriptions ----------------------------------------------------------------

    async def add_subscription(
        self,
        channel_id: int,
        query: str,
        *,
        canonical: str | None = None,
        limit: int = DEFAULT_SUBSCRIPTION_LIMIT,
    ) -> Subscription:
        """Subscribe a channel to ``query``, kept as typed; a subscription of the channel
        with the same ``canonical`` form (default: ``query`` itself) is a duplicate.

        The duplicate check, the count check and the insert share one transaction, so
        concurrent calls never take a channel past ``limit``. Raises
        :class:`~bot.errors.DuplicateSubscriptionError` or
        :class:`~bot.errors.SubscriptionLimitError`.
        """
        canonical = query if canonical is None else canonical
        async with self.transaction() as conn:
            existing = list(
                await conn.fetchall(
                    "SELECT * FROM subscriptions WHERE channel_id = ? AND canonical = ?",
                    (channel_id, canonical),
                )
            )
            if existing:
                raise DuplicateSubscriptionError(_subscription(existing[0]))
            rows = list(
                await conn.fetchall(
                    "SELECT count(*) FROM subscriptions WHERE channel_id = ?", (channel_id,)
                )
            )
            count = int(rows[0][0])
            if count >= limit:
                raise SubscriptionLimitError(count, limit)
            inserted = list(
                await conn.fetchall(
                    "INSERT INTO subscriptions (channel_id, query, canonical, created_at)"
                    " VALUES (?, ?, ?, ?) RETURNING *",
                    (channel_id, query, canonical, self.now_text()),
                )
            )
        subscription = _subscription(inserted[0])
        logger.info("Channel %s subscribed to %r as #%s", channel_id, query, subscription.id)
        return subscription

    async def remove_subscription(self, channel_id: int, subscription_id: int) -> Subscription:
        """Remove one of this channel's subscriptions; another channel's is "not found"."""
        async with self.transaction() as conn:
            rows = list(
                await conn.fetchall(
                    "DELETE FROM subscriptions WHERE id = ? AND channel_id = ? RETURNING *",
                    (subscription_id, channel_id),
                )
            )
        if not rows:
            raise SubscriptionNotFoundError(subscription_id)
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


def channel_from_row(row: Row) -> Channel:
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
        created_at=from_text(row["created_at"]),
        paused_at=from_text(row["paused_at"]) if row["paused_at"] else None,
        digest_cards=row["digest_cards"],
        ranking=bool(row["ranking"]),
        schedule=row["schedule"],
        next_post_at=from_text(row["next_post_at"]) if row["next_post_at"] else None,
    )


async def advance_schedule_in(conn: Connection, channel: Channel, following: datetime) -> bool:
    """In the open transaction ``conn``: move ``channel``'s post time from the one it was
    read with to ``following``, only if its schedule and post time are unchanged (else
    False: it changed, or another round advanced it)."""
    if channel.schedule is None or channel.next_post_at is None:
        raise ValueError(f"channel {channel.id} has no schedule to advance")
    changed = await conn.execute(
        "UPDATE channels SET next_post_at = ? WHERE id = ? AND schedule = ? AND next_post_at = ?",
        (to_text(following), channel.id, channel.schedule, to_text(channel.next_post_at)),
    )
    return bool(changed == 1)


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=int(row["id"]),
        channel_id=int(row["channel_id"]),
        query=row["query"],
        created_at=from_text(row["created_at"]),
    )
