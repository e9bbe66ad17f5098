"""Search and look up papers through the arXiv API, with the ``arxiv`` package.

The ``arxiv`` client is synchronous, so every call runs in a worker thread
(:func:`~bot.sources.gate.run_in_thread`) under the gate's deadline; its session is the
gate's, and its own retries and delays are switched off because the gate does both
properly.

The ``arxiv`` client parses with lxml's ``recover=True`` and skips entries it cannot
read, so an HTML error page or an empty or cut-off body would become "no results", and a
damaged entry a paper without authors or categories. So every 200 answer is checked
first (:func:`feed_problem`, run by the gate's session): it must be a well-formed Atom
feed whose ``opensearch:totalResults`` its entries add up to, each entry with an id,
title, dates, authors and categories. Anything else is
:class:`~bot.errors.ArxivIncompleteError`: never shown as results, never cached.

Identical searches and lookups within ``cache_seconds`` cost one request, and concurrent
identical calls share one in-flight request (:class:`_SharedCalls`); failures are not
cached, and a shared request whose askers have all given up is dropped.

Calls queue for the gate on the event loop (:meth:`ArxivGate.turn`), and each asker
hears where it stands through its ``on_queue`` callback. The user deadline covers the
request itself, from its turn on; the time queued has its own, larger bound
(``queue_limit``), so healthy traffic ahead is never reported as arXiv being down.
"""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import arxiv
import requests

from bot.arxiv_ids import parse_arxiv_id
from bot.errors import (
    ArxivIncompleteError,
    ArxivRejectedError,
    ArxivUnavailableError,
    NotFoundError,
    PaperIdError,
)
from bot.models import Paper, SearchResults, SortOrder
from bot.sources.cutoff import run_in_thread
from bot.sources.gate import ArxivGate, QueuePlace, format_duration
from bot.sources.xmlsafe import parse_xml

__all__ = [
    "MAX_PAGE_SIZE",
    "ArxivApi",
    "QueueListener",
    "check_feed",
    "feed_problem",
    "paper_from_result",
]

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 2000
"""arXiv serves at most this many results a request."""

DEADLINE_GRACE = 0.2
"""Seconds the event loop waits beyond the gate's deadline before giving up on the worker
thread (which may be slow to start)."""

DEFAULT_MAX_RESULTS = 10
"""What arXiv serves when a request names no ``max_results``."""

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

_T = TypeVar("_T")
_K = TypeVar("_K", bound=Hashable)

QueueListener = Callable[[QueuePlace], None]
"""Hears where a queued search or lookup stands (called on the event loop)."""

DEFAULT_QUEUE_LIMIT = 300.0
"""Seconds a search may wait for its turn at the gate behind other requests: about 100
requests at arXiv's 3 s, well within the 15 minutes Discord and the 30 Slack allow for an
answer. A search that could not have its turn in time is told at once that the bot is busy.
"""

_SORTS: dict[SortOrder, Any] = {
    SortOrder.DATE: arxiv.SortCriterion.SubmittedDate,
    SortOrder.RELEVANCE: arxiv.SortCriterion.Relevance,
}


@dataclass(slots=True)
class _FeedTotal:
    total: int | None = None


# Set in the worker thread's own context copy, so concurrent searches do not mix totals.
_feed_total: ContextVar[_FeedTotal | None] = ContextVar("arxiv_feed_total", default=None)


class _GatedClient(arxiv.Client):  # type: ignore[misc]
    """The one place that relies on ``arxiv`` internals (``_format_url``, ``_parse_feed``).

    ``arxiv`` 4 keeps the feed header (``opensearch:totalResults``) to itself, and asks
    for a full page even when fewer results are wanted. If these internals change, the
    overrides degrade to ``arxiv``'s own behaviour (total = number of results).
    """

    def _format_url(self, search: Any, start: int, page_size: int) -> str:
        if search.max_results is not None:
            page_size = max(1, min(page_size, search.max_results - start))
        url: str = super()._format_url(search, start, page_size)
        return url

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> Any:
        feed = super()._parse_feed(url, first_page=first_page, _try_index=_try_index)
        if getattr(feed, "malformed", False):  # feed_problem lets no such feed through
            raise ArxivIncompleteError(f"malformed feed: {getattr(feed, 'error', '')}")
        holder = _feed_total.get()
        total = getattr(getattr(feed, "header", None), "total_results", None)
        if first_page and holder is not None and isinstance(total, int):
            holder.total = total
        return feed


def check_feed(response: requests.Response) -> None:
    """The gate's check of a 200 answer: :class:`~bot.errors.ArxivIncompleteError` unless
    it is a complete result feed."""
    problem = feed_problem(response.content, response.url)
    if problem is not None:
        raise ArxivIncompleteError(problem)


def feed_problem(body: bytes, url: str) -> str | None:
    """What keeps ``body``, arXiv's answer to ``url``, from being a complete result feed;
    None when nothing does."""
    try:
        root = parse_xml(body)
    except ValueError as exc:
        return f"the answer {exc}"
    if root.tag != f"{_ATOM}feed":
        return f"the answer is not an Atom feed (root element {root.tag!r})"
    total = _count(root.findtext(f"{_OPENSEARCH}totalResults"))
    if total is None:
        return "the feed has no opensearch:totalResults"
    entries = root.findall(f"{_ATOM}entry")
    if any("api/errors" in (entry.findtext(f"{_ATOM}id") or "") for entry in entries):
        return None  # arXiv's error entry: rejected afterwards, in arXiv's words
    for entry in entries:
        problem = _entry_problem(entry)
        if problem is not None:
            return problem
    return _count_problem(parse_qs(urlsplit(url).query), total, len(entries))


def _count_problem(params: dict[str, list[str]], total: int, entries: int) -> str | None:
    """Whether ``entries`` entries is what a feed announcing ``total`` results owes.

    For ``id_list`` arXiv counts the ids asked for, found or not (a missing paper is a
    feed with totalResults 1 and no entry), so only a total above that count is wrong.
    """
    ids = [part for part in ",".join(params.get("id_list", [])).split(",") if part.strip()]
    if ids:
        if total > len(ids):
            return f"totalResults is {total} for {len(ids)} requested ids"
        return None
    start = _count(params.get("start", ["0"])[-1]) or 0
    wanted = _count(params.get("max_results", [str(DEFAULT_MAX_RESULTS)])[-1])
    owed = max(0, total - start)
    if wanted is not None:
        owed = min(owed, wanted)
    if entries < owed:
        return f"{entries} entries where totalResults {total} from {start} promises {owed}"
    return None


def _entry_problem(entry: ET.Element) -> str | None:
    entry_id = _collapse(entry.findtext(f"{_ATOM}id"))
    if not entry_id:
        return "an entry has no id"
    required = {
        "title": _collapse(entry.findtext(f"{_ATOM}title")),
        "published date": _collapse(entry.findtext(f"{_ATOM}published")),
        "updated date": _collapse(entry.findtext(f"{_ATOM}updated")),
        "authors": "".join(
            _collapse(author.findtext(f"{_ATOM}name"))
            for author in entry.iterfind(f"{_ATOM}author")
        ),
        "categories": "".join(
            category.get("term") or "" for category in entry.iterfind(f"{_ATOM}category")
        ),
    }
    missing = [name for name, value in required.items() if not value]
    return f"entry {entry_id} has no {' or '.join(missing)}" if missing else None


def _count(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def paper_from_result(result: arxiv.Result) -> Paper:
    """Convert an ``arxiv.Result`` into a :class:`~bot.models.Paper`.

    Raises ``ValueError`` when the entry's id is not a paper's (such as an error entry).
    """
    try:
        arxiv_id, version = parse_arxiv_id(result.entry_id)
    except PaperIdError:
        raise ValueError(f"not a paper entry: {result.entry_id!r}") from None
    categories = [c for c in (result.primary_category, *result.categories) if c]
    return Paper(
        arxiv_id=arxiv_id,
        version=version or 1,
        title=_collapse(result.title),
        authors=tuple(name for a in result.authors if (name := _collapse(a.name))),
        abstract=_collapse(result.summary),
        categories=tuple(dict.fromkeys(categories)),
        submitted=_utc(result.published),
        updated=_utc(result.updated),
        comment=_collapse(result.comment) or None,
        journal_ref=_collapse(result.journal_ref) or None,
        doi=_collapse(result.doi) or None,
    )


def _papers(results: list[Any]) -> tuple[Paper, ...]:
    """Papers from results, turning arXiv's in-feed error entries into errors; an entry
    that is not a paper's makes the answer incomplete rather than a result short."""
    papers = []
    for result in results:
        if "api/errors" in result.entry_id:
            message = _collapse(result.summary) or result.entry_id.rpartition("#")[2]
            raise ArxivRejectedError(f"arXiv rejected the query: {message}")
        try:
            papers.append(paper_from_result(result))
        except ValueError as exc:
            log.warning("arXiv sent an entry that is not a paper's: %s", exc)
            raise ArxivIncompleteError(str(exc)) from None
    return tuple(papers)


def _http_error(exc: Any) -> Exception:
    status = getattr(exc, "status", 0)
    if status == 400:
        return ArxivRejectedError("arXiv rejected the query (HTTP 400); check its syntax")
    if status == 404:
        return ArxivUnavailableError(
            "the arXiv API was not found (HTTP 404); check the ARXIV_API_URL setting"
        )
    return ArxivUnavailableError(f"arXiv answered with HTTP {status}; try again later")


@dataclass(eq=False, slots=True)
class _Flight(Generic[_T]):
    task: asyncio.Future[_T] | None = None
    askers: int = 0
    listeners: list[QueueListener] = field(default_factory=list)

    def report(self, place: QueuePlace) -> None:
        for listener in list(self.listeners):
            try:
                listener(place)
            except Exception:  # one asker's failing note must not fail the others
                log.exception("a queue listener failed")


class _SharedCalls(Generic[_K, _T]):
    """A TTL cache in front of ``run(key, report)``: identical calls in flight share one
    run, and every asker hears its queue reports; a run nobody awaits any more is
    cancelled (before it costs a request, if it was still queued). Failures are not
    cached; ``ttl`` <= 0 caches nothing."""

    def __init__(
        self,
        run: Callable[[_K, QueueListener], Awaitable[_T]],
        *,
        ttl: float,
        maxsize: int,
    ) -> None:
        self._run = run
        self._ttl = ttl
        self._maxsize = maxsize
        self._cache: OrderedDict[_K, tuple[float, _T]] = OrderedDict()
        self._flights: dict[_K, _Flight[_T]] = {}

    async def get(self, key: _K, listener: QueueListener | None = None) -> _T:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            self._cache.move_to_end(key)
            return hit[1]
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = _Flight()
            flight.task = asyncio.ensure_future(self._fly(key, flight))
        assert flight.task is not None
        if listener is not None:
            flight.listeners.append(listener)
        flight.askers += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.askers -= 1
            if listener is not None:
                flight.listeners.remove(listener)
            if flight.askers == 0 and not flight.task.done():
                flight.task.cancel()  # nobody is waiting for it any more
                self._forget(key, flight)

    def clear(self) -> None:
        self._cache.clear()

    async def _fly(self, key: _K, flight: _Flight[_T]) -> _T:
        try:
            value = await self._run(key, flight.report)
        finally:
            self._forget(key, flight)
        if self._ttl > 0:
            self._cache[key] = (time.monotonic() + self._ttl, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self._maxsize:
                self._cache.popitem(last=False)
        return value

    def _forget(self, key: _K, flight: _Flight[_T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]


class ArxivApi:
    """Search and lookup, cached, bounded by a deadline, through an :class:`ArxivGate`."""

    def __init__(
        self,
        gate: ArxivGate,
        *,
        base_url: str,
        cache_seconds: float = 300,
        deadline: float = 15.0,
        page_size: int = 100,
        cache_size: int = 256,
        queue_limit: float = DEFAULT_QUEUE_LIMIT,
    ) -> None:
        """``deadline`` bounds each call's request from its turn at the gate on;
        ``queue_limit`` bounds the wait for that turn behind other requests."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._gate = gate
        self._deadline = deadline
        self._queue_limit = queue_limit
        self._client = _GatedClient(page_size=page_size, delay_seconds=0, num_retries=0)
        self._client.query_url_format = base_url.rstrip("?") + "?{}"
        self._client._session = gate.session(check=check_feed)
        self._searches: _SharedCalls[tuple[str, SortOrder, int], SearchResults] = _SharedCalls(
            self._search_uncached, ttl=cache_seconds, maxsize=cache_size
        )
        self._lookups: _SharedCalls[tuple[str, int | None], Paper] = _SharedCalls(
            self._lookup_uncached, ttl=cache_seconds, maxsize=cache_size
        )

    @property
    def gate(self) -> ArxivGate:
        return self._gate

    async def search(
        self,
        api_query: str,
        *,
        sort: SortOrder,
        limit: int,
        on_queue: QueueListener | None = None,
    ) -> SearchResults:
        """Run an already-compiled arXiv ``search_query``; newest first for ``DATE``.
        ``on_queue`` hears where the search stands while it waits for its turn."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        return await self._searches.get((api_query, SortOrder(sort), limit), on_queue)

    async def lookup(
        self, arxiv_id: str, version: int | None = None, *, on_queue: QueueListener | None = None
    ) -> Paper:
        """The paper ``arxiv_id`` (any form :func:`parse_arxiv_id` accepts), latest or
        ``version``. Raises :class:`~bot.errors.NotFoundError` when arXiv has no such paper.
        ``on_queue`` as for :meth:`search`.
        """
        paper_id, id_version = parse_arxiv_id(arxiv_id)
        wanted = version if version is not None else id_version
        if wanted is not None and wanted < 1:
            raise PaperIdError(f"paper versions start at 1, got {wanted}")
        return await self._lookups.get((paper_id, wanted), on_queue)

    async def _search_uncached(
        self, key: tuple[str, SortOrder, int], report: QueueListener
    ) -> SearchResults:
        api_query, sort, limit = key
        search = arxiv.Search(
            query=api_query,
            max_results=limit,
            sort_by=_SORTS[sort],
            sort_order=arxiv.SortOrder.Descending,
        )

        def fetch() -> tuple[int | None, list[Any]]:
            holder = _FeedTotal()
            _feed_total.set(holder)
            results = list(self._client.results(search))
            return holder.total, results

        total, results = await self._run(fetch, report)
        papers = _papers(results)
        total = max(total or 0, len(papers))
        log.info("arXiv search %r (%s): %s of %s results", api_query, sort, len(papers), total)
        return SearchResults(query=api_query, total=total, papers=papers)

    async def _lookup_uncached(self, key: tuple[str, int | None], report: QueueListener) -> Paper:
        paper_id, version = key
        wanted = paper_id if version is None else f"{paper_id}v{version}"
        search = arxiv.Search(id_list=[wanted], max_results=1)
        results = await self._run(lambda: list(self._client.results(search)), report)
        for paper in _papers(results):
            if paper.arxiv_id == paper_id and version in (None, paper.version):
                return paper
        if version is not None:
            raise NotFoundError(f"arXiv has no version {version} of paper {paper_id}")
        raise NotFoundError(
            f"arXiv has no paper {paper_id}; check the id for typos "
            "(ids look like 2506.11674 or hep-th/9901001)"
        )

    async def _run(self, fetch: Callable[[], _T], report: QueueListener) -> _T:
        """Once it is this call's turn at the gate, run ``fetch`` in a worker thread under
        the deadline, translating arxiv's errors."""

        def guarded() -> _T:
            with self._gate.deadline(self._deadline):
                try:
                    return fetch()
                except arxiv.HTTPError as exc:
                    raise _http_error(exc) from exc
                except arxiv.UnexpectedEmptyPageError as exc:
                    raise ArxivIncompleteError(
                        "an empty page in the middle of the results"
                    ) from exc

        async with self._gate.turn(report, limit=self._queue_limit):
            return await self._in_thread(guarded)

    async def _in_thread(self, guarded: Callable[[], _T]) -> _T:
        try:
            return await asyncio.wait_for(
                run_in_thread(guarded), timeout=self._deadline + DEADLINE_GRACE
            )
        except TimeoutError:
            # Cancelled, the worker's request is cut and the gate is free; the user hears now.
            raise ArxivUnavailableError(
                f"arXiv did not answer within {format_duration(self._deadline)}; "
                "it may be down — try again later"
            ) from None
