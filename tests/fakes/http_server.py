"""What the fake HTTP servers share: a real server on 127.0.0.1, scripted trouble, a request log.

:class:`FakeHttpServer` runs a ``ThreadingHTTPServer`` on an ephemeral port in a
background thread and answers ``GET`` requests. A subclass serves its endpoint
(:meth:`FakeHttpServer._respond`); the base class does the rest:

* scripted trouble (:class:`Script`), consumed one request at a time in the order
  scripted, each optionally only ``after`` so many more normal answers: a delay (cut
  short when the server stops), then a failure with any status and an optional
  ``Retry-After``, or a body sent badly: a byte at a time (``trickle``), never after the
  headers (``hang``), or only its first half though ``Content-Length`` announced all of
  it (``cut``);
* ``404`` for any path other than the endpoint;
* the request log (:class:`RecordedRequest`, :attr:`FakeHttpServer.requests`, each
  request once answered), :attr:`FakeHttpServer.in_flight` and
  :attr:`FakeHttpServer.max_concurrent`;
* the lifecycle: :meth:`~FakeHttpServer.start`, :meth:`~FakeHttpServer.stop`, or the
  object as a context manager.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

__all__ = ["TEXT", "Answer", "FakeHttpServer", "RecordedRequest", "Script"]

Answer = tuple[int, dict[str, str], bytes]
"""Status, headers and body of an answer (``Content-Length`` is added when sending)."""

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    params: dict[str, str]
    """Query parameters, decoded (the last value of each)."""
    headers: dict[str, str]
    status: int
    """The status answered; 0 when nothing was (the server was stopping)."""
    started: float
    """``time.monotonic()`` when the request arrived."""
    finished: float
    """``time.monotonic()`` when the answer had been written."""

    def header(self, name: str) -> str | None:
        """A request header, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def user_agent(self) -> str | None:
        return self.header("User-Agent")


@dataclass(slots=True)
class Script:
    """Scripted trouble for the next ``times`` requests, once ``after`` more were
    answered normally: wait ``delay`` seconds, then fail with ``status`` (None: answer
    normally)."""

    status: int | None = None
    retry_after: str | None = None
    """Sent verbatim as ``Retry-After`` with a failure."""
    delay: float = 0.0
    times: int = 1
    after: int = 0
    """Requests answered normally before this script applies."""
    trickle: float = 0.0
    """Seconds between the body's bytes, sent one at a time (0: all at once)."""
    hang: bool = False
    """Send the headers, then nothing until the server stops."""
    cut: bool = False
    """Send half the body, then close the connection."""


HANG_SECONDS = 3600.0


S = TypeVar("S", bound=Script)


class FakeHttpServer(ABC, Generic[S]):
    """A fake serving ``GET`` at :attr:`url`, with scripts of type ``S``. Thread-safe.

    Subclasses implement :meth:`_respond`, guard their own state with ``self._lock``
    and add public methods that queue scripts with :meth:`_add_script`.
    """

    _stopping_answer: Answer | None = None
    """What a request whose delay the stopping server cut short gets; None: nothing."""

    def __init__(self, *, path: str, name: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._scripts: list[S] = []
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_concurrent = 0
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name=name, daemon=True
        )

    # -- addresses

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint, ``http://127.0.0.1:PORT/PATH``."""
        return self.base_url + self._path

    # -- scripted trouble

    def _add_script(self, script: S) -> None:
        with self._lock:
            self._scripts.append(script)

    def clear_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()

    # -- what happened

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order of arrival."""
        with self._lock:
            return sorted(self._requests, key=lambda r: r.started)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_concurrent = self._in_flight

    @property
    def in_flight(self) -> int:
        """Requests arrived and not answered yet (a delayed one, say): the log shows a
        request only once it is answered."""
        with self._lock:
            return self._in_flight

    @property
    def max_concurrent(self) -> int:
        """The most requests ever being handled at the same time (1 = never overlapped)."""
        with self._lock:
            return self._max_concurrent

    # -- lifecycle

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; delayed answers in progress are cut short."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- for subclasses

    @abstractmethod
    def _respond(self, params: dict[str, str], script: S | None) -> Answer:
        """The answer to a request for the endpoint that no failure was scripted for;
        ``script`` is the one being consumed (it may ask for an odd answer), if any."""

    def _failure(self, script: S, params: dict[str, str]) -> Answer:
        """The answer a script with a ``status`` makes: plain text, like arXiv's
        ``Rate exceeded.`` for 429."""
        assert script.status is not None
        headers = {"Content-Type": TEXT}
        if script.retry_after is not None:
            headers["Retry-After"] = script.retry_after
        reason = b"Rate exceeded.\n" if script.status == 429 else b"Service Unavailable\n"
        return script.status, headers, reason

    def _taken_locked(self, script: S) -> S | None:
        """Called with the lock held when a request takes ``script``; what it returns
        applies to that request."""
        return script

    # -- used by the handler

    def _enter(self) -> S | None:
        with self._lock:
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            if not self._scripts:
                return None
            script = self._scripts[0]
            if script.after > 0:
                script.after -= 1
                return None
            script.times -= 1
            if script.times <= 0:
                self._scripts.pop(0)
            return self._taken_locked(dataclasses.replace(script))

    def _leave(self, recorded: RecordedRequest) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests.append(recorded)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops; True when the answer should still be sent."""
        return not self._stopping.wait(seconds) if seconds > 0 else True

    def _write_body(self, write: Any, body: bytes, script: S | None) -> None:
        """Write ``body`` after the headers, as ``script`` says (see :class:`Script`)."""
        if script is None:
            write(body)
        elif script.hang:
            self._sleep(HANG_SECONDS)
        elif script.trickle > 0:
            for index in range(len(body)):
                write(body[index : index + 1])
                if not self._sleep(script.trickle):
                    return
        else:
            write(body[: len(body) // 2] if script.cut else body)

    def _answer(self, path: str, params: dict[str, str], script: S | None) -> Answer | None:
        """The answer to a request, None for none (the server is stopping)."""
        if script is not None and not self._sleep(script.delay):
            return self._stopping_answer
        if script is not None and script.status is not None:
            return self._failure(script, params)
        if path != self._path:
            return 404, {"Content-Type": TEXT}, b"Not Found\n"
        return self._respond(params, script)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHttpServer[Any]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts) are expected here; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        fake = self.server.fake
        started = time.monotonic()
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        script = fake._enter()
        answer: Answer | None = None
        try:
            answer = fake._answer(parts.path, params, script)
        finally:
            # Recorded before the answer is written, so a client never sees an answer
            # that the request log does not show yet.
            fake._leave(
                RecordedRequest(
                    method="GET",
                    path=parts.path,
                    params=params,
                    headers=dict(self.headers.items()),
                    status=answer[0] if answer else 0,
                    started=started,
                    finished=time.monotonic(),
                )
            )
        if answer is None:
            return  # the server is stopping
        self.send_answer(answer, script)

    def send_answer(self, answer: Answer, script: Script | None) -> None:
        """Write ``answer`` as the server's scripted trouble says (trickle, cut ...)."""
        status, headers, body = answer
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.server.fake._write_body(self.wfile.write, body, script)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout under test)
