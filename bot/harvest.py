"""Harvest what arXiv announced into the store through OAI-PMH, losing nothing.

A harvest lists every record changed since the watermark (the start date of the last
complete harvest) minus one day of overlap, set by set, and stores each page as it
arrives; the overlap is deduplicated by the store. Only when every set has been read to
its end does the watermark advance, so a harvest cut short by an error status, malformed
XML, an expired resumption token or a crash is simply done again from the old watermark
next time: pages stored before the failure are stored again as unchanged, and nothing is
skipped. The very first harvest reaches ``lookback_days`` back; after days of downtime
the first harvest catches up on all of them at once.

Scope: the union of the OAI-PMH sets that subscriptions restrict to with ``cat:`` and the
``INDEX_SETS`` setting, or all of arXiv when there is neither a subscription nor an index
set, or any subscription is not restricted. A complete harvest records its sets and days
as the local index's coverage (:mod:`bot.store.coverage`).

The harvest's state lives in the store's ``state`` table under the ``harvest.*`` keys,
which only this module reads and writes; everyone else asks the :class:`Harvester`
(:meth:`~Harvester.watermark`, :meth:`~Harvester.last_report`,
:meth:`~Harvester.last_success`, :meth:`~Harvester.last_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.categories import minimal_sets
from bot.clock import Clock, utc_now
from bot.errors import HarvestError, HarvestProblem, QueryError, StorageError
from bot.models import HarvestedRecord
from bot.observability.metrics import Metrics
from bot.query import parse_query
from bot.sources.cutoff import run_in_thread
from bot.sources.oai import OaiClient
from bot.store import HarvestCounts, Store

__all__ = [
    "OVERLAP",
    "HarvestFailure",
    "HarvestReport",
    "Harvester",
    "harvest_scope",
    "pages_of",
]

log = logging.getLogger(__name__)

_WATERMARK_KEY = "harvest.watermark"
"""YYYY-MM-DD: the start day (UTC) of the last complete harvest."""
_LAST_SUCCESS_KEY = "harvest.last_success"
"""ISO datetime: when the last complete harvest finished."""
_LAST_REPORT_KEY = "harvest.last_report"
"""JSON of the last complete harvest's :class:`HarvestReport`."""
_LAST_ERROR_KEY = "harvest.last_error"
"""One line: why the last harvest failed; empty after a success."""
_LAST_FAILURE_KEY = "harvest.last_failure"
"""JSON of the last failed harvest's :class:`HarvestFailure`; empty after a success."""

OVERLAP = timedelta(days=1)
"""Re-harvested before the watermark: datestamps are days, and a day's records may still
have been arriving when the last harvest ran."""


@dataclass(frozen=True, slots=True)
class HarvestReport:
    """One complete harvest."""

    started_at: datetime
    finished_at: datetime
    from_date: date
    sets: tuple[str, ...] | None
    """The OAI-PMH sets harvested, or None for all of arXiv."""
    records: int
    """Records received (a paper listed in two sets counts twice; deleted ones not)."""
    new_papers: int
    revised_papers: int
    requests: int
    """HTTP requests to arXiv, retries included."""

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def __str__(self) -> str:
        return (
            f"{self.records} records, {self.new_papers} new, {self.revised_papers} revised, "
            f"{self.requests} requests, {self.seconds:.1f} s"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(),
                "from_date": self.from_date.isoformat(),
                "sets": list(self.sets) if self.sets is not None else None,
                "records": self.records,
                "new_papers": self.new_papers,
                "revised_papers": self.revised_papers,
                "requests": self.requests,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> HarvestReport:
        data: dict[str, Any] = json.loads(text)
        sets = data.get("sets")
        return cls(
            started_at=datetime.fromisoformat(data["started_at"]),
            finished_at=datetime.fromisoformat(data["finished_at"]),
            from_date=date.fromisoformat(data["from_date"]),
            sets=tuple(sets) if sets is not None else None,
            records=int(data["records"]),
            new_papers=int(data["new_papers"]),
            revised_papers=int(data["revised_papers"]),
            requests=int(data["requests"]),
        )


@dataclass(frozen=True, slots=True)
class HarvestFailure:
    """A harvest that did not complete, for ``/arxiv status`` (the detail is logged)."""

    at: datetime
    problem: HarvestProblem
    retry_from: date
    """Where the harvest that tries again starts."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "at": self.at.isoformat(),
                "problem": self.problem,
                "retry_from": self.retry_from.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> HarvestFailure:
        data: dict[str, Any] = json.loads(text)
        return cls(
            at=datetime.fromisoformat(data["at"]),
            problem=data["problem"],
            retry_from=date.fromisoformat(data["retry_from"]),
        )


def harvest_scope(
    queries: Iterable[str], index_sets: tuple[str, ...] | None = ()
) -> tuple[str, ...] | None:
    """The OAI-PMH sets to harvest for these stored queries, sorted; None for all of arXiv.

    ``index_sets`` (the ``INDEX_SETS`` setting; None: all of arXiv) are kept besides.
    None when there is no (parsable) query and no index set, or any query is not
    restricted by ``cat:``. A stored query that no longer parses is logged and left out,
    as matching skips it.
    """
    if index_sets is None:
        return None
    sets: set[str] = set(index_sets)
    parsed = 0
    for text in queries:
        try:
            scope = parse_query(text, max_length=None).category_scope()
        except QueryError as exc:
            log.warning("stored query %r no longer parses, left out of the harvest: %s", text, exc)
            continue
        parsed += 1
        if scope is None:
            return None
        sets.update(scope)
    if not parsed and not index_sets:
        return None
    return minimal_sets(sets)


class Harvester:
    """Runs harvests, one at a time, from the store's watermark."""

    def __init__(
        self,
        *,
        store: Store,
        oai: OaiClient,
        clock: Clock = utc_now,
        lookback_days: int = 3,
        index_sets: tuple[str, ...] | None = (),
        metrics: Metrics | None = None,
    ) -> None:
        """``index_sets``: the ``INDEX_SETS`` kept besides what subscriptions need."""
        if lookback_days < 0:
            raise ValueError("lookback_days must be >= 0")
        self._store = store
        self._oai = oai
        self._clock = clock
        self._lookback = timedelta(days=lookback_days)
        self._index_sets = index_sets
        self._lock = asyncio.Lock()
        self._metrics = metrics or Metrics()

    async def watermark(self) -> date | None:
        """The start date (UTC) of the last complete harvest, or None before the first."""
        text = await self._store.get_state(_WATERMARK_KEY)
        return date.fromisoformat(text) if text else None

    async def set_watermark(self, day: date) -> None:
        """Record that everything arXiv changed before ``day`` is stored, as a complete
        harvest started that day would (for seeding a store harvested elsewhere)."""
        await self._store.set_state(_WATERMARK_KEY, day.isoformat())

    async def last_report(self) -> HarvestReport | None:
        """The last complete harvest, or None before the first."""
        text = await self._store.get_state(_LAST_REPORT_KEY)
        return HarvestReport.from_json(text) if text else None

    async def last_success(self) -> datetime | None:
        """When the last complete harvest finished, or None before the first."""
        text = await self._store.get_state(_LAST_SUCCESS_KEY)
        return datetime.fromisoformat(text) if text else None

    async def last_error(self) -> str | None:
        """Why the last harvest failed (one line, with the detail), or None if it succeeded."""
        return await self._store.get_state(_LAST_ERROR_KEY) or None

    async def last_failure(self) -> HarvestFailure | None:
        """The last harvest, when it failed; None when it succeeded."""
        text = await self._store.get_state(_LAST_FAILURE_KEY)
        return HarvestFailure.from_json(text) if text else None

    async def scope(self) -> tuple[str, ...] | None:
        """The sets the next harvest reads (None: all of arXiv); see :func:`harvest_scope`."""
        queries = (s.query for s in await self._store.all_subscriptions())
        return harvest_scope(queries, self._index_sets)

    async def next_from_date(self) -> date:
        """Where the next harvest starts: watermark - 1 day, or today - lookback at first."""
        watermark = await self.watermark()
        if watermark is None:
            return self._now().date() - self._lookback
        return watermark - OVERLAP

    async def harvest(self) -> HarvestReport:
        """Harvest everything new in scope into the store; then advance the watermark.

        Raises :class:`~bot.errors.HarvestError` when the harvest could not be completed
        (recorded in ``harvest.last_error``); the watermark then stays where it was.
        """
        async with self._lock:
            started_at, timer = self._now(), time.perf_counter()
            from_date = await self.next_from_date()
            sets = await self.scope()
            requests_before = self._oai.requests
            tally = _Tally()
            log.info(
                "harvest from %s of %s", from_date, ", ".join(sets) if sets else "all of arXiv"
            )
            try:
                for set_spec in sets if sets is not None else (None,):
                    await self._harvest_set(from_date, set_spec, tally)
            except StorageError:
                self._metrics.harvest_failed()
                raise  # the store can record nothing now; the caller says what is wrong
            except Exception as exc:
                self._metrics.harvest_failed()
                await self._record_failure(exc, started_at, from_date, tally.counts)
                raise
            counts = tally.counts
            report = HarvestReport(
                started_at=started_at,
                finished_at=self._now(),
                from_date=from_date,
                sets=sets,
                records=counts.total,
                new_papers=counts.new,
                revised_papers=counts.revised,
                requests=self._oai.requests - requests_before,
            )
            await self._store.add_coverage(
                sets if sets is not None else (None,), from_date, started_at.date()
            )
            # The watermark last: a crash before it only means re-harvesting the same days.
            await self._store.set_state(_LAST_REPORT_KEY, report.to_json())
            await self._store.set_state(_LAST_SUCCESS_KEY, report.finished_at.isoformat())
            await self._store.set_state(_LAST_ERROR_KEY, "")
            await self._store.set_state(_LAST_FAILURE_KEY, "")
            await self._store.set_state(_WATERMARK_KEY, started_at.date().isoformat())
            self._metrics.harvest_done(time.perf_counter() - timer, report.records)
            log.info("harvest done: %s", report)
            return report

    async def _harvest_set(self, from_date: date, set_spec: str | None, tally: _Tally) -> None:
        """Store every page of one set as it arrives (the OAI client runs in a thread,
        whose request is cut when the harvest is cancelled)."""
        pages = self._oai.list_records(from_date=from_date, set_spec=set_spec)
        async with contextlib.aclosing(pages_of(pages)) as each:
            async for page in each:
                tally.counts += await self._store.upsert_harvested(page)

    async def _record_failure(
        self, exc: Exception, started_at: datetime, from_date: date, counts: HarvestCounts
    ) -> None:
        if isinstance(exc, HarvestError):
            log.warning(
                "harvest from %s failed after %s records; will retry from there: %s",
                from_date,
                counts.total,
                exc,
            )
        else:
            log.error("harvest from %s failed: %s: %s", from_date, type(exc).__name__, exc)
        text = (
            f"{started_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {exc} "
            f"(will retry from {from_date.isoformat()})"
        )
        problem = exc.problem if isinstance(exc, HarvestError) else "unexpected"
        failure = HarvestFailure(started_at, problem, from_date)
        try:
            await self._store.set_state(_LAST_ERROR_KEY, " ".join(text.split()))
            await self._store.set_state(_LAST_FAILURE_KEY, failure.to_json())
        except StorageError as error:
            log.error("could not record the harvest failure: %s", error)
        except Exception:
            log.exception("could not record the harvest failure")

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)


@dataclass(slots=True)
class _Tally:
    """Counts so far, kept when a harvest fails part-way through a set."""

    counts: HarvestCounts = field(default_factory=HarvestCounts)


async def pages_of(
    pages: Generator[list[HarvestedRecord], None, None],
) -> AsyncGenerator[list[HarvestedRecord], None]:
    """The pages of an :meth:`OaiClient.list_records` list, each fetched in a worker
    thread (whose request is cut when the caller is cancelled); use with ``aclosing``."""
    try:
        while (page := await run_in_thread(_next_page, pages)) is not None:
            yield page
    finally:
        # ValueError: the worker thread is still inside the generator (cancelled).
        with contextlib.suppress(ValueError):
            pages.close()


def _next_page(pages: Iterator[list[HarvestedRecord]]) -> list[HarvestedRecord] | None:
    return next(pages, None)
