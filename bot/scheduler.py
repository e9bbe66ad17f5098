"""Run harvest cycles on the schedule: a small facade over APScheduler's ``AsyncIOScheduler``.

The facade owns four jobs, all running the same cycle:

- ``scheduled``: the regular cron runs of ``HarvestSchedule``;
- ``catch-up``: once, at start, when the last harvest is overdue;
- ``retry``: once, when an announcement evening's cycle found nothing new (or failed);
- ``manual``: once, from ``run_now()``.

APScheduler's ``max_instances`` only stops one job from overlapping itself, so the facade
also serialises cycles across jobs with a lock: a cycle asked for while another runs waits
for it, and further requests meanwhile fold into that waiting one. Cycles run late rather
than never (``misfire_grace_time=None``): a harvest starts from its watermark, so a late
run loses nothing, while a skipped one would delay papers to the next evening.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock, utc_now
from bot.schedule import HarvestSchedule

log = logging.getLogger(__name__)

RunKind = Literal["scheduled", "catch-up", "retry", "manual"]
CycleFunction = Callable[[], Awaitable[int]]
"""One harvest, match and delivery cycle; returns how many new papers the harvest stored."""

JOB_PREFIX = "harvest:"
IDLE_POLL_SECONDS = 0.01


def job_id(kind: RunKind) -> str:
    return JOB_PREFIX + kind


class Scheduler:
    """Runs ``cycle`` on ``schedule``: ``start()``, later ``shutdown()``.

    ``async with Scheduler(...) as scheduler: await scheduler.start(...)`` guarantees the
    shutdown, as python-telegram-bot's ``async with application`` does.

    ``clock`` is the "now" for the schedule's answers (the first regular run, a retry's
    time). Firing itself follows APScheduler's wall clock, so jobs "now" run at once.
    """

    def __init__(
        self, schedule: HarvestSchedule, cycle: CycleFunction, *, clock: Clock = utc_now
    ) -> None:
        self.schedule = schedule
        self._cycle = cycle
        self._clock = clock
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._lock = asyncio.Lock()
        self._queued: RunKind | None = None
        """The kind of the one cycle waiting for the running one, if any."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Scheduler:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def start(self, *, catch_up: bool) -> None:
        """Add the regular job; with ``catch_up``, also run a cycle right away."""
        if self._started:
            raise RuntimeError("the scheduler was already started")
        self._started = True
        self._aps.start()
        first = self.schedule.next_run(self._clock())
        self._aps.add_job(
            self._run,
            trigger=self.schedule.trigger,
            args=("scheduled",),
            id=job_id("scheduled"),
            name="harvest (scheduled)",
            next_run_time=first,
        )
        log.info("harvests scheduled: %s; next at %s", self.schedule.describe(), first)
        if catch_up:
            log.info("last harvest is overdue: catching up now")
            self._add_once("catch-up", None)

    async def shutdown(self, *, grace_seconds: float | None = None) -> None:
        """Stop scheduling, and wait for a running cycle to finish.

        After ``grace_seconds`` (None: no limit) the cycle is cancelled; a harvest is
        crash-safe, so the next start resumes from the old watermark.
        """
        if not self._started or self._closing:
            return
        self._closing = True
        self._aps.pause()
        if self._tasks:
            log.info("waiting for the running harvest cycle to finish")
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        # AsyncIOScheduler shuts down later, through call_soon_threadsafe: wait for it.
        stopped = asyncio.Event()
        self._aps.add_listener(lambda _event: stopped.set(), EVENT_SCHEDULER_SHUTDOWN)
        self._aps.shutdown(wait=False)
        await stopped.wait()

    @property
    def running(self) -> bool:
        return self._started and not self._closing

    @property
    def busy(self) -> bool:
        """Whether a cycle is running or waiting to run."""
        return bool(self._tasks)

    @property
    def queued(self) -> RunKind | None:
        """The kind of the cycle waiting for the running one, if any."""
        return self._queued

    @property
    def apscheduler(self) -> AsyncIOScheduler:
        """The underlying scheduler, for inspection; do not add jobs behind the facade."""
        return self._aps

    # -- what callers ask ----------------------------------------------------------------

    def run_now(self) -> None:
        """Run a cycle as soon as possible (after the running one, if any)."""
        if not self.running:
            raise RuntimeError("the scheduler is not running")
        self._add_once("manual", None)

    def planned(self) -> dict[RunKind, datetime]:
        """Every planned cycle by kind, with its time (aware UTC)."""
        plans: dict[RunKind, datetime] = {}
        if not self.running:
            return plans
        for job in self._aps.get_jobs():
            when: datetime | None = job.next_run_time
            kind: RunKind = job.args[0]
            if when is not None:
                plans[kind] = when.astimezone(UTC)
        return plans

    def next_run(self) -> datetime | None:
        """When the next cycle starts, whatever its kind; None when not running."""
        return min(self.planned().values(), default=None)

    async def wait_idle(self) -> None:
        """Wait until no cycle is running, waiting, or due now (later plans don't count)."""
        while True:
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            elif self._due_now():
                await asyncio.sleep(IDLE_POLL_SECONDS)  # submitted on the scheduler's wakeup
            else:
                return

    def _due_now(self) -> bool:
        now = datetime.now(UTC)  # APScheduler fires on the wall clock, not on ``clock``
        return any(when <= now for when in self.planned().values())

    # -- running cycles ------------------------------------------------------------------

    def _add_once(self, kind: RunKind, when: datetime | None) -> None:
        """Plan a one-off cycle at ``when`` (None: now), replacing a planned one of its kind."""
        self._aps.add_job(
            self._run,
            trigger=DateTrigger(run_date=when, timezone=UTC),
            args=(kind,),
            id=job_id(kind),
            name=f"harvest ({kind})",
            replace_existing=True,
        )

    async def _run(self, kind: RunKind) -> None:
        """The job function: one cycle of ``kind``, never two cycles at once."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serialised(kind)
        except asyncio.CancelledError:
            # Only shutdown() cancels cycles; end the job quietly instead of as an error.
            log.warning("harvest cycle (%s) cancelled at shutdown", kind)
        finally:
            self._tasks.discard(task)

    async def _serialised(self, kind: RunKind) -> None:
        if self._lock.locked():
            if self._queued is not None:
                if self._queued == "retry":
                    self._queued = kind  # a regular request may plan a retry; keep its kind
                log.info("harvest cycle (%s) folded into the one already waiting", kind)
                return
            self._queued = kind
            try:
                await self._lock.acquire()
            finally:
                kind = self._queued or kind
                self._queued = None
        else:
            await self._lock.acquire()
        try:
            if not self._closing:
                await self._cycle_once(kind)
        finally:
            self._lock.release()

    async def _cycle_once(self, kind: RunKind) -> None:
        log.info("harvest cycle (%s) starting", kind)
        new_papers: int | None
        try:
            new_papers = await self._cycle()
        except Exception:
            log.exception("harvest cycle (%s) failed", kind)
            new_papers = None
        else:
            log.info("harvest cycle (%s) done: %s new papers", kind, new_papers)
        if kind != "retry" and not self._closing:
            self._plan_retry(new_papers)

    def _plan_retry(self, new_papers: int | None) -> None:
        """After nothing new (or a failure) on an announcement evening, try once more."""
        retry = job_id("retry")
        if new_papers:
            if self._aps.get_job(retry) is not None:
                self._aps.remove_job(retry)
                log.info("new papers arrived: planned retry dropped")
            return
        retry_at = self.schedule.retry_after_empty(self._clock())
        if retry_at is None:
            return
        self._add_once("retry", retry_at)
        log.info("nothing new this evening: harvesting once more at %s", retry_at)
