"""``arxiv-bot run`` in Slack's HTTP mode: the probes on both ports, and JSON logs."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from datetime import datetime, timedelta

import aiohttp

from bot.app import BotApp
from bot.config import Settings
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.slack.payloads import (
    SIGNING_SECRET,
    command_body,
    signed_headers,
    slack_adapter,
    slack_settings,
    wait_for,
)
from tests.slack.test_run import free_port, slack_env
from tests.test_observability import get, names, samples, value, when_listening

LOG_KEYS = {"time", "level", "logger", "message"}


async def test_http_mode_answers_the_probes_on_both_ports_and_logs_json_lines(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    slack_port, http_port = free_port(), free_port()
    env = {
        **slack_env(settings, fake_slack, slack_port),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(http_port),
        "LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "-vv", "run"),
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for port in (http_port, slack_port):
                base = f"http://127.0.0.1:{port}"
                assert await when_listening(session, f"{base}/healthz") == (200, "ok\n")
            await _until_ready(session, f"http://127.0.0.1:{slack_port}/readyz")

            # A query that happens to be a secret: its log line must not show it.
            body = command_body(fake_slack, f"subscribe {SIGNING_SECRET}", token="health")
            url = f"http://127.0.0.1:{slack_port}/slack/events"
            async with session.post(url, data=body, headers=signed_headers(body)) as reply:
                assert reply.status == 200
            await wait_for(lambda: bool(fake_slack.responses("health")))

            for port in (http_port, slack_port):
                base = f"http://127.0.0.1:{port}"
                status, ready = await get(session, f"{base}/readyz")
                assert status == 200, ready
                checks = json.loads(ready)["checks"]
                assert checks["adapters"] == {"ok": True, "detail": "connected: slack"}
                status, page = await get(session, f"{base}/metrics")
                assert status == 200
                assert all(name.startswith("arxiv_bot_") for name in names(page))
                figures = samples(page)
                command = {"command": "subscribe", "platform": "slack"}
                assert value(figures, "arxiv_bot_command_duration_seconds_count", **command) == 1
                assert value(figures, "arxiv_bot_harvest_duration_seconds_count") == 1
                outcome = {"platform": "slack", "outcome": "delivered"}
                assert ("arxiv_bot_deliveries_total", tuple(sorted(outcome.items()))) in figures
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    text = stderr.decode()
    assert process.returncode == 0, text
    entries = [json.loads(line) for line in text.splitlines()]  # every line is one object
    assert entries
    for entry in entries:
        assert entry.keys() >= LOG_KEYS, entry
        assert datetime.fromisoformat(entry["time"]).utcoffset() == timedelta(0)
        assert entry["time"].endswith("Z")
    levels = {entry["level"] for entry in entries}
    assert {"DEBUG", "INFO"} <= levels
    messages = [entry["message"] for entry in entries]
    assert any(
        message.startswith("health and metrics on http://127.0.0.1:") for message in messages
    )
    assert any("subscribed to '***'" in message for message in messages)
    assert SIGNING_SECRET not in text
    assert BOT_TOKEN not in text


async def _until_ready(session: aiohttp.ClientSession, url: str) -> None:
    """Wait for the start-up harvest (from the empty fake OAI-PMH) to make the bot ready."""
    async with asyncio.timeout(20):
        while (await get(session, url))[0] != 200:  # noqa: ASYNC110 (a remote process)
            await asyncio.sleep(0.05)


async def test_socket_mode_reports_whether_its_websocket_is_up(
    app: BotApp, fake_slack: FakeSlack
) -> None:
    adapter = slack_adapter(app, slack_settings(fake_slack, app_token=APP_TOKEN, signing_secret=""))
    await adapter.start()
    try:
        await fake_slack.wait_socket_connected()
        assert await adapter.is_connected()
    finally:
        await adapter.stop()
    assert not await adapter.is_connected()
