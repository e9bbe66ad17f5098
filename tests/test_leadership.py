"""The harvest lease (bot/leadership.py): one holder at a time, taken over when the
holder stops renewing, handed on at a clean stop; and a cycle that does not hold it
delivers without harvesting. On both databases, with a settable clock."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.errors import StorageError
from bot.leadership import HARVEST_LEASE, Leadership
from bot.models import ChannelRef
from bot.store import Store
from tests.fakes.clock import SettableClock
from tests.fakes.oai import FakeOai

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


def replica(store: Store, clock: SettableClock, name: str) -> Leadership:
    return Leadership(store, lease_seconds=30, holder=name, clock=clock)


async def test_one_holder_at_a_time_and_a_takeover_when_it_stops_renewing(
    store: Store, database: str | Path, clock: SettableClock
) -> None:
    async with await Store.open(database, clock=clock) as other_store:
        first, second = replica(store, clock, "a"), replica(other_store, clock, "b")
        assert await first.step() and first.leading
        assert not await second.step() and not second.leading

        clock.advance(seconds=20)
        assert await first.step(), "the holder renews"
        clock.advance(seconds=29)
        assert not await second.step(), "renewed 29 s ago: still held"

        clock.advance(seconds=1)  # a (killed) stopped renewing 30 s ago
        assert await second.step() and second.leading
        assert not await first.step() and not first.leading, "a comes back as a follower"
        lease = await store.lease(HARVEST_LEASE)
        assert lease is not None and (lease.holder, lease.acquired_at) == ("b", clock())


async def test_a_clean_stop_hands_the_lease_on_at_once(store: Store, clock: SettableClock) -> None:
    elected = asyncio.Event()

    async def on_elected() -> None:
        elected.set()

    first = Leadership(store, lease_seconds=30, holder="a", clock=clock, on_elected=on_elected)
    second = replica(store, clock, "b")
    running = asyncio.create_task(first.run())
    await asyncio.wait_for(elected.wait(), timeout=5)
    assert not await second.step()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert await store.lease(HARVEST_LEASE) is None
    assert await second.step(), "taken at once, not after the lease runs out"


async def test_being_elected_calls_back_once(store: Store, clock: SettableClock) -> None:
    elected: list[datetime] = []

    async def on_elected() -> None:
        elected.append(clock())

    leader = Leadership(store, lease_seconds=30, holder="a", clock=clock, on_elected=on_elected)
    await leader.step()
    clock.advance(seconds=10)
    await leader.step()
    assert elected == [START]


async def test_a_follower_delivers_but_does_not_harvest(
    settings: Settings, fake_oai: FakeOai
) -> None:
    async with BotApp(settings) as app:
        holder = Leadership(app.store, lease_seconds=600, holder="another replica")
        assert await holder.step()
        follower = Leadership(app.store, lease_seconds=600, holder="this one")
        assert not await follower.step()
        app._leadership = follower  # as BotApp.run sets it for a service
        report = await app.run_cycle()
        assert report.harvest is None and fake_oai.request_count == 0
        assert report.matched.papers == 0

        here = CommandContext(ChannelRef("console", "local", "lab", "lab"))
        status = (await app.execute("/arxiv status", here)).lines
        assert "Harvests: another replica (another replica); this one posts." in status

        app._leadership = None  # alone (run --once): it harvests
        report = await app.run_cycle()
        assert report.harvest is not None and fake_oai.request_count > 0


class FailingStore:
    """A store whose lease table answers ``take_lease`` until told to fail."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.failing = False

    async def take_lease(self, *args: object, **kwargs: object) -> bool:
        if self.failing:
            raise StorageError("the database cannot be reached")
        return await self.store.take_lease(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_short_outage_keeps_the_lease_and_elects_no_one_twice(
    store: Store, clock: SettableClock
) -> None:
    elected: list[datetime] = []

    async def on_elected() -> None:
        elected.append(clock())

    flaky = FailingStore(store)
    leader = Leadership(
        flaky,  # type: ignore[arg-type]
        lease_seconds=30,
        holder="a",
        clock=clock,
        on_elected=on_elected,
    )
    assert await leader.step()
    flaky.failing = True
    clock.advance(seconds=10)
    assert await leader.step(), "10 s into a 30 s lease: still this process's"
    flaky.failing = False
    clock.advance(seconds=10)
    assert await leader.step()
    assert elected == [START], "no second take-over (and harvest) after the outage"

    flaky.failing = True
    clock.advance(seconds=30)
    assert not await leader.step(), "its lease ran out during the outage: another may hold it"


async def test_a_takeover_that_fails_on_the_database_is_tried_again(tmp_path: Path) -> None:
    """Taking the harvest over reads the store (is a harvest overdue?); when that fails
    the lease is still renewed and the takeover tried again, not the loop ended."""
    calls = 0

    async def on_elected() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StorageError("the database cannot be reached")

    async with await Store.open(tmp_path / "bot.db") as store:
        leader = Leadership(store, lease_seconds=30, holder="a", on_elected=on_elected)
        assert not await leader.step(), "it holds the lease but leads only once it took over"
        lease = await store.lease("harvest")
        assert lease is not None and lease.holder == "a"
        assert await leader.step() and leader.leading
        assert calls == 2
        lease = await store.lease("harvest")
        assert lease is not None and lease.holder == "a"


async def test_a_holder_that_died_on_this_host_is_replaced_at_once(
    store: Store, clock: SettableClock
) -> None:
    """A crash, then a restart (systemd, a container): the new process harvests now, not
    when the dead one's lease runs out; a holder on another host is waited out."""
    here, elsewhere = f"{socket.gethostname()}:4242:dead0000", "other-host:4242:alive000"
    for holder in (elsewhere, here):
        await store.execute("DELETE FROM leases")
        until = clock() + timedelta(seconds=30)
        assert await store.take_lease(HARVEST_LEASE, holder, now=clock(), until=until)
        restarted = Leadership(store, lease_seconds=30, clock=clock, alive=lambda pid: pid != 4242)
        assert await restarted.step() == (holder == here), holder
