"""Matching: run newly harvested papers through every subscription and queue what is new.

:meth:`Enqueuer.match_pending` takes every paper the harvest left unmatched, runs it
through the :class:`~bot.index.SubscriptionIndex`, keeps the subscriptions for which the
paper is new (:class:`NewPaperWindow`), and queues one delivery per (channel, paper),
naming every matching subscription of that channel, in the same transaction that marks
the papers matched. Sending is :mod:`bot.delivery`'s job.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta

from bot.clock import Clock, utc_now
from bot.index import SubscriptionIndex
from bot.matcher import PaperText
from bot.models import Paper, Subscription
from bot.observability.metrics import Metrics
from bot.store import Store
from bot.store.deliveries import DeliveryQueue, PaperMatches, PendingPaper

__all__ = [
    "NEW_PAPER_GRACE_DAYS",
    "Enqueuer",
    "MatchReport",
    "NewPaperWindow",
    "is_new_for",
]

log = logging.getLogger(__name__)

NEW_PAPER_GRACE_DAYS = 7
"""A paper first submitted more than this many days before a subscription was created is
not new to it, even if announced later (a revision of an old paper, a late cross-list)."""

MATCH_BATCH = 500
"""Papers matched and recorded per transaction."""


@dataclass(frozen=True, slots=True)
class NewPaperWindow:
    """Which papers count as new for one subscription.

    A paper must have been announced (first harvested) on or after the day the
    subscription was created (UTC), so a new subscription does not flood its channel
    with older papers; and first submitted at most :data:`NEW_PAPER_GRACE_DAYS` days
    before that day, so that an old paper that was merely revised is not "new".
    """

    first_announced: date
    earliest_submitted: date

    @classmethod
    def of(cls, subscription: Subscription) -> NewPaperWindow:
        day = subscription.created_at.astimezone(UTC).date()
        return cls(day, day - timedelta(days=NEW_PAPER_GRACE_DAYS))

    def admits(self, announced: date | None, submitted: date) -> bool:
        """True for a paper announced on ``announced`` (None: never harvested) and first
        submitted on ``submitted`` (UTC days)."""
        if announced is None:
            return False
        return announced >= self.first_announced and submitted >= self.earliest_submitted


def is_new_for(subscription: Subscription, paper: Paper, announced: date | None) -> bool:
    """True if ``paper``, announced on ``announced``, counts as new for ``subscription``."""
    return NewPaperWindow.of(subscription).admits(announced, submitted_day(paper))


def submitted_day(paper: Paper) -> date:
    """The UTC day ``paper`` was first submitted."""
    return paper.submitted.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class MatchReport:
    papers: int = 0
    """Papers run through matching and marked matched."""
    queued: int = 0
    """New (channel, paper) deliveries queued."""
    revisions: int = 0
    """Revised notes queued."""
    subscriptions: int = 0
    """Subscriptions matched against."""
    seconds: float = 0.0
    """Wall time spent matching (tokenizing and index lookups), store writes excluded."""

    def __str__(self) -> str:
        return (
            f"matched {self.papers} papers against {self.subscriptions} subscriptions "
            f"in {self.seconds:.2f} s: {self.queued} queued, {self.revisions} revised notes"
        )


class Enqueuer:
    """Matches harvested papers to subscriptions and queues their deliveries."""

    def __init__(
        self,
        *,
        store: Store,
        queue: DeliveryQueue,
        revision_notes: bool = False,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        """With ``revision_notes``, a new version of a paper a channel already received
        queues a short "revised" note."""
        self._store = store
        self._queue = queue
        self._revision_notes = revision_notes
        self._clock = clock
        self._metrics = metrics or Metrics()
        self._lock = asyncio.Lock()
        self._index: SubscriptionIndex | None = None

    async def waiting(self) -> int:
        """Harvested papers not matched yet (normally none between cycles)."""
        return await self._queue.unmatched_count()

    async def match_pending(self) -> MatchReport:
        """Match every paper waiting for it and queue its deliveries, batch by batch.

        Each batch's deliveries and its papers' ``matched_at`` are written in one
        transaction: a crash leaves a batch either fully recorded or still unmatched.
        """
        async with self._lock:
            subscriptions = await self._store.all_subscriptions()
            index = None
            if subscriptions:  # compiled queries are reused from the previous run's index
                index = await asyncio.to_thread(
                    functools.partial(SubscriptionIndex.build, previous=self._index),
                    subscriptions,
                )
                self._index = index
            windows = {s.id: NewPaperWindow.of(s) for s in subscriptions}
            papers = queued = revisions = 0
            seconds = 0.0
            after = -(2**63)  # row numbers of papers with odd ids are negative
            while True:
                pending = await self._queue.unmatched(after_id=after, limit=MATCH_BATCH)
                if not pending:
                    break
                started = time.perf_counter()
                matches = await asyncio.to_thread(_match_batch, index, windows, pending)
                seconds += time.perf_counter() - started
                counts = await self._queue.record_matches(
                    matches, now=self._clock(), revision_notes=self._revision_notes
                )
                papers += counts.papers
                queued += counts.queued
                revisions += counts.revisions
                after = pending[-1].row_id
        report = MatchReport(papers, queued, revisions, len(subscriptions), seconds)
        self._metrics.matched(papers, queued, revisions)
        if papers:
            log.info("%s", report)
        return report


def _match_batch(
    index: SubscriptionIndex | None,
    windows: Mapping[int, NewPaperWindow],
    pending: Sequence[PendingPaper],
) -> list[PaperMatches]:
    """Match one batch (CPU only; runs in a worker thread)."""
    results: list[PaperMatches] = []
    for item in pending:
        new: dict[int, list[int]] = {}
        matching: dict[int, list[int]] = {}
        if index is not None and item.announced is not None:
            submitted = submitted_day(item.paper)
            for subscription in index.match(PaperText.from_paper(item.paper)):
                matching.setdefault(subscription.channel_id, []).append(subscription.id)
                if windows[subscription.id].admits(item.announced, submitted):
                    new.setdefault(subscription.channel_id, []).append(subscription.id)
        results.append(
            PaperMatches(
                pending=item,
                new={channel: tuple(ids) for channel, ids in new.items()},
                matching={channel: tuple(ids) for channel, ids in matching.items()},
            )
        )
    return results
