"""Cutting an arXiv request off: at its total deadline, or when its caller gives up.

``requests`` only bounds each socket read, so a response trickling a byte at a time would
never time out. :func:`watching` arms a timer for one request; the gate's sessions use
connection classes that hand their socket to the current :class:`Watch`, and shutting
that socket down ends a read blocked in another thread at once. :func:`run_in_thread`
runs gate work in a daemon thread and, when the awaiting task is cancelled, cuts the
thread's request through its :class:`Call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse

from bot.errors import ArxivUnavailableError

__all__ = [
    "CANCELLED",
    "CANCELLED_TEXT",
    "DEADLINE",
    "Call",
    "Watch",
    "WatchedAdapter",
    "current_call",
    "run_in_thread",
    "watching",
]

_T = TypeVar("_T")

CANCELLED_TEXT = "arxiv-bot stopped waiting for arXiv (it is stopping, or gave up on the answer)"


DEADLINE = "deadline"
CANCELLED = "cancelled"


class Watch:
    """The socket of one request in flight, so that a timer or a cancellation can cut it.

    Shutting the socket down ends a read blocked in another thread at once, whether it
    waits for the status line, a header or the body.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._closed = False
        self.reason: str | None = None
        """Why the request was cut (``DEADLINE`` or ``CANCELLED``); None if it was not."""

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            if self._closed:
                return
            self._sock = sock
            if self.reason is not None:
                _shut(sock)

    def cut(self, reason: str) -> None:
        with self._lock:
            if self._closed or self.reason is not None:
                return
            self.reason = reason
            if self._sock is not None:
                _shut(self._sock)

    def close(self) -> None:
        """The request is over: its connection may go back to the pool, uncut."""
        with self._lock:
            self._closed = True
            self._sock = None


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSL socket: it ends a read in progress
    # in another thread without touching the TLS state that thread is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current_watch: ContextVar[Watch | None] = ContextVar("arxiv_gate_watch", default=None)


def _attach_current(sock: socket.socket | None) -> None:
    watch = _current_watch.get()
    if watch is not None and sock is not None:
        watch.attach(sock)


class _HTTPConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _attach_current(self.sock)
        return super().getresponse()


class _HTTPSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        _attach_current(self.sock)
        return super().getresponse()


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_WATCHED_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """urllib3's connection pools (``pool_classes_by_scheme``, ``ConnectionCls``), with
    connections that hand their socket to the request's :class:`Watch`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS has connection classes of its own
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class Call:
    """One caller's use of the gate, which can be called off (:meth:`cancel`): the
    request in flight is cut, and waits and retries end at once."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._watch: Watch | None = None

    def watch(self, watch: Watch | None) -> None:
        """The request now in flight (None: none)."""
        with self._lock:
            self._watch = watch
        if watch is not None and self.cancelled.is_set():
            watch.cut(CANCELLED)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            watch = self._watch
        if watch is not None:
            watch.cut(CANCELLED)

    def raise_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise ArxivUnavailableError(CANCELLED_TEXT)


current_call: ContextVar[Call | None] = ContextVar("arxiv_gate_call", default=None)


@contextlib.contextmanager
def watching(call: Call, limit: float) -> Iterator[Watch]:
    """Watch one request: cut it after ``limit`` seconds, or when ``call`` is cancelled."""
    watch = Watch()
    timer = threading.Timer(limit, watch.cut, args=(DEADLINE,))
    timer.daemon = True
    token = _current_watch.set(watch)
    call.watch(watch)
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        watch.close()
        call.watch(None)
        _current_watch.reset(token)


async def run_in_thread(fn: Callable[..., _T], /, *args: Any) -> _T:
    """``fn(*args)`` in a daemon worker thread, in a copy of the caller's context.

    Not ``asyncio.to_thread``: its pool's threads are joined when the process exits, so
    a request stuck in one would keep a stopping bot alive. When the awaiting task is
    cancelled (a deadline, a shutdown), the gate cuts the thread's request in flight and
    ends its waits at once, so it gives the gate back.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()
    call = Call()
    context = contextvars.copy_context()
    context.run(current_call.set, call)

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = context.run(fn, *args)
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="arxiv-worker", daemon=True).start()
    try:
        return await future
    except asyncio.CancelledError:
        call.cancel()
        raise
