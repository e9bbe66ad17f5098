"""When to harvest: arXiv's announcement cycle as pure functions over explicit times.

Nothing here reads the clock or keeps state, so every answer can be tested with fixed
datetimes. ``bot.scheduler`` turns these answers into APScheduler jobs.

The default cron fires at 23:00 US Eastern on Sunday to Thursday, shortly after arXiv's
20:00 announcement has reached OAI-PMH (around 22:30). The expression is standard cron
(:func:`crontab_trigger`): weekday numbers count from Sunday = 0 (7 is Sunday too), and
are translated to day names for APScheduler, whose own numbers start at Monday = 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

if TYPE_CHECKING:
    from bot.config import Settings

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Cron's weekday numbers: ``WEEKDAYS[n]`` is day ``n`` (and 7 is Sunday again)."""

CRON_EXAMPLE = "'0 23 * * sun,mon,tue,wed,thu'"


def crontab_trigger(expression: str, timezone: ZoneInfo | None = None) -> CronTrigger:
    """The APScheduler trigger for a standard five-field crontab line.

    Weekdays are cron's (0 and 7 Sunday, 1 Monday ... 6 Saturday, or names; ranges, lists
    and steps such as ``1-5``, ``0,6``, ``*/2``). A line restricting both the day of the
    month and the weekday is refused: cron runs when either matches, APScheduler only
    when both do. Raises :class:`ValueError` with a message naming the problem.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a crontab line has five fields (minute hour day month weekday), got "
            f"{len(fields)}; e.g. {CRON_EXAMPLE}"
        )
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError(
            f"it restricts both the day of the month ({day}) and the weekday ({weekday}); "
            "cron would run when either matches, which is rarely meant: keep one, set the "
            "other to *"
        )
    weekdays = _weekday_names(weekday)
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=weekdays, timezone=timezone
        )
    except ValueError as error:
        raise ValueError(f"not a crontab expression ({error}); e.g. {CRON_EXAMPLE}") from None


def _weekday_names(field: str) -> str:
    """Cron's weekday field as APScheduler day names (``1-5`` is ``mon,tue,wed,thu,fri``)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = _weekday_number(step_text, field, step=True) if step_text else 1
        start, dash, end = span.partition("-")
        if span == "*":
            first, last = 0, 6
        else:
            first = _weekday_number(start, field) % 7  # 7 starts a range as Sunday = 0
            last = _weekday_number(end, field, end=True) if dash else first
            if step_text and not dash:  # ``1/2``: from Monday on, every other day
                last = 6
            if last < first:
                raise ValueError(
                    f"the weekday range {span!r}{_within(span, field)} runs backwards; write "
                    "it from the earlier day (0 or sun is Sunday, 6 or sat Saturday)"
                )
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def _weekday_number(text: str, field: str, *, end: bool = False, step: bool = False) -> int:
    """One weekday (a number 0-7 or a name; Sunday ends a range as 7), or a step."""
    if text.isascii() and text.isdigit() and (step or int(text) <= 7):
        number = int(text)
        if step and number == 0:
            raise ValueError(f"the step in the weekday field {field!r} must be 1 or more")
        return number
    if not step and text in WEEKDAYS:
        number = WEEKDAYS.index(text)
        return 7 if end and number == 0 else number
    raise ValueError(
        f"{text!r}{_within(text, field)} is not a weekday: use 0-7 (0 and 7 are Sunday, "
        "1 Monday ... 6 Saturday) or sun, mon, tue, wed, thu, fri, sat"
    )


def _within(part: str, field: str) -> str:
    return "" if part == field else f" in the weekday field {field!r}"


DEFAULT_RETRY_WINDOW = timedelta(hours=6)
"""How long after a scheduled run a cycle still counts as that announcement evening's."""

_LOOKBACKS = tuple(
    timedelta(days=days) for days in (1 / 24, 1, 8, 32, 367, 4 * 366 + 1, 8 * 366 + 1)
)
"""Ever wider windows searched for the previous run; the last covers Feb 29 across 2100."""


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class HarvestSchedule:
    """The regular harvest times (a cron expression in a timezone) and the empty-result retry.

    Every datetime taken must be timezone-aware; every datetime returned is aware UTC.
    """

    cron: str
    timezone: str
    """An IANA zone name; the cron's hours are local times there, across DST changes."""
    retry_minutes: int
    """Minutes after an empty announcement-evening harvest to try once more; 0 = never."""
    retry_window: timedelta = DEFAULT_RETRY_WINDOW
    trigger: CronTrigger = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.retry_minutes < 0:
            raise ValueError(f"retry_minutes must be 0 or more, got {self.retry_minutes}")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        trigger = crontab_trigger(self.cron, zone)  # ValueError if bad
        object.__setattr__(self, "trigger", trigger)

    @classmethod
    def from_settings(cls, settings: Settings) -> HarvestSchedule:
        return cls(
            cron=settings.harvest_cron,
            timezone=settings.harvest_timezone,
            retry_minutes=settings.harvest_retry_minutes,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def retry_delay(self) -> timedelta | None:
        return timedelta(minutes=self.retry_minutes) if self.retry_minutes else None

    def describe(self) -> str:
        """A one-line summary for logs and ``/arxiv status``."""
        retry = f"retry after {self.retry_minutes} min" if self.retry_minutes else "no retry"
        return f"cron '{self.cron}' ({self.timezone}), {retry} when nothing new"

    def next_run(self, after: datetime) -> datetime:
        """The first regular harvest strictly after ``after``."""
        _require_aware("after", after)
        fire: datetime | None = self.trigger.get_next_fire_time(after, after)
        if fire is None:  # the trigger has no end date, so this is defensive
            raise ValueError(f"cron {self.cron!r} has no run after {after.isoformat()}")
        return fire.astimezone(UTC)

    def next_runs(self, after: datetime, n: int) -> list[datetime]:
        """The next ``n`` regular harvests strictly after ``after``, in order."""
        runs: list[datetime] = []
        current = after
        for _ in range(n):
            current = self.next_run(current)
            runs.append(current)
        return runs

    def last_scheduled_before(self, now: datetime) -> datetime | None:
        """The latest regular harvest at or before ``now``; None if none in the last 8 years."""
        _require_aware("now", now)
        for lookback in _LOOKBACKS:
            latest = None
            for run in self._runs_from(now - lookback):
                if run > now:
                    break
                latest = run
            if latest is not None:
                return latest
        return None

    def is_overdue(self, last_success: datetime | None, now: datetime) -> bool:
        """Whether to harvest at once on start-up.

        True when no harvest ever succeeded, or when a regular run fell after the last
        success (the bot was down, or failing, over a harvest time).
        """
        _require_aware("now", now)
        if last_success is None:
            return True
        _require_aware("last_success", last_success)
        previous = self.last_scheduled_before(now)
        return previous is not None and previous > last_success

    def retry_after_empty(self, finished_at: datetime) -> datetime | None:
        """When to harvest again after a cycle that finished at ``finished_at`` found nothing.

        Only an announcement evening gets a retry: the cycle finished within
        ``retry_window`` of a regular run. None when retries are off, outside such an
        evening, or when the next regular run comes first anyway. The caller makes sure a
        retry's own empty result does not schedule another retry.
        """
        _require_aware("finished_at", finished_at)
        delay = self.retry_delay
        if delay is None:
            return None
        previous = self.last_scheduled_before(finished_at)
        if previous is None or finished_at - previous >= self.retry_window:
            return None
        retry_at = finished_at.astimezone(UTC) + delay
        if self.next_run(finished_at) <= retry_at:
            return None
        return retry_at

    def _runs_from(self, start: datetime) -> Iterator[datetime]:
        """Regular runs at or after ``start``, endlessly."""
        first: datetime | None = self.trigger.get_next_fire_time(None, start)
        current = first.astimezone(UTC) if first is not None else None
        while current is not None:
            yield current
            current = self.next_run(current)


def from_settings(settings: Settings) -> HarvestSchedule:
    """The schedule ``HARVEST_CRON``, ``HARVEST_TIMEZONE`` and ``HARVEST_RETRY_MINUTES`` set."""
    return HarvestSchedule.from_settings(settings)
