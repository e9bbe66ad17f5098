"""The ``/arxiv`` command grammar, shared by every adapter.

Text such as ``/arxiv search ti:"medical imaging" --sort date --limit 5`` becomes a typed
command object. Queries are parsed and validated here too, so a bad query is reported
before anything is stored or sent.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import CommandError
from bot.models import DeliveryMode, SortOrder
from bot.query import Query, parse_query

PREFIX = "/arxiv"
DEFAULT_LIMIT = 10
MAX_LIMIT = 25


@dataclass(frozen=True, slots=True)
class HelpCommand:
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class SearchCommand:
    query: Query
    sort: SortOrder = SortOrder.RELEVANCE
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class PaperCommand:
    reference: str


@dataclass(frozen=True, slots=True)
class SubscribeCommand:
    query: Query
    mode: DeliveryMode | None = None


@dataclass(frozen=True, slots=True)
class PreviewCommand:
    query: Query


@dataclass(frozen=True, slots=True)
class ModeCommand:
    mode: DeliveryMode | None = None


@dataclass(frozen=True, slots=True)
class UnsubscribeCommand:
    subscription_id: int


@dataclass(frozen=True, slots=True)
class ListCommand:
    pass


@dataclass(frozen=True, slots=True)
class StatusCommand:
    pass


Command = (
    HelpCommand
    | SearchCommand
    | PaperCommand
    | SubscribeCommand
    | PreviewCommand
    | ModeCommand
    | UnsubscribeCommand
    | ListCommand
    | StatusCommand
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What ``/arxiv help`` says about a command, and how to parse its arguments."""

    name: str
    usage: str
    summary: str
    example: str
    parse: Callable[[str, dict[str, str]], Command]
    options: tuple[str, ...] = ()


# A token is a run of non-space characters, where a quoted stretch may hold spaces.
# An unterminated quote runs to the end so the query parser can report it precisely.
_TOKEN = re.compile(r'(?:[^\s"]+|"[^"]*"?)+')


def split_options(
    arguments: str, allowed: tuple[str, ...], command: str
) -> tuple[str, dict[str, str]]:
    """Separate ``--name value`` options (outside quotes) from the rest of the text."""
    options: dict[str, str] = {}
    kept: list[str] = []
    tokens = _TOKEN.findall(arguments)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--") or len(token) == 2:
            kept.append(token)
            continue
        name, has_value, value = token[2:].partition("=")
        if name not in allowed:
            known = ", ".join(f"--{option}" for option in allowed) or "none"
            raise CommandError(f"Unknown option --{name} for {command}. Options: {known}.")
        if not has_value:
            if index >= len(tokens):
                raise CommandError(f"Option --{name} needs a value, e.g. {_OPTION_EXAMPLES[name]}.")
            value = tokens[index]
            index += 1
        if name in options:
            raise CommandError(f"Option --{name} is given twice; keep one.")
        options[name] = value
    return " ".join(kept), options


_OPTION_EXAMPLES = {"sort": "--sort date", "limit": "--limit 5", "mode": "--mode digest"}


def _parse_sort(value: str) -> SortOrder:
    try:
        return SortOrder(value.lower())
    except ValueError:
        choices = " or ".join(order.value for order in SortOrder)
        raise CommandError(f"--sort must be {choices}, not {value!r}.") from None


def _parse_mode(value: str) -> DeliveryMode:
    try:
        return DeliveryMode(value.lower())
    except ValueError:
        choices = " or ".join(mode.value for mode in DeliveryMode)
        raise CommandError(
            f"The mode must be {choices}, not {value!r}: each posts every paper on its own, "
            "digest posts one message per harvest."
        ) from None


def _parse_limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise CommandError(f"--limit must be a whole number from 1 to {MAX_LIMIT}, not {value!r}.")
    return int(value)


def _no_arguments(name: str, command: Command) -> Callable[[str, dict[str, str]], Command]:
    def parse(rest: str, _options: dict[str, str]) -> Command:
        if rest:
            raise CommandError(f"/arxiv {name} takes no arguments; try just `/arxiv {name}`.")
        return command

    return parse


def _parse_help(rest: str, _options: dict[str, str]) -> Command:
    topic = rest.strip().lower().removeprefix(PREFIX).strip() or None
    if topic is not None and topic not in SPECS:
        raise _unknown_command(topic)
    return HelpCommand(topic)


def _parse_search(rest: str, options: dict[str, str]) -> Command:
    if not rest:
        raise CommandError('Search for what? Example: /arxiv search ti:"diffusion model" --limit 5')
    sort = _parse_sort(options["sort"]) if "sort" in options else SortOrder.RELEVANCE
    limit = _parse_limit(options["limit"]) if "limit" in options else DEFAULT_LIMIT
    return SearchCommand(parse_query(rest), sort, limit)


def _parse_paper(rest: str, _options: dict[str, str]) -> Command:
    if not rest or len(rest.split()) > 1:
        raise CommandError("Give one arXiv id or URL, e.g. /arxiv paper 2506.11674")
    return PaperCommand(rest)


def _parse_subscribe(rest: str, options: dict[str, str]) -> Command:
    if not rest:
        raise CommandError(
            'Subscribe to what? Example: /arxiv subscribe ti:"medical imaging" AND cat:eess.IV'
        )
    mode = _parse_mode(options["mode"]) if "mode" in options else None
    return SubscribeCommand(parse_query(rest), mode)


def _parse_preview(rest: str, _options: dict[str, str]) -> Command:
    if not rest:
        raise CommandError('Preview what? Example: /arxiv preview ti:"medical imaging"')
    return PreviewCommand(parse_query(rest))


def _parse_mode_command(rest: str, _options: dict[str, str]) -> Command:
    value = rest.strip()
    if len(value.split()) > 1:
        raise CommandError("Give one mode: /arxiv mode each or /arxiv mode digest.")
    return ModeCommand(_parse_mode(value) if value else None)


def _parse_unsubscribe(rest: str, _options: dict[str, str]) -> Command:
    value = rest.strip().removeprefix("#")
    if not value.isdigit():
        raise CommandError(
            "Give the number of the subscription to remove, e.g. /arxiv unsubscribe 3 "
            "(/arxiv list shows the numbers)."
        )
    return UnsubscribeCommand(int(value))


SPECS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec(
            "search",
            "/arxiv search <query> [--sort relevance|date] [--limit N]",
            f"Search arXiv. --limit is 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
            '/arxiv search ti:"diffusion model" AND cat:cs.CV --sort date --limit 5',
            _parse_search,
            ("sort", "limit"),
        ),
        CommandSpec(
            "paper",
            "/arxiv paper <arXiv id or URL>",
            "Show one paper: abstract, authors, links.",
            "/arxiv paper https://arxiv.org/abs/2506.11674",
            _parse_paper,
        ),
        CommandSpec(
            "subscribe",
            "/arxiv subscribe <query> [--mode each|digest]",
            "Post new papers matching the query in this channel (--mode sets the channel's mode).",
            '/arxiv subscribe ti:"medical imaging" AND cat:eess.IV',
            _parse_subscribe,
            ("mode",),
        ),
        CommandSpec(
            "preview",
            "/arxiv preview <query>",
            "Show what a query would have matched in the last 7 days, without subscribing.",
            '/arxiv preview au:hinton OR abs:"contrastive learning"',
            _parse_preview,
        ),
        CommandSpec(
            "mode",
            "/arxiv mode [each|digest]",
            "Show or set how this channel gets papers: each on its own, or one digest per harvest.",
            "/arxiv mode digest",
            _parse_mode_command,
        ),
        CommandSpec(
            "unsubscribe",
            "/arxiv unsubscribe <subscription id>",
            "Stop a subscription of this channel.",
            "/arxiv unsubscribe 3",
            _parse_unsubscribe,
        ),
        CommandSpec(
            "list",
            "/arxiv list",
            "Show this channel's subscriptions and their ids.",
            "/arxiv list",
            _no_arguments("list", ListCommand()),
        ),
        CommandSpec(
            "status",
            "/arxiv status",
            "Show the bot's health: arXiv requests, stored papers, subscriptions.",
            "/arxiv status",
            _no_arguments("status", StatusCommand()),
        ),
        CommandSpec(
            "help",
            "/arxiv help [command]",
            "Show this help, or details of one command.",
            "/arxiv help search",
            _parse_help,
        ),
    )
}


def _unknown_command(name: str) -> CommandError:
    close = difflib.get_close_matches(name, SPECS, n=1)
    hint = f" Did you mean `/arxiv {close[0]}`?" if close else ""
    return CommandError(f"Unknown command {name!r}.{hint} Try /arxiv help.")


def parse_command(text: str) -> Command:
    """Parse one command line; the ``/arxiv`` prefix is optional.

    Raises :class:`~bot.errors.CommandError` or :class:`~bot.errors.QueryError` with a
    message for the user.
    """
    stripped = text.strip()
    if stripped.lower() == PREFIX or stripped.lower().startswith(PREFIX + " "):
        stripped = stripped[len(PREFIX) :].strip()
    elif stripped.startswith("/"):
        raise CommandError(f"Commands start with {PREFIX}, e.g. `{PREFIX} help`.")
    if not stripped:
        return HelpCommand()
    name, _, arguments = stripped.partition(" ")
    spec = SPECS.get(name.lower())
    if spec is None:
        raise _unknown_command(name)
    rest, options = split_options(arguments.strip(), spec.options, spec.name)
    return spec.parse(rest.strip(), options)
