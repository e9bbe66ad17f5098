"""What each ``/arxiv`` command does, independent of the platform it came from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot import __version__
from bot.arxiv_ids import parse_arxiv_id
from bot.clock import utc_now
from bot.commands.grammar import (
    SPECS,
    Command,
    HelpCommand,
    ListCommand,
    PaperCommand,
    SearchCommand,
    StatusCommand,
    SubscribeCommand,
    UnsubscribeCommand,
    parse_command,
)
from bot.config import Settings
from bot.errors import QueryError, UserError
from bot.models import ChannelRef, Reply, SortOrder, Tone, Visibility
from bot.query import FIELDS
from bot.render import clean, format_date, make_post, plural
from bot.sources.arxiv_api import ArxivApi
from bot.sources.gate import ArxivGate
from bot.store import Store

log = logging.getLogger(__name__)

QUERY_HELP = (
    "Query syntax is arXiv's own: "
    + ", ".join(f"{code}: ({name})" for code, name in FIELDS.items())
    + '; a bare word searches all fields. Quote phrases ("medical imaging"), combine with '
    "AND, OR, ANDNOT and parentheses. cat:cs.* covers a whole archive."
)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who sent a command and where. Adapters fill it from the platform payload."""

    channel: ChannelRef
    user: str = ""
    can_manage_channel: bool = True


class CommandHandler:
    """Runs commands against the store and arXiv, and answers with a :class:`Reply`."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        arxiv: ArxivApi,
        gate: ArxivGate,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._arxiv = arxiv
        self._gate = gate
        self._clock = clock
        self._started_at = clock()

    async def execute(self, text: str, context: CommandContext) -> Reply:
        """Parse and run one command line; never raises, errors become replies."""
        try:
            return await self.handle(parse_command(text), context)
        except QueryError as error:
            code = (error.query, " " * error.position + "^") if error.position is not None else ()
            return Reply(title=error.message, code=code, tone=Tone.ERROR)
        except UserError as error:
            return Reply(title=str(error), tone=Tone.ERROR)
        except Exception:
            log.exception("command %r from %s failed", text, context.channel)
            return Reply(
                title="Something went wrong on our side; it has been logged. Please try again.",
                tone=Tone.ERROR,
            )

    async def handle(self, command: Command, context: CommandContext) -> Reply:
        match command:
            case HelpCommand(topic):
                return self._help(topic)
            case SearchCommand():
                return await self._search(command)
            case PaperCommand(reference):
                return await self._paper(reference)
            case SubscribeCommand():
                return await self._subscribe(command, context)
            case UnsubscribeCommand(subscription_id):
                return await self._unsubscribe(subscription_id, context)
            case ListCommand():
                return await self._list(context)
            case StatusCommand():
                return await self._status(context)

    def _help(self, topic: str | None) -> Reply:
        if topic is None:
            lines = tuple(f"{spec.usage} — {spec.summary}" for spec in SPECS.values())
            return Reply(
                title="arxiv-bot commands",
                lines=(*lines, "", QUERY_HELP),
                code=tuple(f"{spec.example}" for spec in SPECS.values() if spec.name != "help"),
                footer="Details of one command: /arxiv help <command>",
            )
        spec = SPECS[topic]
        details = (
            (spec.summary, QUERY_HELP) if topic in ("search", "subscribe") else (spec.summary,)
        )
        return Reply(title=spec.usage, lines=details, code=(spec.example,))

    async def _search(self, command: SearchCommand) -> Reply:
        results = await self._arxiv.search(
            command.query.to_api(), sort=command.sort, limit=command.limit
        )
        shown = command.query.canonical()
        if not results.papers:
            return Reply(
                title=f"No arXiv papers match {shown}.",
                lines=("Try fewer or broader terms, or search all fields with a bare word.",),
            )
        order = "newest first" if command.sort is SortOrder.DATE else "most relevant first"
        return Reply(
            title=f"{plural(results.total, 'paper')} match {shown}",
            lines=(f"Showing {len(results.papers)}, {order}.",),
            papers=results.papers,
        )

    async def _paper(self, reference: str) -> Reply:
        arxiv_id, version = parse_arxiv_id(reference)
        paper = await self._arxiv.lookup(arxiv_id, version)
        return Reply(title=f"arXiv:{paper.versioned_id}", posts=(make_post(paper),))

    def _require_manager(self, context: CommandContext) -> None:
        if not context.can_manage_channel:
            raise UserError(
                "Only people who manage this channel can change its subscriptions. "
                "Ask a channel admin, or use /arxiv search to look things up."
            )

    async def _subscribe(self, command: SubscribeCommand, context: CommandContext) -> Reply:
        self._require_manager(context)
        channel_id = await self._store.ensure_channel(context.channel)
        subscription = await self._store.add_subscription(
            channel_id,
            command.query.canonical(),
            limit=self._settings.max_subscriptions_per_channel,
        )
        return Reply(
            title=f"Subscribed this channel to #{subscription.id}: {subscription.query}",
            lines=(
                "New papers matching it will be posted here as arXiv announces them.",
                f"Remove it with /arxiv unsubscribe {subscription.id}.",
            ),
            visibility=Visibility.CHANNEL,
            tone=Tone.SUCCESS,
        )

    async def _unsubscribe(self, subscription_id: int, context: CommandContext) -> Reply:
        self._require_manager(context)
        channel_id = await self._store.ensure_channel(context.channel)
        removed = await self._store.remove_subscription(channel_id, subscription_id)
        return Reply(
            title=f"Removed subscription #{removed.id}: {removed.query}",
            visibility=Visibility.CHANNEL,
            tone=Tone.SUCCESS,
        )

    async def _list(self, context: CommandContext) -> Reply:
        channel_id = await self._store.ensure_channel(context.channel)
        subscriptions = await self._store.list_subscriptions(channel_id)
        limit = self._settings.max_subscriptions_per_channel
        if not subscriptions:
            return Reply(
                title="This channel has no subscriptions yet.",
                lines=("Add one with /arxiv subscribe <query>, for example:",),
                code=('/arxiv subscribe ti:"medical imaging" AND cat:eess.IV',),
            )
        return Reply(
            title=f"This channel has {len(subscriptions)} of at most "
            f"{plural(limit, 'subscription')}:",
            lines=tuple(
                f"#{sub.id}  {clean(sub.query)}  (since {format_date(sub.created_at)})"
                for sub in subscriptions
            ),
            footer="Remove one with /arxiv unsubscribe <id>.",
        )

    async def _status(self, context: CommandContext) -> Reply:
        counts = await self._store.counts()
        channel_id = await self._store.ensure_channel(context.channel)
        here = len(await self._store.list_subscriptions(channel_id))
        gate = self._gate.stats()
        uptime = self._clock() - self._started_at
        lines = [
            f"Version {__version__}, up {_duration(uptime.total_seconds())}.",
            f"This channel: {plural(here, 'subscription')}.",
            f"All channels: {plural(counts.channels, 'channel')}, "
            f"{plural(counts.subscriptions, 'subscription')}, "
            f"{plural(counts.deliveries, 'paper')} delivered.",
            f"Stored papers: {counts.papers:,}.",
            f"arXiv: {plural(gate.requests, 'request')}, {plural(gate.retries, 'retry', 'retries')}"
            + (
                f", last success {_ago(self._clock(), gate.last_success_at)}"
                if gate.last_success_at
                else ""
            )
            + ".",
        ]
        if gate.last_error:
            when = _ago(self._clock(), gate.last_error_at) if gate.last_error_at else "recently"
            lines.append(f"Last arXiv error ({when}): {gate.last_error}")
        last_harvest = await self._store.get_state("harvest.last_success")
        lines.append(f"Last harvest: {last_harvest or 'never'}.")
        return Reply(title="arxiv-bot status", lines=tuple(lines))


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _ago(now: datetime, then: datetime) -> str:
    seconds = (now - then).total_seconds()
    return "just now" if seconds < 60 else f"{_duration(seconds)} ago"
