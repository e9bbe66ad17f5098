"""Fixtures for the Slack tests: the fake Slack, and an adapter in HTTP mode posting to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.slack.adapter import SlackAdapter
from bot.app import BotApp
from tests.conftest import running
from tests.fakes.slack_api import FakeSlack, running_fake_slack
from tests.slack.payloads import slack_adapter, slack_settings


@pytest.fixture
async def fake_slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    # slack_sdk's websocket client honours HTTP(S)_PROXY but not NO_PROXY.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with running_fake_slack() as fake:
        yield fake


@pytest.fixture
async def slack(app: BotApp, fake_slack: FakeSlack) -> AsyncIterator[SlackAdapter]:
    """The adapter in HTTP mode, started, and registered as the bot's Slack sender."""
    async with running(app, slack_adapter(app, slack_settings(fake_slack))) as adapter:
        yield adapter
