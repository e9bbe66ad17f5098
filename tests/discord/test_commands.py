"""``/arxiv`` in Discord: raw interactions through discord.py's real command tree, answers
through the real HTTP client to the fake REST API."""

from __future__ import annotations

import re
from pathlib import Path

import discord

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.commands import DONE_NOTE, FAILED_NOTE, SHARE_PREFIX
from adapters.discord.permissions import INVITE_PERMISSIONS
from bot.app import BotApp
from bot.models import ChannelRef
from tests.discord.conftest import discord_settings
from tests.discord.payloads import (
    CHANNEL,
    MEMBER,
    autocomplete,
    button_click,
    dispatch,
    slash,
    wait_for,
)
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.discord_api import GUILD_ID, FakeDiscord, PostedMessage

LAB = ChannelRef(platform="discord", workspace=GUILD_ID, channel=CHANNEL)
EPHEMERAL = 64


async def answers(fake: FakeDiscord, token: str, count: int = 1) -> list[PostedMessage]:
    """The followups of interaction ``token`` (the deferred "thinking" message excluded)."""
    await wait_for(lambda: len(_followups(fake, token)) >= count)
    return _followups(fake, token)


async def announcement(fake: FakeDiscord, token: str) -> list[PostedMessage]:
    """A channel-visible answer: "thinking", the "done" note, then the public message."""
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 3)
    return fake.webhook_messages(token)


def _followups(fake: FakeDiscord, token: str) -> list[PostedMessage]:
    return [m for m in fake.webhook_messages(token) if m.content or m.embeds]


def text_of(message: PostedMessage) -> str:
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
        parts.append(embed.get("footer", {}).get("text", ""))
    return "\n".join(parts)


async def test_search_is_deferred_then_answered_privately_with_a_share_button(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "search", query="ti:segmentation", limit=3))
    (answer,) = await answers(fake_discord, token)
    (deferred,) = fake_discord.interaction_responses(token)
    assert deferred.type == 5  # "thinking", within Discord's 3 seconds
    assert deferred.data["flags"] & EPHEMERAL
    assert answer.ephemeral
    assert "Medical Image Segmentation" in text_of(answer)
    assert answer.allowed_mentions == {"parse": []}
    (row,) = answer.components
    (button,) = row["components"]
    assert button["label"] == "Share in channel"
    assert button["custom_id"].startswith(SHARE_PREFIX)


async def test_share_button_posts_the_results_for_everyone(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "search", query="ti:segmentation", limit=3))
    (private,) = await answers(fake_discord, token)
    custom_id = private.components[0]["components"][0]["custom_id"]

    click = dispatch(discord_bot, button_click(fake_discord, private, custom_id))
    done, shared = await answers(fake_discord, click, 2)
    assert done.content == DONE_NOTE  # the clicker's own note; then the public post
    assert not shared.ephemeral
    assert "Medical Image Segmentation" in text_of(shared)
    assert "Shared by ada" in text_of(shared)
    assert shared.components == []


async def test_a_share_button_from_before_a_restart_says_to_search_again(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "search", query="ti:segmentation", limit=3))
    (private,) = await answers(fake_discord, token)
    custom_id = private.components[0]["components"][0]["custom_id"]

    restarted = DiscordAdapter(app, discord_settings(fake_discord), gateway=False)
    await restarted.start()
    try:
        stale = dispatch(restarted, button_click(fake_discord, private, custom_id))
        await wait_for(lambda: bool(fake_discord.interaction_responses(stale)))
    finally:
        await restarted.stop()
    (expired,) = fake_discord.interaction_responses(stale)
    assert expired.type == 4 and "too old to share" in expired.data["content"]
    assert expired.data["flags"] & EPHEMERAL


async def test_subscribe_is_announced_to_the_channel(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(
        discord_bot, slash(fake_discord, "subscribe", query="segmentation", category="eess.IV")
    )
    await announcement(fake_discord, token)
    thinking, done, announced = fake_discord.webhook_messages(token)
    assert thinking.ephemeral and done.content == DONE_NOTE
    assert not announced.ephemeral
    assert "Subscribed this channel to #1" in text_of(announced)
    (subscription,) = await app.channel_subscriptions(LAB)
    assert subscription.query == "segmentation AND cat:eess.IV"


async def test_changing_subscriptions_needs_manage_channels_or_the_role(
    app: BotApp, fake_discord: FakeDiscord
) -> None:
    settings = discord_settings(fake_discord, manager_role="paper-admins")
    adapter = DiscordAdapter(app, settings, gateway=False)
    await adapter.start()
    try:
        state = adapter.client._connection
        role = {"id": "1200000000000000077", "name": "paper-admins", "permissions": "0"}
        guild = discord.Guild(data={"id": GUILD_ID, "name": "Lab", "roles": [role]}, state=state)  # type: ignore[typeddict-item]
        state._add_guild(guild)

        refused = dispatch(
            adapter, slash(fake_discord, "subscribe", permissions=MEMBER, query="cat:cs.CV")
        )
        await wait_for(lambda: bool(fake_discord.interaction_responses(refused)))
        (answer,) = fake_discord.interaction_responses(refused)
        assert answer.type == 4 and answer.data["flags"] & EPHEMERAL
        assert "needs the Manage Channels permission" in answer.data["content"]
        # Sent without mentions set: the client's own default (none) still applies.
        assert answer.data["allowed_mentions"] == {"parse": []}
        assert "paper-admins role" in answer.data["content"]
        assert await app.channel_subscriptions(LAB) == []

        allowed = slash(
            fake_discord,
            "subscribe",
            permissions=MEMBER,
            roles=(role["id"],),
            query="cat:cs.CV",
        )
        token = dispatch(adapter, allowed)
        await announcement(fake_discord, token)
        assert len(await app.channel_subscriptions(LAB)) == 1

        # Reading is open to everyone.
        listed = dispatch(adapter, slash(fake_discord, "list", permissions=MEMBER))
        (reply,) = await answers(fake_discord, listed)
        assert "cat:cs.CV" in text_of(reply)
    finally:
        await adapter.stop()


async def test_errors_are_private_and_specific(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "subscribe", query="ti:(unclosed"))
    (answer,) = await answers(fake_discord, token)
    assert answer.ephemeral
    assert "⚠️" in text_of(answer)
    assert answer.components == []

    bad = dispatch(discord_bot, slash(fake_discord, "unsubscribe", id=42))
    (missing,) = await answers(fake_discord, bad)
    assert missing.ephemeral and "42" in text_of(missing)


async def test_autocomplete_offers_this_channels_subscriptions_and_categories(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    for query in ("cat:cs.CV", "ti:transformer"):
        token = dispatch(discord_bot, slash(fake_discord, "subscribe", query=query))
        await announcement(fake_discord, token)

    typed = dispatch(discord_bot, autocomplete(fake_discord, "unsubscribe", "id", ""))
    await wait_for(lambda: bool(fake_discord.interaction_responses(typed)))
    (choices,) = fake_discord.interaction_responses(typed)
    assert choices.type == 8
    assert [(c["name"], c["value"]) for c in choices.data["choices"]] == [
        ("#1 cat:cs.CV", 1),
        ("#2 ti:transformer", 2),
    ]

    narrowed = dispatch(discord_bot, autocomplete(fake_discord, "unsubscribe", "id", "trans"))
    await wait_for(lambda: bool(fake_discord.interaction_responses(narrowed)))
    assert [
        c["value"] for c in fake_discord.interaction_responses(narrowed)[0].data["choices"]
    ] == [2]

    cats = dispatch(
        discord_bot, autocomplete(fake_discord, "search", "category", "cs.c", query="x")
    )
    await wait_for(lambda: bool(fake_discord.interaction_responses(cats)))
    values = [c["value"] for c in fake_discord.interaction_responses(cats)[0].data["choices"]]
    assert "cs.CL" in values and "cs.CV" in values
    assert all(v.lower().startswith("cs.c") for v in values[:5])
    assert len(values) <= 25


async def test_unsubscribe_and_mode_are_announced(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "subscribe", query="cat:cs.CV"))
    await announcement(fake_discord, token)
    for payload in (
        slash(fake_discord, "mode", mode="digest"),
        slash(fake_discord, "unsubscribe", id=1),
    ):
        token = dispatch(discord_bot, payload)
        announced = (await announcement(fake_discord, token))[-1]
        assert not announced.ephemeral


async def test_help_autocompletes_command_names(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    typed = dispatch(discord_bot, autocomplete(fake_discord, "help", "command", "sub"))
    await wait_for(lambda: bool(fake_discord.interaction_responses(typed)))
    (choices,) = fake_discord.interaction_responses(typed)
    assert [c["value"] for c in choices.data["choices"]] == ["subscribe"]
    assert choices.data["choices"][0]["name"].startswith("subscribe: ")


async def test_a_command_that_fails_tells_the_caller(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    # Discord refuses the answer itself (a 400): the caller still hears what happened.
    fake_discord.fail_next("POST /webhooks/{webhook_id}/{token}", status=400, code=50035)
    token = dispatch(discord_bot, slash(fake_discord, "help"))
    await wait_for(
        lambda: any(m.content == FAILED_NOTE for m in fake_discord.webhook_messages(token))
    )
    (note,) = [m for m in fake_discord.webhook_messages(token) if m.content == FAILED_NOTE]
    assert note.ephemeral


async def test_subscribing_where_the_bot_cannot_post_warns_the_subscriber(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    no_embeds = discord.Permissions(view_channel=True, send_messages=True).value
    payload = slash(fake_discord, "subscribe", app_permissions=no_embeds, query="cat:cs.CV")
    token = dispatch(discord_bot, payload)
    await wait_for(lambda: len(fake_discord.webhook_messages(token)) >= 4)
    warning = fake_discord.webhook_messages(token)[-1]
    assert warning.ephemeral
    assert "lacks Embed Links" in (warning.content or "")

    fine = dispatch(discord_bot, slash(fake_discord, "subscribe", query="cat:cs.CL"))
    await wait_for(lambda: len(fake_discord.webhook_messages(fine)) >= 3)
    assert len(fake_discord.webhook_messages(fine)) == 3  # no warning


async def test_a_slow_search_is_deferred_before_arxiv_answers(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.delay_next(0.5)  # arXiv takes its time; Discord allows 3 seconds
    token = dispatch(discord_bot, slash(fake_discord, "search", query="ti:segmentation", limit=2))
    await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
    assert _followups(fake_discord, token) == []  # deferred first, results still coming
    (answer,) = await answers(fake_discord, token)
    assert "Segmentation" in text_of(answer)


async def test_an_option_typed_into_the_query_gets_a_discord_specific_message(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "search", query="diffusion --sort date"))
    await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
    (answer,) = fake_discord.interaction_responses(token)
    assert answer.data["content"].startswith("--sort belongs in its own field of /arxiv search")
    assert answer.data["flags"] & EPHEMERAL


def test_the_documented_invite_asks_for_exactly_what_the_bot_needs() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "discord.md").read_text()
    asked = {int(n) for n in re.findall(r"permissions=(\d+)", page)}
    assert asked == {INVITE_PERMISSIONS.value}
    assert INVITE_PERMISSIONS.read_message_history, "needed to read back after a crash"
    listed = re.findall(r"^\| [A-Z][^|]+\| `1 << (\d+)`", page, flags=re.MULTILINE)
    assert sum(1 << int(bit) for bit in listed) == INVITE_PERMISSIONS.value
