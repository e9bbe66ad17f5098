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
from datetime import date

from bot.arxiv_ids import title_search_hint
from bot.errors import CommandError
from bot.export.sections import ExportFormat
from bot.models import DeliveryMode, SortOrder
from bot.post_schedule import PostSchedule, parse_schedule
from bot.query import MAX_QUERY_LENGTH, Query, parse_query
from bot.typography import option_text, plain, sanitize

PREFIX = "/arxiv"
DEFAULT_LIMIT = 10
MAX_LIMIT = 25
MAX_PAGE = 40
"""Deep enough for any reading; arXiv's API itself stops answering well beyond it."""
MAX_COMMAND_LENGTH = 1000
"""A query is at most 300 characters; the rest is room for the command and its options."""
MAX_SUBSCRIPTION_ID = 2**63 - 1
"""SQLite's largest integer: no subscription number can be larger."""
SHOWN_CHARS = 40
"""How much of a bad value a message quotes back."""


@dataclass(frozen=True, slots=True)
class HelpCommand:
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class SearchCommand:
    query: Query
    sort: SortOrder = SortOrder.RELEVANCE
    limit: int = DEFAULT_LIMIT
    page: int = 1


@dataclass(frozen=True, slots=True)
class PaperCommand:
    reference: str


@dataclass(frozen=True, slots=True)
class SimilarCommand:
    reference: str
    limit: int = DEFAULT_LIMIT
    page: int = 1


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
    cards: int | None = None
    """Full cards in this channel's digests (``--cards``); None leaves it as it is."""


@dataclass(frozen=True, slots=True)
class ScheduleCommand:
    schedule: PostSchedule | None = None
    """None: show this channel's schedule. A schedule's zone None: the bot's default."""


@dataclass(frozen=True, slots=True)
class UnsubscribeCommand:
    subscription_id: int


@dataclass(frozen=True, slots=True)
class ListCommand:
    pass


@dataclass(frozen=True, slots=True)
class StatusCommand:
    pass


@dataclass(frozen=True, slots=True)
class ExportCommand:
    format: ExportFormat = ExportFormat.MARKDOWN
    since: date | None = None
    """Only papers delivered on or after this day."""
    subscription_id: int | None = None
    """Only this subscription's papers."""


@dataclass(frozen=True, slots=True)
class BibCommand:
    reference: str


TOP_PERIODS = {"week": 7, "month": 30}
"""``/arxiv top`` periods, and the days each looks back."""


@dataclass(frozen=True, slots=True)
class TopCommand:
    period: str = "week"
    """A key of :data:`TOP_PERIODS`."""


@dataclass(frozen=True, slots=True)
class RankingCommand:
    on: bool | None = None
    """None: show whether this channel's papers are ranked, and how."""


TRENDING_PERIODS = ("today", "week")
"""``/arxiv trending`` periods (see :data:`bot.trending.PERIODS`)."""


@dataclass(frozen=True, slots=True)
class TrendingCommand:
    period: str = "today"
    """One of :data:`TRENDING_PERIODS`."""
    query: Query | None = None


Command = (
    HelpCommand
    | SearchCommand
    | PaperCommand
    | SimilarCommand
    | SubscribeCommand
    | PreviewCommand
    | ModeCommand
    | ScheduleCommand
    | UnsubscribeCommand
    | ListCommand
    | StatusCommand
    | TopCommand
    | RankingCommand
    | TrendingCommand
    | ExportCommand
    | BibCommand
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
_WORD = re.compile(r"\s*(\S+)\s*")  # the command's name, and the spaces around it


def split_options(
    arguments: str, allowed: tuple[str, ...], command: str
) -> tuple[str, dict[str, str]]:
    """Separate ``--name value`` options (outside quotes) from the rest of the text.

    Quotes and dashes are read typographically (``—limit 2``, “a phrase”); the rest is
    returned as typed, for the query parser to read and quote back.
    """
    options: dict[str, str] = {}
    kept: list[str] = []
    read = plain(arguments)  # same offsets as ``arguments``
    tokens = [
        (read[m.start() : m.end()], arguments[m.start() : m.end()]) for m in _TOKEN.finditer(read)
    ]
    index = 0
    while index < len(tokens):
        token, typed = tokens[index]
        index += 1
        option = option_text(token)
        if option is None:
            kept.append(typed)
            continue
        name, has_value, value = option.partition("=")
        if name not in allowed:
            known = ", ".join(f"--{option}" for option in allowed) or "none"
            raise CommandError(f"Unknown option --{name} for {command}. Options: {known}.")
        if not has_value:
            if index >= len(tokens):
                raise CommandError(f"Option --{name} needs a value, e.g. {_OPTION_EXAMPLES[name]}.")
            value = tokens[index][0]
            index += 1
        if name in options:
            raise CommandError(f"Option --{name} is given twice; keep one.")
        options[name] = value
    return " ".join(kept), options


_OPTION_EXAMPLES = {
    "sort": "--sort date",
    "limit": "--limit 5",
    "page": "--page 2",
    "mode": "--mode digest",
    "cards": "--cards 5",
    "format": "--format bibtex",
    "since": "--since 2025-06-01",
    "subscription": "--subscription 3",
}


def _parse_sort(value: str) -> SortOrder:
    try:
        return SortOrder(value.lower())
    except ValueError:
        choices = " or ".join(order.value for order in SortOrder)
        raise CommandError(f"--sort must be {choices}, not {_shown(value)}.") from None


def _parse_mode(value: str) -> DeliveryMode:
    try:
        return DeliveryMode(value.lower())
    except ValueError:
        choices = " or ".join(mode.value for mode in DeliveryMode)
        raise CommandError(
            f"The mode must be {choices}, not {_shown(value)}: each posts every paper on its own, "
            "digest posts one message per harvest."
        ) from None


def _shown(value: str) -> str:
    """``value`` quoted back to the user, cut short when it is long."""
    return repr(value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 1] + "…")


def _is_number(value: str) -> bool:
    """ASCII digits, with or without a sign (``int`` would also take ``٣`` and ``1_000``)."""
    digits = value.removeprefix("+").removeprefix("-")
    return digits.isascii() and digits.isdigit()


def _whole_number(value: str, *, what: str, expected: str, high: int, low: int = 1) -> int:
    """``value`` as a whole number from ``low`` to ``high``, or a :class:`CommandError` saying
    what is wrong: ``{what} must be {expected}; ...``. The digits are counted before
    converting, so a 100,000-digit number costs nothing."""
    if not _is_number(value):
        raise CommandError(f"{what} must be {expected}, not {_shown(value)}.")
    if value.startswith(("+", "-")):
        raise CommandError(f"{what} must be {expected}, without a sign: not {_shown(value)}.")
    significant = value.lstrip("0") or "0"
    number = int(significant) if len(significant) <= len(str(high)) else high + 1
    if number < low:
        raise CommandError(f"{what} must be {expected}; {_shown(value)} is too small.")
    if number > high:
        raise CommandError(f"{what} must be {expected}; {_shown(value)} is too large.")
    return number


def _parse_limit(value: str) -> int:
    expected = f"a whole number from 1 to {MAX_LIMIT}"
    return _whole_number(value, what="--limit", expected=expected, high=MAX_LIMIT)


def _parse_page(value: str) -> int:
    expected = f"a whole number from 1 to {MAX_PAGE}"
    return _whole_number(value, what="--page", expected=expected, high=MAX_PAGE)


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
    page = _parse_page(options["page"]) if "page" in options else 1
    return SearchCommand(parse_query(rest), sort, limit, page)


def _one_reference(rest: str, example: str) -> str:
    """The one paper reference (id, link or DOI) a command takes; a pasted title gets a
    suggestion to search titles instead."""
    if not rest or len(rest.split()) > 1:
        raise CommandError(title_search_hint(rest) or f"Give one arXiv id or URL, e.g. {example}")
    return rest


def _parse_paper(rest: str, _options: dict[str, str]) -> Command:
    return PaperCommand(_one_reference(rest, "/arxiv paper 2506.11674"))


def _parse_similar(rest: str, options: dict[str, str]) -> Command:
    rest = _one_reference(rest, "/arxiv similar 2506.11674")
    limit = _parse_limit(options["limit"]) if "limit" in options else DEFAULT_LIMIT
    page = _parse_page(options["page"]) if "page" in options else 1
    return SimilarCommand(rest, limit, page)


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


MAX_DIGEST_CARDS = 100


def _parse_mode_command(rest: str, options: dict[str, str]) -> Command:
    value = rest.strip()
    if len(value.split()) > 1:
        raise CommandError("Give one mode: /arxiv mode each or /arxiv mode digest.")
    cards = None
    if "cards" in options:
        expected = f"a whole number from 0 to {MAX_DIGEST_CARDS}"
        cards = _whole_number(
            options["cards"], what="--cards", expected=expected, high=MAX_DIGEST_CARDS, low=0
        )
    return ModeCommand(_parse_mode(value) if value else None, cards)


def _parse_schedule(rest: str, _options: dict[str, str]) -> Command:
    return ScheduleCommand(parse_schedule(rest) if rest.strip() else None)


def _parse_unsubscribe(rest: str, _options: dict[str, str]) -> Command:
    value = rest.strip().removeprefix("#")
    if not _is_number(value):
        raise CommandError(
            "Give the number of the subscription to remove, e.g. /arxiv unsubscribe 3 "
            "(/arxiv list shows the numbers)."
        )
    try:
        number = _whole_number(
            value,
            what="A subscription number",
            expected="a whole number such as 3",
            high=MAX_SUBSCRIPTION_ID,
        )
    except CommandError as error:
        raise CommandError(f"{error} /arxiv list shows this channel's subscriptions.") from None
    return UnsubscribeCommand(number)


def _parse_top(rest: str, _options: dict[str, str]) -> Command:
    period = rest.strip().lower() or "week"
    if period not in TOP_PERIODS:
        raise CommandError(
            f"/arxiv top takes week or month, not {_shown(rest.strip())}; e.g. /arxiv top month."
        )
    return TopCommand(period)


def _parse_ranking(rest: str, _options: dict[str, str]) -> Command:
    value = rest.strip().lower()
    if not value:
        return RankingCommand()
    if value not in ("on", "off"):
        raise CommandError(
            f"/arxiv ranking takes on or off, not {_shown(rest.strip())}: on orders this "
            "channel's papers by its reactions, off by match strength and date."
        )
    return RankingCommand(value == "on")


def _parse_trending(rest: str, _options: dict[str, str]) -> Command:
    first, _, more = rest.strip().partition(" ")
    period = "today"
    if first.lower() in TRENDING_PERIODS:
        period, rest = first.lower(), more.strip()
    return TrendingCommand(period, parse_query(rest) if rest.strip() else None)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_since(value: str) -> date:
    try:
        if _DATE.fullmatch(value.strip()):
            return date.fromisoformat(value.strip())
    except ValueError:
        pass
    raise CommandError(
        f"--since must be a day as YYYY-MM-DD, e.g. --since 2025-06-01, not {_shown(value)}."
    )


def _parse_export(rest: str, options: dict[str, str]) -> Command:
    if rest.strip():
        raise CommandError(
            f"/arxiv export takes only options, not {_shown(rest.strip())}; e.g. "
            "/arxiv export --format bibtex --since 2025-06-01 --subscription 3."
        )
    fmt = ExportFormat.MARKDOWN
    if "format" in options:
        try:
            fmt = ExportFormat(options["format"].strip().lower())
        except ValueError:
            choices = ", ".join(choice.value for choice in ExportFormat)
            raise CommandError(
                f"--format must be one of {choices}, not {_shown(options['format'])}."
            ) from None
    since = _parse_since(options["since"]) if "since" in options else None
    subscription = None
    if "subscription" in options:
        subscription = _whole_number(
            options["subscription"].strip().removeprefix("#"),
            what="--subscription",
            expected="a subscription number such as 3 (/arxiv list shows them)",
            high=MAX_SUBSCRIPTION_ID,
        )
    return ExportCommand(fmt, since, subscription)


def _parse_bib(rest: str, _options: dict[str, str]) -> Command:
    return BibCommand(_one_reference(rest, "/arxiv bib 2506.11674"))


SPECS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec(
            "search",
            "/arxiv search <query> [--sort relevance|date] [--limit N] [--page N]",
            "Search arXiv, from the bot's own index when it holds the answer. "
            f"--limit is 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}); --page shows more.",
            '/arxiv search ti:"diffusion model" AND cat:cs.CV --sort date --limit 5',
            _parse_search,
            ("sort", "limit", "page"),
        ),
        CommandSpec(
            "paper",
            "/arxiv paper <arXiv id or URL>",
            "Show one paper: abstract, authors, links.",
            "/arxiv paper https://arxiv.org/abs/2506.11674",
            _parse_paper,
        ),
        CommandSpec(
            "similar",
            "/arxiv similar <arXiv id or URL> [--limit N] [--page N]",
            "Find the papers in the bot's index most like this one.",
            "/arxiv similar 2506.11674",
            _parse_similar,
            ("limit", "page"),
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
            "/arxiv mode [each|digest] [--cards N]",
            "Show or set how this channel gets papers: each on its own, or one digest per "
            "harvest that lists every paper, with full cards for the first N (--cards).",
            "/arxiv mode digest --cards 5",
            _parse_mode_command,
            ("cards",),
        ),
        CommandSpec(
            "schedule",
            "/arxiv schedule [asap|daily HH:MM [TZ]|weekly DAY HH:MM [TZ]]",
            "Show or set when this channel gets papers: asap, right after each harvest "
            "(the default); or daily or weekly at a local time (an IANA time zone such as "
            "Europe/Berlin; default the bot's), as one digest of everything matched since "
            "the last post, whatever the mode.",
            "/arxiv schedule daily 09:00 Europe/Berlin",
            _parse_schedule,
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
            "top",
            "/arxiv top [week|month]",
            "Show this channel's most-liked papers of the past week or month, by reactions "
            "(and buttons) on the bot's posts.",
            "/arxiv top month",
            _parse_top,
        ),
        CommandSpec(
            "trending",
            "/arxiv trending [today|week] [query]",
            "Show Hugging Face's daily papers of today or the past week, most upvoted first, "
            "optionally only those matching a query (Hugging Face lists no categories, so "
            "cat: matches nothing there).",
            "/arxiv trending week diffusion",
            _parse_trending,
        ),
        CommandSpec(
            "ranking",
            "/arxiv ranking [on|off]",
            "Show or set how this channel's new papers are ordered: on, by what the channel "
            "liked once enough papers are liked (top picks marked); off, title matches "
            "first, then newest.",
            "/arxiv ranking off",
            _parse_ranking,
        ),
        CommandSpec(
            "export",
            "/arxiv export [--format markdown|bibtex|csv|json] [--since YYYY-MM-DD] "
            "[--subscription ID]",
            "Get the papers this channel received (or one subscription's) as a file: a "
            "Daily Papers markdown table per subscription, BibTeX, CSV or JSON.",
            "/arxiv export --format bibtex --since 2025-06-01",
            _parse_export,
            ("format", "since", "subscription"),
        ),
        CommandSpec(
            "bib",
            "/arxiv bib <arXiv id or URL>",
            "Show a paper's BibTeX entry, as arXiv formats it.",
            "/arxiv bib 2506.11674",
            _parse_bib,
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
    return CommandError(f"Unknown command {_shown(name)}.{hint} Try /arxiv help.")


def command_name(command: Command) -> str:
    """The name typed for ``command`` (``SearchCommand`` is ``search``)."""
    return type(command).__name__.removesuffix("Command").lower()


def parse_command(text: str) -> Command:
    """Parse one command line; the ``/arxiv`` prefix is optional.

    Raises :class:`~bot.errors.CommandError` or :class:`~bot.errors.QueryError` with a
    message for the user. Typographic quotes, dashes and spaces are read as plain ones
    (:mod:`bot.typography`); messages quote the text as typed.
    """
    typed = sanitize(text).strip()
    if len(typed) > MAX_COMMAND_LENGTH:
        raise CommandError(
            f"This command is {len(typed):,} characters long; the limit is "
            f"{MAX_COMMAND_LENGTH:,} (and {MAX_QUERY_LENGTH} for a query). Shorten it."
        )
    read = plain(typed)  # same offsets as ``typed``
    start = 0
    if read.lower() == PREFIX or read.lower().startswith(PREFIX + " "):
        start = len(PREFIX)
    elif read.startswith("/"):
        raise CommandError(f"Commands start with {PREFIX}, e.g. `{PREFIX} help`.")
    word = _WORD.match(read, start)
    if word is None:
        return HelpCommand()
    name = word.group(1)
    spec = SPECS.get(name.lower())
    if spec is None:
        raise _unknown_command(name)
    rest, options = split_options(typed[word.end() :], spec.options, spec.name)
    return spec.parse(rest.strip(), options)
