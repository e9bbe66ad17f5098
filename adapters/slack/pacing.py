"""Per-channel pacing: Slack allows about one message a second in each channel.

Channels are independent (the dispatcher posts to them in parallel); within a channel
the pacer spaces messages at least ``interval`` seconds apart. The clock and the sleep
are injectable so tests check the spacing without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["ChannelPacer"]


@dataclass(slots=True)
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_at: float = float("-inf")


class ChannelPacer:
    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[str, _Lane] = {}

    @contextlib.asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        """Wait for ``channel``'s next slot, then hold it while one message is sent."""
        lane = self._lanes.setdefault(channel, _Lane())
        async with lane.lock:
            delay = lane.next_at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            try:
                yield
            finally:
                lane.next_at = self._clock() + self.interval
