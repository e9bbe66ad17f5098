"""A settable wall clock: the one "now" tests and benchmarks hand to the bot's parts."""

from __future__ import annotations

from datetime import datetime, timedelta


class SettableClock:
    """A :data:`bot.clock.Clock` that stands still until a test moves it.

    Hand the same instance to the store, the harvester, the enqueuer, the dispatcher and
    the handlers, and every "now" they read is the test's.
    """

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware datetime")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by ``timedelta(**delta)``, e.g. ``advance(hours=2)``."""
        self.now += timedelta(**delta)


class ManualTime:
    """A monotonic clock and a sleep for the arXiv gate that never wait: :meth:`sleep`
    records the wait (to the millisecond) and moves the clock on. Call it, or pass
    :meth:`clock`, as the gate's ``clock``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds
