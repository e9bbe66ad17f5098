"""Health, readiness and metrics over HTTP, from a running ``BotApp.run``."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.console import ConsoleAdapter
from bot.adapter import AdapterOptions, CommandContext, Core
from bot.app import BotApp
from bot.config import DEFAULT_HTTP_PORT, Settings
from bot.errors import ConfigError
from bot.models import ChannelRef
from bot.observability.health import adapters_check, harvest_check
from bot.observability.metrics import PREFIX, Metrics
from bot.observability.probes import Probes
from bot.schedule import HarvestSchedule
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai
from tests.slack.test_run import free_port

LAB = CommandContext(ChannelRef("console", "local", "lab", "lab"))
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class PipedConsole:
    """A console factory whose adapter reads a pipe: it runs until :meth:`end_input`.
    Use as a context manager, which closes the pipe."""

    name = "console"
    interactive = True

    def __init__(self) -> None:
        read, self._write = os.pipe()
        self._stdin = os.fdopen(read, encoding="utf-8")
        self.output = io.StringIO()

    def is_configured(self) -> bool:
        return True

    def create(self, core: Core, options: AdapterOptions) -> ConsoleAdapter:
        return ConsoleAdapter(core, channel="lab", stdin=self._stdin, stdout=self.output)

    def end_input(self) -> None:
        """End of input: the console, and so the run, end."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1

    def __enter__(self) -> PipedConsole:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.end_input()
        self._stdin.close()


@contextlib.asynccontextmanager
async def running_app(app: BotApp) -> AsyncIterator[PipedConsole]:
    """``app.run`` with a console that runs until the block ends."""
    with PipedConsole() as console:
        task = asyncio.create_task(app.run([console]))
        try:
            yield console
        finally:
            console.end_input()
            await asyncio.wait_for(task, timeout=10)


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def when_listening(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    """GET ``url`` once its server accepts connections."""
    async with asyncio.timeout(10):
        while True:
            try:
                return await get(session, url)
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text page, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def value(figures: Samples, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def until(condition: Callable[[], Awaitable[object]]) -> None:
    """Wait (at most 10 s) until ``condition()`` holds: the app works in the background."""
    async with asyncio.timeout(10):
        while not await condition():  # noqa: ASYNC110 (state read from the app)
            await asyncio.sleep(0.02)


async def test_health_readiness_and_metrics_of_a_running_app(
    settings: Settings, fake_oai: FakeOai
) -> None:
    port = free_port()
    clock = SettableClock(datetime.now(UTC))
    fake_oai.fail_next(500)  # the catch-up harvest at start fails
    base = f"http://127.0.0.1:{port}"
    app_settings = settings.model_copy(update={"http_port": port, "http_host": "127.0.0.1"})
    async with (
        BotApp(app_settings, clock=clock) as app,
        aiohttp.ClientSession() as session,
        running_app(app) as console,
    ):
        assert await when_listening(session, f"{base}/healthz") == (200, "ok\n")
        await until(lambda: app.harvester.last_error())
        await until(lambda: _has_sender(app))

        async with session.get(f"{base}/readyz") as response:
            assert response.status == 503
            body = await response.json()
        assert body["ready"] is False
        assert body["checks"]["store"]["ok"] is True
        assert body["checks"]["adapters"] == {"ok": True, "detail": "connected: console"}
        harvest = body["checks"]["harvest"]
        assert harvest["ok"] is False
        assert harvest["detail"].startswith("no harvest has succeeded yet; last attempt: ")
        assert "HTTP 500" in harvest["detail"]

        status, before = await get(session, f"{base}/metrics")
        assert status == 200
        assert value(samples(before), f"{PREFIX}_harvest_failures_total") == 1

        await app.execute("/arxiv subscribe cat:eess.IV", LAB)
        fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.10231"))
        await app.run_cycle()

        status, text = await get(session, f"{base}/readyz")
        assert status == 200, text
        async with session.get(f"{base}/metrics") as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            after = samples(await response.text())
            page = await response.text()

        assert all(name.startswith(f"{PREFIX}_") for name in names(page)), names(page)
        assert value(after, f"{PREFIX}_harvest_duration_seconds_count") == 1
        assert value(after, f"{PREFIX}_harvested_records_total") == 2
        assert value(after, f"{PREFIX}_harvest_failures_total") == 1
        assert value(after, f"{PREFIX}_harvest_last_success_timestamp_seconds") == pytest.approx(
            clock.now.timestamp()
        )
        assert value(after, f"{PREFIX}_papers_matched_total") == 2
        assert value(after, f"{PREFIX}_deliveries_queued_total", kind="new") == 2
        delivered = value(
            after, f"{PREFIX}_deliveries_total", platform="console", outcome="delivered"
        )
        assert delivered == 2
        assert value(after, f"{PREFIX}_deliveries_total", platform="console", outcome="failed") == 0
        assert "#lab · [2506.11674v1]" in console.output.getvalue()
        assert value(after, f"{PREFIX}_outbox_pending_messages") == 0
        assert value(after, f"{PREFIX}_outbox_oldest_pending_age_seconds") == 0
        assert value(after, f"{PREFIX}_paused_channels") == 0
        command = {"command": "subscribe", "platform": "console"}
        assert value(after, f"{PREFIX}_command_duration_seconds_count", **command) == 1
        assert value(after, f"{PREFIX}_arxiv_requests_total") >= 2
        assert value(after, f"{PREFIX}_arxiv_errors_total") == 1
        assert value(after, f"{PREFIX}_arxiv_wait_seconds_total") >= 0

        clock.advance(days=8)  # a week of scheduled harvests missed
        async with session.get(f"{base}/readyz") as response:
            assert response.status == 503
            stale = (await response.json())["checks"]["harvest"]
        assert stale["ok"] is False
        assert "is older than the harvest due" in stale["detail"]

    with pytest.raises(aiohttp.ClientConnectionError):  # stopped with the app
        async with aiohttp.ClientSession() as session:
            await get(session, f"{base}/healthz")


async def _has_sender(app: BotApp) -> bool:
    return "console" in app.senders


class FailingConsole(ConsoleAdapter):
    """A console whose every post fails (and is retried later)."""

    async def send(self, *args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the terminal is gone")


async def test_the_outbox_gauges_are_read_from_the_store_when_scraped(
    settings: Settings, fake_oai: FakeOai
) -> None:
    clock = SettableClock(datetime.now(UTC))
    async with BotApp(settings, clock=clock) as app:
        await app.execute("/arxiv subscribe cat:eess.IV", LAB)
        channel = await app.store.ensure_channel(ChannelRef("console", "local", "gone", "gone"))
        await app.store.pause_channel(channel, "the channel was archived")
        fake_oai.announce(paper_by_id("2506.11674"))
        app.senders["console"] = FailingConsole(app, stdin=io.StringIO(), stdout=io.StringIO())
        await app.run_cycle()
        clock.advance(minutes=10)
        probes = Probes(
            store=app.store,
            harvester=app.harvester,
            schedule=app.schedule,
            metrics=app.metrics,
            adapters=app.senders,
            expected=["console"],
            clock=clock,
        )
        figures = samples((await probes.metrics_text()).decode())
    assert value(figures, f"{PREFIX}_outbox_pending_messages") == 1
    assert value(figures, f"{PREFIX}_outbox_oldest_pending_age_seconds") == 600
    assert value(figures, f"{PREFIX}_paused_channels") == 1
    failed = value(figures, f"{PREFIX}_deliveries_total", platform="console", outcome="failed")
    assert failed == 1


async def test_a_taken_port_stops_the_start_with_one_line(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen = settings.model_copy(update={"http_port": port, "http_host": "127.0.0.1"})
        async with BotApp(chosen) as app:
            with PipedConsole() as console, pytest.raises(ConfigError) as caught:
                await app.run([console])
    assert str(caught.value) == (
        f"the health and metrics server cannot listen on 127.0.0.1:{port} (Address already "
        "in use); check HTTP_HOST, or set HTTP_PORT to a free port (0 turns it off)"
    )


def test_two_apps_keep_their_own_figures() -> None:
    first, second = Metrics(), Metrics()
    first.harvest_failed()
    assert "arxiv_bot_harvest_failures_total 1.0" in first.render().decode()
    assert "arxiv_bot_harvest_failures_total 0.0" in second.render().decode()


@pytest.mark.parametrize(
    ("service", "setting", "expected"),
    [
        (True, None, DEFAULT_HTTP_PORT),
        (False, None, None),
        (True, 0, None),
        (False, 9100, 9100),
    ],
)
def test_which_port_the_server_uses(
    settings: Settings, service: bool, setting: int | None, expected: int | None
) -> None:
    chosen = settings.model_copy(update={"http_port": setting})
    assert chosen.health_port(service=service) == expected


def test_harvest_check_allows_the_harvest_time_and_a_retry() -> None:
    schedule = HarvestSchedule("0 23 * * *", "UTC", retry_minutes=60)
    run = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    before = run - timedelta(hours=1)
    assert harvest_check(schedule, before, run + timedelta(minutes=90)).ok
    late = harvest_check(schedule, before, run + timedelta(minutes=150), "arXiv was down")
    assert not late.ok
    assert late.detail == (
        "last success 2026-03-02 22:00 UTC is older than the harvest due 2026-03-02 23:00 UTC; "
        "last attempt: arXiv was down"
    )


def test_adapters_check_names_what_is_missing() -> None:
    assert adapters_check(["slack", "discord"], {"slack": True, "discord": True}).ok
    check = adapters_check(["slack", "discord"], {"slack": False})
    assert not check.ok
    assert check.detail == "not started yet: discord; disconnected: slack"
