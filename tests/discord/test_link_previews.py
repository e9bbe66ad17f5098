"""Opt-in link previews on Discord (``DISCORD_LINK_PREVIEWS=on``): a MESSAGE_CREATE sent
over the fake's gateway is parsed by discord.py itself, and the bot replies at the fake
REST API with one message of compact paper cards, from the store when it holds them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, build_intents
from adapters.discord.link_previews import PRIVILEGED_INTENT_MISSING, message_urls
from adapters.discord.render import DiscordMessage
from bot.app import BotApp
from bot.errors import ConfigError
from bot.link_previews import LinkPreview
from bot.models import ChannelRef
from tests.conftest import running
from tests.discord.conftest import discord_settings
from tests.discord.payloads import CHANNEL, USER_ID, wait_for
from tests.discord.test_gateway import BOT_INTENTS, quick
from tests.discord.test_render import EVIL, assert_safe
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.discord_api import BOT_USER_ID, GUILD_ID, FakeDiscord, PostedMessage

HELD = "2506.11674"
PREVIEW_INTENTS = BOT_INTENTS | 1 << 9 | 1 << 15  # + guild messages, message content
_ids = iter(range(1300000000000000100, 1300000000000999999))


def message_payload(
    content: str,
    *,
    author_id: str = USER_ID,
    bot: bool = False,
    guild_id: str | None = GUILD_ID,
    **extra: Any,
) -> dict[str, Any]:
    """The ``d`` of a MESSAGE_CREATE as Discord sends it for a message in ``CHANNEL``."""
    author = {"id": author_id, "username": "ada", "discriminator": "0", "avatar": None}
    payload: dict[str, Any] = {
        "id": str(next(_ids)),
        "channel_id": CHANNEL,
        "type": 0,
        "content": content,
        "author": {**author, "bot": bot},
        "timestamp": "2025-06-14T12:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "flags": 0,
        **extra,
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["member"] = {"roles": [], "joined_at": "2025-01-01T00:00:00+00:00", "flags": 0}
    return payload


async def connect(app: BotApp, fake: FakeDiscord, *, previews: bool) -> DiscordAdapter:
    fake.set_channel(CHANNEL, name="papers")
    settings = discord_settings(fake, link_previews=previews)
    return quick(DiscordAdapter(app, settings, gateway=True))


@pytest.fixture
async def previewing(app: BotApp, fake_discord: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    """The adapter with previews on, connected to the fake's gateway."""
    async with running(app, await connect(app, fake_discord, previews=True)) as adapter:
        yield adapter


@pytest.fixture
def lookups(app: BotApp, monkeypatch: pytest.MonkeyPatch) -> list[Sequence[str]]:
    """The URLs of every call of the core's ``link_previews``."""
    calls: list[Sequence[str]] = []
    real = app.link_previews

    async def counted(urls: Sequence[str], channel: ChannelRef) -> list[LinkPreview]:
        calls.append(urls)
        return await real(urls, channel)

    monkeypatch.setattr(app, "link_previews", counted)
    return calls


async def send(fake: FakeDiscord, payload: dict[str, Any]) -> str:
    assert await fake.send_dispatch("MESSAGE_CREATE", payload) == 1
    return str(payload["id"])


async def reply_to(fake: FakeDiscord, message_id: str) -> PostedMessage:
    """Wait for the bot's reply to ``message_id``; there must be exactly one."""

    def replies() -> list[PostedMessage]:
        return [
            m
            for m in fake.channel_messages(CHANNEL)
            if str((m.payload.get("message_reference") or {}).get("message_id")) == message_id
        ]

    await wait_for(lambda: bool(replies()))
    (reply,) = replies()
    return reply


def as_message(posted: PostedMessage) -> DiscordMessage:
    embeds = tuple(discord.Embed.from_dict(embed) for embed in posted.embeds)
    return DiscordMessage(posted.content or "", embeds)


async def test_a_pasted_link_gets_one_reply_with_the_held_paper(
    app: BotApp, previewing: DiscordAdapter, fake_discord: FakeDiscord, fake_arxiv: FakeArxiv
) -> None:
    paper = paper_by_id(HELD)
    await app.store.upsert_papers([paper])
    text = (
        f"read https://arxiv.org/abs/{HELD}, and <https://arxiv.org/pdf/{HELD}v1> "
        f"or [this](https://huggingface.co/papers/{HELD}) https://github.com/org/repo"
    )
    payload = message_payload(text)
    message_id = await send(fake_discord, payload)
    reply = await reply_to(fake_discord, message_id)
    (embed,) = reply.embeds  # three links, one paper: one card
    assert embed["url"] == paper.abs_url and embed["title"]
    assert paper.authors[0] in embed["description"]
    assert paper.primary_category in embed["footer"]["text"]
    assert f"submitted {paper.submitted:%Y-%m-%d}" in embed["footer"]["text"]
    assert reply.allowed_mentions == {"parse": [], "replied_user": False}
    assert str(reply.payload["message_reference"]["channel_id"]) == CHANNEL
    assert not reply.content
    assert fake_arxiv.requests == []
    # The same event again (a replay) and an edit get no second reply.
    await send(fake_discord, payload)
    edit = {**payload, "content": f"{text} https://arxiv.org/abs/{HELD}v2"}
    await fake_discord.send_dispatch("MESSAGE_UPDATE", edit)
    await asyncio.sleep(0.1)
    assert len(fake_discord.channel_messages(CHANNEL)) == 1
    # The user's message is left as it is: nothing edited or suppressed.
    assert [call.method for call in fake_discord.all_calls].count("PATCH") == 0


async def test_hostile_titles_are_escaped_and_ping_nobody(
    app: BotApp, previewing: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    paper = dataclasses.replace(
        paper_by_id(HELD),
        title=f"Fr\\'echet {EVIL}",
        authors=(EVIL, "Eve **Bold** O'Hara"),
        abstract=f"{EVIL} is one sentence at first. Second sentence here.",
    )
    await app.store.upsert_papers([paper])
    message_id = await send(fake_discord, message_payload(f"https://arxiv.org/abs/{HELD}"))
    reply = await reply_to(fake_discord, message_id)
    assert_safe(as_message(reply))
    (embed,) = reply.embeds
    assert "Fréchet" in embed["title"]  # TeX made readable
    assert "Second sentence" not in embed["description"]
    assert reply.allowed_mentions == {"parse": [], "replied_user": False}


async def test_a_link_in_a_thread_is_answered_in_the_thread(
    app: BotApp, fake_discord: FakeDiscord, fake_arxiv: FakeArxiv
) -> None:
    thread = "1200000000000000077"
    fake_discord.set_channel(thread, type=11, name="reading", parent_id=CHANNEL)
    await app.store.upsert_papers([paper_by_id(HELD)])
    async with running(app, await connect(app, fake_discord, previews=True)):
        payload = message_payload(f"https://arxiv.org/abs/{HELD}", channel_id=thread)
        assert await fake_discord.send_dispatch("MESSAGE_CREATE", payload) == 1
        await wait_for(lambda: bool(fake_discord.channel_messages(thread)))
    (reply,) = fake_discord.channel_messages(thread)
    assert str(reply.payload["message_reference"]["message_id"]) == payload["id"]
    assert fake_discord.channel_messages(CHANNEL) == []
    assert fake_arxiv.requests == []


async def test_at_most_five_papers_in_one_reply(
    app: BotApp, previewing: DiscordAdapter, fake_discord: FakeDiscord, fake_arxiv: FakeArxiv
) -> None:
    ids = [f"2506.3000{n}" for n in range(7)]
    await app.store.upsert_papers([make_paper(arxiv_id) for arxiv_id in ids])
    text = " ".join(f"https://arxiv.org/abs/{arxiv_id}" for arxiv_id in ids)
    reply = await reply_to(fake_discord, await send(fake_discord, message_payload(text)))
    assert [embed["url"] for embed in reply.embeds] == [
        f"https://arxiv.org/abs/{arxiv_id}" for arxiv_id in ids[:5]
    ]
    assert fake_arxiv.requests == []


async def test_bots_webhooks_ourselves_dms_and_plain_text_are_ignored(
    app: BotApp,
    previewing: DiscordAdapter,
    fake_discord: FakeDiscord,
    fake_arxiv: FakeArxiv,
    lookups: list[Sequence[str]],
) -> None:
    await app.store.upsert_papers([paper_by_id(HELD)])
    link = f"https://arxiv.org/abs/{HELD}"
    ignored = [
        message_payload(link, author_id="1300000000000000900", bot=True),
        message_payload(link, author_id=BOT_USER_ID, bot=True),
        message_payload(link, webhook_id="1300000000000000901"),
        message_payload(link, guild_id=None),
        message_payload(link, type=7),  # a member joined
        message_payload("no links here, just arXiv 2506.11674 and https://example.org/x"),
    ]
    for payload in ignored:
        await send(fake_discord, payload)
    last = await send(fake_discord, message_payload(link))
    await reply_to(fake_discord, last)
    await asyncio.sleep(0.05)
    assert len(fake_discord.channel_messages(CHANNEL)) == 1
    assert lookups == [[link]]  # only the person's message with a link asked the core
    assert fake_arxiv.requests == []


async def test_with_the_setting_off_no_intent_and_no_handler(
    app: BotApp, fake_discord: FakeDiscord, lookups: list[Sequence[str]]
) -> None:
    await app.store.upsert_papers([paper_by_id(HELD)])
    async with running(app, await connect(app, fake_discord, previews=False)) as adapter:
        (identify,) = fake_discord.identifies
        assert identify["intents"] == BOT_INTENTS
        assert getattr(adapter.client, "on_message", None) is None
        await send(fake_discord, message_payload(f"https://arxiv.org/abs/{HELD}"))
        await asyncio.sleep(0.1)
    assert fake_discord.channel_messages(CHANNEL) == []
    assert lookups == []


async def test_with_the_setting_on_the_message_content_intent_is_requested(
    previewing: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    (identify,) = fake_discord.identifies
    assert identify["intents"] == PREVIEW_INTENTS
    intents = discord.Intents._from_value(identify["intents"])
    assert intents.message_content and intents.guild_messages
    assert not intents.members and not intents.presences
    settings = discord_settings(fake_discord, link_previews="on")
    assert build_intents(settings).value == PREVIEW_INTENTS


async def test_an_intent_not_granted_in_the_portal_stops_the_start_with_the_fix(
    app: BotApp, fake_discord: FakeDiscord
) -> None:
    fake_discord.close_next_identify(4014, "Disallowed intent(s).")
    adapter = await connect(app, fake_discord, previews=True)
    try:
        with pytest.raises(ConfigError) as failure:
            await asyncio.wait_for(adapter.start(), timeout=5)
    finally:
        await adapter.stop()
    assert str(failure.value) == PRIVILEGED_INTENT_MISSING
    assert "Privileged Gateway Intents" in str(failure.value)
    assert "DISCORD_LINK_PREVIEWS=off" in str(failure.value)
    assert len(fake_discord.identifies) == 1  # no retry after 4014


def test_links_are_read_from_the_text() -> None:
    text = (
        "see <https://arxiv.org/abs/2506.11674>, (https://doi.org/10.48550/arXiv.2504.02408). "
        "||https://alphaxiv.org/abs/2506.10231|| **https://arxiv.org/pdf/2506.11674v2**"
    )
    assert message_urls(text) == [
        "https://arxiv.org/abs/2506.11674",
        "https://doi.org/10.48550/arXiv.2504.02408",
        "https://alphaxiv.org/abs/2506.10231",
        "https://arxiv.org/pdf/2506.11674v2",
    ]
