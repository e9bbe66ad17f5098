"""The Discord adapter tells ``/readyz`` whether its gateway session is up."""

from __future__ import annotations

from adapters.discord.adapter import DiscordAdapter
from bot.app import BotApp
from tests.discord.conftest import discord_settings
from tests.discord.test_gateway import quick
from tests.fakes.discord_api import FakeDiscord


async def test_the_gateway_session_is_reported(app: BotApp, fake_discord: FakeDiscord) -> None:
    adapter = quick(DiscordAdapter(app, discord_settings(fake_discord), gateway=True))
    await adapter.start()
    try:
        assert await adapter.is_connected()
    finally:
        await adapter.stop()
    assert not await adapter.is_connected()
