"""One automatic-posting cycle: harvest what arXiv announced, match it, deliver it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.delivery import DeliveryReport, Dispatcher
from bot.enqueue import Enqueuer, MatchReport
from bot.enrichment import Enricher
from bot.errors import ArxivBotError, StorageError
from bot.harvest import Harvester, HarvestReport
from bot.retention import Retention
from bot.store.deliveries import DeliveryQueue

log = logging.getLogger(__name__)

ENRICH_WAIT_SECONDS = 5.0
"""How long delivery waits, after matching, for the new papers' card extras (Hugging
Face signals, TL;DRs): the most they ever delay a post. The prefetch goes on in the
background; cards use what is cached by the time each is planned."""
ENRICH_PAPERS = 100
"""Distinct newly queued papers whose extras are prefetched per round, most wanted first
(the TL;DR budget and Hugging Face's pace stop well before)."""


@dataclass(frozen=True, slots=True)
class CycleReport:
    harvest: HarvestReport | None
    """None when the harvest failed; it is retried from the old watermark next cycle."""
    matched: MatchReport
    delivered: DeliveryReport

    @property
    def new_papers(self) -> int:
        return self.harvest.new_papers if self.harvest else 0


class Cycle:
    """Harvest → match → deliver. A failed harvest still lets queued posts go out.

    With ``retention``, old rows are then pruned, at most once a day. With ``enricher``
    (and the ``queue`` it reads the newly queued papers from), card extras are prefetched
    between matching and delivery, waited for at most ``enrich_wait`` seconds.
    """

    def __init__(
        self,
        harvester: Harvester,
        enqueuer: Enqueuer,
        dispatcher: Dispatcher,
        retention: Retention | None = None,
        *,
        enricher: Enricher | None = None,
        queue: DeliveryQueue | None = None,
        enrich_wait: float | None = None,
        leads: Callable[[], bool] | None = None,
        on_queued: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``leads`` says whether this process does the work done once for all the
        processes on the database (harvest, matching, pruning: see
        :mod:`bot.leadership`); None: it always does. ``on_queued`` is called when
        matching queued posts, before this process delivers them (it wakes the other
        processes' delivery, see :meth:`~bot.store.Store.notify_work`)."""
        self._leads = leads or (lambda: True)
        self._on_queued = on_queued
        self._harvester = harvester
        self._enqueuer = enqueuer
        self._dispatcher = dispatcher
        self._retention = retention
        self._enricher = enricher if enricher is not None and enricher.active else None
        self._queue = queue
        self._enrich_wait = ENRICH_WAIT_SECONDS if enrich_wait is None else enrich_wait
        self._prefetching: set[asyncio.Task[None]] = set()

    async def run(self) -> CycleReport:
        harvest: HarvestReport | None = None
        if not self._leads():
            delivered = await self._dispatcher.deliver_due()
            log.info("cycle done: another process harvests; %s", delivered)
            return CycleReport(None, MatchReport(), delivered)
        try:
            harvest = await self._harvester.harvest()
        except StorageError:
            raise  # not arXiv: the store failed, and matching and delivering would too
        except ArxivBotError as error:  # the harvester has logged why
            log.debug("harvest failed, will retry from the old watermark: %s", error)
        matched, delivered = await self.match_and_deliver()
        log.info("cycle done: harvest %s, %s, %s", harvest or "failed", matched, delivered)
        if self._retention is not None:
            try:
                await self._retention.prune_if_due()
            except StorageError as error:  # tried again after the next cycle
                log.error("pruning old rows failed: %s", error)
        return CycleReport(harvest, matched, delivered)

    async def match_and_deliver(self) -> tuple[MatchReport, DeliveryReport]:
        """Match whatever harvested papers wait for it (a crash may have stranded some
        between harvest and matching), then deliver what is due. Matching is left to the
        process that harvests."""
        if not self._leads():
            return MatchReport(), await self._dispatcher.deliver_due()
        matched = await self._enqueuer.match_pending()
        if matched.queued:
            if self._on_queued is not None:
                try:
                    await self._on_queued()
                except StorageError as error:  # they look by themselves before long
                    log.warning("could not wake the other processes' delivery: %s", error)
            await self._prefetch_extras()
        return matched, await self._dispatcher.deliver_due()

    async def _prefetch_extras(self) -> None:
        """Start fetching the newly queued papers' card extras; wait for them a few
        seconds at most (the fetch goes on in the background past that)."""
        if self._enricher is None or self._queue is None:
            return
        papers = await self._queue.queued_new_papers(ENRICH_PAPERS)
        if not papers:
            return
        task = asyncio.create_task(self._enricher.prefetch(papers), name="prefetch-extras")
        self._prefetching.add(task)
        task.add_done_callback(self._prefetching.discard)
        done, _ = await asyncio.wait({task}, timeout=self._enrich_wait)
        if not done:
            log.info(
                "card extras of %s papers not all ready; posting without the rest", len(papers)
            )

    async def aclose(self) -> None:
        """Stop prefetches still running (before their clients close)."""
        for task in list(self._prefetching):
            task.cancel()
        if self._prefetching:
            await asyncio.wait(self._prefetching, timeout=2.0)
