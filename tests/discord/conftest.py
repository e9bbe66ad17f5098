"""Fixtures for the Discord tests: the fake REST API, and an adapter logged in to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.settings import DiscordSettings
from bot.app import BotApp
from tests.conftest import running
from tests.fakes.discord_api import BOT_TOKEN, FakeDiscord, running_fake_discord


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with running_fake_discord() as fake:
        # Restored after the test, even though the adapter sets it from DISCORD_API_URL.
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
        # Likewise the gateway a plain discord.Client connects to (the adapter sets it).
        gateway = discord.gateway.DiscordWebSocket
        monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
        yield fake


def discord_settings(fake: FakeDiscord, **overrides: Any) -> DiscordSettings:
    values: dict[str, Any] = {"token": BOT_TOKEN, "api_url": fake.api_url}
    values.update(overrides)
    return DiscordSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def discord_bot(app: BotApp, fake_discord: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    """The adapter logged in over REST (no gateway), registered as the Discord sender."""
    async with running(
        app, DiscordAdapter(app, discord_settings(fake_discord), gateway=False)
    ) as adapter:
        yield adapter
