"""What the local index holds: OAI-PMH sets by date ranges that have been harvested in full.

A range ``(set, start, end)`` says every record arXiv changed in that set from ``start``
to ``end`` (UTC days, inclusive) is stored. Both the backfill and the scheduled harvest
record what they completed; ranges of one set are merged so they never overlap or touch.
The set ``*`` (:data:`ALL_SETS`) is all of arXiv, and a set covers its subsets
(``physics`` covers ``physics:hep-th``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from bot.store.base import StoreBase
from bot.store.sql import Connection

__all__ = ["ALL_SETS", "Coverage", "CoverageStore", "merge_ranges", "record_coverage", "since"]

ALL_SETS = "*"
"""The set name stored for a harvest of all of arXiv."""

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class Coverage:
    """One covered range of one set (days inclusive)."""

    set_spec: str
    start: date
    end: date


def merge_ranges(ranges: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """``ranges`` as sorted, non-overlapping, non-touching ranges (days inclusive)."""
    merged: list[tuple[date, date]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + _DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def set_covers(outer: str, inner: str) -> bool:
    """True if a harvest of ``outer`` holds every record of ``inner``."""
    return outer in (ALL_SETS, inner) or inner.startswith(outer + ":")


def since(ranges: Iterable[Coverage]) -> dict[str, date]:
    """For each set, the first day of its latest unbroken range (what it holds up to now)."""
    latest: dict[str, Coverage] = {}
    for item in ranges:
        if item.set_spec not in latest or item.end > latest[item.set_spec].end:
            latest[item.set_spec] = item
    return {name: item.start for name, item in sorted(latest.items())}


async def record_coverage(conn: Connection, set_spec: str | None, start: date, end: date) -> None:
    """Add ``start``..``end`` of ``set_spec`` (None: all of arXiv) inside the caller's
    transaction, merged with the ranges it overlaps or touches."""
    if end < start:
        raise ValueError(f"coverage ends ({end}) before it starts ({start})")
    name = set_spec or ALL_SETS
    rows = await conn.fetchall(
        'SELECT start, "end" FROM coverage WHERE set_spec = ? AND start <= ? AND "end" >= ?',
        (name, (end + _DAY).isoformat(), (start - _DAY).isoformat()),
    )
    ranges = [(date.fromisoformat(r[0]), date.fromisoformat(r[1])) for r in rows]
    [(first, last)] = merge_ranges([*ranges, (start, end)])
    await conn.executemany(
        "DELETE FROM coverage WHERE set_spec = ? AND start = ?",
        [(name, r[0].isoformat()) for r in ranges],
    )
    await conn.execute(
        'INSERT INTO coverage (set_spec, start, "end") VALUES (?, ?, ?)',
        (name, first.isoformat(), last.isoformat()),
    )


class CoverageStore(StoreBase):
    """The coverage methods of :class:`~bot.store.store.Store`."""

    async def add_coverage(self, sets: Iterable[str | None], start: date, end: date) -> None:
        """Record that ``sets`` (None in it: all of arXiv) are harvested from ``start`` to
        ``end``, in one transaction."""
        async with self.transaction() as conn:
            for set_spec in sets:
                await record_coverage(conn, set_spec, start, end)

    async def trim_coverage(self, before: date) -> None:
        """Forget the coverage of days before ``before`` (their papers are being pruned)."""
        day = before.isoformat()
        async with self.transaction() as conn:
            await conn.execute('DELETE FROM coverage WHERE "end" < ?', (day,))
            await conn.execute("UPDATE coverage SET start = ? WHERE start < ?", (day, day))

    async def coverage(self) -> list[Coverage]:
        """Every covered range, by set then start."""
        rows = await self.fetchall('SELECT set_spec, start, "end" FROM coverage')
        return sorted(
            Coverage(r[0], date.fromisoformat(r[1]), date.fromisoformat(r[2])) for r in rows
        )

    async def held_since(self, sets: Iterable[str] | None, through: date) -> date | None:
        """The first day from which the index holds every record of ``sets`` (None: all
        of arXiv) without a gap up to ``through``; None if some set is not held up to
        ``through`` at all."""
        ranges = await self.coverage()
        first_days: list[date] = []
        for wanted in (ALL_SETS,) if sets is None else sets:
            found = [first for first, last in _held(ranges, wanted) if first <= through <= last]
            if not found:
                return None
            first_days.append(found[0])
        return max(first_days, default=None)

    async def covered(self, sets: Iterable[str] | None, start: date, end: date) -> bool:
        """True if the index holds every record of ``sets`` (None: all of arXiv) changed
        from ``start`` to ``end`` (days inclusive)."""
        ranges = await self.coverage()
        for wanted in (ALL_SETS,) if sets is None else sets:
            if not any(first <= start and end <= last for first, last in _held(ranges, wanted)):
                return False
        return True


def _held(ranges: Iterable[Coverage], wanted: str) -> list[tuple[date, date]]:
    """The merged ranges in which ``wanted`` is held, by itself or by a wider set."""
    return merge_ranges((c.start, c.end) for c in ranges if set_covers(c.set_spec, wanted))
