"""Per-channel schedules (/arxiv schedule): the grammar, post times across DST changes,
and the dispatcher's gate: held until the post time, one digest then, a missed time
caught up once after a restart, nothing twice after a crash. A fixed clock, no sleeping."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import bot.store.outbox as outbox_module
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.commands.grammar import ScheduleCommand, parse_command
from bot.config import Settings
from bot.models import ChannelRef, DeliveryMode, Digest, PaperPost, Tone
from bot.post_schedule import (
    ASAP,
    PostSchedule,
    ScheduleError,
    from_canonical,
    parse_schedule,
    wait_seconds,
)
from bot.store import LATEST_VERSION, MIGRATIONS, Store
from bot.store.channels import advance_schedule_in
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import revised
from tests.test_delivery import IMAGING, NLP, Bed, RecordingSender, paper

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
"""Monday 30 November 2026, 07:00 in Berlin: the bed's first "now"."""


@pytest.fixture
async def bed(tmp_path: Path) -> AsyncIterator[Bed]:
    clock = SettableClock(MONDAY)
    sender = RecordingSender()
    async with await Store.open(tmp_path / "bot.db", clock=clock) as store:
        yield Bed(store, clock, sender, {"slack": sender, "discord": sender})


async def set_schedule(bed: Bed, channel: ChannelRef, text: str) -> PostSchedule:
    schedule = parse_schedule(text).with_default_zone("UTC")
    first = None if schedule.asap else schedule.next_post(bed.clock())
    await bed.store.set_channel_schedule(bed.channels[channel], schedule.canonical, first)
    return schedule


async def next_post_at(bed: Bed, channel: ChannelRef) -> datetime | None:
    return (await bed.store.get_channel(bed.channels[channel])).next_post_at


def at_berlin(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


# -- the grammar ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("asap", None),
        ("ASAP", None),
        ("daily 09:00 Europe/Berlin", "daily 09:00 Europe/Berlin"),
        ("daily 9:05 europe/berlin", "daily 09:05 Europe/Berlin"),
        ("Daily 23:59 utc", "daily 23:59 UTC"),
        ("daily 00:00", "daily 00:00 America/New_York"),  # the bot's default zone
        ("weekly mon 08:30 Asia/Tokyo", "weekly mon 08:30 Asia/Tokyo"),
        ("weekly Friday 17:00 america/new_york", "weekly fri 17:00 America/New_York"),
        ("weekly tues 07:00", "weekly tue 07:00 America/New_York"),
    ],
)
def test_valid_schedules_have_one_canonical_form(text: str, canonical: str | None) -> None:
    schedule = parse_schedule(text).with_default_zone("America/New_York")
    assert schedule.canonical == canonical
    if canonical is not None:
        assert from_canonical(canonical) == schedule, "the stored form reads back the same"
        assert parse_command(f"/arxiv schedule {text}") == ScheduleCommand(parse_schedule(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give a schedule: /arxiv schedule asap|daily HH:MM"),
        ("hourly", "Unknown schedule 'hourly': use asap, daily or weekly"),
        ("asap 09:00", "asap takes nothing more"),
        ("daily", "daily needs a time of day (24-hour HH:MM)"),
        ("daily 9", "'9' is not a time of day: give 24-hour HH:MM, e.g. 09:00."),
        ("daily 9am", "'9am' is not a time of day"),
        ("daily 24:00", "hours go from 00 to 23 and minutes from 00 to 59"),
        ("daily 09:60", "hours go from 00 to 23"),
        ("daily 09:00 Berlin", "Unknown time zone 'Berlin'. Did you mean Europe/Berlin?"),
        ("daily 09:00 Europe/Berln", "Did you mean Europe/Berlin?"),
        ("daily 09:00 CEST", "abbreviations such as CEST or PST are ambiguous"),
        ("daily 09:00 Mars/Olympus", "Unknown time zone 'Mars/Olympus'. Use an IANA name"),
        ("daily 09:00 Europe/Berlin extra", "Too many words after the time"),
        ("weekly", "weekly needs a day and a time"),
        ("weekly 09:00", "weekly needs a day before the time"),
        ("weekly funday 09:00", "'funday' is not a day of the week: use mon, tue"),
        ("weekly mon", "weekly needs a time of day"),
    ],
)
def test_invalid_schedules_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert message in str(caught.value)
    reply_text = f"/arxiv schedule {text}".strip()
    if text:  # through the command grammar too (bare /arxiv schedule shows it)
        with pytest.raises(ScheduleError):
            parse_command(reply_text)


def test_bare_schedule_command_shows_the_schedule() -> None:
    assert parse_command("/arxiv schedule") == ScheduleCommand(None)


# -- post times across DST changes ----------------------------------------------------


def fires(schedule: PostSchedule, start: datetime, count: int) -> list[datetime]:
    times, moment = [], start
    for _ in range(count):
        moment = schedule.next_post(moment)
        times.append(moment)
    return times


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/Berlin", datetime(2026, 3, 25, tzinfo=UTC)),  # spring: 29 March
        ("Europe/Berlin", datetime(2026, 10, 22, tzinfo=UTC)),  # autumn: 25 October
        ("America/New_York", datetime(2026, 3, 5, tzinfo=UTC)),  # spring: 8 March
        ("America/New_York", datetime(2026, 10, 29, tzinfo=UTC)),  # autumn: 1 November
        ("Australia/Sydney", datetime(2026, 4, 1, tzinfo=UTC)),  # autumn: 5 April
    ],
)
def test_a_daily_post_stays_at_its_local_time_across_dst(zone: str, start: datetime) -> None:
    schedule = parse_schedule(f"daily 09:00 {zone}")
    times = fires(schedule, start, 8)
    local = [moment.astimezone(ZoneInfo(zone)) for moment in times]
    assert all((t.hour, t.minute) == (9, 0) for t in local)
    days = [t.date() for t in local]
    assert days == [days[0] + timedelta(days=n) for n in range(8)], "one a day, none skipped"
    assert len({t.utcoffset() for t in local}) == 2, "the change falls inside the week"
    assert all(t.tzinfo is UTC for t in times)


def test_a_time_in_the_spring_gap_moves_to_the_first_valid_instant() -> None:
    berlin = fires(
        parse_schedule("daily 02:30 Europe/Berlin"), datetime(2026, 3, 27, tzinfo=UTC), 4
    )
    assert berlin == [
        datetime(2026, 3, 27, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 02:30 does not exist: 03:00 CEST
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 02:30 CEST
    ]
    assert berlin[2].astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    new_york = fires(
        parse_schedule("daily 02:15 America/New_York"), datetime(2026, 3, 7, tzinfo=UTC), 2
    )
    assert [t.astimezone(NEW_YORK).strftime("%d %H:%M %Z") for t in new_york] == [
        "07 02:15 EST",
        "08 03:00 EDT",  # the first instant after the gap
    ]


@pytest.mark.parametrize(
    ("text", "start", "day"),
    [
        ("daily 02:30 Europe/Berlin", datetime(2026, 10, 23, tzinfo=UTC), date(2026, 10, 25)),
        ("daily 01:30 America/New_York", datetime(2026, 10, 30, tzinfo=UTC), date(2026, 11, 1)),
    ],
)
def test_an_ambiguous_autumn_time_fires_once(text: str, start: datetime, day: date) -> None:
    schedule = parse_schedule(text)
    zone = ZoneInfo(schedule.zone or "UTC")
    times = fires(schedule, start, 5)
    per_day = Counter(t.astimezone(zone).date() for t in times)
    assert per_day[day] == 1 and set(per_day.values()) == {1}
    [that_day] = [t for t in times if t.astimezone(zone).date() == day]
    assert that_day.astimezone(zone).fold == 0, "its first occurrence (summer time)"
    # Asked between the two occurrences, the next post is the next day's.
    between = that_day + timedelta(minutes=30)
    assert schedule.next_post(between).astimezone(zone).date() == day + timedelta(days=1)


def test_a_weekly_post_comes_on_its_day_across_dst() -> None:
    schedule = parse_schedule("weekly sun 09:00 Europe/Berlin")
    times = fires(schedule, datetime(2026, 10, 12, tzinfo=UTC), 3)
    assert [t.astimezone(BERLIN).strftime("%a %d %b %H:%M %Z") for t in times] == [
        "Sun 18 Oct 09:00 CEST",
        "Sun 25 Oct 09:00 CET",
        "Sun 01 Nov 09:00 CET",
    ]
    at_time = times[0]
    assert schedule.next_post(at_time) == times[1], "strictly after"
    assert schedule.next_post(at_time - timedelta(microseconds=1)) == at_time


def test_status_wording_and_the_pump_wait() -> None:
    schedule = parse_schedule("daily 09:00 Europe/Berlin")
    assert schedule.describe() == "daily at 09:00 Europe/Berlin"
    assert schedule.local(at_berlin(1, 9)) == "Tue 1 Dec 09:00 CET"
    assert parse_schedule("weekly mon 9:00 UTC").describe() == "weekly on Monday at 09:00 UTC"
    assert ASAP.describe().startswith("as soon as papers are harvested")
    assert wait_seconds(MONDAY, None, 30.0) == 30.0
    assert wait_seconds(MONDAY, MONDAY + timedelta(seconds=12.5), 30.0) == 12.5
    assert wait_seconds(MONDAY, MONDAY + timedelta(hours=1), 30.0) == 30.0
    assert wait_seconds(MONDAY, MONDAY - timedelta(hours=1), 30.0) == 0.0


# -- the dispatcher's gate ------------------------------------------------------------


async def harvest_and_match(bed: Bed, *ids: str, category: str = "eess.IV") -> None:
    day = bed.clock().date()  # new to the subscriptions made before
    await bed.harvest([paper(i, category, submitted=day.isoformat()) for i in ids], day)
    await bed.match()


async def test_a_daily_channel_gets_one_digest_at_its_time_with_everything_matched(
    bed: Bed,
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(NLP, "cat:eess.IV")  # asap, for comparison
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    assert await next_post_at(bed, IMAGING) == at_berlin(30, 9, month=11)
    bed.clock.now = at_berlin(30, 10, month=11)  # just missed today's: tomorrow's is next
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    dispatcher = bed.dispatcher()

    await harvest_and_match(bed, "2611.00001", "2611.00002")
    report = await dispatcher.deliver_due()
    assert bed.sender.to(IMAGING) == [], "held until 09:00"
    assert len(bed.sender.to(NLP)) == 2 and report.delivered == 2
    assert await dispatcher.pending_count() == 2

    bed.clock.now = at_berlin(1, 2)  # the next night's harvest
    await harvest_and_match(bed, "2612.00003")
    await dispatcher.deliver_due()
    bed.clock.now = at_berlin(1, 8, 59)
    await dispatcher.deliver_due()
    assert bed.sender.to(IMAGING) == []

    bed.clock.now = at_berlin(1, 9)
    report = await dispatcher.deliver_due()
    [digest] = bed.sender.to(IMAGING)
    assert isinstance(digest.item, Digest) and not digest.item.folded
    assert sorted(digest.ids) == ["2611.00001", "2611.00002", "2612.00003"]
    assert (report.messages, report.delivered) == (1, 3)
    assert await next_post_at(bed, IMAGING) == at_berlin(2, 9)

    bed.clock.advance(minutes=5)
    again = await dispatcher.deliver_due()
    assert (again.messages, len(bed.sender.to(IMAGING))) == (0, 1)


async def test_an_each_mode_channel_on_a_schedule_gets_a_digest_and_notes_after(
    bed: Bed,
) -> None:
    bed.revision_notes = True
    await bed.subscribe(IMAGING, "cat:eess.IV")
    assert (await bed.store.get_channel(bed.channels[IMAGING])).mode is DeliveryMode.EACH
    old = paper("2611.00010", "eess.IV", submitted="2026-11-30")
    await bed.harvest([old], MONDAY.date())
    await bed.cycle(bed.dispatcher())  # asap: delivered as a post
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    await bed.harvest([revised(old, 2, updated=old.updated + timedelta(days=1))], MONDAY.date())
    await harvest_and_match(bed, "2611.00011")

    bed.clock.now = at_berlin(30, 9, month=11)
    await bed.dispatcher().deliver_due()
    first, digest, note = bed.sender.to(IMAGING)
    assert isinstance(first.item, PaperPost) and not first.item.revised
    assert isinstance(digest.item, Digest) and digest.ids == ["2611.00011"]
    assert isinstance(note.item, PaperPost) and note.item.revised


async def test_a_post_time_with_nothing_to_post_moves_on(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    dispatcher = bed.dispatcher()
    bed.clock.now = at_berlin(30, 9, month=11)
    await dispatcher.deliver_due()
    assert await next_post_at(bed, IMAGING) == at_berlin(1, 9)

    bed.clock.now = at_berlin(30, 10, month=11)  # matched after 09:00: tomorrow's post
    await harvest_and_match(bed, "2611.00020")
    await dispatcher.deliver_due()
    assert bed.sender.to(IMAGING) == []
    bed.clock.now = at_berlin(1, 9)
    await dispatcher.deliver_due()
    assert bed.sender.ids(IMAGING) == ["2611.00020"]


async def test_a_restart_after_a_missed_time_posts_at_once_and_exactly_once(
    tmp_path: Path,
) -> None:
    clock = SettableClock(at_berlin(30, 20, month=11))
    sender = RecordingSender()
    path = tmp_path / "bot.db"
    async with await Store.open(path, clock=clock) as store:
        bed = Bed(store, clock, sender, {"slack": sender})
        await bed.subscribe(IMAGING, "cat:eess.IV")
        await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
        await harvest_and_match(bed, "2611.00030")
        await bed.dispatcher().deliver_due()
    assert sender.sent == []
    # Down over 09:00 on Tuesday and Wednesday; papers matched while starting are in.
    clock.now = at_berlin(2, 14, 30)
    async with await Store.open(path, clock=clock) as store:
        bed = Bed(store, clock, sender, {"slack": sender}, channels={IMAGING: 1})
        await harvest_and_match(bed, "2612.00031")
        report = await bed.dispatcher().deliver_due()
        assert (report.messages, report.delivered) == (1, 2)
        assert sorted(sender.ids(IMAGING)) == ["2611.00030", "2612.00031"]
        assert await next_post_at(bed, IMAGING) == at_berlin(3, 9), "the next, not a missed one"
        clock.advance(minutes=1)
        assert (await bed.dispatcher().deliver_due()).messages == 0
    assert len(sender.sent) == 1


class Crash(BaseException):
    """A kill -9 stand-in: raised inside the planning transaction, which is rolled back
    as an uncommitted transaction is lost when the process dies; the round ends there."""


async def test_a_crash_while_planning_neither_posts_nor_moves_the_time(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    await harvest_and_match(bed, "2611.00040", "2611.00041")
    bed.clock.now = at_berlin(30, 9, 0, month=11)
    real = advance_schedule_in

    async def advance_then_die(*args: Any) -> bool:
        assert await real(*args)
        raise Crash

    monkeypatch.setattr(outbox_module, "advance_schedule_in", advance_then_die)
    crashed = await bed.dispatcher().deliver_due()  # the channel's round dies
    assert (crashed.failed, crashed.messages) == (1, 0)
    assert await next_post_at(bed, IMAGING) == at_berlin(30, 9, month=11), "not moved on"
    assert await bed.store.fetchone("SELECT id FROM outbox") is None, "nothing planned"
    monkeypatch.undo()

    await bed.dispatcher().deliver_due()  # the restarted process
    [digest] = bed.sender.to(IMAGING)
    assert sorted(digest.ids) == ["2611.00040", "2611.00041"]
    assert await next_post_at(bed, IMAGING) == at_berlin(1, 9)


async def test_a_crash_after_planning_sends_the_planned_digest_once(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    await harvest_and_match(bed, "2611.00050")
    bed.clock.now = at_berlin(30, 9, 0, month=11)

    async def die(*_args: Any, **_kwargs: Any) -> None:
        raise Crash

    dispatcher = bed.dispatcher()
    monkeypatch.setattr(dispatcher, "_claim_and_send", die)  # planned, then killed
    crashed = await dispatcher.deliver_due()
    assert (crashed.failed, crashed.messages) == (1, 0)
    assert await next_post_at(bed, IMAGING) == at_berlin(1, 9), "moved on with the plan"
    assert bed.sender.sent == []

    bed.clock.advance(minutes=2)
    await bed.dispatcher().deliver_due()
    await bed.dispatcher().deliver_due()
    assert bed.sender.ids(IMAGING) == ["2611.00050"], "sent once, never planned again"


async def test_asap_restores_posting_right_after_each_harvest(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, IMAGING, "weekly mon 09:00 Europe/Berlin")
    await harvest_and_match(bed, "2611.00060", "2611.00061")
    dispatcher = bed.dispatcher()
    await dispatcher.deliver_due()
    assert bed.sender.sent == []

    await set_schedule(bed, IMAGING, "asap")
    channel = await bed.store.get_channel(bed.channels[IMAGING])
    assert (channel.schedule, channel.next_post_at) == (None, None)
    await dispatcher.deliver_due()
    assert [type(s.item) for s in bed.sender.to(IMAGING)] == [PaperPost, PaperPost]
    await harvest_and_match(bed, "2611.00062")
    await dispatcher.deliver_due()
    assert len(bed.sender.to(IMAGING)) == 3


async def test_a_weekly_channel_posts_on_its_day_only(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, IMAGING, "weekly fri 17:00 Asia/Tokyo")
    tokyo = ZoneInfo("Asia/Tokyo")
    friday = datetime(2026, 12, 4, 17, 0, tzinfo=tokyo)
    assert await next_post_at(bed, IMAGING) == friday
    dispatcher = bed.dispatcher()
    for day in range(4):  # Monday to Thursday: a harvest each, nothing posted
        bed.clock.now = MONDAY + timedelta(days=day, hours=17)
        await harvest_and_match(bed, f"2612.0007{day}")
        await dispatcher.deliver_due()
    assert bed.sender.sent == []
    bed.clock.now = friday
    await dispatcher.deliver_due()
    [digest] = bed.sender.to(IMAGING)
    assert len(digest.ids) == 4
    assert await next_post_at(bed, IMAGING) == friday + timedelta(days=7)


async def test_a_channel_whose_schedule_changed_while_planning_waits_a_round(
    bed: Bed,
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await set_schedule(bed, IMAGING, "daily 09:00 Europe/Berlin")
    await harvest_and_match(bed, "2611.00080")
    stale = await bed.store.get_channel(bed.channels[IMAGING])
    await set_schedule(bed, IMAGING, "daily 10:00 Europe/Berlin")
    assert not await bed.store.advance_schedule(stale, at_berlin(1, 9))
    assert await next_post_at(bed, IMAGING) == at_berlin(30, 10, month=11)


# -- the store and migration 10 -------------------------------------------------------


async def test_migration_10_adds_schedules_to_existing_channels(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with await Store.open(path, migrations=MIGRATIONS[:9]) as old:
        channel_id = await old.ensure_channel(IMAGING)
    async with await Store.open(path) as store:
        assert store.schema_version == LATEST_VERSION >= 10
        channel = await store.get_channel(channel_id)
        assert (channel.schedule, channel.next_post_at) == (None, None)
        assert await store.due_scheduled_channels(MONDAY) == []
        assert await store.next_scheduled_post(MONDAY) is None
        later = MONDAY + timedelta(hours=3)
        await store.set_channel_schedule(channel_id, "daily 09:00 UTC", later)
        assert (await store.get_channel(channel_id)).next_post_at == later
        assert await store.next_scheduled_post(MONDAY) == later
        assert await store.next_scheduled_post(later) is None, "only times still to come"
        assert [c.id for c in await store.due_scheduled_channels(later)] == [channel_id]
        with pytest.raises(ValueError, match="go together"):
            await store.set_channel_schedule(channel_id, "daily 09:00 UTC", None)
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(channels)")}
    assert {"schedule", "next_post_at"} <= columns


# -- the commands ---------------------------------------------------------------------


async def test_schedule_and_status_commands(settings: Settings) -> None:
    here = CommandContext(ChannelRef("console", "local", "lab", "lab"))
    clock = SettableClock(datetime(2026, 11, 30, 12, tzinfo=UTC))
    tz_settings = settings.model_copy(update={"timezone": "Europe/Berlin"})
    async with BotApp(tz_settings, clock=clock) as app:
        shown = await app.execute("/arxiv schedule", here)
        assert shown.title.startswith("Schedule: as soon as papers are harvested")

        reply = await app.execute("/arxiv schedule daily 09:00", here)
        assert reply.tone is Tone.SUCCESS
        assert reply.title == (
            "Schedule: daily at 09:00 Europe/Berlin; next post Tue 1 Dec 09:00 CET."
        )
        status = await app.execute("/arxiv status", here)
        assert "Schedule: daily at 09:00 Europe/Berlin; next post Tue 1 Dec 09:00 CET." in (
            status.lines
        )
        weekly = await app.execute("/arxiv schedule weekly mon 08:30 America/New_York", here)
        assert weekly.title == (
            "Schedule: weekly on Monday at 08:30 America/New_York; next post Mon 30 Nov 08:30 EST."
        )
        bad = await app.execute("/arxiv schedule daily 09:00 Berlin", here)
        assert bad.tone is Tone.ERROR and "Did you mean Europe/Berlin?" in bad.title
        back = await app.execute("/arxiv schedule asap", here)
        assert back.title == "Schedule: as soon as papers are harvested (asap)."
        member = CommandContext(here.channel, can_manage_channel=False)
        refused = await app.execute("/arxiv schedule daily 07:00", member)
        assert refused.tone is Tone.ERROR


async def test_the_same_schedule_again_keeps_a_due_post_due(settings: Settings) -> None:
    here = CommandContext(ChannelRef("console", "local", "lab", "lab"))
    clock = SettableClock(datetime(2026, 11, 30, 6, tzinfo=UTC))  # 07:00 in Berlin
    async with BotApp(settings, clock=clock) as app:
        await app.execute("/arxiv schedule daily 09:00 Europe/Berlin", here)
        clock.now = datetime(2026, 11, 30, 10, tzinfo=UTC)  # 11:00: today's post is due
        again = await app.execute("/arxiv schedule daily 09:00 Europe/Berlin", here)
        assert "next post Mon 30 Nov 09:00 CET" in again.title  # still due: goes out now
        other = await app.execute("/arxiv schedule daily 10:00 Europe/Berlin", here)
        assert "next post Tue 1 Dec 10:00 CET" in other.title  # a new time counts from now
