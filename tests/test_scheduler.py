"""The scheduler facade, driven in a real event loop with a real AsyncIOScheduler.

The injected clock sits in 2099 so the regular cron job never comes due during a test;
jobs planned "now" fire at once on APScheduler's wall clock. Nothing waits for wall time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.date import DateTrigger

from bot.schedule import HarvestSchedule
from bot.scheduler import Scheduler, job_id

NY = ZoneInfo("America/New_York")
FRIDAY_AFTERNOON = datetime(2099, 3, 6, 15, 0, tzinfo=NY)
SUNDAY_EVENING = datetime(2099, 3, 8, 23, 5, tzinfo=NY)  # five minutes after the run
WAIT = 5.0
"""Upper bound for anything awaited; tests finish in milliseconds unless broken."""


def default_schedule(retry_minutes: int = 60) -> HarvestSchedule:
    return HarvestSchedule("0 23 * * sun,mon,tue,wed,thu", "America/New_York", retry_minutes)


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


class FakeCycle:
    """Returns (or raises) the scripted results in order; can be held at a gate."""

    def __init__(self, *results: int | Exception, gated: bool = False) -> None:
        self.results = list(results)
        self.calls = 0
        self.finished = 0
        self.cancelled = 0
        self.active = 0
        self.max_active = 0
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()

    async def __call__(self) -> int:
        self.calls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.started.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.active -= 1
        result = self.results.pop(0) if self.results else 0
        self.finished += 1
        if isinstance(result, Exception):
            raise result
        return result


async def within(awaitable: Awaitable[object]) -> None:
    async with asyncio.timeout(WAIT):
        await awaitable


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition``: the states checked have no event of their own."""
    async with asyncio.timeout(WAIT):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


def fire_now(scheduler: Scheduler, kind: str) -> None:
    """Make a planned job due now, as if its time had come."""
    scheduler.apscheduler.modify_job(f"harvest:{kind}", next_run_time=datetime.now(UTC))


async def test_catch_up_runs_at_once_then_waits_for_the_schedule() -> None:
    schedule = default_schedule()
    cycle = FakeCycle(7)
    async with Scheduler(schedule, cycle, clock=fixed(FRIDAY_AFTERNOON)) as scheduler:
        await scheduler.start(catch_up=True)
        await within(cycle.started.wait())
        await within(scheduler.wait_idle())
        assert cycle.calls == cycle.finished == 1
        expected = schedule.next_run(FRIDAY_AFTERNOON)
        assert expected == datetime(2099, 3, 9, 3, 0, tzinfo=UTC)  # Sunday 23:00 EDT
        assert scheduler.next_run() == expected
        assert scheduler.planned() == {"scheduled": expected}


async def test_no_catch_up_runs_nothing_until_the_schedule() -> None:
    schedule = default_schedule()
    cycle = FakeCycle()
    async with Scheduler(schedule, cycle, clock=fixed(SUNDAY_EVENING)) as scheduler:
        await scheduler.start(catch_up=False)
        await within(scheduler.wait_idle())
        await asyncio.sleep(0.02)
        assert cycle.calls == 0
        assert scheduler.next_run() == schedule.next_run(SUNDAY_EVENING)
        job = scheduler.apscheduler.get_job(job_id("scheduled"))
        assert job.trigger is schedule.trigger
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)


async def test_empty_announcement_evening_plans_one_retry() -> None:
    cycle = FakeCycle(0)
    async with Scheduler(default_schedule(), cycle, clock=fixed(SUNDAY_EVENING)) as scheduler:
        await scheduler.start(catch_up=True)
        await within(cycle.started.wait())
        await within(scheduler.wait_idle())
        retry_at = SUNDAY_EVENING.astimezone(UTC) + timedelta(minutes=60)
        assert scheduler.planned()["retry"] == retry_at
        assert scheduler.next_run() == retry_at  # before Monday's regular run
        job = scheduler.apscheduler.get_job(job_id("retry"))
        assert isinstance(job.trigger, DateTrigger)
        assert job.trigger.run_date == retry_at


async def test_no_retry_when_disabled_or_outside_an_evening() -> None:
    for schedule, moment in (
        (default_schedule(retry_minutes=0), SUNDAY_EVENING),
        (default_schedule(), FRIDAY_AFTERNOON),
    ):
        cycle = FakeCycle(0)
        async with Scheduler(schedule, cycle, clock=fixed(moment)) as scheduler:
            await scheduler.start(catch_up=True)
            await within(cycle.started.wait())
            await within(scheduler.wait_idle())
            assert cycle.finished == 1
            assert list(scheduler.planned()) == ["scheduled"]


async def test_the_retry_itself_plans_no_further_retry() -> None:
    cycle = FakeCycle(0, 0)
    async with Scheduler(default_schedule(), cycle, clock=fixed(SUNDAY_EVENING)) as scheduler:
        await scheduler.start(catch_up=True)
        await within(cycle.started.wait())
        await within(scheduler.wait_idle())
        assert "retry" in scheduler.planned()
        fire_now(scheduler, "retry")
        await until(lambda: cycle.finished == 2)
        await within(scheduler.wait_idle())
        assert list(scheduler.planned()) == ["scheduled"]


async def test_new_papers_drop_a_planned_retry() -> None:
    cycle = FakeCycle(0, 4)
    async with Scheduler(default_schedule(), cycle, clock=fixed(SUNDAY_EVENING)) as scheduler:
        await scheduler.start(catch_up=True)
        await within(cycle.started.wait())
        await within(scheduler.wait_idle())
        assert "retry" in scheduler.planned()
        scheduler.run_now()
        await until(lambda: cycle.finished == 2)
        await within(scheduler.wait_idle())
        assert list(scheduler.planned()) == ["scheduled"]


async def test_a_failing_cycle_is_logged_and_the_schedule_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    cycle = FakeCycle(RuntimeError("arXiv on fire"), 3)
    async with Scheduler(default_schedule(), cycle, clock=fixed(SUNDAY_EVENING)) as scheduler:
        await scheduler.start(catch_up=False)
        fire_now(scheduler, "scheduled")  # the regular cron job itself
        await within(cycle.started.wait())
        await within(scheduler.wait_idle())
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert [r.getMessage() for r in failures] == ["harvest cycle (scheduled) failed"]
        assert failures[0].exc_info is not None
        assert str(failures[0].exc_info[1]) == "arXiv on fire"
        planned = scheduler.planned()
        assert planned["scheduled"] > datetime.now(UTC)  # the cron job is still there
        assert planned["scheduled"].astimezone(NY).hour == 23
        assert "retry" in planned  # a failed evening is retried like an empty one
        scheduler.run_now()
        await until(lambda: cycle.finished == 2)
        await within(scheduler.wait_idle())
        assert scheduler.running
        assert "retry" not in scheduler.planned()


async def test_never_two_cycles_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    cycle = FakeCycle(1, 1, 1, gated=True)
    async with Scheduler(default_schedule(), cycle, clock=fixed(SUNDAY_EVENING)) as scheduler:
        try:
            await scheduler.start(catch_up=True)
            await within(cycle.started.wait())
            scheduler.run_now()
            await until(lambda: scheduler.queued == "manual")
            fire_now(scheduler, "scheduled")
            await until(lambda: any("folded" in r.getMessage() for r in caplog.records))
            assert cycle.calls == 1
        finally:
            cycle.gate.set()  # a failed assertion must not leave shutdown waiting forever
        await within(scheduler.wait_idle())
        assert cycle.calls == cycle.finished == 2  # catch-up, then one for the two requests
        assert cycle.max_active == 1


async def test_shutdown_waits_for_the_running_cycle() -> None:
    cycle = FakeCycle(5, gated=True)
    scheduler = Scheduler(default_schedule(), cycle, clock=fixed(FRIDAY_AFTERNOON))
    await scheduler.start(catch_up=True)
    await within(cycle.started.wait())
    scheduler.run_now()  # waits behind the running cycle; must not start after shutdown
    await until(lambda: scheduler.queued == "manual")
    stopping = asyncio.create_task(scheduler.shutdown())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    assert not scheduler.running
    assert scheduler.next_run() is None
    cycle.gate.set()
    await within(stopping)
    assert (cycle.calls, cycle.finished, cycle.cancelled) == (1, 1, 0)
    assert not scheduler.apscheduler.running
    assert not scheduler.busy


async def test_shutdown_grace_cancels_a_stuck_cycle(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    cycle = FakeCycle(gated=True)
    scheduler = Scheduler(default_schedule(), cycle, clock=fixed(FRIDAY_AFTERNOON))
    await scheduler.start(catch_up=True)
    await within(cycle.started.wait())
    await within(scheduler.shutdown(grace_seconds=0.02))
    assert (cycle.cancelled, cycle.finished) == (1, 0)
    assert not scheduler.apscheduler.running
    messages = [r.getMessage() for r in caplog.records]
    assert "harvest cycle (catch-up) cancelled at shutdown" in messages
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_lifecycle_errors() -> None:
    scheduler = Scheduler(default_schedule(), FakeCycle(), clock=fixed(FRIDAY_AFTERNOON))
    assert scheduler.next_run() is None
    with pytest.raises(RuntimeError, match="not running"):
        scheduler.run_now()
    await scheduler.shutdown()  # not started: nothing to do
    async with scheduler:
        await scheduler.start(catch_up=False)
        assert scheduler.running
        with pytest.raises(RuntimeError, match="already started"):
            await scheduler.start(catch_up=False)
    assert not scheduler.running
    assert not scheduler.apscheduler.running
    with pytest.raises(RuntimeError, match="not running"):
        scheduler.run_now()
    await scheduler.shutdown()  # twice is fine
