"""When a channel's papers are posted: ``/arxiv schedule asap|daily|weekly``.

``asap`` (the default) posts right after each harvest; ``daily HH:MM [TZ]`` and
``weekly DAY HH:MM [TZ]`` collect what matched and post one digest at that local time.

Pure functions over explicit times (nothing here reads the clock or the store), so every
answer can be tested with fixed datetimes:

* :func:`parse_schedule` reads what a user typed (raising :class:`ScheduleError` with a
  specific message), :func:`from_canonical` what the store holds
  (``channels.schedule``: ``daily 09:00 Europe/Berlin``, ``weekly mon 09:00 UTC``, or
  NULL for ``asap``).
* :meth:`PostSchedule.next_post` is the first post time strictly after a moment, as aware
  UTC. Local times follow the zone across DST changes: a time that does not exist on a
  spring-forward day (02:30 in Berlin) moves to the first valid instant after the gap
  (03:00 CEST); a time that happens twice on a fall-back day fires once, at its first
  occurrence.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import CommandError

__all__ = [
    "ASAP",
    "DAYS",
    "PostSchedule",
    "ScheduleError",
    "from_canonical",
    "parse_schedule",
    "resolve_zone",
    "wait_seconds",
]

ScheduleKind = Literal["asap", "daily", "weekly"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday abbreviations, Monday first (``DAYS[d]`` is ``date.weekday() == d``)."""
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

USAGE = "/arxiv schedule asap|daily HH:MM [time zone]|weekly DAY HH:MM [time zone]"
EXAMPLES = "e.g. /arxiv schedule daily 09:00 Europe/Berlin or /arxiv schedule weekly mon 08:30"

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_SEARCH_DAYS = 15
"""Local days looked through for the next post: a week, plus room for odd zones."""


class ScheduleError(CommandError):
    """A schedule could not be understood; the message says what is wrong and how to fix it."""


@dataclass(frozen=True, slots=True)
class PostSchedule:
    """A channel's posting schedule. ``zone`` None means "the bot's default zone"
    (fill it in with :meth:`with_default_zone` before storing or computing)."""

    kind: ScheduleKind = "asap"
    hour: int = 0
    minute: int = 0
    weekday: int | None = None
    """0 Monday ... 6 Sunday; only for ``weekly``."""
    zone: str | None = None

    @property
    def asap(self) -> bool:
        return self.kind == "asap"

    def with_default_zone(self, zone: str) -> PostSchedule:
        """This schedule, in ``zone`` if it names none."""
        if self.asap or self.zone is not None:
            return self
        return replace(self, zone=resolve_zone(zone))

    @property
    def canonical(self) -> str | None:
        """The stored form (None for ``asap``): ``daily 09:00 Europe/Berlin``."""
        if self.asap:
            return None
        day = f" {DAYS[self.weekday or 0]}" if self.kind == "weekly" else ""
        return f"{self.kind}{day} {self.hour:02d}:{self.minute:02d} {self._zone_name()}"

    def describe(self) -> str:
        """In words: ``daily at 09:00 Europe/Berlin``."""
        if self.asap:
            return "as soon as papers are harvested (asap)"
        at = f"{self.hour:02d}:{self.minute:02d} {self._zone_name()}"
        if self.kind == "weekly":
            return f"weekly on {_DAY_NAMES[self.weekday or 0]} at {at}"
        return f"daily at {at}"

    def next_post(self, after: datetime) -> datetime:
        """The first post time strictly after ``after`` (aware), as aware UTC.

        Raises :class:`ValueError` for ``asap``, which has no post times.
        """
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError(f"after must be timezone-aware, got {after.isoformat()}")
        if self.asap:
            raise ValueError("an asap schedule has no post times")
        zone = ZoneInfo(self._zone_name())
        start = after.astimezone(zone).date() - timedelta(days=1)
        for offset in range(_SEARCH_DAYS):
            day = start + timedelta(days=offset)
            if self.weekday is not None and day.weekday() != self.weekday:
                continue
            fire = local_instant(day, time(self.hour, self.minute), zone)
            if fire > after:
                return fire
        raise AssertionError(f"no post time within {_SEARCH_DAYS} days of {after}")  # unreachable

    def local(self, moment: datetime) -> str:
        """``moment`` in this schedule's zone, for people: ``Tue 1 Dec 09:00 CET``."""
        shown = moment.astimezone(ZoneInfo(self._zone_name()))
        return f"{shown:%a} {shown.day} {shown:%b %H:%M %Z}"

    def _zone_name(self) -> str:
        return self.zone or "UTC"


ASAP = PostSchedule()


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant (aware UTC) the clocks in ``zone`` show ``at`` on ``day``.

    Twice on a fall-back day: the first occurrence. Never, in a spring-forward gap: the
    first valid instant after the gap (the moment of the change).
    """
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=zone, fold=0)
    if _shows(first.astimezone(UTC), zone) == wall:
        return first.astimezone(UTC)
    # In a gap, fold=1 reads the wall time with the offset after the change, an instant
    # before it; fold=0 with the offset before, an instant after it. The change lies
    # between: find the first instant whose wall time is at or past ``wall``.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    if low > high:
        low, high = high, low
    while low < high:
        middle = (low + high) // 2
        if _shows(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(high, UTC)


def _shows(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall time ``zone``'s clocks show at ``moment``."""
    return moment.astimezone(zone).replace(tzinfo=None)


def wait_seconds(now: datetime, next_post: datetime | None, ceiling: float) -> float:
    """How long to wait before a delivery round: until ``next_post`` (if any), at most
    ``ceiling`` seconds, never less than none."""
    if next_post is None:
        return ceiling
    return min(ceiling, max((next_post - now).total_seconds(), 0.0))


def parse_schedule(text: str) -> PostSchedule:
    """What ``/arxiv schedule`` was given: ``asap``, ``daily HH:MM [TZ]`` or
    ``weekly DAY HH:MM [TZ]``. A missing zone is left None (the bot's default)."""
    words = text.split()
    if not words:
        raise ScheduleError(f"Give a schedule: {USAGE}; {EXAMPLES}.")
    kind = words[0].lower()
    rest = words[1:]
    if kind in ("asap", "now", "immediately"):
        if rest:
            raise ScheduleError(
                "asap takes nothing more: papers are posted right after each harvest."
            )
        return ASAP
    if kind == "daily":
        return _timed("daily", rest)
    if kind == "weekly":
        return _timed("weekly", rest)
    raise ScheduleError(
        f"Unknown schedule {_shown(words[0])}: use asap, daily or weekly ({USAGE}); {EXAMPLES}."
    )


def _timed(kind: Literal["daily", "weekly"], words: list[str]) -> PostSchedule:
    weekday: int | None = None
    if kind == "weekly":
        if not words:
            raise ScheduleError(
                "weekly needs a day and a time, e.g. /arxiv schedule weekly mon 09:00."
            )
        if _TIME.fullmatch(words[0]):
            raise ScheduleError(
                f"weekly needs a day before the time, e.g. /arxiv schedule weekly mon {words[0]}."
            )
        weekday = _weekday(words[0])
        words = words[1:]
    if not words:
        raise ScheduleError(
            f"{kind} needs a time of day (24-hour HH:MM), e.g. /arxiv schedule {kind}"
            f"{' mon' if kind == 'weekly' else ''} 09:00."
        )
    hour, minute = _time_of_day(words[0])
    if len(words) > 2:
        raise ScheduleError(
            f"Too many words after the time: give one time zone such as Europe/Berlin, "
            f"not {_shown(' '.join(words[1:]))}."
        )
    zone = resolve_zone(words[1]) if len(words) == 2 else None
    return PostSchedule(kind, hour, minute, weekday, zone)


def _weekday(word: str) -> int:
    lowered = word.lower()
    for number, name in enumerate(_DAY_NAMES):
        if lowered in (DAYS[number], name.lower()) or (
            len(lowered) >= 3 and name.lower().startswith(lowered)
        ):
            return number
    raise ScheduleError(
        f"{_shown(word)} is not a day of the week: use mon, tue, wed, thu, fri, sat or sun "
        "(or the full name), e.g. /arxiv schedule weekly mon 09:00."
    )


def _time_of_day(word: str) -> tuple[int, int]:
    match = _TIME.fullmatch(word)
    if match is None:
        example = f"{int(word):02d}:00" if word.isascii() and word.isdigit() else "09:00 or 17:30"
        raise ScheduleError(
            f"{_shown(word)} is not a time of day: give 24-hour HH:MM, e.g. {example}."
        )
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ScheduleError(
            f"{_shown(word)} is not a time of day: hours go from 00 to 23 and minutes from "
            "00 to 59 (24-hour HH:MM)."
        )
    return hour, minute


@cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name this system knows, by its lower-case spelling."""
    return {name.lower(): name for name in available_timezones()}


def resolve_zone(word: str) -> str:
    """The IANA zone ``word`` names (any letter case: ``europe/berlin``), or a
    :class:`ScheduleError` with a suggestion."""
    names = _zone_names()
    name = names.get(word.lower())
    if name is None and "/" not in word:  # a city alone: Berlin, new_york
        cities = [n for low, n in names.items() if low.endswith("/" + word.lower())]
        hint = f" Did you mean {cities[0]}?" if len(cities) == 1 else ""
        raise _unknown_zone(word, hint)
    if name is None:
        close = difflib.get_close_matches(word.lower(), list(names), n=1, cutoff=0.8)
        raise _unknown_zone(word, f" Did you mean {names[close[0]]}?" if close else "")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _unknown_zone(word, "") from None
    return name


def _unknown_zone(word: str, hint: str) -> ScheduleError:
    return ScheduleError(
        f"Unknown time zone {_shown(word)}.{hint} Use an IANA name such as Europe/Berlin, "
        "America/New_York, Asia/Tokyo or UTC (abbreviations such as CEST or PST are "
        "ambiguous and not accepted)."
    )


def from_canonical(text: str | None) -> PostSchedule:
    """The schedule the store holds (None: ``asap``)."""
    if text is None:
        return ASAP
    schedule = parse_schedule(text)
    if schedule.asap or schedule.zone is None:
        raise ValueError(f"not a stored schedule: {text!r}")
    return schedule


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:39] + "…")
