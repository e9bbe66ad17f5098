"""Which of several processes on one database harvests: a lease, renewed while it lives.

Every ``arxiv-bot run`` service on a database competes for the lease ``harvest``; the
one holding it harvests, matches and prunes, the others only deliver (and answer chat).
The holder renews it every third of :attr:`Leadership.lease_seconds`; killed, it stops
renewing and another process takes the lease once it runs out, so a harvest is never
left undone for longer than the lease. Leases compare wall-clock times written by
different hosts: keep their clocks in sync (NTP), as any cluster must.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.clock import Clock, utc_now
from bot.errors import StorageError
from bot.processes import ProcessId, process_is_alive
from bot.store import Store

__all__ = ["HARVEST_LEASE", "Leadership", "holder_is_dead", "holder_name"]

log = logging.getLogger(__name__)

HARVEST_LEASE = "harvest"
DEFAULT_LEASE_SECONDS = 30.0


def holder_name() -> str:
    """This process, as lease holders are named: host, pid and incarnation."""
    return str(ProcessId.current())


def holder_is_dead(holder: str, alive: Callable[[int], bool] = process_is_alive) -> bool:
    """True when ``holder`` ran on this host and is gone (see :class:`ProcessId`)."""
    process = ProcessId.parse(holder)
    return process is not None and process.is_gone(alive)


class Leadership:
    """Holds (or waits for) one lease on the store; see the module's docstring."""

    def __init__(
        self,
        store: Store,
        *,
        name: str = HARVEST_LEASE,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        holder: str | None = None,
        clock: Clock = utc_now,
        on_elected: Callable[[], Awaitable[None]] | None = None,
        alive: Callable[[int], bool] = process_is_alive,
    ) -> None:
        """``alive`` tells whether a process of this host still runs: a holder that
        died here (a crash, then a restart) is replaced at once, not when its lease
        runs out."""
        self._store = store
        self._alive = alive
        self.name = name
        self.lease_seconds = lease_seconds
        self.holder = holder or holder_name()
        self._clock = clock
        self._on_elected = on_elected
        self._leading = False
        self._held_until: datetime | None = None

    @property
    def leading(self) -> bool:
        """True while this process held the lease at its last renewal."""
        return self._leading

    async def step(self) -> bool:
        """Take or renew the lease once; True when this process holds it now.

        A store that fails leaves the answer as it was until the lease this process
        last took runs out: a short outage of the database neither drops the harvest
        nor, when it ends, makes this process take over from itself (a second harvest).
        """
        now = self._clock()
        until = now + timedelta(seconds=self.lease_seconds)
        try:
            held = await self._store.take_lease(self.name, self.holder, now=now, until=until)
            if not held:
                lease = await self._store.lease(self.name)
                if lease is not None and holder_is_dead(lease.holder, self._alive):
                    log.info("the %s lease's holder %s is gone", self.name, lease.holder)
                    held = await self._store.take_lease(
                        self.name, self.holder, now=now, until=until, replacing=lease.holder
                    )
        except StorageError as error:
            log.warning("could not renew the %s lease: %s", self.name, error)
            held = self._leading and self._held_until is not None and now < self._held_until
        else:
            if held:
                self._held_until = now + timedelta(seconds=self.lease_seconds)
        was = self._leading
        self._leading = held
        if held and not was:
            log.info("this process now holds the %s lease (%s)", self.name, self.holder)
            if self._on_elected is not None:
                try:
                    await self._on_elected()
                except StorageError as error:  # not leading yet: tried again next renewal
                    log.warning("could not take the %s work over: %s", self.name, error)
                    self._leading = False
        elif was and not held:
            log.warning("this process lost the %s lease to another", self.name)
        return self._leading

    async def run(self) -> None:
        """Renew (or wait for) the lease until cancelled; give it up when cancelled."""
        try:
            while True:
                await self.step()
                await asyncio.sleep(self.lease_seconds / 3)
        finally:
            if self._leading:
                self._leading = False
                with contextlib.suppress(StorageError, asyncio.CancelledError):
                    # Not waiting it out helps the next holder; failing, it runs out.
                    await asyncio.shield(self._store.drop_lease(self.name, self.holder))
