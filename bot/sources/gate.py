"""The one gate every request to arXiv (API, OAI-PMH) passes through.

arXiv's terms of use allow one connection at a time and at most one request every three
seconds, counted over all of its interfaces, and ask for a descriptive User-Agent. arXiv
answers 429 or 503 (often with ``Retry-After``) when it wants clients to slow down.

:class:`ArxivGate` enforces all of that for synchronous ``requests`` code, which runs in
worker threads (:func:`~bot.sources.cutoff.run_in_thread`) so the event loop never
blocks. Its sessions (:meth:`ArxivGate.session`) hold the gate's lock for a whole
request, retries included, and start requests at least ``interval`` seconds apart.
Given ``shared_rhythm_path`` (a lock file beside the database, see
:mod:`bot.sources.rhythm`), the lock and the spacing hold across every process using
that database.

Every request, body included, ends within the gate's ``timeout``: ``requests``' own
timeout bounds each socket read, not the answer, so a server trickling a byte every few
seconds would hold the gate for ever. A timer cuts the connection when the time is up,
whatever the server is doing; the gate is free again at once (:mod:`bot.sources.cutoff`).

User-facing calls run under :meth:`ArxivGate.deadline`: a context-variable budget (it
propagates into worker threads) covering the wait for the lock, the spacing, the
request itself and any backoff. When the budget cannot cover a wait, the gate raises
:class:`~bot.errors.ArxivUnavailableError` at once rather than making the user wait for
an answer that will come too late. Background work (the harvester) runs without a
deadline and simply waits.

Callers on the event loop (searches and lookups) queue for the gate first, without a
thread (:meth:`ArxivGate.turn`): one at a time, in order, each told where it stands
(:class:`QueuePlace`: requests ahead, and about how long). Only the caller whose turn it
is gets a worker thread, so waiting costs no thread, and a caller that gives up while
queued leaves the queue before it costs a request. Such a caller enters its deadline once
its turn has come, so the deadline measures arXiv, not the queue.

A session may be given a ``check`` for 200 answers: :class:`~bot.errors.ArxivIncompleteError`
from it fails the request, so an answer that cannot be believed never reaches its caller.

The gate's exceptions derive from :class:`~bot.errors.ArxivBotError`, never from
``requests``' exceptions, so the ``arxiv`` package does not retry them on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from bot.clock import Clock, utc_now
from bot.errors import ArxivIncompleteError, ArxivRejectedError, ArxivUnavailableError
from bot.secrets import mask_secrets, mask_url
from bot.sources.cutoff import (
    CANCELLED_TEXT,
    DEADLINE,
    Call,
    WatchedAdapter,
    current_call,
    watching,
)
from bot.sources.retry_after import retry_after
from bot.sources.rhythm import Rhythm, SharedRhythm
from bot.sources.xmlsafe import parse_xml

__all__ = [
    "CANCELLED_TEXT",
    "LOCK_POLL_SECONDS",
    "MAX_RETRY_AFTER",
    "PROJECT_URL",
    "RETRY_STATUSES",
    "ArxivGate",
    "GateStats",
    "GatedSession",
    "QueuePlace",
    "atom_error_message",
    "build_user_agent",
    "format_duration",
]

log = logging.getLogger(__name__)

PROJECT_URL = "https://pypi.org/project/arxiv-bot/"

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses that mean "not now": retried with backoff, honouring ``Retry-After``."""

MAX_RETRY_AFTER = 600.0
"""A ``Retry-After`` longer than this (seconds) is not waited out: the request fails."""

LOCK_POLL_SECONDS = 0.05
"""How often a request waiting for another process's turn at the gate looks again."""

QUEUE_POLL_SECONDS = 0.5
"""How often a caller queued for the gate checks whether its place moved."""

FIRST_LATENCY_GUESS = 1.0
"""Seconds an arXiv request is assumed to take before one has been timed."""


_ATOM = "{http://www.w3.org/2005/Atom}"
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")

_T = TypeVar("_T")


def build_user_agent(version: str, contact: str) -> str:
    """A descriptive User-Agent, as arXiv asks: ``arxiv-bot/0.1.0 (+URL; mailto:...)``.

    ``contact`` is an e-mail address (with or without ``mailto:``) or a URL; it may be
    empty, in which case only the project URL is given.
    """
    contact = contact.strip()
    parts = [f"+{PROJECT_URL}"]
    if contact:
        is_link = contact.startswith(("mailto:", "http://", "https://"))
        parts.append(contact if is_link or "@" not in contact else f"mailto:{contact}")
    return f"arxiv-bot/{version} ({'; '.join(parts)})"


def atom_error_message(body: bytes) -> str | None:
    """The message of arXiv's Atom error entry in ``body``, or None if there is none.

    arXiv reports bad requests as a feed with one ``<entry>`` whose ``<id>`` contains
    ``api/errors`` and whose ``<summary>`` holds the message.
    """
    try:
        root = parse_xml(body)
    except ValueError:
        return None
    for entry in root.iter(f"{_ATOM}entry"):
        entry_id = entry.findtext(f"{_ATOM}id") or ""
        if "api/errors" not in entry_id:
            continue
        summary = " ".join((entry.findtext(f"{_ATOM}summary") or "").split())
        return summary or entry_id.rpartition("#")[2].replace("_", " ") or "unknown error"
    return None


@dataclass(frozen=True, slots=True)
class GateStats:
    """A snapshot of the gate's counters, for ``/arxiv status``."""

    requests: int
    """HTTP requests sent, retries included."""
    retries: int
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    errors: int = 0
    """Requests that failed or got an error status (each retried one counts)."""
    waited_seconds: float = 0.0
    """Time requests spent waiting for their turn: spacing, backoff, another request."""


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """Where a queued caller stands: requests ahead of it, and about how long to wait."""

    ahead: int
    wait: float


@dataclass(frozen=True, slots=True)
class _Deadline:
    expires_at: float  # on the gate's clock
    seconds: float  # the budget as given, for messages


_deadline: ContextVar[_Deadline | None] = ContextVar("arxiv_gate_deadline", default=None)


def format_duration(seconds: float) -> str:
    """``15 seconds``, ``0.5 seconds``, ``1 second``: durations as people write them."""
    if seconds == 1:
        return "1 second"
    number = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.1f}"
    return f"{number} seconds"


def _about(wait: float) -> str:
    return format_duration(max(1, math.ceil(wait)))


def _innermost(exc: BaseException) -> str:
    """The text of the innermost error that ``requests`` and urllib3 wrapped in ``exc``:
    ``Connection broken: IncompleteRead(5 bytes read, 4376 more expected)``."""
    while exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    return mask_secrets(str(exc.args[0]) if exc.args else str(exc))


def _connection_reason(exc: BaseException) -> str:
    """The short reason inside requests' long ConnectionError text."""
    match = _ERRNO_RE.search(str(exc))
    if match:
        return match.group(1).strip()
    return "connection failed"


class ArxivGate:
    """Serialises, spaces, times out and retries every request to arXiv. Thread-safe."""

    def __init__(
        self,
        *,
        interval: float,
        timeout: float,
        user_agent: str,
        max_attempts: int = 4,
        backoff: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        wall_clock: Clock = utc_now,
        shared_rhythm_path: Path | None = None,
        shared_rhythm: Rhythm | None = None,
    ) -> None:
        """``timeout`` bounds each request, body included. ``backoff`` is the first wait
        after a 429/503 without ``Retry-After``; it doubles on each further attempt.
        ``clock`` (monotonic seconds, for spacing) and ``sleep`` are injectable for tests
        (by default waits are real and end early when the caller is cancelled);
        ``wall_clock`` stamps the last success and error that ``/arxiv status`` shows.
        ``shared_rhythm_path`` is the lock file that shares the gate with other processes;
        ``shared_rhythm`` another keeper of it (the PostgreSQL database's).
        """
        if interval < 0:
            raise ValueError("interval must be >= 0")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not user_agent.strip():
            raise ValueError("user_agent must not be empty")
        self._interval = interval
        self._timeout = timeout
        self._user_agent = user_agent
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rhythm: Rhythm | None = shared_rhythm
        if shared_rhythm_path is not None:
            self._rhythm = SharedRhythm(shared_rhythm_path)
        # Held for the whole of a request, retries and backoff included.
        self._lock = threading.Lock()
        self._last_started: float | None = None  # under _lock
        # Guards the fields below, which are also read without holding _lock.
        self._state = threading.Lock()
        self._blocked_until = float("-inf")
        self._requests = 0
        self._retries = 0
        self._errors = 0
        self._waited = 0.0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._last_success_at: datetime | None = None
        self._sessions: weakref.WeakSet[GatedSession] = weakref.WeakSet()
        self._calls: set[Call] = set()
        self._stopped = False
        self._latency = FIRST_LATENCY_GUESS  # a moving average of request times, under _state
        # The queue of callers on the event loop (see turn); touched only from the loop.
        self._queue: list[asyncio.Future[None]] = []
        self._queue_busy = False

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def user_agent(self) -> str:
        return self._user_agent

    @property
    def shared_rhythm_path(self) -> Path | None:
        return self._rhythm.path if self._rhythm is not None else None

    def session(self, *, check: Callable[[requests.Response], None] | None = None) -> GatedSession:
        """A new ``requests.Session`` whose requests all pass through this gate.

        ``check`` sees every 200 answer before the caller does, and refuses one that
        cannot be believed by raising :class:`~bot.errors.ArxivIncompleteError`.
        """
        session = GatedSession(self, check=check)
        with self._state:
            self._sessions.add(session)
        return session

    def close(self) -> None:
        """Close the connections of every session handed out; idempotent."""
        with self._state:
            sessions = list(self._sessions)
            self._sessions.clear()
        for session in sessions:
            session.close()
        if self._rhythm is not None:
            self._rhythm.close()

    def stop(self) -> None:
        """Stop all arXiv traffic for good, for a process that is stopping: the request
        in flight is cut, waiting and later requests fail at once. A harvest cut short
        loses nothing (its watermark only moves once it is complete)."""
        with self._state:
            self._stopped = True
            calls = list(self._calls)
        for call in calls:
            call.cancel()

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Bound the total time of the requests made inside the block (in this context).

        Nested deadlines keep the earlier expiry. The context variable is copied into
        worker threads, so enter it before handing work to a thread or inside the worker.
        """
        expires_at = self._clock() + seconds
        current = _deadline.get()
        if current is None or expires_at < current.expires_at:
            current = _Deadline(expires_at, seconds)
        token = _deadline.set(current)
        try:
            yield
        finally:
            _deadline.reset(token)

    def remaining(self) -> float | None:
        """Seconds left under the current deadline, or None when there is none."""
        current = _deadline.get()
        return None if current is None else current.expires_at - self._clock()

    def estimate(self, ahead: int) -> float:
        """Seconds until a request with ``ahead`` requests before it is answered: one
        connection at a time, starts ``interval`` apart, each taking the usual time."""
        with self._state:
            latency = self._latency
        return ahead * max(self._interval, latency) + latency

    def queued(self) -> int:
        """Callers queued for their turn (see :meth:`turn`), not counting the one in it."""
        return len(self._queue)

    @contextlib.asynccontextmanager
    async def turn(
        self, report: Callable[[QueuePlace], None] | None = None, *, limit: float | None = None
    ) -> AsyncIterator[None]:
        """Wait on the event loop, holding no thread, until it is this caller's turn.

        Callers take turns in order. While queued, ``report`` hears the caller's place
        at once and whenever it moves. ``limit`` bounds the time spent queued: a caller
        whose place cannot be reached in time is told so at once (the bot is busy, which
        is not arXiv being down). A caller cancelled while queued just leaves the queue.
        """
        if self._queue_busy or self._queue:
            ticket = asyncio.get_running_loop().create_future()
            self._queue.append(ticket)
            queued_at = self._clock()
            try:
                await self._wait_in_line(ticket, report, limit)
            except BaseException:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                elif ticket.done() and not ticket.cancelled():
                    self._next_turn()  # admitted just as it gave up: pass the turn on
                raise
            finally:
                self._count_wait(queued_at)
        else:
            self._queue_busy = True
        try:
            yield
        finally:
            self._next_turn()

    async def _wait_in_line(
        self,
        ticket: asyncio.Future[None],
        report: Callable[[QueuePlace], None] | None,
        limit: float | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        started, shown = loop.time(), 0
        while not ticket.done():
            ahead = self._queue.index(ticket) + 1
            place = QueuePlace(ahead, self.estimate(ahead))
            if limit is not None and loop.time() - started + place.wait > limit:
                raise self._busy(place)
            if ahead != shown and report is not None:
                report(place)
            shown = ahead
            await asyncio.wait({ticket}, timeout=QUEUE_POLL_SECONDS)

    def _next_turn(self) -> None:
        while self._queue:
            ticket = self._queue.pop(0)
            if not ticket.done():
                ticket.set_result(None)
                return
        self._queue_busy = False

    def stats(self) -> GateStats:
        with self._state:
            return GateStats(
                requests=self._requests,
                retries=self._retries,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_success_at=self._last_success_at,
                errors=self._errors,
                waited_seconds=self._waited,
            )

    # -- the request path -------------------------------------------------------------

    def send(
        self,
        send: Callable[..., requests.Response],
        method: str | bytes,
        url: str | bytes,
        kwargs: dict[str, Any],
        *,
        check: Callable[[requests.Response], None] | None = None,
    ) -> requests.Response:
        """Run ``send(method, url, **kwargs)`` under the gate's rules; the body is read.

        Used by :class:`GatedSession`; ``kwargs["timeout"]`` and ``["stream"]`` are set here.
        """
        url_text = url.decode() if isinstance(url, bytes) else url
        deadline = _deadline.get()
        call = current_call.get() or Call()
        asked_at = self._clock()
        with self._active(call), self._turn(deadline, call):
            self._count_wait(asked_at)
            return self._send_locked(send, method, url_text, kwargs, deadline, call, check)

    @contextlib.contextmanager
    def _active(self, call: Call) -> Iterator[None]:
        """Known to :meth:`stop` for the whole of the request, waits included."""
        with self._state:
            if self._stopped:
                raise ArxivUnavailableError(CANCELLED_TEXT)
            self._calls.add(call)
        try:
            yield
        finally:
            with self._state:
                self._calls.discard(call)

    @contextlib.contextmanager
    def _turn(self, deadline: _Deadline | None, call: Call) -> Iterator[None]:
        """Hold the gate: this process's lock, then the database's lock file."""
        self._acquire(deadline)
        try:
            self._lock_shared(deadline, call)
            try:
                yield
            finally:
                if self._rhythm is not None:
                    self._rhythm.unlock()
        finally:
            self._lock.release()

    def _acquire(self, deadline: _Deadline | None) -> None:
        if deadline is None:
            self._lock.acquire()
            return
        now = self._clock()
        remaining = deadline.expires_at - now
        with self._state:
            blocked_for = self._blocked_until - now
        if blocked_for > remaining:
            raise self._rate_limited(blocked_for)
        if remaining <= 0 or not self._lock.acquire(timeout=remaining):
            raise self._too_slow(deadline.seconds)

    def _lock_shared(self, deadline: _Deadline | None, call: Call) -> None:
        """Wait until no other process on this database is at the gate."""
        if self._rhythm is None:
            return
        while not self._rhythm.try_lock():
            if deadline is not None and self._clock() + LOCK_POLL_SECONDS > deadline.expires_at:
                raise self._too_slow(deadline.seconds)
            self._pause(LOCK_POLL_SECONDS, call)

    def _send_locked(
        self,
        send: Callable[..., requests.Response],
        method: str | bytes,
        url: str,
        kwargs: dict[str, Any],
        deadline: _Deadline | None,
        call: Call,
        check: Callable[[requests.Response], None] | None,
    ) -> requests.Response:
        host = urlsplit(url).netloc.rpartition("@")[2] or mask_url(url)  # no credentials
        attempt = 0
        waiting_since = self._clock()
        while True:
            attempt += 1
            call.raise_if_cancelled()
            self._wait_for_turn(deadline, call)
            self._count_wait(waiting_since)
            log.debug("arXiv request %s %s (attempt %s)", method, mask_url(url), attempt)
            response = self._attempt(send, method, url, kwargs, call, deadline, host)

            status = response.status_code
            if status == 400:
                message = atom_error_message(response.content)
                if message is not None:
                    response.close()
                    # arXiv is fine; the query is not: not an error for /arxiv status.
                    self._record_success()
                    log.info("arXiv rejected %s: %s", mask_url(url), message)
                    raise ArxivRejectedError(f"arXiv rejected the query: {message}")
            if status not in RETRY_STATUSES:
                if status == 200 and check is not None:
                    self._check(check, response)
                if status < 400:
                    self._record_success()
                else:
                    self._record_error(f"HTTP {status} from {host}")
                return response

            wait = self._retry_wait(response, attempt)
            response.close()
            self._record_error(f"HTTP {status} from {host}")
            self._block(wait)
            if attempt >= self._max_attempts or wait > MAX_RETRY_AFTER:
                log.info(
                    "arXiv (%s) answered HTTP %s; giving up after %s attempts",
                    host,
                    status,
                    attempt,
                )
                raise self._give_up(status, wait)
            if deadline is not None and self._clock() + wait > deadline.expires_at:
                log.info("arXiv answered HTTP %s; %.1f s wait exceeds the deadline", status, wait)
                raise self._give_up(status, wait)
            with self._state:
                self._retries += 1
            log.info(
                "arXiv (%s) answered HTTP %s; retrying in %.1f s (attempt %s of %s)",
                host,
                status,
                wait,
                attempt + 1,
                self._max_attempts,
            )
            waiting_since = self._clock()
            self._pause(wait, call)

    def _attempt(
        self,
        send: Callable[..., requests.Response],
        method: str | bytes,
        url: str,
        kwargs: dict[str, Any],
        call: Call,
        deadline: _Deadline | None,
        host: str,
    ) -> requests.Response:
        """One request, its whole body read, cut off when its time is up."""
        limit, budget = self._limit(deadline)
        kwargs.update(timeout=limit, stream=True)
        with self._state:
            self._requests += 1
        self._mark_start()
        with watching(call, limit) as watch:
            try:
                response = send(method, url, **kwargs)
                _ = response.content  # the body, under the same watch
                self._time_request(self._last_started)
            except requests.RequestException as exc:
                call.raise_if_cancelled()
                cut = watch.reason == DEADLINE or isinstance(exc, requests.Timeout)
                error = self._too_slow(budget) if cut else self._request_error(exc, host)
                raise self._failure(error) from exc
        if watch.reason is not None:  # a body without Content-Length ends quietly when cut
            response.close()
            call.raise_if_cancelled()
            raise self._failure(self._too_slow(budget))
        return response

    def _limit(self, deadline: _Deadline | None) -> tuple[float, float]:
        """The seconds this attempt may take, and the budget to name if it takes longer
        (the deadline the user felt when it cut the timeout short)."""
        if deadline is not None:
            remaining = deadline.expires_at - self._clock()
            if remaining <= 0:
                raise self._too_slow(deadline.seconds)
            if remaining < self._timeout:
                return remaining, deadline.seconds
        return self._timeout, self._timeout

    def _check(
        self, check: Callable[[requests.Response], None], response: requests.Response
    ) -> None:
        try:
            check(response)
        except ArxivIncompleteError as error:
            raise self._failure(error) from None

    def _wait_for_turn(self, deadline: _Deadline | None, call: Call) -> None:
        """Sleep until ``interval`` has passed since the last request started (in this
        process or, with a shared rhythm, any other on the database) and any backoff
        ended."""
        spacing, backoff = self._waits()
        wait = max(spacing, backoff)
        if wait <= 0:
            return
        if deadline is not None and self._clock() + wait > deadline.expires_at:
            raise self._rate_limited(wait) if backoff > 0 else self._too_slow(deadline.seconds)
        log.debug("arXiv gate: waiting %.2f s before the next request", wait)
        self._pause(wait, call)

    def _waits(self) -> tuple[float, float]:
        """Seconds left of the spacing and of any backoff."""
        now = self._clock()
        with self._state:
            backoff = self._blocked_until - now
        spacing = 0.0
        if self._last_started is not None:
            spacing = self._last_started + self._interval - now
        if self._rhythm is not None:
            shared_spacing, shared_backoff = self._rhythm.waits(self._interval)
            spacing, backoff = max(spacing, shared_spacing), max(backoff, shared_backoff)
        return max(0.0, spacing), max(0.0, backoff)

    def _time_request(self, started: float | None) -> None:
        """Fold one answered request's time into the usual latency (for estimates)."""
        if started is None:
            return
        took = max(0.0, self._clock() - started)
        with self._state:
            self._latency = 0.7 * self._latency + 0.3 * took

    def _mark_start(self) -> None:
        self._last_started = self._clock()
        if self._rhythm is not None:
            self._rhythm.started(self._interval)

    def _block(self, wait: float) -> None:
        """No request for ``wait`` seconds, here and in every process sharing the gate."""
        with self._state:
            self._blocked_until = max(self._blocked_until, self._clock() + wait)
        if self._rhythm is not None:
            self._rhythm.block(wait)

    def _pause(self, seconds: float, call: Call) -> None:
        """Sleep; a real sleep ends early when ``call`` is cancelled."""
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            call.cancelled.wait(seconds)
        call.raise_if_cancelled()

    def _retry_wait(self, response: requests.Response, attempt: int) -> float:
        wait = retry_after(response.headers.get("Retry-After"))
        return wait if wait is not None else float(self._backoff * 2 ** (attempt - 1))

    # -- errors and stats -----------------------------------------------------------

    def _request_error(self, exc: requests.RequestException, host: str) -> Exception:
        if isinstance(
            exc,
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
        ):
            return ArxivIncompleteError(f"the answer from {host} was cut off ({_innermost(exc)})")
        if isinstance(exc, requests.ConnectionError):
            return ArxivUnavailableError(
                f"could not reach arXiv at {host}: {_connection_reason(exc)}"
            )
        return ArxivUnavailableError(f"request to arXiv failed: {mask_secrets(str(exc))}")

    def _rate_limited(self, wait: float) -> ArxivUnavailableError:
        return ArxivUnavailableError(
            f"arXiv is rate-limiting requests right now; try again in about {_about(wait)}"
        )

    def _busy(self, place: QueuePlace) -> ArxivUnavailableError:
        return ArxivUnavailableError(
            f"arxiv-bot is busy: {place.ahead} arXiv requests are queued ahead of yours "
            f"(about {_about(place.wait)}, arXiv allows one every "
            f"{format_duration(self._interval)}); try again in a few minutes"
        )

    def _too_slow(self, seconds: float) -> ArxivUnavailableError:
        return ArxivUnavailableError(
            f"arXiv did not answer within {format_duration(seconds)}; "
            "it may be down — try again later"
        )

    def _give_up(self, status: int, wait: float) -> ArxivUnavailableError:
        if status == 429:
            return self._rate_limited(wait)
        return ArxivUnavailableError(
            f"arXiv is unavailable right now (HTTP {status}); try again in about {_about(wait)}"
        )

    def _failure(self, error: Exception) -> Exception:
        text = str(error)
        if isinstance(error, ArxivIncompleteError):
            text = f"incomplete answer: {error.detail}"
        self._record_error(text)
        # INFO: the caller says what failed (a harvest warns, a search answers the user).
        log.info("arXiv request failed: %s", text)
        return error

    def _count_wait(self, since: float) -> None:
        with self._state:
            self._waited += max(0.0, self._clock() - since)

    def _record_error(self, text: str) -> None:
        with self._state:
            self._errors += 1
            self._last_error = text
            self._last_error_at = self._wall_clock()

    def _record_success(self) -> None:
        with self._state:
            self._last_success_at = self._wall_clock()


class GatedSession(requests.Session):
    """A ``requests.Session`` whose every request goes through an :class:`ArxivGate`.

    The gate's User-Agent replaces any the caller sets (``arxiv`` sends its own), and
    the gate's timeout (cut to the deadline) replaces the caller's.
    """

    def __init__(
        self, gate: ArxivGate, *, check: Callable[[requests.Response], None] | None = None
    ) -> None:
        super().__init__()
        self._gate = gate
        self._check = check
        self.headers["User-Agent"] = gate.user_agent
        for prefix in ("https://", "http://"):
            self.mount(prefix, WatchedAdapter())

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, **kwargs: Any
    ) -> requests.Response:
        headers = {
            key: value
            for key, value in dict(kwargs.pop("headers", None) or {}).items()
            if str(key).lower() != "user-agent"
        }
        headers["User-Agent"] = self._gate.user_agent
        kwargs["headers"] = headers
        return self._gate.send(super().request, method, url, kwargs, check=self._check)
