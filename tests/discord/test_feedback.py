"""Feedback from Discord: reactions (raw gateway events) and the card's buttons, on
paper cards a real cycle posted to the fake Discord, and ``/arxiv top``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter
from bot.app import BotApp
from bot.config import Settings
from tests.conftest import running
from tests.discord.conftest import discord_settings
from tests.discord.payloads import CHANNEL, button_click, dispatch, slash, wait_for
from tests.discord.test_gateway import quick
from tests.fakes.corpus import paper_by_id
from tests.fakes.discord_api import BOT_USER_ID, FakeDiscord, PostedMessage
from tests.fakes.oai import FakeOai

PAPER = "2506.11674"
OTHER = "2506.10231"
EPHEMERAL = 1 << 6
ADA = "1300000000000000001"
BEA = "1300000000000000002"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"digest_cap": 100})  # each paper its own card


async def rows(app: BotApp) -> list[tuple[str, str, str, str, int]]:
    found = await app.store.fetchall(
        "SELECT arxiv_id, user, source, emoji, signal FROM feedback ORDER BY arxiv_id, user, emoji"
    )
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in found]


async def wait_for_rows(app: BotApp, count: int) -> None:
    """Wait (at most 5 s) until the feedback table has ``count`` rows: discord.py runs
    each event's listener in a task of its own."""
    async with asyncio.timeout(5):
        while len(await rows(app)) != count:  # noqa: ASYNC110 (rows the listener writes)
            await asyncio.sleep(0.01)


def card_of(fake: FakeDiscord, arxiv_id: str) -> PostedMessage:
    (card,) = [m for m in fake.channel_messages(CHANNEL) if arxiv_id in str(m.embeds)]
    return card


async def post_cards(bot: DiscordAdapter, fake: FakeDiscord, app: BotApp, oai: FakeOai) -> None:
    token = dispatch(bot, slash(fake, "subscribe", query="cat:eess.IV"))
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 3)
    oai.announce(paper_by_id(PAPER), paper_by_id(OTHER))
    await app.run_cycle()
    assert card_of(fake, PAPER) and card_of(fake, OTHER)


def react(bot: DiscordAdapter, payload: dict[str, Any], *, added: bool = True) -> None:
    """Hand a reaction to the client as the gateway would."""
    state: Any = bot.client._connection
    if added:
        state.parse_message_reaction_add(payload)
    else:
        state.parse_message_reaction_remove(payload)


async def top_text(bot: DiscordAdapter, fake: FakeDiscord, **options: Any) -> str:
    token = dispatch(bot, slash(fake, "top", **options))
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 2)
    answer = fake.webhook_messages(token)[-1]
    assert answer.ephemeral
    return f"{answer.content} {answer.embeds}"


async def test_a_reaction_counts_removal_undoes_it_and_top_lists_it(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await post_cards(discord_bot, fake_discord, app, fake_oai)
    card = card_of(fake_discord, PAPER)
    liked = fake_discord.reaction_payload(card, "👍🏽", user_id=ADA)
    react(discord_bot, liked)
    await wait_for_rows(app, 1)
    assert await rows(app) == [(PAPER, ADA, "reaction", "+1", 1)]
    # A custom emoji counts by its name.
    custom = fake_discord.reaction_payload(card, "thumbsup", user_id=BEA, emoji_id="42")
    react(discord_bot, custom)
    await wait_for_rows(app, 2)
    top = await top_text(discord_bot, fake_discord, period="week")
    assert PAPER in top and "+2" in top
    assert OTHER not in top

    react(discord_bot, liked, added=False)
    react(discord_bot, custom, added=False)
    await wait_for_rows(app, 0)
    assert PAPER not in await top_text(discord_bot, fake_discord)


async def test_the_bots_own_reactions_and_unknown_messages_are_ignored(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await post_cards(discord_bot, fake_discord, app, fake_oai)
    card = card_of(fake_discord, PAPER)
    own = fake_discord.reaction_payload(card, "👍", user_id=BOT_USER_ID)
    assert await discord_bot.reaction(_raw(own), added=True) is False
    unknown = {**fake_discord.reaction_payload(card, "👍", user_id=ADA), "message_id": "77"}
    assert await discord_bot.reaction(_raw(unknown), added=True) is False
    in_dm = fake_discord.reaction_payload(card, "👍", user_id=ADA, guild_id=None)
    assert await discord_bot.reaction(_raw(in_dm), added=True) is False
    for payload in (own, unknown, in_dm):
        react(discord_bot, payload)  # through the client too: nothing raises
    counted = fake_discord.reaction_payload(card_of(fake_discord, OTHER), "❤️", user_id=BEA)
    assert await discord_bot.reaction(_raw(counted), added=True) is True
    await asyncio.sleep(0.2)  # the listeners of the ignored ones had their chance to write
    assert await rows(app) == [(OTHER, BEA, "reaction", "heart", 1)]


def _raw(payload: dict[str, Any]) -> discord.RawReactionActionEvent:
    """The event discord.py hands to ``on_raw_reaction_add`` for ``payload``."""
    emoji = discord.PartialEmoji.from_dict(payload["emoji"])
    return discord.RawReactionActionEvent(payload, emoji, "REACTION_ADD")  # type: ignore[arg-type]


async def test_feedback_buttons_record_and_confirm_privately(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await post_cards(discord_bot, fake_discord, app, fake_oai)
    card = card_of(fake_discord, PAPER)
    ids = [b.get("custom_id") for row in card.components for b in row["components"]]
    assert ids[-3:] == ["arxiv:fb:up", "arxiv:fb:down", f"arxiv:cite:{PAPER}"]

    async def click(custom_id: str, message: PostedMessage) -> dict[str, Any]:
        token = dispatch(discord_bot, button_click(fake_discord, message, custom_id))
        await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
        (answer,) = fake_discord.interaction_responses(token)
        assert answer.type == 4 and answer.data["flags"] & EPHEMERAL
        return answer.data

    assert (await click("arxiv:fb:up", card))["content"] == "Noted: relevant"
    user = (await rows(app))[0][1]
    assert await rows(app) == [(PAPER, user, "button", "+1", 1)]
    assert (await click("arxiv:fb:down", card))["content"] == "Noted: not for us"
    assert await rows(app) == [(PAPER, user, "button", "-1", -1)]  # the last press wins

    # After a restart, the buttons of old cards still answer (a dynamic item).
    restarted = DiscordAdapter(app, discord_settings(fake_discord), gateway=False)
    async with running(app, restarted):
        other = card_of(fake_discord, OTHER)
        token = dispatch(restarted, button_click(fake_discord, other, "arxiv:fb:up"))
        await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
    assert await rows(app) == [(OTHER, user, "button", "+1", 1), (PAPER, user, "button", "-1", -1)]


@pytest.fixture
async def connected(app: BotApp, fake_discord: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    fake_discord.set_channel(CHANNEL, name="papers")
    adapter = quick(DiscordAdapter(app, discord_settings(fake_discord), gateway=True))
    async with running(app, adapter):
        yield adapter


async def test_reactions_over_the_gateway_are_recorded(
    app: BotApp, connected: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await post_cards(connected, fake_discord, app, fake_oai)
    payload = fake_discord.reaction_payload(card_of(fake_discord, PAPER), "🔥", user_id=ADA)
    await fake_discord.send_reaction(payload)
    await wait_for_rows(app, 1)
    assert await rows(app) == [(PAPER, ADA, "reaction", "fire", 1)]
    await fake_discord.send_reaction(payload, added=False)
    await wait_for_rows(app, 0)
