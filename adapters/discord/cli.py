"""``arxiv-bot discord-sync``: register the ``/arxiv`` commands with Discord.

Run once after installing and after each upgrade, not on every start: Discord limits how
often commands may be registered, and global changes take a while to spread.
"""

from __future__ import annotations

import asyncio

import click

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.settings import DiscordSettings, load_discord_settings
from bot.app import BotApp
from bot.cli import failure
from bot.config import Settings, load_settings
from bot.errors import ConfigError, UserError

__all__ = ["discord_sync"]


@click.command("discord-sync")
@click.option(
    "--guild",
    "guild_id",
    type=int,
    default=None,
    help="Server id to register in (default: DISCORD_GUILD_ID, else globally).",
)
@click.option("--clear", is_flag=True, help="Unregister the commands there instead.")
def discord_sync(guild_id: int | None, clear: bool) -> None:
    """Register the /arxiv commands with Discord (in one server: instantly)."""
    try:  # settings that are wrong exit 2, a failure to register 1
        settings, discord_settings = load_settings(), load_discord_settings()
        if not discord_settings.is_configured:
            raise ConfigError("DISCORD_TOKEN is not set; put the bot's token in .env")
    except UserError as error:
        raise failure(error, settings=True) from None
    target = guild_id if guild_id is not None else discord_settings.guild_id
    try:
        count = asyncio.run(_sync(settings, discord_settings, target, clear=clear))
    except UserError as error:
        raise failure(error) from None
    where = f"server {target}" if target is not None else "all servers (global)"
    if clear:
        click.echo(f"Removed the /arxiv commands from {where}.")
    else:
        click.echo(f"Registered /arxiv ({count} command) in {where}.")
        if target is None:
            click.echo("Discord may take up to an hour to show global commands.")


async def _sync(
    settings: Settings, discord: DiscordSettings, guild_id: int | None, *, clear: bool
) -> int:
    async with BotApp(settings) as app:
        adapter = DiscordAdapter(app, discord, gateway=False)
        try:
            await adapter.start()
            return await adapter.sync_commands(guild_id, clear=clear)
        finally:
            await adapter.stop()
