"""Personal subscriptions in Discord: every ``/arxiv`` subcommand works in a direct
message with the bot, for that person alone, and their papers arrive in the DM."""

from __future__ import annotations

from typing import Any

from adapters.discord.adapter import UNAVAILABLE_REASONS, DiscordAdapter
from adapters.discord.commands import DM_WORKSPACE, DONE_NOTE
from bot.app import BotApp
from bot.models import ChannelRef
from tests.discord.payloads import CHANNEL, MEMBER, autocomplete, dispatch, slash, wait_for
from tests.discord.test_commands import text_of
from tests.discord.test_delivery import footer_ids, subscribe
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.discord_api import FakeDiscord, PostedMessage
from tests.fakes.oai import FakeOai

DM = "1200000000000000777"
"""Ada's direct message channel with the bot."""
PERSONAL = ChannelRef(platform="discord", workspace=DM_WORKSPACE, channel=DM)


async def in_dm(bot: DiscordAdapter, fake: FakeDiscord, name: str, **options: Any) -> str:
    """``/arxiv name`` typed in Ada's DM with the bot (no server, no permissions);
    the text of its last answer."""
    token = dispatch(bot, slash(fake, name, channel=DM, guild=False, **options))
    await wait_for(lambda: any(_shown(m) for m in fake.webhook_messages(token)))
    return text_of([m for m in fake.webhook_messages(token) if _shown(m)][-1])


def _shown(message: PostedMessage) -> bool:
    """An answer, not the "thinking" placeholder or the "done" note."""
    return bool(message.embeds) or bool(message.content and message.content != DONE_NOTE)


async def test_a_dm_subscription_delivers_to_the_dm_and_never_mixes_with_a_channel(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    fake_discord.set_dm(DM)
    answer = await in_dm(discord_bot, fake_discord, "subscribe", query="cat:eess.IV")
    assert "Subscribed this channel to #1" in answer
    assert await app.store.find_channel(PERSONAL) is not None
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:cs.CL")

    listed = await in_dm(discord_bot, fake_discord, "list")
    assert "cat:eess.IV" in listed and "cat:cs.CL" not in listed
    typed = dispatch(
        discord_bot, autocomplete(fake_discord, "unsubscribe", "id", "", channel=DM, guild=False)
    )
    await wait_for(lambda: bool(fake_discord.interaction_responses(typed)))
    (choices,) = fake_discord.interaction_responses(typed)
    assert [c["name"] for c in choices.data["choices"]] == ["#1 cat:eess.IV"]

    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.09876"))
    await app.run_cycle()

    assert footer_ids(fake_discord.channel_messages(DM)) == ["2506.11674"]
    assert footer_ids(fake_discord.channel_messages(CHANNEL)) == ["2506.09876"]


async def test_mode_unsubscribe_export_and_a_large_digest_in_a_dm(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    fake_discord.set_dm(DM)
    await in_dm(discord_bot, fake_discord, "subscribe", query="cat:cs.LG")
    await in_dm(discord_bot, fake_discord, "subscribe", query="cat:cs.CL")
    assert "digest" in await in_dm(discord_bot, fake_discord, "mode", mode="digest")
    assert "#2" in await in_dm(discord_bot, fake_discord, "unsubscribe", id=2)
    assert "cat:cs.CL" not in await in_dm(discord_bot, fake_discord, "list")

    papers = [make_paper(f"2507.{n:05d}", categories=("cs.LG",)) for n in range(1, 13)]
    fake_oai.announce(*papers)
    await app.run_cycle()

    posted = fake_discord.channel_messages(DM)
    assert "12 new papers" in text_of(posted[0]), "the list first"
    assert len(footer_ids(posted[1:])) == app.settings.digest_cards, "then the cards, in the DM"
    assert not [c for c in fake_discord.calls() if "/threads" in c.path], "no threads in DMs"

    token = dispatch(discord_bot, slash(fake_discord, "export", channel=DM, guild=False))
    await wait_for(lambda: any(c.files and token in c.path for c in fake_discord.calls()))
    (call,) = [c for c in fake_discord.calls() if c.files and token in c.path]
    (name,) = call.files
    assert all(p.arxiv_id in call.file_contents[name].decode() for p in papers)


async def test_a_person_who_closed_their_dms_pauses_only_their_feed(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    fake_discord.set_dm(DM, closed=True)
    await in_dm(discord_bot, fake_discord, "subscribe", query="cat:eess.IV")
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:eess.IV")
    fake_oai.announce(paper_by_id("2506.11674"))

    await app.run_cycle()

    assert footer_ids(fake_discord.channel_messages(CHANNEL)) == ["2506.11674"]
    assert fake_discord.channel_messages(DM) == []
    token = dispatch(discord_bot, slash(fake_discord, "status", channel=DM, guild=False))
    await wait_for(lambda: len(fake_discord.webhook_messages(token)) >= 2)
    reason = UNAVAILABLE_REASONS[50007].split("(")[0].strip()
    assert reason in str(fake_discord.webhook_messages(token)[-1].embeds)

    fake_discord.set_dm(DM)  # they open their DMs again and use the bot there
    assert "it resumes now" in await in_dm(discord_bot, fake_discord, "mode", mode="each")
    await app.dispatcher.deliver_due()
    assert footer_ids(fake_discord.channel_messages(DM)) == ["2506.11674"]


async def test_a_server_channel_still_needs_manage_channels(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(
        discord_bot, slash(fake_discord, "subscribe", permissions=MEMBER, query="cat:cs.CV")
    )
    await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
    (answer,) = fake_discord.interaction_responses(token)
    assert "needs the Manage Channels permission" in answer.data["content"]
