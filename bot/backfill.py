"""Backfill: fill the local index with what arXiv announced in the past, resumably.

The date range is cut into windows of :data:`WINDOW_DAYS` days, set by set; each window is
one OAI-PMH list (``from``/``until``, through the same client and gate as the scheduled
harvest), stored page by page with :meth:`~bot.store.Store.upsert_harvested`. A window's
last page is stored in the same transaction that records the window as coverage
(:mod:`bot.store.coverage`), so the coverage is the progress: after an interrupt, even a
``kill -9``, the next backfill skips what is covered and redoes at most the window that
was cut short (its pages are stored again as unchanged). Resumption tokens expire at the
next UTC midnight, so a window, not a token, is what is kept.

The scheduled harvest's watermark is never moved. Records stamped before the day the
next scheduled harvest starts from are stored as already matched: a backfilled old paper
is never posted to a channel as new. Later ones are left for matching, as the scheduled
harvest would leave them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.harvest import Harvester, pages_of
from bot.models import HarvestedRecord
from bot.sources.oai import OaiClient
from bot.store import HarvestCounts, Store
from bot.store.coverage import ALL_SETS, Coverage, merge_ranges, set_covers

__all__ = ["WINDOW_DAYS", "Backfill", "BackfillProgress", "Window", "plan_windows"]

log = logging.getLogger(__name__)

WINDOW_DAYS = 7
"""Days per OAI-PMH list: a week of cs is about 2,000 records, one or two requests."""


@dataclass(frozen=True, slots=True)
class Window:
    """One OAI-PMH list of a backfill: ``set_spec`` (None: all of arXiv), days inclusive."""

    set_spec: str | None
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.set_spec or 'all of arXiv'} {self.start}..{self.end}"


@dataclass(slots=True)
class BackfillProgress:
    """How far a backfill is, handed to its observer after every page."""

    windows: int
    """Windows to harvest in this run (those covered before it are not counted)."""
    skipped: int = 0
    """Windows covered before this run started (done by an earlier, interrupted run)."""
    done: int = 0
    """Windows completed so far."""
    records: int = 0
    requests: int = 0
    counts: HarvestCounts = field(default_factory=HarvestCounts)
    current: Window | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def records_per_request(self) -> float:
        return self.records / self.requests if self.requests else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated from the windows done so far; None before the first."""
        if not self.done:
            return None
        return self.seconds / self.done * (self.windows - self.done)


def plan_windows(
    sets: Sequence[str] | None,
    since: date,
    until: date,
    covered: Sequence[Coverage] = (),
    *,
    days: int = WINDOW_DAYS,
) -> tuple[list[Window], int]:
    """The windows still to harvest from ``since`` to ``until`` (days inclusive) and how
    many were skipped as already ``covered``."""
    todo: list[Window] = []
    skipped = 0
    for set_spec in (None,) if sets is None else sets:
        name = set_spec or ALL_SETS
        held = merge_ranges((c.start, c.end) for c in covered if set_covers(c.set_spec, name))
        start = since
        while start <= until:
            end = min(start + timedelta(days=days - 1), until)
            if any(first <= start and end <= last for first, last in held):
                skipped += 1
            else:
                todo.append(Window(set_spec, start, end))
            start = end + timedelta(days=1)
    return todo, skipped


class Backfill:
    """Harvests past windows into the store; see the module's docstring."""

    def __init__(
        self, *, store: Store, oai: OaiClient, harvester: Harvester, window_days: int = WINDOW_DAYS
    ) -> None:
        if window_days < 1:
            raise ValueError("window_days must be >= 1")
        self._store = store
        self._oai = oai
        self._harvester = harvester
        self._window_days = window_days

    async def run(
        self,
        sets: Sequence[str] | None,
        since: date,
        until: date,
        observe: Callable[[BackfillProgress], None] = lambda _: None,
    ) -> BackfillProgress:
        """Harvest every window of ``sets`` (None: all of arXiv) from ``since`` to ``until``
        not covered yet; ``observe`` is called after every page and window.

        Raises :class:`~bot.errors.HarvestError` or :class:`~bot.errors.StorageError`;
        the windows completed before stay recorded.
        """
        windows, skipped = plan_windows(
            sets, since, until, await self._store.coverage(), days=self._window_days
        )
        matched_before = await self._harvester.next_from_date()
        progress = BackfillProgress(windows=len(windows), skipped=skipped)
        log.info(
            "backfill of %s windows from %s to %s (%s covered already); records before %s "
            "are stored as matched",
            len(windows),
            since,
            until,
            skipped,
            matched_before,
        )
        observe(progress)
        for window in windows:
            progress.current = window
            await self._window(window, matched_before, progress, observe)
            progress.done += 1
            observe(progress)
            log.info("backfill: %s done, %s records so far", window, progress.records)
        progress.current = None
        return progress

    async def _window(
        self,
        window: Window,
        matched_before: date,
        progress: BackfillProgress,
        observe: Callable[[BackfillProgress], None],
    ) -> None:
        """Store one window; its last page goes with its coverage in one transaction,
        so every page is stored one request late."""
        requests = self._oai.requests
        pages = self._oai.list_records(
            from_date=window.start, until_date=window.end, set_spec=window.set_spec
        )
        held: list[HarvestedRecord] | None = None
        async with contextlib.aclosing(pages_of(pages)) as each:
            async for page in each:
                if held is not None:
                    await self._store_page(held, matched_before, None, progress)
                held = page
                progress.requests += self._oai.requests - requests
                requests = self._oai.requests
                observe(progress)
        progress.requests += self._oai.requests - requests
        cover = Coverage(window.set_spec or ALL_SETS, window.start, window.end)
        await self._store_page(held or [], matched_before, cover, progress)

    async def _store_page(
        self,
        page: list[HarvestedRecord],
        matched_before: date,
        cover: Coverage | None,
        progress: BackfillProgress,
    ) -> None:
        counts = await self._store.upsert_harvested(
            page, matched_before=matched_before, completes=cover
        )
        progress.counts += counts
        progress.records += counts.total
