"""Per-channel schedules as an adversarial operator would use them.

* Two real ``arxiv-bot run`` services on one database whose delivery pumps wake at a
  scheduled channel's post time together: exactly one digest per channel; and the same
  race in one process, the two rounds held at the planning transaction
  (bench/schedule_kill.py; ``python -m bench.schedule_kill`` also kill -9s runs while
  the digest is due and prints the figures).
* Changing a held channel's zone and time, and a seeded random walk of schedule changes,
  harvests and rounds, then ``asap``: every held paper is shown exactly once, and nothing
  goes out before its post time. A fixed clock, no sleeping.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bench.schedule_kill import schedule_run
from bot.models import Digest, PaperPost
from bot.post_schedule import parse_schedule
from bot.store import Store
from bot.store.outbox import Outbox
from tests.fakes.clock import SettableClock
from tests.test_delivery import IMAGING, Bed, RecordingSender, paper

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
"""Monday 30 November 2026, 07:00 in Berlin."""


@pytest.fixture
async def bed(tmp_path: Path) -> AsyncIterator[Bed]:
    clock = SettableClock(MONDAY)
    sender = RecordingSender()
    async with await Store.open(tmp_path / "bot.db", clock=clock) as store:
        yield Bed(store, clock, sender, {"slack": sender, "discord": sender})


def at_berlin(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


async def set_schedule(bed: Bed, text: str) -> None:
    """As ``/arxiv schedule TEXT`` does (bot/commands/handlers.py), default zone UTC."""
    schedule = parse_schedule(text).with_default_zone("UTC")
    first = None if schedule.asap else schedule.next_post(bed.clock())
    await bed.store.set_channel_schedule(bed.channels[IMAGING], schedule.canonical, first)


async def next_post_at(bed: Bed) -> datetime | None:
    return (await bed.store.get_channel(bed.channels[IMAGING])).next_post_at


async def harvest_and_match(bed: Bed, *ids: str) -> None:
    day = bed.clock().date()
    await bed.harvest([paper(i, "eess.IV", submitted=day.isoformat()) for i in ids], day)
    await bed.match()


def shown(bed: Bed) -> Counter[str]:
    return Counter(arxiv_id for sent in bed.sender.to(IMAGING) for arxiv_id in sent.ids)


@pytest.mark.skipif(sys.platform == "win32", reason="real processes, like the kill tests")
async def test_two_services_waking_at_the_post_time_post_one_digest(tmp_path: Path) -> None:
    figures = await schedule_run(tmp_path, scenario="wake", rounds=1, kills=0, wave=30)
    print(figures)  # shown with pytest -s; bench/schedule_kill.py prints more rounds
    assert figures.held_posts == 0, f"nothing posted before the post time: {figures}"
    assert figures.digests == figures.expected_digests == 2, str(figures)
    assert (figures.lost, figures.repeated) == (0, 0), str(figures)


async def test_two_rounds_planning_the_due_digest_at_once_post_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores (two processes' connections) on one file, their rounds held until both
    have read the channel as due and rendered the digest: one plan wins, the other
    writes nothing (its post time moved under it), and the digest goes out once."""
    clock = SettableClock(MONDAY)
    sender = RecordingSender()
    path = tmp_path / "bot.db"
    async with (
        await Store.open(path, clock=clock) as first,
        await Store.open(path, clock=clock) as second,
    ):
        bed = Bed(first, clock, sender, {"slack": sender})
        await bed.subscribe(IMAGING, "cat:eess.IV")
        await set_schedule(bed, "daily 09:00 Europe/Berlin")
        await harvest_and_match(bed, "2611.00021", "2611.00022", "2611.00023")
        clock.now = at_berlin(30, 9, month=11)
        both_ready = asyncio.Barrier(2)
        plan = Outbox.plan
        outcomes: list[bool] = []

        async def plan_together(self: Outbox, *args: Any, **kwargs: Any) -> bool:
            if kwargs.get("advance") is not None:
                await both_ready.wait()
            outcomes.append(await plan(self, *args, **kwargs))
            return outcomes[-1]

        monkeypatch.setattr(Outbox, "plan", plan_together)
        other = Bed(second, clock, sender, {"slack": sender}, channels=dict(bed.channels))
        await asyncio.gather(bed.dispatcher().deliver_due(), other.dispatcher().deliver_due())
        assert sorted(outcomes) == [False, True]
        monkeypatch.undo()
        clock.advance(minutes=1)
        await bed.dispatcher().deliver_due()
        await other.dispatcher().deliver_due()
        [digest] = sender.to(IMAGING)
        assert isinstance(digest.item, Digest) and len(digest.ids) == 3
        assert await next_post_at(bed) == at_berlin(1, 9)


async def test_changing_zone_and_time_while_held_then_asap_releases_each_paper_once(
    bed: Bed,
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, "daily 09:00 Europe/Berlin")
    await harvest_and_match(bed, "2611.00001", "2611.00002", "2611.00003")
    dispatcher = bed.dispatcher()
    await dispatcher.deliver_due()

    await set_schedule(bed, "daily 09:00 america/new_york")  # 15:00 in Berlin
    assert await next_post_at(bed) == at_berlin(30, 15, month=11)
    bed.clock.now = at_berlin(30, 9, month=11)  # the old time: held
    await dispatcher.deliver_due()
    assert bed.sender.to(IMAGING) == []

    bed.clock.now = at_berlin(30, 9, 30, month=11)
    await set_schedule(bed, "daily 08:00 Europe/Berlin")  # passed today: tomorrow
    assert await next_post_at(bed) == at_berlin(1, 8)
    bed.clock.now = at_berlin(30, 15, month=11)  # New York's 09:00, no longer the time
    await dispatcher.deliver_due()
    assert bed.sender.to(IMAGING) == []

    await harvest_and_match(bed, "2611.00004", "2611.00005")
    await set_schedule(bed, "asap")
    await dispatcher.deliver_due()
    await dispatcher.deliver_due()
    assert shown(bed) == Counter({f"2611.0000{n}": 1 for n in range(1, 6)})
    assert all(isinstance(sent.item, PaperPost) for sent in bed.sender.to(IMAGING))
    bed.clock.now = at_berlin(1, 8)  # the cleared post time: nothing more
    await dispatcher.deliver_due()
    assert sum(shown(bed).values()) == 5


async def test_asap_while_a_planned_digest_is_unsent_sends_it_once(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, "daily 09:00 Europe/Berlin")
    await harvest_and_match(bed, "2611.00011", "2611.00012")
    bed.clock.now = at_berlin(30, 9, month=11)
    bed.sender.fail(IMAGING, ConnectionError("down"))
    dispatcher = bed.dispatcher(backoff_base=0.0)
    await dispatcher.deliver_due()  # planned, its send failed
    await set_schedule(bed, "asap")
    await harvest_and_match(bed, "2611.00013")
    for _ in range(3):
        bed.clock.advance(minutes=1)
        await dispatcher.deliver_due()
    assert shown(bed) == Counter({"2611.00011": 1, "2611.00012": 1, "2611.00013": 1})
    digests = [s for s in bed.sender.to(IMAGING) if isinstance(s.item, Digest)]
    assert len(digests) == 1


SCHEDULES = (
    "daily 09:00 Europe/Berlin",
    "daily 09:00 America/New_York",
    "daily 02:30 Europe/Berlin",
    "daily 23:59 Pacific/Kiritimati",
    "daily 00:00 UTC",
    "weekly mon 09:00 Asia/Tokyo",
    "weekly sun 17:45 europe/berlin",
    "asap",
)


@pytest.mark.parametrize("seed", range(4))
async def test_a_random_walk_of_schedule_changes_shows_every_paper_once(
    bed: Bed, seed: int
) -> None:
    rng = random.Random(seed)
    await bed.subscribe(IMAGING, "cat:eess.IV")
    dispatcher = bed.dispatcher()
    harvested: list[str] = []
    for step in range(120):
        action = rng.random()
        if action < 0.25:
            new = [f"2612.{len(harvested) + n:05d}" for n in range(rng.randint(1, 3))]
            await harvest_and_match(bed, *new)
            harvested += new
        elif action < 0.4:
            await set_schedule(bed, rng.choice(SCHEDULES))
        else:
            bed.clock.advance(minutes=rng.choice((1, 17, 60, 240, 600, 1440)))
        channel = await bed.store.get_channel(bed.channels[IMAGING])
        before = len(bed.sender.to(IMAGING))
        await dispatcher.deliver_due()
        posted = bed.sender.to(IMAGING)[before:]
        if channel.schedule is not None and posted:
            assert channel.next_post_at is not None and channel.next_post_at <= bed.clock(), (
                f"step {step}: posted before the post time"
            )
            assert len([s for s in posted if isinstance(s.item, Digest)]) <= 1, step
        assert max(shown(bed).values(), default=1) == 1, f"step {step}: a paper twice"
    await set_schedule(bed, "asap")
    await dispatcher.deliver_due()
    assert shown(bed) == Counter(dict.fromkeys(harvested, 1))
    assert await dispatcher.pending_count() == 0
    assert bed.clock() > MONDAY + timedelta(days=1), "the walk crossed post times"
