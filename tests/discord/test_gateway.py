"""The Discord adapter over the gateway, as in production: the real discord.py client
connects to the fake's websocket, gets READY, and answers interactions sent over it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import discord
import pytest

from adapters.discord.adapter import READY_TIMEOUT, DiscordAdapter
from adapters.discord.settings import DiscordSettings
from bot.app import BotApp
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import ChannelRef
from tests.conftest import running, settings_env
from tests.discord.conftest import discord_settings
from tests.discord.payloads import CHANNEL, slash, wait_for
from tests.fakes.corpus import make_paper
from tests.fakes.discord_api import BOT_TOKEN, GUILD_ID, GUILD_NAME, FakeDiscord
from tests.fakes.oai import FakeOai

LAB = ChannelRef(platform="discord", workspace=GUILD_ID, channel=CHANNEL)
GUILDS_INTENT = 1
BOT_INTENTS = GUILDS_INTENT | 1 << 10 | 1 << 13  # guilds, guild and DM message reactions


def quick(adapter: DiscordAdapter) -> DiscordAdapter:
    """Skip discord.py's waits that only pace the real Discord: after the last
    GUILD_CREATE it waits ``guild_ready_timeout`` (2 s) for more, since it cannot know how
    many are coming; and it waits 5 s before IDENTIFYing every shard after the first."""
    adapter.client._connection.guild_ready_timeout = 0.05

    async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    adapter.client.before_identify_hook = identify_now  # type: ignore[method-assign]
    return adapter


@pytest.fixture
async def connected(app: BotApp, fake_discord: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    """The adapter started with its gateway connection, registered as the Discord sender."""
    fake_discord.set_channel(CHANNEL, name="papers")
    async with running(
        app, quick(DiscordAdapter(app, discord_settings(fake_discord), gateway=True))
    ) as adapter:
        yield adapter


async def subscribe_over_gateway(fake: FakeDiscord, query: str = "cat:cs.CV") -> str:
    """Send ``/arxiv subscribe`` as Discord would; wait for the channel's announcement."""
    token = await fake.send_interaction(slash(fake, "subscribe", query=query))
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 3)
    return token


async def test_a_channel_without_embed_links_is_paused_before_posting(
    app: BotApp, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    """Discord would drop the embeds and post an empty card: the cached permissions say
    so first, and the channel pauses with the reason."""
    deny = {"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(1 << 14)}  # @everyone
    fake_discord.set_channel(CHANNEL, name="papers")
    fake_discord.channel_overrides(CHANNEL, permission_overwrites=[deny])
    async with running(
        app, quick(DiscordAdapter(app, discord_settings(fake_discord), gateway=True))
    ):
        await subscribe_over_gateway(fake_discord)
        fake_oai.announce(make_paper("2506.30001", categories=("cs.CV",)))
        await app.run_cycle()
    assert fake_discord.channel_messages(CHANNEL) == []
    (channel,) = [c for c in await app.store.fetchall("SELECT * FROM channels")]
    assert "lacks Embed Links" in channel["paused_reason"]


async def test_start_connects_with_the_guilds_and_reactions_intents_only(
    connected: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    (session,) = fake_discord.gateway_sessions
    assert session.query == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    (identify,) = fake_discord.identifies
    assert identify["token"] == BOT_TOKEN
    reactions = discord.Intents(guilds=True, guild_reactions=True, dm_reactions=True)
    assert identify["intents"] == BOT_INTENTS == reactions.value
    privileged = discord.Intents(members=True, presences=True, message_content=True)
    assert BOT_INTENTS & privileged.value == 0  # none that needs approval in the portal
    assert "shard" not in identify  # a plain Client
    assert session.ops()[:2] == [1, 2]  # a heartbeat straight after HELLO, then IDENTIFY
    # The GUILD_CREATE came before ready: the server and its channel are cached.
    (guild,) = connected.client.guilds
    assert (str(guild.id), guild.name) == (GUILD_ID, GUILD_NAME)
    channel = guild.get_channel(int(CHANNEL))
    assert isinstance(channel, discord.TextChannel) and channel.name == "papers"
    assert guild.me is not None and guild.me.id == connected.client.user.id  # type: ignore[union-attr]


async def test_a_subscribe_sent_over_the_gateway_is_answered(
    app: BotApp, connected: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = await subscribe_over_gateway(fake_discord)
    (deferred,) = fake_discord.interaction_responses(token)
    assert deferred.type == 5  # "thinking"
    thinking, _done, announced = fake_discord.webhook_messages(token)
    assert thinking.ephemeral and not announced.ephemeral
    assert "Subscribed this channel to #1" in (announced.content or str(announced.embeds))
    (subscription,) = await app.channel_subscriptions(LAB)
    assert subscription.query == "cat:cs.CV"


async def test_start_returns_once_ready_and_stop_closes_the_socket(
    app: BotApp, fake_discord: FakeDiscord
) -> None:
    adapter = quick(DiscordAdapter(app, discord_settings(fake_discord), gateway=True))
    began = time.monotonic()
    await asyncio.wait_for(adapter.start(), timeout=10)
    assert time.monotonic() - began < 5 < READY_TIMEOUT
    assert adapter.client.is_ready()
    (session,) = await fake_discord.wait_gateway_ready()
    await adapter.stop()
    await fake_discord.wait_gateway_closed()
    # Client.close() asks for 1000, but its reading task, woken by aiohttp, closes first
    # with discord.py's default 4000; either way it does not come back.
    assert session.closed and session.close_code in (1000, 4000)
    assert len(fake_discord.gateway_sessions) == 1


async def test_a_dropped_connection_is_resumed(
    app: BotApp, connected: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    (first,) = fake_discord.gateway_sessions
    await fake_discord.close_gateway(4000, "unknown error")
    (resumed,) = await fake_discord.wait_gateway_ready()
    assert resumed is not first
    assert resumed.identify is None and resumed.resume is not None
    assert resumed.resume["session_id"] == first.session_id
    assert resumed.resume["seq"] == first.sequence
    await subscribe_over_gateway(fake_discord)
    assert len(await app.channel_subscriptions(LAB)) == 1


async def test_sharded_client_identifies_every_shard_and_answers(
    app: BotApp, fake_discord: FakeDiscord
) -> None:
    fake_discord.gateway_shards = 2
    settings = discord_settings(fake_discord, shards="auto")
    adapter = quick(DiscordAdapter(app, settings, gateway=True))
    assert isinstance(adapter.client, discord.AutoShardedClient)
    await asyncio.wait_for(adapter.start(), timeout=10)
    try:
        await fake_discord.wait_gateway_ready(connections=2)
        shards = sorted(tuple(i["shard"]) for i in fake_discord.identifies)
        assert shards == [(0, 2), (1, 2)]
        assert {i["intents"] for i in fake_discord.identifies} == {BOT_INTENTS}
        assert adapter.client.shard_count == 2
        # The server's events go to its own shard only.
        (guild,) = adapter.client.guilds
        assert guild.shard_id == fake_discord.shard_of(GUILD_ID) == 1
        token = await subscribe_over_gateway(fake_discord)
        assert len(fake_discord.interaction_responses(token)) == 1
        assert len(await app.channel_subscriptions(LAB)) == 1
    finally:
        await adapter.stop()
    await fake_discord.wait_gateway_closed()


async def test_a_gateway_refusing_the_token_stops_the_start(
    app: BotApp, fake_discord: FakeDiscord
) -> None:
    fake_discord.close_next_identify(4004, "Authentication failed.")
    adapter = quick(DiscordAdapter(app, discord_settings(fake_discord), gateway=True))
    began = time.monotonic()
    try:
        with pytest.raises(ConfigError, match="Discord refused DISCORD_TOKEN at the gateway"):
            await asyncio.wait_for(adapter.start(), timeout=10)
    finally:
        await adapter.stop()
    assert time.monotonic() - began < 5
    (session,) = fake_discord.gateway_sessions
    assert session.close_code == 4004
    assert len(fake_discord.identifies) == 1  # no retry after 4004


async def test_run_connects_to_the_gateway_and_answers_until_terminated(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    fake_discord.set_channel(CHANNEL, name="papers")
    env = {
        **settings_env(settings),
        "DISCORD_TOKEN": BOT_TOKEN,
        "DISCORD_API_URL": fake_discord.api_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log: list[bytes] = []
    try:
        (session,) = await fake_discord.wait_gateway_ready(timeout=30)
        assert session.identify is not None
        assert session.identify["intents"] == BOT_INTENTS
        assert process.stderr is not None
        async with asyncio.timeout(30):  # discord.py waits 2 s for more servers first
            while b"Discord: connected" not in (line := await process.stderr.readline()):
                assert line, b"".join(log).decode()
                log.append(line)
        token = await subscribe_over_gateway(fake_discord)
        (deferred,) = fake_discord.interaction_responses(token)
        assert deferred.type == 5
        announced = fake_discord.webhook_messages(token)[-1]
        assert "Subscribed this channel to #1" in (announced.content or str(announced.embeds))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, b"".join(log).decode() + stderr.decode()
    await fake_discord.wait_gateway_closed()


async def test_an_unreachable_discord_stops_the_start_with_a_message(
    app: BotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/v10"
    monkeypatch.setattr(discord.http.Route, "BASE", closed)
    settings = DiscordSettings(_env_file=None, token=BOT_TOKEN, api_url=closed)  # type: ignore[call-arg]
    adapter = DiscordAdapter(app, settings, gateway=True)
    with pytest.raises(ConfigError, match=r"cannot reach Discord at http://127\.0\.0\.1"):
        await adapter.start()
    await adapter.stop()
