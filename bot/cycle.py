"""One automatic-posting cycle: harvest what arXiv announced, match it, deliver it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.delivery import DeliveryReport, Dispatcher
from bot.enqueue import Enqueuer, MatchReport
from bot.errors import ArxivBotError, StorageError
from bot.harvest import Harvester, HarvestReport
from bot.retention import Retention

log = logging.getLogger(__name__)


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

    With ``retention``, old rows are then pruned, at most once a day.
    """

    def __init__(
        self,
        harvester: Harvester,
        enqueuer: Enqueuer,
        dispatcher: Dispatcher,
        retention: Retention | None = None,
    ) -> None:
        self._harvester = harvester
        self._enqueuer = enqueuer
        self._dispatcher = dispatcher
        self._retention = retention

    async def run(self) -> CycleReport:
        harvest: HarvestReport | None = None
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
        between harvest and matching), then deliver what is due."""
        matched = await self._enqueuer.match_pending()
        return matched, await self._dispatcher.deliver_due()
