"""Feedback on posted papers (the ``feedback`` table), and which paper a sent message shows.

One row per (channel, paper, user, source, emoji) with its signal, +1 or -1; policy
(which emoji count, what an event means) lives in :mod:`bot.feedback`. A sent message
is found by its channel and the platform's reference for it (``outbox.sent_ref``: a
Slack ts, a Discord message id), and the papers it shows by ``outbox_papers``, which a
trigger fills whenever planning points a delivery at a message (migration 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.models import ChannelRef, Paper
from bot.store.base import StoreBase
from bot.store.rows import paper_from_row
from bot.store.values import to_text

__all__ = ["FEEDBACK_TRAINING_LIMIT", "FeedbackStore", "FeedbackTally", "RatedPaper", "ShownPaper"]

FEEDBACK_TRAINING_LIMIT = 1000
"""A channel's ranking learns from at most its newest this many feedback events: enough to
know its taste, few enough to retrain in well under a second (bench/ranking.py)."""


@dataclass(frozen=True, slots=True)
class ShownPaper:
    """The one paper a sent message shows, and the stored channel it was sent to."""

    channel_id: int
    arxiv_id: str


@dataclass(frozen=True, slots=True)
class FeedbackTally:
    """A paper's feedback in a channel over a period: each person counts once."""

    arxiv_id: str
    net: int
    """People who liked it minus people who did not."""
    liked: int
    disliked: int


@dataclass(frozen=True, slots=True)
class RatedPaper:
    """One feedback event with the paper it is about (title and abstract included)."""

    paper: Paper
    signal: int


_NEWEST_EVENTS = """
    SELECT arxiv_id, signal FROM feedback WHERE channel_id = :channel
    ORDER BY created_at DESC, arxiv_id, "user", source, emoji LIMIT :limit
"""


class FeedbackStore(StoreBase):
    """The feedback methods of :class:`~bot.store.store.Store`."""

    async def paper_shown_by(self, channel: ChannelRef, message_ref: str) -> ShownPaper | None:
        """The paper the sent message ``message_ref`` of ``channel`` shows, or None when the
        message is unknown or shows no paper or several (a digest's list)."""
        rows = await self.fetchall(
            """
            SELECT c.id AS channel_id, min(p.arxiv_id) AS arxiv_id, count(p.arxiv_id) AS shown
            FROM channels AS c
            JOIN outbox AS m ON m.channel_id = c.id
            LEFT JOIN outbox_papers AS p ON p.message_id = m.id
            WHERE c.platform = ? AND c.workspace = ? AND c.channel = ?
              AND m.sent_ref = ? AND m.status = 'sent'
            GROUP BY m.id
            LIMIT 2
            """,
            (channel.platform, channel.workspace, channel.channel, message_ref),
        )
        if len(rows) != 1 or int(rows[0]["shown"]) != 1:
            return None
        return ShownPaper(int(rows[0]["channel_id"]), str(rows[0]["arxiv_id"]))

    async def add_feedback(
        self,
        channel_id: int,
        arxiv_id: str,
        *,
        user: str,
        source: str,
        emoji: str,
        signal: int,
        exclusive: bool = False,
    ) -> None:
        """Record one person's feedback on a paper; the same again changes nothing (its
        first time stays). ``exclusive``: it replaces the person's other feedback of the
        same source on the paper (a button press replaces the previous one)."""
        key = {"channel": channel_id, "paper": arxiv_id, "user": user, "source": source}
        async with self.transaction() as conn:
            if exclusive:
                await conn.execute(
                    "DELETE FROM feedback WHERE channel_id = :channel AND arxiv_id = :paper"
                    ' AND "user" = :user AND source = :source AND emoji <> :emoji',
                    {**key, "emoji": emoji},
                )
            await conn.execute(
                "INSERT INTO feedback"
                ' (channel_id, arxiv_id, "user", source, emoji, signal, created_at)'
                " VALUES (:channel, :paper, :user, :source, :emoji, :signal, :now)"
                ' ON CONFLICT (channel_id, arxiv_id, "user", source, emoji)'
                " DO UPDATE SET signal = excluded.signal",
                {**key, "emoji": emoji, "signal": signal, "now": self.now_text()},
            )

    async def remove_feedback(
        self, channel_id: int, arxiv_id: str, *, user: str, source: str, emoji: str
    ) -> bool:
        """Delete one person's feedback; True when there was such a row."""
        removed = await self.execute(
            'DELETE FROM feedback WHERE channel_id = ? AND arxiv_id = ? AND "user" = ?'
            " AND source = ? AND emoji = ?",
            (channel_id, arxiv_id, user, source, emoji),
        )
        return removed > 0

    async def top_feedback(
        self, channel_id: int, *, since: datetime, limit: int = 10
    ) -> list[FeedbackTally]:
        """The channel's papers with more people liking than disliking them in feedback
        given since ``since``: most net likes first, then the most recently submitted."""
        rows = await self.fetchall(
            """
            WITH votes AS (
                SELECT arxiv_id, "user", sum(signal) AS total FROM feedback
                WHERE channel_id = :channel AND created_at >= :since
                GROUP BY arxiv_id, "user"
            )
            SELECT v.arxiv_id,
                   sum(v.total > 0) AS liked,
                   sum(v.total < 0) AS disliked,
                   sum(v.total > 0) - sum(v.total < 0) AS net,
                   (SELECT p.submitted FROM papers AS p WHERE p.arxiv_id = v.arxiv_id)
                       AS submitted
            FROM votes AS v
            GROUP BY v.arxiv_id
            HAVING net > 0
            ORDER BY net DESC, submitted DESC, v.arxiv_id DESC
            LIMIT :limit
            """,
            {"channel": channel_id, "since": to_text(since), "limit": max(limit, 0)},
        )
        return [
            FeedbackTally(
                str(row["arxiv_id"]), int(row["net"]), int(row["liked"]), int(row["disliked"])
            )
            for row in rows
        ]

    async def feedback_count(self, channel_id: int, *, since: datetime) -> int:
        """Feedback rows the channel gave since ``since`` (any signal)."""
        row = await self.fetchone(
            "SELECT count(*) FROM feedback WHERE channel_id = ? AND created_at >= ?",
            (channel_id, to_text(since)),
        )
        return int(row[0]) if row is not None else 0

    async def rated_papers(
        self, channel_id: int, *, limit: int = FEEDBACK_TRAINING_LIMIT
    ) -> list[RatedPaper]:
        """The channel's newest ``limit`` feedback events, each with its paper as stored
        (events on papers no longer stored are left out: nothing to learn from)."""
        rows = await self.fetchall(
            f"""
            WITH events AS ({_NEWEST_EVENTS})
            SELECT e.signal AS signal, p.arxiv_id, p.version, p.title, p.authors,
                   p.categories, p.submitted, p.updated, p.comment, p.journal_ref, p.doi,
                   p.abstract
            FROM events AS e JOIN papers AS p ON p.arxiv_id = e.arxiv_id
            """,
            {"channel": channel_id, "limit": max(limit, 0)},
        )
        return [RatedPaper(paper_from_row(row), int(row["signal"])) for row in rows]

    async def liked_papers_count(
        self, channel_id: int, *, limit: int = FEEDBACK_TRAINING_LIMIT
    ) -> int:
        """Distinct stored papers the channel liked (signals summing above 0) among its
        newest ``limit`` feedback events: what its ranking would learn from."""
        row = await self.fetchone(
            f"""
            WITH events AS ({_NEWEST_EVENTS})
            SELECT count(*) FROM (
                SELECT e.arxiv_id FROM events AS e
                WHERE EXISTS (SELECT 1 FROM papers AS p WHERE p.arxiv_id = e.arxiv_id)
                GROUP BY e.arxiv_id HAVING sum(e.signal) > 0
            ) AS liked
            """,
            {"channel": channel_id, "limit": max(limit, 0)},
        )
        return int(row[0]) if row is not None else 0
