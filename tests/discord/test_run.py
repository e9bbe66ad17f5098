"""``arxiv-bot discord-sync`` and ``arxiv-bot run`` with Discord settings: the real process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from adapters.discord.adapter import DiscordFactory
from bot.adapter import choose_factories, discover_factories
from bot.config import Settings
from tests.conftest import settings_env
from tests.fakes.discord_api import BOT_TOKEN, GUILD_ID, FakeDiscord

SUBCOMMANDS = [
    "search",
    "paper",
    "similar",
    "top",
    "trending",
    "subscribe",
    "unsubscribe",
    "list",
    "preview",
    "mode",
    "ranking",
    "export",
    "bib",
    "schedule",
    "status",
    "help",
]
PROCESS_TIMEOUT = 60


def discord_env(settings: Settings, fake: FakeDiscord, **extra: str) -> dict[str, str]:
    return {
        **settings_env(settings),
        "DISCORD_TOKEN": BOT_TOKEN,
        "DISCORD_API_URL": fake.api_url,
        **extra,
    }


async def run_bot(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``arxiv-bot ARGS`` without blocking the loop the fake serves from."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=PROCESS_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def the_arxiv_command(commands: list[dict[str, Any]]) -> dict[str, Any]:
    (command,) = commands
    assert command["name"] == "arxiv"
    return command


def subcommand(command: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in command["options"] if o["name"] == name)


def option(sub: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in sub.get("options", []) if o["name"] == name)


def option_names(sub: dict[str, Any]) -> set[str]:
    return {o["name"] for o in sub.get("options", [])}


# -- choosing adapters -----------------------------------------------------------------


def test_discord_is_chosen_when_its_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    factories = discover_factories()
    assert isinstance(factories["discord"], DiscordFactory)
    assert [f.name for f in choose_factories(factories)] == ["console"]
    monkeypatch.setenv("DISCORD_TOKEN", BOT_TOKEN)
    assert [f.name for f in choose_factories(factories)] == ["discord"]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert sorted(f.name for f in choose_factories(factories)) == ["discord", "slack"]
    chosen = choose_factories(factories, console=True)
    assert sorted(f.name for f in chosen) == ["console", "discord", "slack"]


# -- arxiv-bot discord-sync ------------------------------------------------------------


async def test_sync_registers_the_arxiv_group_globally(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    code, stdout, stderr = await run_bot(discord_env(settings, fake_discord), "discord-sync")
    assert code == 0, stderr
    assert "Registered /arxiv (1 command) in all servers (global)." in stdout
    assert fake_discord.commands(GUILD_ID) == []

    arxiv = the_arxiv_command(fake_discord.commands())
    assert [o["name"] for o in arxiv["options"]] == SUBCOMMANDS
    for sub in arxiv["options"]:
        assert sub["type"] == 1  # a subcommand
        assert sub["description"], sub["name"]
        for opt in sub.get("options", []):
            assert opt["description"], (sub["name"], opt["name"])
            if opt["name"] == "category":
                assert opt.get("autocomplete") is True, sub["name"]

    assert option(subcommand(arxiv, "unsubscribe"), "id")["autocomplete"] is True
    assert {s["name"] for s in arxiv["options"] if "category" in option_names(s)} == {
        "search",
        "subscribe",
        "preview",
    }
    search = subcommand(arxiv, "search")
    limit = option(search, "limit")
    assert (limit["min_value"], limit["max_value"]) == (1, 25)
    assert [c["value"] for c in option(search, "sort")["choices"]] == ["relevance", "date"]
    for name in ("subscribe", "mode"):
        choices = option(subcommand(arxiv, name), "mode")["choices"]
        assert [c["value"] for c in choices] == ["each", "digest"], name


async def test_sync_registers_in_the_configured_guild_only(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord, DISCORD_GUILD_ID=GUILD_ID)
    code, stdout, stderr = await run_bot(env, "discord-sync")
    assert code == 0, stderr
    assert f"Registered /arxiv (1 command) in server {GUILD_ID}." in stdout
    assert "hour" not in stdout  # that warning is for global commands
    the_arxiv_command(fake_discord.commands(GUILD_ID))
    assert fake_discord.commands() == []


async def test_sync_clear_removes_the_commands_from_a_guild(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord)
    code, _, stderr = await run_bot(env, "discord-sync", "--guild", GUILD_ID)
    assert code == 0, stderr
    the_arxiv_command(fake_discord.commands(GUILD_ID))

    code, stdout, stderr = await run_bot(env, "discord-sync", "--guild", GUILD_ID, "--clear")
    assert code == 0, stderr
    assert f"Removed the /arxiv commands from server {GUILD_ID}." in stdout
    assert fake_discord.commands(GUILD_ID) == []
    assert fake_discord.commands() == []


async def test_sync_with_a_refused_token_fails_with_one_line(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord, DISCORD_TOKEN="wrong")
    code, _, stderr = await run_bot(env, "discord-sync")
    assert code == 1
    assert "Traceback" not in stderr
    assert "Discord refused DISCORD_TOKEN" in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert fake_discord.commands() == []


async def test_sync_without_a_token_says_it_is_not_set(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord)
    del env["DISCORD_TOKEN"]
    code, _, stderr = await run_bot(env, "discord-sync")
    assert code == 2  # a setting to fix
    assert "DISCORD_TOKEN is not set" in stderr
    assert "Traceback" not in stderr
    assert fake_discord.calls() == []


async def test_sync_with_an_invalid_setting_exits_2(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord, DISCORD_GUILD_ID="my-server")
    code, _, stderr = await run_bot(env, "discord-sync")
    assert code == 2
    assert stderr.startswith("Error: invalid setting DISCORD_GUILD_ID")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert fake_discord.calls() == []


# -- arxiv-bot run ---------------------------------------------------------------------


async def test_run_reports_a_refused_token(settings: Settings, fake_discord: FakeDiscord) -> None:
    env = discord_env(settings, fake_discord, DISCORD_TOKEN="wrong")
    code, _, stderr = await run_bot(env, "run")
    assert code == 1
    assert "Discord refused DISCORD_TOKEN" in stderr
    assert "Traceback" not in stderr


async def test_run_stops_on_a_bad_shards_setting_with_one_line(
    settings: Settings, fake_discord: FakeDiscord
) -> None:
    env = discord_env(settings, fake_discord, DISCORD_SHARDS="7")
    code, _, stderr = await run_bot(env, "run")
    assert code == 2  # a bad setting
    assert "DISCORD_SHARDS" in stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert fake_discord.calls() == []
