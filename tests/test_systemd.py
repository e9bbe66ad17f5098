"""The bot speaks systemd's notify protocol: READY=1, watchdog pings, STOPPING=1.

A real unix datagram socket stands in for systemd's (``NOTIFY_SOCKET``), and a real
``BotApp.run`` with the console adapter, fed from a pipe, talks to it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest

from adapters.console.adapter import ConsoleAdapter
from bot import systemd
from bot.adapter import AdapterOptions, Core
from bot.app import BotApp

READY = "READY=1\nSTATUS=running: console"
STOPPING = "STOPPING=1\nSTATUS=stopping"
PING = "WATCHDOG=1"


class NotifySocket:
    """systemd's end: a datagram socket that records each message with its arrival time."""

    def __init__(self, address: str) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(address)
        self._socket.settimeout(0.05)
        self._lock = threading.Lock()
        self._received: list[tuple[float, str]] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            with self._lock:
                self._received.append((time.monotonic(), data.decode()))

    @property
    def received(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[str]:
        return [text for _, text in self.received]

    def wait(self, done: Callable[[list[str]], bool], timeout: float = 20) -> list[str]:
        """The messages so far, once ``done`` says they are enough."""
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            assert time.monotonic() < deadline, f"systemd was not told enough: {self.messages}"
            time.sleep(0.005)
        return self.messages

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """A notify socket at a path, named in NOTIFY_SOCKET; no watchdog asked for."""
    path = tmp_path / "notify"
    listener = NotifySocket(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    yield listener
    listener.close()


def test_nothing_is_sent_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    assert systemd.notify("READY=1") is False
    assert systemd.watchdog_interval() is None


def test_fields_arrive_as_one_message(notify_socket: NotifySocket) -> None:
    assert systemd.notify("READY=1", "STATUS=running: slack") is True
    assert notify_socket.wait(bool) == ["READY=1\nSTATUS=running: slack"]


def test_an_abstract_socket_name_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"arxiv-bot-test-{uuid.uuid4().hex}"
    listener = NotifySocket("\0" + name)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("READY=1") is True
        assert listener.wait(bool) == ["READY=1"]
    finally:
        listener.close()


def test_a_socket_that_is_gone_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    with caplog.at_level(logging.WARNING, logger="bot.systemd"):
        assert systemd.notify("READY=1") is False
    assert "could not notify systemd" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "interval"),
    [
        ("60000000", None, 30.0),  # WatchdogSec=60: a ping every 30 s
        ("60000000", "own", 30.0),
        ("60000000", "other", None),  # meant for another process
        ("0", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_is_half_of_what_systemd_allows(
    notify_socket: NotifySocket,
    monkeypatch: pytest.MonkeyPatch,
    usec: str | None,
    pid: str | None,
    interval: float | None,
) -> None:
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + (pid == "other")))
    assert systemd.watchdog_interval() == interval


def _watch(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Ask for watchdog pings from this process every ``seconds``."""
    monkeypatch.setenv("WATCHDOG_USEC", str(int(seconds * 2_000_000)))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))


async def test_a_stuck_event_loop_misses_its_pings(
    notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    _watch(monkeypatch, 0.02)
    async with systemd.serving("testing"):
        await asyncio.sleep(0.2)
        stuck_from = time.monotonic()
        time.sleep(0.6)  # noqa: ASYNC251 (blocking code holding the event loop, on purpose)
        stuck_until = time.monotonic()
        await asyncio.sleep(0.2)
    notify_socket.wait(lambda messages: messages[-1:] == [STOPPING])

    pings = [at for at, text in notify_socket.received if text == PING]
    assert len([at for at in pings if at < stuck_from]) >= 3
    assert len([at for at in pings if at > stuck_until]) >= 3
    margin = 0.1  # the receiving thread may note a ping sent just before a little late
    assert [at for at in pings if stuck_from + margin < at < stuck_until - margin] == []


@dataclass
class PipedConsole:
    """The console adapter's factory, reading a pipe instead of the terminal."""

    stdin: TextIO
    stdout: TextIO
    name: str = "console"
    interactive: bool = True

    def is_configured(self) -> bool:
        return True

    def create(self, core: Core, options: AdapterOptions) -> ConsoleAdapter:
        return ConsoleAdapter(core, channel="lab", stdin=self.stdin, stdout=self.stdout)


async def test_a_running_app_is_ready_pings_and_says_it_stops(
    app: BotApp, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    _watch(monkeypatch, 0.05)
    read_end, write_end = os.pipe()
    output = io.StringIO()
    with os.fdopen(read_end, "r") as stdin:
        running = asyncio.create_task(app.run([PipedConsole(stdin, output)]))
        # Ready once the console has started, then pinging while it runs.
        await asyncio.to_thread(notify_socket.wait, lambda m: m.count(PING) >= 3)
        assert notify_socket.messages[0] == READY
        assert not running.done()

        os.write(write_end, b"/arxiv help\n")
        os.close(write_end)  # end of input: the console answers, then the app stops
        assert await asyncio.wait_for(running, timeout=30) is None

    messages = notify_socket.wait(lambda m: STOPPING in m)
    assert messages[-1] == STOPPING  # and no ping after it
    assert set(messages[1:-1]) == {PING}
    assert "/arxiv subscribe" in output.getvalue()
