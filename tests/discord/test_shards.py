"""Discord shards split across replicas (``DISCORD_SHARD_COUNT``, ``DISCORD_SHARD_IDS``):
the settings (``ordinal`` among them: the shard numbered like a StatefulSet's pod), the
discord.py client they build, and two replicas on one database that each connect their
own shard of the fake gateway and answer what arrives on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, DiscordFactory, build_client
from adapters.discord.commands import DM_WORKSPACE
from adapters.discord.settings import (
    DiscordSettings,
    describe_shards,
    host_name,
    load_discord_settings,
)
from bot.app import BotApp
from bot.config import Settings
from bot.errors import ConfigError
from tests.conftest import running
from tests.discord.conftest import discord_settings
from tests.discord.payloads import CHANNEL, slash, wait_for
from tests.discord.test_gateway import BOT_INTENTS, quick
from tests.discord.test_run import discord_env, run_bot
from tests.fakes.corpus import paper_by_id
from tests.fakes.discord_api import GUILD_ID, FakeDiscord, PostedMessage
from tests.fakes.oai import FakeOai

GUILD_ZERO = str(int(GUILD_ID) + (1 << 22))
"""A second server, whose events Discord sends to shard 0 of 2 (``GUILD_ID``'s go to 1)."""
CHANNEL_ZERO = "1200000000000000002"
"""A channel in ``GUILD_ZERO``."""
DM = "1200000000000000777"
"""Ada's direct message channel with the bot: DMs go to shard 0."""
ADA = "1300000000000000001"
BEA = "1300000000000000002"
IMAGING = "2506.11674"  # eess.IV
LANGUAGE = "2506.09876"  # cs.CL


def shard_env(monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None) -> None:
    for name, value in (("DISCORD_SHARD_COUNT", count), ("DISCORD_SHARD_IDS", ids)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "ids", "shard_count", "shard_ids", "sharded"),
    [
        (None, None, None, None, False),
        ("", "", None, None, False),
        ("4", None, 4, None, True),
        ("4", "0,2", 4, (0, 2), True),
        ("4", "2, 0", 4, (0, 2), True),
        ("8", "4-7,0", 8, (0, 4, 5, 6, 7), True),
        ("8", " 0 - 1 , 3,", 8, (0, 1, 3), True),
        ("1", "0", 1, (0,), True),
    ],
)
def test_shard_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    count: str | None,
    ids: str | None,
    shard_count: int | None,
    shard_ids: tuple[int, ...] | None,
    sharded: bool,
) -> None:
    shard_env(monkeypatch, count, ids)
    settings = load_discord_settings(_env_file=None)
    assert settings.shard_count == shard_count
    assert settings.shard_ids == shard_ids
    assert settings.sharded is sharded


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        (
            "0",
            None,
            "invalid setting DISCORD_SHARD_COUNT: must be a whole number, 1 or more: the "
            "number of shards across all replicas (e.g. 4); leave it empty for one "
            "connection (got '0')",
        ),
        ("-2", None, "invalid setting DISCORD_SHARD_COUNT: must be a whole number, 1 or more"),
        ("four", "0", "invalid setting DISCORD_SHARD_COUNT: must be a whole number, 1 or more"),
        (
            None,
            "0,1",
            "invalid setting DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT, the number of "
            "shards across all replicas: set it on every replica (e.g. DISCORD_SHARD_COUNT=4, "
            "with DISCORD_SHARD_IDS=0,1 on one replica and 2,3 on the other) (got '0,1')",
        ),
        (
            "4",
            "0,4",
            "invalid setting DISCORD_SHARD_IDS: shard 4 is out of range for "
            "DISCORD_SHARD_COUNT=4: ids run from 0 to 3; raise DISCORD_SHARD_COUNT (on every "
            "replica) or list only ids below it (got '0,4')",
        ),
        ("2", "0-3", "shard 2 is out of range for DISCORD_SHARD_COUNT=2: ids run from 0 to 1"),
        (
            "4",
            "1,1",
            "invalid setting DISCORD_SHARD_IDS: shard 1 is listed twice: list each shard once "
            "(got '1,1')",
        ),
        (
            "4",
            "0-2,2",
            "invalid setting DISCORD_SHARD_IDS: shard 2 is listed twice (in 0-2 and in 2): "
            "list each shard once",
        ),
        ("4", "3-1", "invalid setting DISCORD_SHARD_IDS: the range 3-1 runs backwards: write 1-3"),
        (
            "4",
            "0;1",
            "invalid setting DISCORD_SHARD_IDS: '0;1' is not a shard id or a range: use ids "
            "from 0 and ranges separated by commas, such as 0,2 or 0-3 (got '0;1')",
        ),
        ("4", "-1", "'-1' is not a shard id or a range"),
        ("4", "0,x", "'x' is not a shard id or a range"),
        ("4", " , ", "invalid setting DISCORD_SHARD_IDS: lists no shard"),
    ],
)
def test_a_bad_shard_setting_says_what_is_wrong_and_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None, message: str
) -> None:
    shard_env(monkeypatch, count, ids)
    with pytest.raises(ConfigError) as raised:
        load_discord_settings(_env_file=None)
    assert message in str(raised.value)
    assert str(raised.value).startswith("invalid setting DISCORD_SHARD_")


def test_a_bad_shard_count_is_reported_once_not_again_through_the_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shard_env(monkeypatch, "0", "0,1")
    with pytest.raises(ConfigError) as raised:
        load_discord_settings(_env_file=None)
    assert "DISCORD_SHARD_COUNT" in str(raised.value)
    assert "DISCORD_SHARD_IDS" not in str(raised.value)


def test_shards_are_described_compactly() -> None:
    assert describe_shards([2, 0], 4) == "0,2 of 4"
    assert describe_shards(range(4), 8) == "0-3 of 8"
    assert describe_shards([0, 1, 2, 3, 8, 10, 11], 16) == "0-3,8,10,11 of 16"


async def test_run_stops_on_shard_ids_without_a_count_with_one_line(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord, DISCORD_SHARD_IDS="0,2")
    code, _, stderr = await run_bot(env, "run")
    assert code == 2  # a bad setting
    assert stderr.startswith("Error: invalid setting DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert fake_discord.calls() == []


# -- DISCORD_SHARD_IDS=ordinal: the shard numbered like a StatefulSet's pod ----------------


def ordinal_env(monkeypatch: pytest.MonkeyPatch, count: str | None) -> None:
    shard_env(monkeypatch, count, "ordinal")
    monkeypatch.setenv("DISCORD_TOKEN", "t")


@pytest.mark.parametrize(
    ("host", "count", "shard_ids"),
    [
        ("arxiv-bot-1", "2", (1,)),
        ("arxiv-bot-0", "2", (0,)),
        ("arxiv-bot-0", "1", (0,)),
        ("arxiv-bot-11", "12", (11,)),
        ("arxiv-bot-1.arxiv-bot-pods.default.svc.cluster.local", "2", (1,)),  # an FQDN
        ("bot-3", "4", (3,)),
    ],
)
def test_ordinal_takes_the_shard_from_the_number_ending_the_host_name(
    monkeypatch: pytest.MonkeyPatch, host: str, count: str, shard_ids: tuple[int, ...]
) -> None:
    ordinal_env(monkeypatch, count)
    settings = load_discord_settings(_env_file=None, hostname=host)
    assert settings.shard_ids == shard_ids  # the same tuple as DISCORD_SHARD_IDS=1 gives
    assert settings.shard_count == int(count)
    assert settings.sharded
    client = build_client(settings)
    assert isinstance(client, discord.AutoShardedClient)
    assert (client.shard_count, client.shard_ids) == (int(count), list(shard_ids))


@pytest.mark.parametrize("spelling", ["ordinal", " Ordinal ", "ORDINAL"])
def test_ordinal_reads_this_hosts_name_from_hostname(
    monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    ordinal_env(monkeypatch, "2")
    monkeypatch.setenv("DISCORD_SHARD_IDS", spelling)
    monkeypatch.setenv("HOSTNAME", "arxiv-bot-1")  # a container's, the pod's name on Kubernetes
    assert host_name() == "arxiv-bot-1"
    assert load_discord_settings(_env_file=None).shard_ids == (1,)
    monkeypatch.delenv("HOSTNAME")
    assert host_name() == socket.gethostname()
    assert load_discord_settings(_env_file=None, hostname="x-0").shard_ids == (0,)


@pytest.mark.parametrize(
    ("host", "count", "message"),
    [
        (
            "arxiv-bot-2",
            "2",
            "invalid setting DISCORD_SHARD_IDS: ordinal gives this host ('arxiv-bot-2') shard 2, "
            "but DISCORD_SHARD_COUNT=2 has shards 0 to 1: set DISCORD_SHARD_COUNT to the "
            "StatefulSet's replicas (raise both together) (got 'ordinal')",
        ),
        ("arxiv-bot-7", "4", "shard 7, but DISCORD_SHARD_COUNT=4 has shards 0 to 3"),
        (
            "laptop",
            "2",
            "invalid setting DISCORD_SHARD_IDS: ordinal needs a host name ending in -N, as a "
            "StatefulSet's pods have (arxiv-bot-0, arxiv-bot-1, ...); this host is 'laptop': "
            "run the bot in a StatefulSet, or list this replica's shards instead (e.g. 0,2) "
            "(got 'ordinal')",
        ),
        ("arxiv-bot-", "2", "needs a host name ending in -N"),
        ("arxiv-bot1", "2", "this host is 'arxiv-bot1'"),
        ("arxiv-bot-x", "2", "this host is 'arxiv-bot-x'"),
        (
            "arxiv-bot-1",
            None,
            "invalid setting DISCORD_SHARD_IDS: ordinal needs DISCORD_SHARD_COUNT, the number "
            "of shards across all replicas: set it to the StatefulSet's replicas (e.g. "
            "DISCORD_SHARD_COUNT=2 with replicas: 2) (got 'ordinal')",
        ),
    ],
)
def test_a_host_ordinal_cannot_use_says_what_is_wrong_and_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, host: str, count: str | None, message: str
) -> None:
    ordinal_env(monkeypatch, count)
    with pytest.raises(ConfigError) as raised:
        load_discord_settings(_env_file=None, hostname=host)
    assert message in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1


def test_ordinal_without_a_token_is_ignored_but_still_needs_a_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The Kubernetes variant sets both for every pod: with Slack alone they do nothing."""
    monkeypatch.chdir(tmp_path)  # no .env
    shard_env(monkeypatch, "2", "ordinal")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    for host in ("laptop", "arxiv-bot-5", "arxiv-bot-1"):
        settings = load_discord_settings(_env_file=None, hostname=host)
        assert not settings.is_configured
        assert settings.shard_ids is None
    monkeypatch.setenv("HOSTNAME", "laptop")
    assert not DiscordFactory().is_configured()  # `arxiv-bot run` leaves Discord off
    shard_env(monkeypatch, None, "ordinal")
    with pytest.raises(ConfigError, match="ordinal needs DISCORD_SHARD_COUNT"):
        load_discord_settings(_env_file=None, hostname="arxiv-bot-1")


def test_a_bad_count_is_reported_once_not_again_through_ordinal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ordinal_env(monkeypatch, "0")
    with pytest.raises(ConfigError) as raised:
        load_discord_settings(_env_file=None, hostname="laptop")
    assert "DISCORD_SHARD_COUNT" in str(raised.value)
    assert "DISCORD_SHARD_IDS" not in str(raised.value)


async def test_run_stops_on_an_ordinal_past_the_count_with_one_line(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(
        settings,
        fake_discord,
        DISCORD_SHARD_COUNT="2",
        DISCORD_SHARD_IDS="ordinal",
        HOSTNAME="arxiv-bot-2",  # a third pod, its count not raised with the replicas
    )
    code, _, stderr = await run_bot(env, "run")
    assert code == 2  # a bad setting
    assert stderr.startswith(
        "Error: invalid setting DISCORD_SHARD_IDS: ordinal gives this host ('arxiv-bot-2') "
        "shard 2, but DISCORD_SHARD_COUNT=2 has shards 0 to 1"
    )
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert fake_discord.calls() == []


async def test_a_pod_connects_the_shard_of_its_number_and_says_so(
    app: BotApp,
    fake_discord: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord.adapter")
    monkeypatch.setenv("HOSTNAME", "arxiv-bot-1")
    settings = discord_settings(fake_discord, shard_count=2, shard_ids="ordinal")
    assert settings.shard_ids == (1,)
    async with running(app, quick(DiscordAdapter(app, settings, gateway=True))) as adapter:
        await fake_discord.wait_gateway_ready(connections=1)
        assert [tuple(i["shard"]) for i in fake_discord.identifies] == [(1, 2)]
        client = adapter.client
        assert isinstance(client, discord.AutoShardedClient)
        assert (client.shard_count, client.shard_ids) == (2, [1])
        assert sorted(client.shards) == [1]
    await fake_discord.wait_gateway_closed()
    logged = [r.getMessage() for r in caplog.records]
    assert "Discord: shards 1 of 2 run in this process" in logged


# -- the client ----------------------------------------------------------------------------


def settings_with(**values: Any) -> DiscordSettings:
    return DiscordSettings(_env_file=None, token="t", **values)  # type: ignore[call-arg]


async def test_the_client_connects_only_the_shards_of_this_replica() -> None:
    client = build_client(settings_with(shard_count=4, shard_ids="2,0"))
    assert isinstance(client, discord.AutoShardedClient)
    assert client.shard_count == 4
    assert client.shard_ids == [0, 2]


async def test_a_count_alone_connects_every_shard_of_it() -> None:
    client = build_client(settings_with(shard_count=3))
    assert isinstance(client, discord.AutoShardedClient)
    assert client.shard_count == 3
    assert client.shard_ids is None  # discord.py then launches 0 .. count - 1


async def test_auto_lets_discord_choose_and_no_setting_is_one_connection() -> None:
    auto = build_client(settings_with(shards="auto"))
    assert isinstance(auto, discord.AutoShardedClient)
    count: int | None = auto.shard_count  # discord.py types it int: it is set on connecting
    assert (count, auto.shard_ids) == (None, None)
    plain = build_client(settings_with())
    assert not isinstance(plain, discord.AutoShardedClient)
    assert (plain.shard_id, plain.shard_count) == (None, None)


# -- two replicas ---------------------------------------------------------------------------


@dataclass
class Replica:
    """One bot process: its own app (on the shared database) and Discord adapter."""

    app: BotApp
    adapter: DiscordAdapter
    interactions: list[str] = field(default_factory=list)
    """The servers (``dm`` for DMs) of the interactions this replica received."""
    reactions: list[str] = field(default_factory=list)
    """The channels of the reactions this replica handed to its core."""

    def listen(self) -> None:
        client, adapter = self.adapter.client, self.adapter

        async def on_interaction(interaction: discord.Interaction) -> None:
            self.interactions.append(str(interaction.guild_id or DM_WORKSPACE))

        client.event(on_interaction)  # the tree runs the command, not this listener
        handle = adapter.reaction

        async def reaction(payload: discord.RawReactionActionEvent, *, added: bool) -> bool:
            self.reactions.append(str(payload.channel_id))
            return await handle(payload, added=added)

        adapter.reaction = reaction  # type: ignore[method-assign]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"digest_cap": 100})  # each paper its own card


@pytest.fixture
async def replicas(
    settings: Settings, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[Replica, Replica]]:
    """Replicas 0 and 1 on one database, connecting shard 0 and shard 1 of 2."""
    caplog.set_level(logging.INFO, logger="adapters.discord.adapter")
    fake_discord.guilds[GUILD_ZERO] = "Shard zero lab"
    fake_discord.set_channel(CHANNEL, name="papers")
    fake_discord.set_channel(CHANNEL_ZERO, guild_id=GUILD_ZERO, name="reading")
    fake_discord.set_dm(DM)
    started: list[Replica] = []
    async with contextlib.AsyncExitStack() as stack:
        for shard in (0, 1):
            app = await stack.enter_async_context(BotApp(settings))
            shard_settings = discord_settings(fake_discord, shard_count=2, shard_ids=str(shard))
            adapter = quick(DiscordAdapter(app, shard_settings, gateway=True))
            replica = Replica(app, adapter)
            replica.listen()
            await stack.enter_async_context(running(app, adapter))
            started.append(replica)
        await fake_discord.wait_gateway_ready(connections=2)
        yield started[0], started[1]
    await fake_discord.wait_gateway_closed()


async def subscribe(fake: FakeDiscord, channel: str, guild: str | None, query: str) -> str:
    """``/arxiv subscribe`` sent by the gateway to the shard of ``guild`` (0 for a DM);
    the text of the announcement that answers it."""
    payload = slash(fake, "subscribe", channel=channel, guild=guild is not None, query=query)
    if guild is not None:
        payload["guild_id"] = guild
    token = await fake.send_interaction(payload)
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 3)
    announced = fake.webhook_messages(token)[-1]
    return f"{announced.content} {announced.embeds}"


def card(fake: FakeDiscord, channel: str, arxiv_id: str) -> PostedMessage:
    (found,) = [m for m in fake.channel_messages(channel) if arxiv_id in str(m.embeds)]
    return found


async def feedback_rows(app: BotApp) -> list[tuple[str, str, str, str]]:
    found = await app.store.fetchall(
        "SELECT c.channel, f.arxiv_id, f.user, f.emoji FROM feedback f "
        "JOIN channels c ON c.id = f.channel_id ORDER BY c.channel, f.user"
    )
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in found]


async def test_each_replica_identifies_its_own_shard_and_says_so(
    replicas: tuple[Replica, Replica], fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    zero, one = replicas
    assert fake_discord.shard_of(GUILD_ZERO, 2) == 0 and fake_discord.shard_of(GUILD_ID, 2) == 1
    assert sorted(tuple(i["shard"]) for i in fake_discord.identifies) == [(0, 2), (1, 2)]
    assert {i["intents"] for i in fake_discord.identifies} == {BOT_INTENTS}
    for shard, replica in enumerate(replicas):
        client = replica.adapter.client
        assert isinstance(client, discord.AutoShardedClient)
        assert (client.shard_count, client.shard_ids) == (2, [shard])
        assert sorted(client.shards) == [shard]  # the shards it runs, as discord.py says
        assert await replica.adapter.is_connected()
    # Each caches only the servers of its shard.
    assert [str(g.id) for g in zero.adapter.client.guilds] == [GUILD_ZERO]
    assert [str(g.id) for g in one.adapter.client.guilds] == [GUILD_ID]
    logged = [r.getMessage() for r in caplog.get_records("setup")]  # started in the fixture
    assert "Discord: shards 0 of 2 run in this process" in logged
    assert "Discord: shards 1 of 2 run in this process" in logged


async def test_each_replica_answers_the_commands_of_its_shard_and_feedback_from_any(
    replicas: tuple[Replica, Replica], fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    zero, one = replicas
    assert "Subscribed this channel" in await subscribe(
        fake_discord, CHANNEL, GUILD_ID, "cat:eess.IV"
    )
    assert "Subscribed this channel" in await subscribe(
        fake_discord, CHANNEL_ZERO, GUILD_ZERO, "cat:cs.CL"
    )
    assert "Subscribed this channel" in await subscribe(fake_discord, DM, None, "cat:eess.IV")
    # Discord sent each to one shard; the replica holding it ran the real command tree.
    assert zero.interactions == [GUILD_ZERO, DM_WORKSPACE]
    assert one.interactions == [GUILD_ID]
    # Both wrote to the one database: either replica sees every subscription.
    for replica in replicas:
        channels = await replica.app.store.fetchall(
            "SELECT workspace, channel FROM channels ORDER BY channel"
        )
        assert [(str(w), str(c)) for w, c in channels] == [
            (GUILD_ID, CHANNEL),
            (GUILD_ZERO, CHANNEL_ZERO),
            (DM_WORKSPACE, DM),
        ]

    # Delivery is REST, not sharded: replica 0 posts in shard 1's server too.
    fake_oai.announce(paper_by_id(IMAGING), paper_by_id(LANGUAGE))
    await zero.app.run_cycle()
    in_one = card(fake_discord, CHANNEL, IMAGING)
    in_zero = card(fake_discord, CHANNEL_ZERO, LANGUAGE)
    in_dm = card(fake_discord, DM, IMAGING)

    # Reactions reach the replica of the message's shard, whichever replica posted it.
    add = "MESSAGE_REACTION_ADD"
    liked = fake_discord.reaction_payload(in_one, "👍", user_id=ADA)
    assert await fake_discord.send_dispatch(add, liked, shard=1) == 1
    zero_like = fake_discord.reaction_payload(in_zero, "👍", user_id=BEA, guild_id=GUILD_ZERO)
    assert await fake_discord.send_dispatch(add, zero_like, shard=0) == 1
    dm_like = fake_discord.reaction_payload(in_dm, "❤️", user_id=ADA, guild_id=None)
    assert await fake_discord.send_dispatch(add, dm_like, shard=0) == 1

    expected = [
        (CHANNEL, IMAGING, ADA, "+1"),
        (CHANNEL_ZERO, LANGUAGE, BEA, "+1"),
        (DM, IMAGING, ADA, "heart"),
    ]
    await wait_for_feedback(one.app, len(expected))
    assert await feedback_rows(one.app) == expected
    assert await feedback_rows(zero.app) == expected
    assert one.reactions == [CHANNEL]
    assert sorted(zero.reactions) == sorted([CHANNEL_ZERO, DM])


async def wait_for_feedback(app: BotApp, count: int) -> None:
    """Wait (at most 5 s) for the listeners, each in a task of its own, to write."""
    async with asyncio.timeout(5):
        while len(await feedback_rows(app)) < count:  # noqa: ASYNC110 (rows listeners write)
            await asyncio.sleep(0.01)


async def test_too_few_shards_for_discord_stop_the_start_with_what_to_change(
    app: BotApp, fake_discord: FakeDiscord
) -> None:
    fake_discord.close_next_identify(4011, "Sharding required.")
    settings = discord_settings(fake_discord, shard_count=1)
    adapter = quick(DiscordAdapter(app, settings, gateway=True))
    try:
        with pytest.raises(ConfigError, match="raise DISCORD_SHARD_COUNT on every replica"):
            await adapter.start()
    finally:
        await adapter.stop()
    (identify,) = fake_discord.identifies
    assert identify["shard"] == [0, 1]
