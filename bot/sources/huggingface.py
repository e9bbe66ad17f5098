"""Hugging Face's public papers API: upvotes, code links and Daily Papers, when reachable.

Hugging Face is an extra, never a dependency: a card or a search result shows its line
only when the answer is at hand. So :class:`HuggingFacePapers` never raises to its
callers (its own error, :class:`HuggingFaceError`, stays inside this module): when
Hugging Face is unreachable, slow, refuses, or answers with something that is not its
JSON (cut off, empty, malformed), a method returns None or what it got so far, the
failure is logged, and the client pauses (a circuit breaker): no request for
``pause`` seconds, or the ``Retry-After`` if longer, so a harvest with Hugging Face
down costs one failed request, not one per card.

Its requests have a gate of their own, separate from arXiv's (other terms, other host):
one at a time, started at least ``interval`` seconds apart, a descriptive User-Agent,
and every request, body included, cut at its time limit however slowly the server
trickles (the cut-off machinery of :mod:`bot.sources.cutoff`). A 429 or 503 is retried
once after its ``Retry-After`` when the wait is short and fits the caller's budget;
otherwise it pauses the client for that long.

Every public method takes a time ``budget`` (seconds): waiting for the gate, spacing,
requests and retries all fit in it, and a batch (:meth:`HuggingFacePapers.paper_infos`,
:meth:`HuggingFacePapers.daily_papers_of`) returns whatever it got when it runs out.
Blocking HTTP runs in a worker thread (:func:`~bot.sources.cutoff.run_in_thread`),
never on the event loop; cancelling the awaiting task cuts the request in flight.

Answers are cached in memory with a TTL and a bounded size, per paper (including "not
on Hugging Face", a 404) and per day, so one harvest asks about each paper once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar
from urllib.parse import quote

import requests

from bot import __version__
from bot.arxiv_ids import parse_arxiv_id
from bot.errors import ArxivBotError, PaperIdError
from bot.secrets import mask_url
from bot.sources.cutoff import Call, WatchedAdapter, current_call, run_in_thread, watching
from bot.sources.gate import build_user_agent
from bot.sources.hf_wire import HfFormatError, HfPaper, parse_daily_papers, parse_paper_info
from bot.sources.retry_after import retry_after

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_HF_API_URL",
    "HfPaper",
    "HfStats",
    "HuggingFaceError",
    "HuggingFacePapers",
]

log = logging.getLogger(__name__)

DEFAULT_HF_API_URL = "https://huggingface.co"

DEFAULT_BUDGET = 5.0
"""Seconds a call may take by default, waits and retries included."""

RETRY_STATUSES = frozenset({429, 503})
"""Statuses that mean "not now": retried once after ``Retry-After`` if it is short."""

MAX_PAUSE = 3600.0
"""The longest pause a ``Retry-After`` can impose (seconds)."""

MAX_BODY_BYTES = 8 * 1024 * 1024
"""A paper's answer lists its linked models and Spaces (hundreds for a famous paper:
some hundred kilobytes); anything past this is not an answer to believe."""

_GRACE = 1.0
"""Seconds past a budget before the awaiting task stops waiting for the worker thread
(which ends on its own at the budget; this only guards against a bug there)."""

_K = TypeVar("_K")
_V = TypeVar("_V")


class HuggingFaceError(ArxivBotError):
    """A request to Hugging Face failed; ``trips`` says whether that pauses the client
    (an outage) or not (the caller's budget ran out, the request was called off).

    Raised and caught inside this module only: :class:`HuggingFacePapers`' methods
    return None or partial results instead.
    """

    def __init__(self, reason: str, *, trips: bool = True, pause: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.trips = trips
        self.pause = pause
        """At least this long (seconds) before the next request: a ``Retry-After``."""


@dataclass(frozen=True, slots=True)
class HfStats:
    """A snapshot of the client's counters, for ``/arxiv status`` and the logs."""

    enabled: bool
    requests: int
    failures: int
    last_error: str | None
    paused_for: float
    """Seconds until requests resume; 0 when they are not paused."""


class _TtlCache(Generic[_K, _V]):
    """A thread-safe map whose entries expire ``ttl`` seconds (on ``clock``) after they
    were put, holding at most ``maxsize`` entries (the least recently used go first)."""

    def __init__(self, *, ttl: float, maxsize: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[_K, tuple[float, _V]] = OrderedDict()

    def get(self, key: _K) -> tuple[_V] | None:
        """``(value,)`` when ``key`` is held and fresh, else None (values may be None)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= self._clock():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return (item[1],)

    def put(self, key: _K, value: _V) -> None:
        if self._ttl <= 0 or self._maxsize <= 0:
            return
        with self._lock:
            self._items[key] = (self._clock() + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class HuggingFacePapers:
    """A polite, cached, never-failing client for Hugging Face's papers API. Thread-safe.

    ``interval`` spaces request starts; ``timeout`` bounds one request, body included
    (``connect_timeout`` the connection); a request is not started with less than
    ``min_request_time`` of the budget left (and one that cannot finish in that long
    counts as a failure: Hugging Face answers in well under a second). After a failure
    no request is made for ``pause`` seconds. ``clock`` (monotonic seconds) and ``sleep``
    are injectable for tests; by default waits are real and end early when the caller
    is cancelled. With ``enabled`` False every method returns at once, empty-handed.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_HF_API_URL,
        enabled: bool = True,
        user_agent: str | None = None,
        interval: float = 1.0,
        connect_timeout: float = 3.0,
        timeout: float = 10.0,
        min_request_time: float = 1.0,
        pause: float = 300.0,
        max_retry_wait: float = 5.0,
        backoff: float = 2.0,
        paper_ttl: float = 3600.0,
        day_ttl: float = 1800.0,
        cache_size: int = 4096,
        page_size: int = 50,
        max_pages: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if interval < 0 or pause < 0 or max_retry_wait < 0 or backoff < 0:
            raise ValueError("interval, pause, max_retry_wait and backoff must be >= 0")
        if timeout <= 0 or connect_timeout <= 0 or min_request_time <= 0:
            raise ValueError("timeout, connect_timeout and min_request_time must be > 0")
        if page_size < 1 or max_pages < 1:
            raise ValueError("page_size and max_pages must be >= 1")
        self._base_url = base_url.rstrip("/")
        self._enabled = enabled
        self._user_agent = user_agent or build_user_agent(__version__, "")
        self._interval = interval
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._min_request_time = min_request_time
        self._pause_seconds = pause
        self._max_retry_wait = max_retry_wait
        self._backoff = backoff
        self._page_size = page_size
        self._max_pages = max_pages
        self._clock = clock
        self._sleep = sleep
        self._papers: _TtlCache[str, HfPaper | None] = _TtlCache(
            ttl=paper_ttl, maxsize=cache_size, clock=clock
        )
        self._days: _TtlCache[date, tuple[HfPaper, ...]] = _TtlCache(
            ttl=day_ttl, maxsize=max(1, cache_size // 64), clock=clock
        )
        # Held for a whole request, retry included: one request at a time.
        self._gate = threading.Lock()
        self._last_started: float | None = None  # under _gate
        self._session = requests.Session()
        for prefix in ("https://", "http://"):
            self._session.mount(prefix, WatchedAdapter())
        # Guards the fields below.
        self._state = threading.Lock()
        self._paused_until = float("-inf")
        self._requests = 0
        self._failures = 0
        self._last_error: str | None = None

    # -- properties and state -----------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def user_agent(self) -> str:
        return self._user_agent

    def stats(self) -> HfStats:
        with self._state:
            return HfStats(
                enabled=self._enabled,
                requests=self._requests,
                failures=self._failures,
                last_error=self._last_error,
                paused_for=max(0.0, self._paused_until - self._clock()),
            )

    def cached_paper(self, arxiv_id: str) -> HfPaper | None:
        """What the cache holds for the paper, without any request."""
        key = _paper_key(arxiv_id)
        hit = self._papers.get(key) if key is not None else None
        return hit[0] if hit is not None else None

    def clear_cache(self) -> None:
        self._papers.clear()
        self._days.clear()

    def close(self) -> None:
        self._session.close()

    # -- the public calls ---------------------------------------------------------------

    async def paper_info(self, arxiv_id: str, *, budget: float = DEFAULT_BUDGET) -> HfPaper | None:
        """Hugging Face's page for one paper (an id with or without version, or a link):
        None when it has none, is unreachable, or cannot answer within ``budget``."""
        found = await self.paper_infos([arxiv_id], budget=budget)
        return next(iter(found.values()), None)

    async def paper_infos(
        self, arxiv_ids: Iterable[str], *, budget: float = DEFAULT_BUDGET
    ) -> dict[str, HfPaper]:
        """The papers among ``arxiv_ids`` that Hugging Face has a page for, by version-less
        id, as far as the cache and ``budget`` seconds of requests can tell. Ids it has
        no page for, could not be asked about in time, or that are not arXiv ids, are
        absent."""
        keys = list(dict.fromkeys(k for k in map(_paper_key, arxiv_ids) if k is not None))
        found: dict[str, HfPaper] = {}
        missing: list[str] = []
        for key in keys:
            hit = self._papers.get(key)
            if hit is None:
                missing.append(key)
            elif hit[0] is not None:
                found[key] = hit[0]
        if missing and self._enabled and not self._paused():

            def work(expires_at: float) -> None:
                for key in missing:
                    if not self._usable(expires_at):
                        return
                    paper = self._fetch_paper(key, expires_at)
                    if paper is not None:
                        found[key] = paper

            await self._run(work, budget, f"{len(missing)} paper(s)")
        return dict(found)

    async def daily_papers(
        self, day: date, *, budget: float = DEFAULT_BUDGET
    ) -> list[HfPaper] | None:
        """The daily papers of ``day`` (every page), in Hugging Face's order; an empty list
        when it lists none, None when it could not be asked in time or failed."""
        days = await self.daily_papers_of([day], budget=budget)
        return days.get(day)

    async def daily_papers_of(
        self, days: Sequence[date], *, budget: float = DEFAULT_BUDGET
    ) -> dict[date, list[HfPaper]]:
        """The daily papers of each of ``days`` that the cache and ``budget`` seconds of
        requests can give, by day, asked in the order given; days missing from the
        answer are unknown (not empty)."""
        got: dict[date, list[HfPaper]] = {}
        missing: list[date] = []
        for day in dict.fromkeys(days):
            hit = self._days.get(day)
            if hit is None:
                missing.append(day)
            else:
                got[day] = list(hit[0])
        if missing and self._enabled and not self._paused():

            def work(expires_at: float) -> None:
                for day in missing:
                    if not self._usable(expires_at):
                        return
                    papers = self._fetch_day(day, expires_at)
                    if papers is not None:
                        got[day] = papers

            await self._run(work, budget, f"daily papers of {len(missing)} day(s)")
        return {day: got[day] for day in days if day in got}

    # -- running work off the loop ------------------------------------------------------

    async def _run(self, work: Callable[[float], None], budget: float, what: str) -> None:
        """``work(expires_at)`` in a worker thread, for at most ``budget`` seconds; what
        it stored before it ran out (or failed) stays stored."""
        expires_at = self._clock() + budget
        try:
            async with asyncio.timeout(budget + _GRACE):
                await run_in_thread(work, expires_at)
        except TimeoutError:
            log.info("Hugging Face: gave up waiting for %s after %.1f s", what, budget)
        except Exception:  # a bug: cards must still go out, so log it and carry on
            log.exception("Hugging Face: unexpected error fetching %s", what)

    def _usable(self, expires_at: float) -> bool:
        """True while there is time left and requests are not paused."""
        return not self._paused() and expires_at - self._clock() >= self._min_request_time

    def _paused(self) -> bool:
        with self._state:
            return self._paused_until > self._clock()

    # -- fetching (worker threads) ------------------------------------------------------

    def _fetch_paper(self, arxiv_id: str, expires_at: float) -> HfPaper | None:
        path = f"/api/papers/{quote(arxiv_id, safe='')}"
        with self._failures_caught(f"paper {arxiv_id}"), self._turn(expires_at):
            hit = self._papers.get(arxiv_id)  # asked meanwhile by another caller
            if hit is not None:
                return hit[0]
            status, data = self._request(path, {}, expires_at)
            if status not in (200, 404):
                return None  # refused (logged): not worth remembering
            paper = parse_paper_info(data, arxiv_id) if status == 200 else None
            self._papers.put(arxiv_id, paper)  # None: no page on Hugging Face
            return paper
        return None

    def _fetch_day(self, day: date, expires_at: float) -> list[HfPaper] | None:
        """Every page of a day, or None: a day known only in part is not believed."""
        papers: list[HfPaper] = []
        with self._failures_caught(f"daily papers of {day}"):
            for page in range(self._max_pages):
                params = {"date": day.isoformat(), "limit": str(self._page_size), "p": str(page)}
                with self._turn(expires_at):
                    status, data = self._request("/api/daily_papers", params, expires_at)
                if status != 200:  # not an outage: a date Hugging Face does not take
                    raise HuggingFaceError(f"HTTP {status} for {day}", trips=False)
                papers.extend(parse_daily_papers(data))
                if not (isinstance(data, list) and len(data) >= self._page_size):
                    break  # the last page
            unique = list({paper.arxiv_id: paper for paper in reversed(papers)}.values())
            unique.reverse()
            self._days.put(day, tuple(unique))
            return unique
        return None

    @contextlib.contextmanager
    def _failures_caught(self, what: str) -> Iterator[None]:
        """Turn a failure into a log line (and a pause when it is an outage)."""
        try:
            yield
        except HfFormatError as error:
            self._trip(HuggingFaceError(f"unexpected answer: {error}"), what)
        except HuggingFaceError as error:
            if error.trips:
                self._trip(error, what)
            else:
                log.debug("Hugging Face: no answer for %s: %s", what, error.reason)

    def _trip(self, error: HuggingFaceError, what: str) -> None:
        pause = min(MAX_PAUSE, max(self._pause_seconds, error.pause))
        with self._state:
            self._failures += 1
            self._last_error = error.reason
            self._paused_until = max(self._paused_until, self._clock() + pause)
        log.info(
            "Hugging Face failed (%s, asking for %s); no requests for %.0f s",
            error.reason,
            what,
            pause,
        )

    @contextlib.contextmanager
    def _turn(self, expires_at: float) -> Iterator[None]:
        """Hold the gate, waiting no longer than the budget allows."""
        remaining = expires_at - self._clock()
        if remaining <= 0 or not self._gate.acquire(timeout=remaining):
            raise HuggingFaceError("out of time waiting for another request", trips=False)
        try:
            yield
        finally:
            self._gate.release()

    def _request(self, path: str, params: dict[str, str], expires_at: float) -> tuple[int, object]:
        """``GET`` under the gate (held): the status and, for 200, the parsed JSON.

        Raises :class:`HuggingFaceError` for anything but 200, 404 and other 4xx."""
        call = current_call.get() or Call()
        url = self._base_url + path
        attempt = 0
        while True:
            attempt += 1
            self._wait_turn(expires_at, call)
            status, headers, body = self._attempt(url, params, expires_at, call)
            if status in RETRY_STATUSES:
                wait = self._retry_wait(headers.get("Retry-After"))
                fits = self._clock() + wait + self._min_request_time <= expires_at
                if attempt == 1 and wait <= self._max_retry_wait and fits:
                    log.info("Hugging Face answered HTTP %s; retrying in %.1f s", status, wait)
                    self._pause(wait, call)
                    continue
                raise HuggingFaceError(f"HTTP {status}", pause=wait)
            if status == 200:
                return status, _json(body)
            if status >= 500:
                raise HuggingFaceError(f"HTTP {status}")
            if status != 404:
                log.info("Hugging Face refused %s: HTTP %s", mask_url(url), status)
            return status, None

    def _wait_turn(self, expires_at: float, call: Call) -> None:
        """Sleep until ``interval`` has passed since the last request started."""
        with self._state:
            paused = self._paused_until - self._clock()
        if paused > 0:
            raise HuggingFaceError("paused after a failure", trips=False)
        wait = 0.0
        if self._last_started is not None:
            wait = max(0.0, self._last_started + self._interval - self._clock())
        if self._clock() + wait + self._min_request_time > expires_at:
            raise HuggingFaceError("out of time for another request", trips=False)
        if wait > 0:
            self._pause(wait, call)

    def _attempt(
        self, url: str, params: dict[str, str], expires_at: float, call: Call
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request, its body read, cut off at its time limit."""
        limit = min(self._timeout, expires_at - self._clock())
        self._last_started = self._clock()
        with self._state:
            self._requests += 1
        log.debug("Hugging Face request %s %s", mask_url(url), params)
        with watching(call, limit) as watch:
            try:
                response = self._session.get(
                    url,
                    params=params,
                    headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                    timeout=(min(self._connect_timeout, limit), limit),
                    stream=True,
                )
                with response:
                    body = _read_body(response)
            except requests.RequestException as exc:
                self._raise_cut(watch.reason, call, limit)
                raise HuggingFaceError(_describe(exc)) from exc
        if watch.reason is not None:  # a body without Content-Length ends quietly when cut
            self._raise_cut(watch.reason, call, limit)
        return response.status_code, response.headers, body

    def _raise_cut(self, reason: str | None, call: Call, limit: float) -> None:
        if call.cancelled.is_set():
            raise HuggingFaceError("the caller stopped waiting", trips=False)
        if reason is not None:
            raise HuggingFaceError(f"no complete answer within {limit:.1f} s")

    def _retry_wait(self, header: str | None) -> float:
        wait = retry_after(header)
        return wait if wait is not None else self._backoff

    def _pause(self, seconds: float, call: Call) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            call.cancelled.wait(seconds)
        if call.cancelled.is_set():
            raise HuggingFaceError("the caller stopped waiting", trips=False)


def _paper_key(text: str) -> str | None:
    """The version-less id Hugging Face files a paper under; None for text that names no
    paper or an old-style id (``hep-th/9901001``), which it has no pages for."""
    try:
        arxiv_id, _ = parse_arxiv_id(text)
    except PaperIdError:
        return None
    return None if "/" in arxiv_id else arxiv_id


def _read_body(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HuggingFaceError(f"answer larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: bytes) -> object:
    if not body.strip():
        raise HuggingFaceError("empty answer")
    try:
        return json.loads(body)
    except ValueError as error:  # UnicodeDecodeError included
        raise HuggingFaceError(f"answer is not JSON ({error})") from None


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(
        exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        return "answer cut off"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    return type(exc).__name__
