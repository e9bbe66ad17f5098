"""The one gate every request to arXiv (API, OAI-PMH) passes through.

arXiv's terms of use allow one connection at a time and at most one request every three
seconds, counted over all of its interfaces, and ask for a descriptive User-Agent. arXiv
answers 429 or 503 (often with ``Retry-After``) when it wants clients to slow down.

:class:`ArxivGate` enforces all of that for synchronous ``requests`` code, which runs in
worker threads (``asyncio.to_thread``) so the event loop never blocks. Its sessions
(:meth:`ArxivGate.session`) hold the gate's lock for a whole request, retries included,
and space requests ``interval`` seconds apart, measured from the end of the previous one.

User-facing calls run under :meth:`ArxivGate.deadline`: a context-variable budget (it
propagates into ``asyncio.to_thread``) covering the wait for the lock, the spacing, the
request itself and any backoff. When the budget cannot cover a wait, the gate raises
:class:`~bot.errors.ArxivUnavailableError` at once rather than making the user wait for
an answer that will come too late. Background work (the harvester) runs without a
deadline and simply waits.

The gate's exceptions derive from :class:`~bot.errors.ArxivBotError`, never from
``requests``' exceptions, so the ``arxiv`` package does not retry them on its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import time
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

from bot.clock import Clock, utc_now
from bot.errors import ArxivRejectedError, ArxivUnavailableError

__all__ = [
    "MAX_RETRY_AFTER",
    "PROJECT_URL",
    "RETRY_STATUSES",
    "ArxivGate",
    "GateStats",
    "GatedSession",
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

_ATOM = "{http://www.w3.org/2005/Atom}"
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


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
        root = ET.fromstring(body)
    except ET.ParseError:
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
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Clock = utc_now,
    ) -> None:
        """``backoff`` is the first wait after a 429/503 without ``Retry-After``; it
        doubles on each further attempt. ``clock`` (monotonic seconds, for spacing) and
        ``sleep`` are injectable for tests; ``wall_clock`` stamps the last success and
        error that ``/arxiv status`` shows.
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
        # Held for the whole of a request, retries and backoff included.
        self._lock = threading.Lock()
        # Guards the fields below, which are also read without holding _lock.
        self._state = threading.Lock()
        self._last_finished: float | None = None
        self._blocked_until = float("-inf")
        self._requests = 0
        self._retries = 0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._last_success_at: datetime | None = None
        self._sessions: weakref.WeakSet[GatedSession] = weakref.WeakSet()

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def user_agent(self) -> str:
        return self._user_agent

    def session(self) -> GatedSession:
        """A new ``requests.Session`` whose requests all pass through this gate."""
        session = GatedSession(self)
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

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Bound the total time of the requests made inside the block (in this context).

        Nested deadlines keep the earlier expiry. The context variable is copied into
        ``asyncio.to_thread`` workers, so enter it before handing work to a thread or
        inside the worker.
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

    def stats(self) -> GateStats:
        with self._state:
            return GateStats(
                requests=self._requests,
                retries=self._retries,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_success_at=self._last_success_at,
            )

    # -- the request path -------------------------------------------------------------

    def send(
        self,
        send: Callable[..., requests.Response],
        method: str | bytes,
        url: str | bytes,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        """Run ``send(method, url, **kwargs)`` under the gate's rules.

        Used by :class:`GatedSession`; ``kwargs["timeout"]`` is set here.
        """
        url_text = url.decode() if isinstance(url, bytes) else url
        deadline = _deadline.get()
        self._acquire(deadline)
        try:
            return self._send_locked(send, method, url_text, kwargs, deadline)
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

    def _send_locked(
        self,
        send: Callable[..., requests.Response],
        method: str | bytes,
        url: str,
        kwargs: dict[str, Any],
        deadline: _Deadline | None,
    ) -> requests.Response:
        host = urlsplit(url).netloc or url
        attempt = 0
        while True:
            attempt += 1
            self._wait_for_turn(deadline)
            timeout = self._timeout
            if deadline is not None:
                remaining = deadline.expires_at - self._clock()
                if remaining <= 0:
                    raise self._too_slow(deadline.seconds)
                timeout = min(timeout, remaining)
            kwargs["timeout"] = timeout
            with self._state:
                self._requests += 1
            log.debug("arXiv request %s %s (attempt %s)", method, url, attempt)
            try:
                response = send(method, url, **kwargs)
            except requests.Timeout as exc:
                # Name the budget the user felt: the deadline when it cut the timeout short.
                cut_short = deadline is not None and timeout < self._timeout
                budget = deadline.seconds if deadline is not None and cut_short else self._timeout
                raise self._failure(self._too_slow(budget)) from exc
            except requests.ConnectionError as exc:
                error = ArxivUnavailableError(
                    f"could not reach arXiv at {host}: {_connection_reason(exc)}"
                )
                raise self._failure(error) from exc
            except requests.RequestException as exc:
                raise self._failure(
                    ArxivUnavailableError(f"request to arXiv failed: {exc}")
                ) from exc
            finally:
                self._last_finished = self._clock()

            status = response.status_code
            if status == 400:
                message = atom_error_message(response.content)
                if message is not None:
                    response.close()
                    # arXiv is fine; the query is not: not an error for /arxiv status.
                    self._record_success()
                    log.info("arXiv rejected %s: %s", url, message)
                    raise ArxivRejectedError(f"arXiv rejected the query: {message}")
            if status not in RETRY_STATUSES:
                if status < 400:
                    self._record_success()
                else:
                    self._record_error(f"HTTP {status} from {host}")
                return response

            wait = self._retry_wait(response, attempt)
            response.close()
            self._record_error(f"HTTP {status} from {host}")
            with self._state:
                self._blocked_until = max(self._blocked_until, self._clock() + wait)
            if attempt >= self._max_attempts or wait > MAX_RETRY_AFTER:
                log.warning(
                    "arXiv answered HTTP %s to %s; giving up after %s attempts",
                    status,
                    url,
                    attempt,
                )
                raise self._give_up(status, wait)
            if deadline is not None and self._clock() + wait > deadline.expires_at:
                log.info("arXiv answered HTTP %s; %.1f s wait exceeds the deadline", status, wait)
                raise self._give_up(status, wait)
            with self._state:
                self._retries += 1
            log.warning(
                "arXiv answered HTTP %s to %s; retrying in %.1f s (attempt %s of %s)",
                status,
                url,
                wait,
                attempt + 1,
                self._max_attempts,
            )
            self._sleep(wait)

    def _wait_for_turn(self, deadline: _Deadline | None) -> None:
        """Sleep until ``interval`` has passed since the last request and any backoff ended."""
        with self._state:
            ready_at = self._blocked_until
        if self._last_finished is not None:
            ready_at = max(ready_at, self._last_finished + self._interval)
        wait = ready_at - self._clock()
        if wait <= 0:
            return
        if deadline is not None and self._clock() + wait > deadline.expires_at:
            with self._state:
                blocked = self._blocked_until > self._clock()
            raise self._rate_limited(wait) if blocked else self._too_slow(deadline.seconds)
        log.debug("arXiv gate: waiting %.2f s before the next request", wait)
        self._sleep(wait)

    def _retry_wait(self, response: requests.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        if header:
            try:
                return Retry().parse_retry_after(header)
            except InvalidHeader:
                log.info("ignoring unparsable Retry-After header %r", header)
        return float(self._backoff * 2 ** (attempt - 1))

    # -- errors and stats -----------------------------------------------------------

    def _rate_limited(self, wait: float) -> ArxivUnavailableError:
        return ArxivUnavailableError(
            f"arXiv is rate-limiting requests right now; try again in about {_about(wait)}"
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
        self._record_error(str(error))
        log.warning("arXiv request failed: %s", error)
        return error

    def _record_error(self, text: str) -> None:
        with self._state:
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

    def __init__(self, gate: ArxivGate) -> None:
        super().__init__()
        self._gate = gate
        self.headers["User-Agent"] = gate.user_agent

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
        return self._gate.send(super().request, method, url, kwargs)
