"""``arxiv-bot run`` with Slack credentials: the real process, serving signed requests."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

from adapters.slack.adapter import SlackFactory
from bot.adapter import choose_factories, discover_factories
from bot.config import Settings
from tests.conftest import settings_env
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack.payloads import SIGNING_SECRET, command_body, signed_headers, wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def slack_env(settings: Settings, fake: FakeSlack, port: int) -> dict[str, str]:
    return {
        **settings_env(settings),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "SLACK_HOST": "127.0.0.1",
        "SLACK_PORT": str(port),
    }


def test_slack_is_chosen_when_configured_and_the_console_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factories = discover_factories()
    assert isinstance(factories["slack"], SlackFactory)
    assert [f.name for f in choose_factories(factories)] == ["console"]
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    assert [f.name for f in choose_factories(factories)] == ["slack"]
    chosen = choose_factories(factories, console=True)
    assert sorted(f.name for f in chosen) == ["console", "slack"]


def test_bad_slack_settings_stop_the_start_with_one_line(settings: Settings) -> None:
    env = {**settings_env(settings), "SLACK_BOT_TOKEN": "not-a-token"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2  # a bad setting
    assert "SLACK_BOT_TOKEN" in result.stderr and "xoxb-" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_refused_token_is_reported_at_start(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    env = {**slack_env(settings, fake_slack, free_port()), "SLACK_BOT_TOKEN": "xoxb-wrong"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stderr=subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_run_serves_slack_commands_over_http_until_terminated(
    settings: Settings, fake_slack: FakeSlack
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=slack_env(settings, fake_slack, port),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        body = command_body(fake_slack, "subscribe cat:cs.CV", token="run")
        async with aiohttp.ClientSession() as session:
            status = await _post_when_listening(session, url, body)
        assert status == 200
        await wait_for(lambda: bool(fake_slack.responses("run")))
        (answer,) = fake_slack.responses("run")
        assert answer["response_type"] == "in_channel"
        assert "Subscribed this channel to #1" in str(answer["blocks"])
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert "Slack: HTTP mode, listening on 127.0.0.1" in stderr.decode()


async def _post_when_listening(session: aiohttp.ClientSession, url: str, body: str) -> int:
    """POST once the bot's server accepts connections (it starts in the background)."""
    async with asyncio.timeout(30):
        while True:
            try:
                async with session.post(url, data=body, headers=signed_headers(body)) as reply:
                    return reply.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
