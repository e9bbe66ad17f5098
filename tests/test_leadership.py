"""The harvest lease (bot/leadership.py): one holder at a time, taken over when the
holder stops renewing, handed on at a clean stop; and a cycle that does not hold it
delivers without harvesting. On both databases, with a settable clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.leadership import HARVEST_LEASE, Leadership
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

        app._leadership = None  # alone (run --once): it harvests
        report = await app.run_cycle()
        assert report.harvest is not None and fake_oai.request_count > 0
