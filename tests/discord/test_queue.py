"""A Discord search queued behind others for arXiv: the deferred "thinking…" response is
edited to say where it stands, and the answer follows."""

from __future__ import annotations

import asyncio

import pytest

from adapters.discord.adapter import DiscordAdapter
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.models import ChannelRef
from tests.discord.payloads import dispatch, slash, wait_for
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.discord_api import FakeDiscord

ELSEWHERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"arxiv_request_interval": 0.2})


async def test_a_queued_search_shows_its_place_in_the_deferred_response(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.delay_next(0.3, times=100)
    ahead = [
        asyncio.ensure_future(app.execute(f"/arxiv search all:a{n}", ELSEWHERE)) for n in range(3)
    ]
    await asyncio.sleep(0.05)
    token = dispatch(discord_bot, slash(fake_discord, "search", query="ti:segmentation", limit=2))
    await wait_for(lambda: any(m.embeds for m in fake_discord.webhook_messages(token)))
    original, *edits, answer = fake_discord.webhook_messages(token)
    assert edits and all(edit.id == original.id for edit in edits)  # "thinking…", edited
    assert "3 searches ahead of yours, about" in (edits[0].content or "")
    assert answer.id != original.id and "Segmentation" in str(answer.embeds)
    await asyncio.gather(*ahead)
