"""The ``arxiv-bot`` command line: ``run`` the bot, or ``search`` and ``paper`` once."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import entry_points
from typing import TypeVar

import click

from bot import __version__
from bot.adapter import CommandContext, choose_factories, discover_factories
from bot.app import BotApp
from bot.commands.grammar import DEFAULT_LIMIT, MAX_LIMIT, PaperCommand, SearchCommand
from bot.config import Settings, load_settings
from bot.errors import UserError
from bot.models import ChannelRef, Reply, SortOrder, Tone
from bot.query import parse_query
from bot.render import reply_text
from bot.tables import print_reply_table

T = TypeVar("T")

CLI_CHANNEL = ChannelRef(platform="cli", workspace="local", channel="cli", name="cli")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level_number,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.log_level_number > logging.DEBUG:
        # Both log every page or job at INFO; our own modules log what matters.
        for chatty in ("arxiv", "apscheduler"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def _settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    _configure_logging(settings)
    return settings


def _run(coroutine: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_call(coroutine))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


async def _call(coroutine: Callable[[], Awaitable[T]]) -> T:
    return await coroutine()


CLI_ENTRY_POINT_GROUP = "arxiv_bot.cli"


class _PluginGroup(click.Group):
    """The built-in commands, plus those adapters contribute by entry point
    (``arxiv-bot discord-sync``), imported only when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        plugins = entry_points(group=CLI_ENTRY_POINT_GROUP).names
        return sorted({*super().list_commands(ctx), *plugins})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        for entry in entry_points(group=CLI_ENTRY_POINT_GROUP, name=cmd_name):
            try:
                loaded = entry.load()
            except Exception as error:  # a broken plug-in must not break the command line
                logging.getLogger(__name__).warning("command %s not loaded: %s", cmd_name, error)
                return None
            return loaded if isinstance(loaded, click.Command) else None
        return None


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arxiv-bot")
def cli() -> None:
    """New arXiv papers in your team's chat. Settings come from the environment and .env."""


@cli.command()
@click.option(
    "--channel",
    default="console",
    show_default=True,
    help="Name of the console adapter's channel.",
)
@click.option(
    "--console/--no-console",
    default=None,
    help="Force the console adapter on or off (default: on when no platform is configured).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Run one harvest, match and delivery cycle, then exit (for cron and CI).",
)
def run(channel: str, console: bool | None, once: bool) -> None:
    """Run the bot: Slack and Discord when configured, else the console."""
    settings = _settings_or_exit()
    try:
        factories = choose_factories(discover_factories(), console=console)
    except UserError as error:
        raise click.ClickException(str(error)) from None

    async def main() -> None:
        async with BotApp(settings) as app:
            await app.run(factories, channel=channel, once=once)

    _run(main)


def query_from_argv(words: Sequence[str]) -> str:
    """Rebuild a query from shell words, re-quoting words the shell un-quoted.

    ``arxiv-bot search ti:"medical imaging"`` reaches us as ``ti:medical imaging``;
    a word with spaces was a quoted phrase, so it is quoted again.
    """
    rebuilt = []
    for word in words:
        if re.search(r"\s", word) and '"' not in word:
            field = re.match(r"^([a-z]+):(.+)$", word, flags=re.DOTALL)
            word = f'{field[1]}:"{field[2]}"' if field else f'"{word}"'
        rebuilt.append(word)
    return " ".join(rebuilt)


def _print_reply(reply: Reply) -> None:
    if sys.stdout.isatty():
        print_reply_table(reply)
    else:
        click.echo(reply_text(reply))
    if reply.tone is Tone.ERROR:
        raise SystemExit(1)


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option(
    "--sort",
    type=click.Choice([order.value for order in SortOrder]),
    default=SortOrder.RELEVANCE.value,
    show_default=True,
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=DEFAULT_LIMIT,
    show_default=True,
)
def search(query: tuple[str, ...], sort: str, limit: int) -> None:
    """Search arXiv once, e.g.  arxiv-bot search 'ti:"diffusion model" AND cat:cs.CV'"""
    settings = _settings_or_exit()
    text = query_from_argv(query)

    async def main() -> Reply:
        command = SearchCommand(parse_query(text), SortOrder(sort), limit)
        async with BotApp(settings) as app:
            return await app.handle(command, CommandContext(CLI_CHANNEL))

    _print_reply(_run(main))


@cli.command()
@click.argument("reference")
def paper(reference: str) -> None:
    """Show one paper by arXiv id or URL, e.g.  arxiv-bot paper 2506.11674"""
    settings = _settings_or_exit()

    async def main() -> Reply:
        async with BotApp(settings) as app:
            return await app.handle(PaperCommand(reference), CommandContext(CLI_CHANNEL))

    _print_reply(_run(main))


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="arxiv-bot")
