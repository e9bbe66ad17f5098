"""Retention: old harvested papers and sent messages are pruned after ``RETENTION_DAYS``.

What may go is decided by :func:`bot.store.upkeep.prune`, which keeps everything that
deduplication needs (every ``deliveries`` row, and papers still in use); this module
says how old is old and runs a prune at most once a day, after a harvest cycle. Its one
piece of state is the ``retention.last_prune`` key of the store's ``state`` table.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, timedelta

from bot.clock import Clock, utc_now
from bot.enqueue import NEW_PAPER_GRACE_DAYS
from bot.store import Store
from bot.store.upkeep import PruneCounts, prune

__all__ = ["Retention"]

log = logging.getLogger(__name__)

_LAST_PRUNE_KEY = "retention.last_prune"
"""YYYY-MM-DD (UTC): the day of the last prune."""


class Retention:
    """Prunes rows older than ``days`` days (0: keeps everything)."""

    def __init__(self, store: Store, *, days: int, clock: Clock = utc_now) -> None:
        if days < 0:
            raise ValueError("days must be 0 (keep everything) or more")
        self._store = store
        self.days = days
        self._clock = clock

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    def cutoff(self) -> date | None:
        """Rows from before this day (UTC) are old; None when everything is kept."""
        return self._today() - timedelta(days=self.days) if self.days else None

    async def prune(self) -> PruneCounts:
        """Prune now what is older than the retention (nothing when it is 0)."""
        cutoff = self.cutoff()
        if cutoff is None:
            return PruneCounts()
        counts = await prune(
            self._store, before=cutoff, today=self._today(), grace_days=NEW_PAPER_GRACE_DAYS
        )
        await self._store.set_state(_LAST_PRUNE_KEY, self._today().isoformat())
        if counts.papers or counts.messages:
            log.info("pruned %s from before %s", counts, cutoff)
        return counts

    async def prune_if_due(self) -> PruneCounts | None:
        """Prune unless that was done today already; None when it was not due."""
        if not self.days or await self._store.get_state(_LAST_PRUNE_KEY) == (
            self._today().isoformat()
        ):
            return None
        return await self.prune()
