"""The answers to ``/readyz`` and ``/metrics``, read from the running app's parts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from bot.adapter import ReportsConnection
from bot.clock import Clock
from bot.errors import StorageError
from bot.harvest import Harvester
from bot.observability.health import Check, Readiness, adapters_check, harvest_check
from bot.observability.metrics import Metrics
from bot.schedule import HarvestSchedule
from bot.store import Store

__all__ = ["STORE_TIMEOUT", "Probes"]

log = logging.getLogger(__name__)

STORE_TIMEOUT = 5.0
"""Seconds the store may take to answer a probe (it may be in a long transaction)."""


class Probes:
    """Readiness checks and metrics of one running app."""

    def __init__(
        self,
        *,
        store: Store,
        harvester: Harvester,
        schedule: HarvestSchedule,
        metrics: Metrics,
        adapters: Mapping[str, object],
        expected: Sequence[str],
        clock: Clock,
    ) -> None:
        """``adapters`` holds the running adapters by name (read at every probe), and
        ``expected`` names those the app starts."""
        self._store = store
        self._harvester = harvester
        self._schedule = schedule
        self._metrics = metrics
        self._adapters = adapters
        self._expected = tuple(expected)
        self._clock = clock

    async def readiness(self) -> Readiness:
        store = await self._store_check()
        harvest = await self._harvest_check() if store.ok else Check(False, "store unusable")
        return Readiness(
            {"store": store, "adapters": await self._adapters_check(), "harvest": harvest}
        )

    async def metrics_text(self) -> bytes:
        """The metrics, with the store's figures read just now."""
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                backlog = await self._store.backlog()
                last_success = await self._harvester.last_success()
        except (StorageError, TimeoutError) as error:  # the other figures still count
            log.warning("metrics: could not read the store: %s", error or "timed out")
        else:
            self._metrics.observe_backlog(backlog, self._clock())
            self._metrics.observe_last_harvest(last_success)
        return self._metrics.render()

    async def _store_check(self) -> Check:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await self._store.ping()
        except TimeoutError:
            return Check(False, f"the database did not answer within {STORE_TIMEOUT:g} s")
        except Exception as error:  # closed, damaged, gone: said in words
            return Check(False, str(error) or type(error).__name__)
        return Check(True, f"open (schema version {self._store.schema_version})")

    async def _adapters_check(self) -> Check:
        connected = {
            name: await _is_connected(adapter) for name, adapter in list(self._adapters.items())
        }
        return adapters_check(self._expected, connected)

    async def _harvest_check(self) -> Check:
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                last_success = await self._harvester.last_success()
                last_error = await self._harvester.last_error()
        except (StorageError, TimeoutError) as error:
            return Check(False, f"could not read the harvest state: {error or 'timed out'}")
        return harvest_check(self._schedule, last_success, self._clock(), last_error)


async def _is_connected(adapter: object) -> bool:
    if not isinstance(adapter, ReportsConnection):
        return True  # running, and no way to tell more
    try:
        return await adapter.is_connected()
    except Exception:
        log.debug("asking an adapter whether it is connected failed", exc_info=True)
        return False
