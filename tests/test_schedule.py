"""The harvest schedule's arithmetic, with fixed clocks: weekends, DST changes, catch-up, retry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.schedule import HarvestSchedule, from_settings

NY = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@pytest.fixture
def schedule() -> HarvestSchedule:
    """The default schedule, as the settings define it."""
    return from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def test_defaults_come_from_settings(schedule: HarvestSchedule) -> None:
    assert schedule.cron == "0 23 * * sun,mon,tue,wed,thu"
    assert schedule.timezone == "America/New_York"
    assert schedule.retry_minutes == 60
    assert HarvestSchedule.from_settings(Settings(_env_file=None)) == schedule  # type: ignore[call-arg]


def test_friday_afternoon_skips_friday_and_saturday(schedule: HarvestSchedule) -> None:
    runs = schedule.next_runs(ny(2026, 2, 13, 15, 0), 6)  # Friday, EST (UTC-5)
    assert runs == [
        utc(2026, 2, 16, 4, 0),  # Sunday 23:00 EST
        utc(2026, 2, 17, 4, 0),  # Monday
        utc(2026, 2, 18, 4, 0),  # Tuesday
        utc(2026, 2, 19, 4, 0),  # Wednesday
        utc(2026, 2, 20, 4, 0),  # Thursday
        utc(2026, 2, 23, 4, 0),  # then Sunday again
    ]
    assert [run.astimezone(NY).strftime("%a %H:%M") for run in runs[:2]] == [
        "Sun 23:00",
        "Mon 23:00",
    ]
    assert all(run.tzinfo is UTC for run in runs)


def test_next_run_is_strictly_after(schedule: HarvestSchedule) -> None:
    sunday = ny(2026, 2, 15, 23, 0)
    assert schedule.next_run(sunday - timedelta(microseconds=1)) == sunday
    assert schedule.next_run(sunday) == utc(2026, 2, 17, 4, 0)
    assert schedule.next_run(sunday + timedelta(seconds=1)) == utc(2026, 2, 17, 4, 0)


def test_spring_forward_keeps_local_time_and_moves_utc(schedule: HarvestSchedule) -> None:
    # US DST starts on the second Sunday of March: 2026-03-08.
    runs = schedule.next_runs(ny(2026, 3, 5, 12, 0), 3)  # Thursday before, EST
    assert runs == [
        utc(2026, 3, 6, 4, 0),  # Thu 23:00 EST = 04:00 UTC
        utc(2026, 3, 9, 3, 0),  # Sun 2026-03-08 23:00 EDT = 03:00 UTC
        utc(2026, 3, 10, 3, 0),  # Mon 23:00 EDT
    ]
    assert {run.astimezone(NY).hour for run in runs} == {23}


def test_fall_back_keeps_local_time_and_moves_utc(schedule: HarvestSchedule) -> None:
    # US DST ends on the first Sunday of November: 2026-11-01.
    runs = schedule.next_runs(ny(2026, 10, 29, 12, 0), 3)  # Thursday before, EDT
    assert runs == [
        utc(2026, 10, 30, 3, 0),  # Thu 23:00 EDT = 03:00 UTC
        utc(2026, 11, 2, 4, 0),  # Sun 2026-11-01 23:00 EST = 04:00 UTC
        utc(2026, 11, 3, 4, 0),
    ]
    assert {run.astimezone(NY).hour for run in runs} == {23}


def test_from_the_dst_night_itself(schedule: HarvestSchedule) -> None:
    # 01:30 happens twice on 2026-11-01 (EDT, then EST); both lead to that evening's run.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=0)
    second = datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=1)
    assert second - first == timedelta(0)  # same wall time; different instants in UTC
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert schedule.next_run(first) == schedule.next_run(second) == utc(2026, 11, 2, 4, 0)


def test_custom_cron_and_timezone_from_settings() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        harvest_cron="30 6 * * 1-5",  # standard cron: Monday to Friday
        harvest_timezone="Europe/Berlin",
        harvest_retry_minutes=0,
    )
    schedule = from_settings(settings)
    runs = schedule.next_runs(utc(2026, 3, 26, 12, 0), 4)  # Thursday; Berlin's DST starts 03-29
    assert runs == [
        utc(2026, 3, 27, 5, 30),  # Friday 06:30 CET (UTC+1)
        utc(2026, 3, 30, 4, 30),  # Monday 06:30 CEST (UTC+2): Saturday and Sunday skipped
        utc(2026, 3, 31, 4, 30),
        utc(2026, 4, 1, 4, 30),
    ]
    assert schedule.retry_after_empty(runs[0] + timedelta(minutes=2)) is None


@pytest.mark.parametrize(
    ("weekdays", "names"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("7", "sun"),
        ("0", "sun"),
        ("5-7", "sun,fri,sat"),  # Friday to Sunday, 7 ending the range
        ("0-7", "sun,mon,tue,wed,thu,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),  # cron counts steps from Sunday
        ("1-5/2", "mon,wed,fri"),
        ("sun,mon,tue,wed,thu", "sun,mon,tue,wed,thu"),
        ("Mon-Fri", "mon,tue,wed,thu,fri"),
        ("fri-sun", "sun,fri,sat"),
    ],
)
def test_numeric_weekdays_are_standard_cron(weekdays: str, names: str) -> None:
    numeric = HarvestSchedule(f"0 23 * * {weekdays}", "UTC", 0)
    named = HarvestSchedule(f"0 23 * * {names}", "UTC", 0)
    start = utc(2026, 3, 1)  # a Sunday
    assert numeric.next_runs(start, 14) == named.next_runs(start, 14)


def test_sunday_is_0_and_7() -> None:
    for sunday in ("0", "7"):
        runs = HarvestSchedule(f"0 23 * * {sunday}", "UTC", 0).next_runs(utc(2026, 3, 2), 2)
        assert [run.strftime("%A") for run in runs] == ["Sunday", "Sunday"]
    weekdays = HarvestSchedule("0 23 * * 1-5", "UTC", 0).next_runs(utc(2026, 3, 1), 5)
    assert [run.strftime("%a") for run in weekdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 23 * * 8", "'8' is not a weekday: use 0-7 (0 and 7 are Sunday"),
        ("0 23 * * 1,funday", "'funday' in the weekday field '1,funday' is not a weekday"),
        ("0 23 * * 5-1", "the weekday range '5-1' runs backwards"),
        ("0 23 * * */0", "must be 1 or more"),
        ("0 23 1 * 1", "restricts both the day of the month (1) and the weekday (1)"),
        ("0 23 * *", "five fields (minute hour day month weekday), got 4"),
        ("0 25 * * *", "not a crontab expression"),
    ],
)
def test_bad_crons_are_refused_with_a_reason(cron: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        HarvestSchedule(cron, "UTC", 0)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, harvest_cron=cron)
    assert str(caught.value).startswith("invalid setting HARVEST_CRON: ")
    assert message in str(caught.value)


def test_last_scheduled_before(schedule: HarvestSchedule) -> None:
    thursday = utc(2026, 2, 20, 4, 0)
    assert schedule.last_scheduled_before(ny(2026, 2, 21, 12, 0)) == thursday  # Saturday
    assert schedule.last_scheduled_before(thursday) == thursday  # at counts
    assert schedule.last_scheduled_before(thursday - timedelta(seconds=1)) == utc(2026, 2, 19, 4, 0)


def test_last_scheduled_before_a_rare_cron() -> None:
    leap = HarvestSchedule("0 0 29 2 *", "UTC", 0)
    assert leap.last_scheduled_before(utc(2031, 1, 1)) == utc(2028, 2, 29)
    assert leap.next_run(utc(2028, 3, 1)) == utc(2032, 2, 29)


def test_overdue_when_never_harvested(schedule: HarvestSchedule) -> None:
    assert schedule.is_overdue(None, ny(2026, 2, 18, 12, 0)) is True


def test_not_overdue_right_after_a_successful_run(schedule: HarvestSchedule) -> None:
    done = ny(2026, 2, 19, 23, 4)  # Thursday's harvest finished
    assert schedule.is_overdue(done, done + timedelta(minutes=1)) is False
    assert schedule.is_overdue(done, ny(2026, 2, 22, 22, 59)) is False  # over the weekend
    assert schedule.is_overdue(done, ny(2026, 2, 22, 23, 0)) is True  # Sunday's run is due


def test_overdue_after_downtime_over_a_run(schedule: HarvestSchedule) -> None:
    last = ny(2026, 3, 5, 23, 3)  # Thursday before the DST change
    assert schedule.is_overdue(last, ny(2026, 3, 9, 8, 0)) is True  # down over Sunday
    assert schedule.is_overdue(last, ny(2026, 3, 20, 8, 0)) is True  # down for two weeks
    # A harvest that started before 23:00 and succeeded at 22:59 does not cover 23:00.
    assert schedule.is_overdue(ny(2026, 3, 9, 22, 59), ny(2026, 3, 9, 23, 30)) is True


def test_retry_on_an_announcement_evening(schedule: HarvestSchedule) -> None:
    finished = ny(2026, 3, 8, 23, 4)  # Sunday, first EDT evening
    assert schedule.retry_after_empty(finished) == utc(2026, 3, 9, 4, 4)  # 00:04 EDT
    late = ny(2026, 3, 9, 4, 59)  # a catch-up within the evening's window still retries
    assert schedule.retry_after_empty(late) == late.astimezone(UTC) + timedelta(hours=1)


def test_no_retry_outside_an_announcement_evening(schedule: HarvestSchedule) -> None:
    assert schedule.retry_after_empty(ny(2026, 3, 7, 12, 0)) is None  # Saturday noon
    assert schedule.retry_after_empty(ny(2026, 3, 9, 5, 0)) is None  # six hours after
    assert schedule.retry_after_empty(ny(2026, 3, 8, 22, 0)) is None  # Thursday's is 2 days old


def test_no_retry_when_disabled() -> None:
    schedule = HarvestSchedule("0 23 * * sun,mon,tue,wed,thu", "America/New_York", 0)
    assert schedule.retry_delay is None
    assert schedule.retry_after_empty(ny(2026, 3, 8, 23, 4)) is None
    assert "no retry" in schedule.describe()


def test_no_retry_when_the_next_run_comes_first() -> None:
    hourly = HarvestSchedule("0 * * * *", "UTC", 60)
    assert hourly.retry_after_empty(utc(2026, 3, 8, 10, 1)) is None  # 11:00 comes first
    half = HarvestSchedule("0 * * * *", "UTC", 30)
    assert half.retry_after_empty(utc(2026, 3, 8, 10, 1)) == utc(2026, 3, 8, 10, 31)


def test_naive_datetimes_are_refused(schedule: HarvestSchedule) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_run(datetime(2026, 3, 8, 23, 0))
    with pytest.raises(ValueError, match="last_success"):
        schedule.is_overdue(datetime(2026, 3, 8), utc(2026, 3, 9))


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        HarvestSchedule("0 23 * *", "UTC", 60)
    with pytest.raises(ValueError):
        HarvestSchedule("0 23 * * *", "Mars/Olympus", 60)
    with pytest.raises(ValueError, match="retry_minutes"):
        HarvestSchedule("0 23 * * *", "UTC", -1)
