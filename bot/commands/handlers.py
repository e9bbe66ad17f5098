"""What each ``/arxiv`` command does, independent of the platform it came from."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from bot import __version__
from bot.adapter import CommandContext
from bot.arxiv_ids import parse_arxiv_id
from bot.clock import Clock, utc_now
from bot.commands.grammar import (
    MAX_PAGE,
    SPECS,
    TOP_PERIODS,
    BibCommand,
    Command,
    ExportCommand,
    HelpCommand,
    ListCommand,
    ModeCommand,
    PaperCommand,
    PreviewCommand,
    RankingCommand,
    ScheduleCommand,
    SearchCommand,
    SimilarCommand,
    StatusCommand,
    SubscribeCommand,
    TopCommand,
    TrendingCommand,
    UnsubscribeCommand,
    command_name,
    parse_command,
)
from bot.commands.progress import QueueNotes
from bot.config import Settings
from bot.enrichment import signals_of
from bot.errors import (
    ArxivUnavailableError,
    DuplicateSubscriptionError,
    HarvestProblem,
    LimitError,
    NotFoundError,
    QueryError,
    QueryTimeoutError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
    UserError,
)
from bot.export.replies import bib_reply, export_reply
from bot.harvest import Harvester, HarvestFailure
from bot.localsearch.engine import LocalResults, LocalSearch
from bot.localsearch.snippets import query_stems, snippet
from bot.models import (
    CommunitySignals,
    DeliveryMode,
    Paper,
    PaperPost,
    Reply,
    Snippet,
    SortOrder,
    Tone,
    Visibility,
)
from bot.observability.metrics import Metrics
from bot.post_schedule import PostSchedule, from_canonical
from bot.preview import Preview, preview
from bot.query import FIELDS, Query
from bot.render import clean, format_date, index_line, make_post, plural, shown_title
from bot.secrets import mask_secrets
from bot.sources.arxiv_api import ArxivApi
from bot.sources.gate import ArxivGate, GateStats
from bot.sources.hf_wire import HfPaper
from bot.sources.huggingface import HuggingFacePapers
from bot.store import Channel, Store
from bot.textproc import stems
from bot.trending import Period, Trending, TrendingEntry, fetch_trending, paper_from_hf

log = logging.getLogger(__name__)

QUERY_HELP = (
    "Query syntax is arXiv's own: "
    + ", ".join(f"{code}: ({name})" for code, name in FIELDS.items())
    + '; a bare word searches all fields. Quote phrases ("medical imaging"), combine with '
    "AND, OR, ANDNOT and parentheses. cat:cs.* covers a whole archive."
)

TRENDING_LIMIT = 25
"""Papers ``/arxiv trending`` lists at most."""
TOP_LIMIT = 10
"""Papers ``/arxiv top`` lists at most."""
TOP_HINT = (
    "React with 👍 to a paper the bot posts here (👎 if it is not for this channel); "
    "/arxiv top then lists the most-liked."
)


class Operations(Protocol):
    """The running bot's moving parts that ``/arxiv status`` reports on."""

    def next_harvest(self) -> datetime | None: ...

    async def pending_deliveries(self) -> int: ...

    async def unmatched_papers(self) -> int: ...

    async def last_errors(self) -> list[str]: ...

    async def harvesting_replica(self) -> str | None:
        """Which process harvests, when several share the database; None when alone."""
        ...


class CommandHandler:
    """Runs commands against the store and arXiv, and answers with a :class:`Reply`."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        arxiv: ArxivApi,
        gate: ArxivGate,
        harvester: Harvester,
        operations: Operations | None = None,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
        hf: HuggingFacePapers | None = None,
    ) -> None:
        """``hf`` answers ``/arxiv trending`` and adds Hugging Face's line to search
        results from its cache; without it (or with it disabled) there is neither."""
        self._settings = settings
        self._hf = hf
        self.operations = operations
        self._store = store
        self._arxiv = arxiv
        self._gate = gate
        self._harvester = harvester
        self._clock = clock
        self._metrics = metrics or Metrics()
        self._started_at = clock()
        self._local = LocalSearch(store, clock=clock)

    async def execute(self, text: str, context: CommandContext) -> Reply:
        """Parse and run one command line; never raises, errors become replies."""
        started, name = time.perf_counter(), "invalid"
        try:
            command = parse_command(text)
            name = command_name(command)
            return await self.handle(command, context)
        except QueryError as error:
            code = (error.query, " " * error.position + "^") if error.position is not None else ()
            return Reply(title=error.message, code=code, tone=Tone.ERROR)
        except UserError as error:
            return Reply(title=mask_secrets(str(error)), tone=Tone.ERROR)
        except Exception:
            log.exception(
                "command %r in %s (%s) failed",
                text,
                context.channel.label,
                context.channel.platform,
                extra={"channel": context.channel.label, "platform": context.channel.platform},
            )
            return Reply(
                title="Something went wrong on our side; it has been logged. Please try again.",
                tone=Tone.ERROR,
            )
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.command_answered(name, context.channel.platform, elapsed)

    async def handle(self, command: Command, context: CommandContext) -> Reply:
        match command:
            case HelpCommand(topic):
                return self._help(topic)
            case SearchCommand():
                return await self._search(command, context)
            case PaperCommand(reference):
                return await self._paper(reference, context)
            case SimilarCommand():
                return await self._similar(command, context)
            case SubscribeCommand():
                return await self._subscribe(command, context)
            case PreviewCommand(query):
                return self._preview_reply(query.text, await self._preview(query))
            case ModeCommand(mode, cards):
                return await self._mode(mode, cards, context)
            case ScheduleCommand(schedule):
                return await self._schedule(schedule, context)
            case UnsubscribeCommand(subscription_id):
                return await self._unsubscribe(subscription_id, context)
            case ListCommand():
                return await self._list(context)
            case StatusCommand():
                return await self._status(context)
            case TopCommand(period):
                return await self._top(period, context)
            case RankingCommand(on):
                return await self._ranking(on, context)
            case TrendingCommand(period, query):
                return await self._trending(period, query)
            case ExportCommand():
                return await export_reply(
                    self._store,
                    command,
                    context.channel,
                    rows=self._settings.export_rows,
                    now=self._clock(),
                )
            case BibCommand(reference):
                return bib_reply(*await self._stored_or_fetched(reference, context))

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

    async def _search(self, command: SearchCommand, context: CommandContext) -> Reply:
        """From the local index when it holds the whole answer, else from arXiv; from
        the index anyway, saying so, when arXiv does not answer."""
        query, newest = command.query, command.sort is SortOrder.DATE
        offset = (command.page - 1) * command.limit
        since = await self._local.held_since(query)
        local: LocalResults | None = None
        if since is not None and (newest or self._holds_enough(since)):
            local = await self._local.search(
                query, newest_first=newest, limit=command.limit, offset=offset
            )
            if local is not None and (not newest or _newest_complete(local, since, command)):
                origin = f"From the local index, papers since {since.isoformat()}."
                return self._results_reply(command, local.papers, local.total, origin, local)
        try:
            async with QueueNotes(context.progress) as notes:
                results = await self._arxiv.search(
                    query.to_api(),
                    sort=command.sort,
                    limit=offset + command.limit,
                    on_queue=notes.heard,
                )
        except ArxivUnavailableError as error:
            if local is None:
                local = await self._local.search(
                    query, newest_first=newest, limit=command.limit, offset=offset
                )
            if local is None or not local.papers:
                raise  # nothing to show: arXiv's trouble is the answer
            held = f"papers since {since.isoformat()}" if since else "what the bot has stored"
            origin = (
                f"arXiv is not answering ({error}), so these come from the local index "
                f"({held}), which may miss some."
            )
            return self._results_reply(command, local.papers, local.total, origin, local)
        await self._store.upsert_papers(results.papers)
        page = results.papers[offset : offset + command.limit]
        return self._results_reply(command, page, results.total, "From arXiv.", None)

    def _holds_enough(self, since: date) -> bool:
        """True when the index holds enough days to answer a relevance search itself."""
        return (self._clock().date() - since).days >= self._settings.search_index_days

    def _results_reply(
        self,
        command: SearchCommand,
        papers: tuple[Paper, ...],
        total: int,
        origin: str,
        local: LocalResults | None,
    ) -> Reply:
        shown = command.query.text
        if not papers:
            where = "arXiv papers" if local is None else "papers"
            none = f"No {where}" if command.page == 1 else f"No more {where}"
            return Reply(
                title=f"{none} match {shown}.",
                lines=(
                    origin,
                    "Try fewer or broader terms, or search all fields with a bare word.",
                ),
            )
        first = (command.page - 1) * command.limit + 1
        last = first + len(papers) - 1
        order = "newest first" if command.sort is SortOrder.DATE else "most relevant first"
        if local is not None and local.more_than:
            count = f"More than {plural(total, 'paper')}"
        elif local is not None and not local.exact_total:
            count = f"At most {plural(total, 'paper')}"
        else:
            count = plural(total, "paper")
        if local is not None and local.ranked_among is not None and total > local.ranked_among:
            order += (
                f" among the newest {local.ranked_among:,} (add words or a category to narrow it)"
            )
        more = None
        if (last < total or (local is not None and local.more_than)) and command.page < MAX_PAGE:
            more = (
                f"search {shown} --sort {command.sort.value} --limit {command.limit} "
                f"--page {command.page + 1}"
            )
        return Reply(
            title=f"{count} match {shown}",
            lines=(f"Showing {_span(first, last)}, {order}. {origin}",),
            papers=papers,
            snippets=_snippets(papers, query_stems(command.query)),
            more=more,
            signals=self._cached_signals(papers),
        )

    def _cached_signals(self, papers: tuple[Paper, ...]) -> tuple[CommunitySignals | None, ...]:
        """Hugging Face's line for each paper, from its cache only (no request); empty
        when it knows none of them."""
        if self._hf is None or not self._hf.enabled:
            return ()
        found = [self._hf.cached_paper(paper.arxiv_id) for paper in papers]
        if all(hit is None for hit in found):
            return ()
        return tuple(signals_of(hit) if hit is not None else None for hit in found)

    async def _stored_or_fetched(
        self, reference: str, context: CommandContext
    ) -> tuple[Paper, str | None]:
        """The paper ``reference`` names: the stored one when the index holds it (the
        version asked for, if any), else arXiv's; and a note when arXiv did not answer
        but the index holds another version."""
        arxiv_id, version = parse_arxiv_id(reference)
        stored = await self._store.get_paper(arxiv_id)
        if stored is not None and version in (None, stored.version):
            return stored, None
        try:
            async with QueueNotes(context.progress) as notes:
                paper = await self._arxiv.lookup(arxiv_id, version, on_queue=notes.heard)
        except ArxivUnavailableError as error:
            if stored is None:
                raise
            return stored, (
                f"arXiv is not answering ({error}); this is version {stored.version}, "
                "the one the bot holds."
            )
        await self._store.upsert_papers([paper])
        return paper, None

    async def _paper(self, reference: str, context: CommandContext) -> Reply:
        paper, note = await self._stored_or_fetched(reference, context)
        post = make_post(paper)
        signals = self._cached_signals((paper,))
        if signals:
            post = dataclasses.replace(post, community=signals[0])
        return Reply(
            title=f"arXiv:{paper.versioned_id}",
            lines=(note,) if note else (),
            posts=(post,),
        )

    async def paper_post(self, reference: str, context: CommandContext) -> PaperPost:
        """The card ``/arxiv paper reference`` shows (link previews): the stored paper
        when the index holds it, else arXiv's through the same queue and deadline."""
        paper, _ = await self._stored_or_fetched(reference, context)
        post = make_post(paper)
        signals = self._cached_signals((paper,))
        return dataclasses.replace(post, community=signals[0]) if signals else post

    async def _similar(self, command: SimilarCommand, context: CommandContext) -> Reply:
        paper, _ = await self._stored_or_fetched(command.reference, context)
        offset = (command.page - 1) * command.limit
        try:
            found = await self._local.similar(paper, limit=command.limit + 1, offset=offset)
        except QueryTimeoutError:
            raise UserError(
                f"Finding papers like arXiv:{paper.arxiv_id} took too long on this index; "
                "try again when the bot is less busy."
            ) from None
        papers = tuple(found[: command.limit])
        held = await self._store.indexed_papers()
        title = f"Papers like arXiv:{paper.arxiv_id} ({shown_title(paper)})"
        if not papers:
            more_text = (
                "No other stored paper shares its telling words" if command.page == 1 else "No more"
            )
            return Reply(
                title=title,
                lines=(
                    f"{more_text} (the local index holds {held:,} papers).",
                    "arxiv-bot backfill fills the index with whole archives.",
                ),
            )
        first = offset + 1
        more = None
        if len(found) > command.limit and command.page < MAX_PAGE:
            more = f"similar {paper.arxiv_id} --limit {command.limit} --page {command.page + 1}"
        return Reply(
            title=title,
            lines=(
                f"Showing {_span(first, first + len(papers) - 1)}, most alike first, "
                f"from the local index of {held:,} papers.",
            ),
            papers=papers,
            snippets=_snippets(papers, frozenset(stems(paper.title))),
            more=more,
            signals=self._cached_signals(papers),
        )

    async def _managed_channel(self, context: CommandContext) -> tuple[int, str | None]:
        """The channel's id, after checking permission; a paused channel resumes.

        Someone managing the channel is the signal that the bot may post there again.
        Returns the reason it had been paused, if it was.
        """
        self._require_manager(context)
        channel_id = await self._store.ensure_channel(context.channel)
        channel = await self._store.get_channel(channel_id)
        if channel.paused_reason and await self._store.resume_channel(channel_id):
            return channel_id, channel.paused_reason
        return channel_id, None

    def _require_manager(self, context: CommandContext) -> None:
        if not context.can_manage_channel:
            raise UserError(
                "Only people who manage this channel can change its subscriptions. "
                "Ask a channel admin, or use /arxiv search to look things up."
            )

    async def _subscribe(self, command: SubscribeCommand, context: CommandContext) -> Reply:
        channel_id, was_paused = await self._managed_channel(context)
        try:
            subscription = await self._store.add_subscription(
                channel_id,
                command.query.text,
                canonical=command.query.canonical(),
                limit=self._settings.max_subscriptions_per_channel,
            )
        except DuplicateSubscriptionError as error:
            raise UserError(
                f"This channel is already subscribed to that query as #{error.existing.id}. "
                "/arxiv list shows this channel's subscriptions."
            ) from None
        except SubscriptionLimitError as error:
            raise LimitError(_limit_message(error.count, error.limit)) from None
        lines = [
            "New papers matching it will be posted here as arXiv announces them.",
            f"Remove it with /arxiv unsubscribe {subscription.id}.",
        ]
        if command.mode is not None:
            await self._store.set_channel_mode(channel_id, command.mode)
            lines.append(_MODE_TEXT[command.mode])
        if was_paused:
            lines.append(_resumed_line(was_paused))
        recent = await self._preview(command.query)
        lines += _preview_lines(recent)
        return Reply(
            title=f"Subscribed this channel to #{subscription.id}: {subscription.query}",
            lines=tuple(lines),
            papers=recent.newest,
            visibility=Visibility.CHANNEL,
            tone=Tone.SUCCESS,
        )

    async def _preview(self, query: Query) -> Preview:
        return await preview(self._store, query, now=self._clock())

    def _preview_reply(self, shown: str, recent: Preview) -> Reply:
        return Reply(
            title=f"Preview of {shown}",
            lines=_preview_lines(recent),
            papers=recent.newest,
            footer="Subscribe with /arxiv subscribe <query> when it looks right.",
        )

    async def _mode(
        self, mode: DeliveryMode | None, cards: int | None, context: CommandContext
    ) -> Reply:
        if mode is None and cards is None:
            channel_id = await self._store.ensure_channel(context.channel)
            channel = await self._store.get_channel(channel_id)
            return Reply(
                title=f"This channel's mode is {channel.mode}.",
                lines=(
                    _MODE_TEXT[DeliveryMode(channel.mode)],
                    self._cards_line(channel.digest_cards),
                    "Change it with /arxiv mode each|digest [--cards N].",
                ),
            )
        channel_id, was_paused = await self._managed_channel(context)
        if mode is not None:
            await self._store.set_channel_mode(channel_id, mode)
        if cards is not None:
            await self._store.set_digest_cards(channel_id, cards)
        channel = await self._store.get_channel(channel_id)
        resumed = (_resumed_line(was_paused),) if was_paused else ()
        return Reply(
            title=f"This channel's mode is now {channel.mode}.",
            lines=(_MODE_TEXT[channel.mode], self._cards_line(channel.digest_cards), *resumed),
            visibility=Visibility.CHANNEL,
            tone=Tone.SUCCESS,
        )

    async def _schedule(self, schedule: PostSchedule | None, context: CommandContext) -> Reply:
        if schedule is None:
            channel_id = await self._store.ensure_channel(context.channel)
            channel = await self._store.get_channel(channel_id)
            return Reply(
                title=schedule_line(channel),
                lines=(
                    "Change it with /arxiv schedule asap|daily HH:MM [TZ]|weekly DAY HH:MM [TZ].",
                ),
            )
        channel_id, was_paused = await self._managed_channel(context)
        schedule = schedule.with_default_zone(self._settings.timezone)
        before = await self._store.get_channel(channel_id)
        first = None if schedule.asap else schedule.next_post(self._clock())
        if not schedule.asap and before.schedule == schedule.canonical and before.next_post_at:
            # The same schedule again: a post that is due (say, missed while the channel
            # was paused) still goes out now, not a period later.
            first = before.next_post_at
        await self._store.set_channel_schedule(channel_id, schedule.canonical, first)
        channel = await self._store.get_channel(channel_id)
        lines = (
            ["New papers are posted right after each harvest, in this channel's mode."]
            if schedule.asap
            else [
                "What matches meanwhile is collected and posted as one digest at that time, "
                "whatever the mode; a post missed while the bot was down goes out when it is "
                "back."
            ]
        )
        if was_paused:
            lines.append(_resumed_line(was_paused))
        return Reply(
            title=schedule_line(channel),
            lines=tuple(lines),
            visibility=Visibility.CHANNEL,
            tone=Tone.SUCCESS,
        )

    def _cards_line(self, cards: int | None) -> str:
        count = self._settings.digest_cards if cards is None else cards
        if count == 0:
            return "Digests list every paper, with no full cards."
        return f"Digests list every paper, with full cards for the first {plural(count, 'paper')}."

    async def _unsubscribe(self, subscription_id: int, context: CommandContext) -> Reply:
        self._require_manager(context)
        channel_id = await self._store.ensure_channel(context.channel)
        try:
            removed = await self._store.remove_subscription(channel_id, subscription_id)
        except SubscriptionNotFoundError:
            raise NotFoundError(
                f"No subscription #{subscription_id} in this channel. "
                "/arxiv list shows this channel's subscriptions."
            ) from None
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

    async def _top(self, period: str, context: CommandContext) -> Reply:
        """The channel's most-liked papers of the period: net likes (each person once),
        ties newest first, from feedback given in the period."""
        days = TOP_PERIODS[period]
        since = self._clock() - timedelta(days=days)
        channel_id = await self._store.find_channel(context.channel)
        tallies = (
            await self._store.top_feedback(channel_id, since=since, limit=TOP_LIMIT)
            if channel_id is not None
            else []
        )
        if not tallies:
            given = channel_id is not None and await self._store.feedback_count(
                channel_id, since=since
            )
            title = (
                f"No paper got more likes than dislikes here in the past {period}."
                if given
                else f"No feedback on this channel's papers in the past {period} yet."
            )
            return Reply(title=title, lines=(TOP_HINT,))
        papers: list[Paper] = []
        snippets: list[Snippet | None] = []
        gone: list[str] = []
        for tally in tallies:
            counts = f"{tally.liked:,} liked" + (
                f", {tally.disliked:,} not for us" if tally.disliked else ""
            )
            paper = await self._store.get_paper(tally.arxiv_id)
            if paper is None:
                gone.append(f"arXiv:{tally.arxiv_id}: +{tally.net:,} ({counts}; no longer stored)")
                continue
            papers.append(paper)
            snippets.append(Snippet(f"+{tally.net:,} ({counts})"))
        return Reply(
            title=f"This channel's most-liked papers of the past {period}",
            lines=(
                f"Net likes from reactions and buttons of the last {days} days (people who "
                "liked a paper minus those who did not), ties newest first.",
                *gone,
            ),
            papers=tuple(papers),
            snippets=tuple(snippets),
            signals=self._cached_signals(tuple(papers)),
        )

    async def _ranking(self, on: bool | None, context: CommandContext) -> Reply:
        if on is None:
            channel_id = await self._store.ensure_channel(context.channel)
            channel = await self._store.get_channel(channel_id)
            return Reply(
                title=f"Ranking is {'on' if channel.ranking else 'off'} in this channel.",
                lines=(await self._ranking_line(channel), "Change it with /arxiv ranking on|off."),
            )
        channel_id, was_paused = await self._managed_channel(context)
        await self._store.set_channel_ranking(channel_id, on)
        channel = await self._store.get_channel(channel_id)
        resumed = (_resumed_line(was_paused),) if was_paused else ()
        return Reply(
            title=f"Ranking is now {'on' if on else 'off'} in this channel.",
            lines=(await self._ranking_line(channel), *resumed),
            visibility=Visibility.CHANNEL,
            tone=Tone.SUCCESS,
        )

    async def _ranking_line(self, channel: Channel) -> str:
        """How the channel's new papers are ordered, in words."""
        strength = "title matches first, then abstract matches, newest first within each"
        if not channel.ranking:
            return f"Order of new papers: ranking off, {strength}."
        likes = await self._store.liked_papers_count(channel.id)
        needed = self._settings.ranking_min_likes
        if likes >= needed:
            return (
                f"Order of new papers: ranking by your reactions ({plural(likes, 'like')}), "
                "top picks marked."
            )
        return (
            f"Order of new papers: ordered by match strength until {plural(needed, 'paper')} "
            f"are liked ({likes:,} so far); {strength}."
        )

    async def _trending(self, period: str, query: Query | None) -> Reply:
        """Hugging Face's daily papers of the period, most upvoted first."""
        if self._hf is None or not self._hf.enabled:
            raise UserError(
                "Trending papers come from Hugging Face, which this bot is set not to ask "
                "(HF_PAPERS=off). Try /arxiv search instead."
            )
        chosen: Period = "week" if period == "week" else "today"
        found = await fetch_trending(
            self._hf,
            chosen,
            today=self._clock().astimezone(UTC).date(),
            query=query,
            limit=TRENDING_LIMIT,
        )
        if found is None:
            raise UserError(
                "Hugging Face's daily papers could not be reached just now; try "
                "/arxiv trending again in a few minutes."
            )
        held = [day for day in found.days if day not in found.missing_days]
        cached = await self._hf.daily_papers_of(held, budget=0.5)  # cache hits: no request
        listed = {paper.arxiv_id: paper for day in held for paper in cached.get(day, ())}
        return _trending_reply(found, query, listed)

    async def _status(self, context: CommandContext) -> Reply:
        now = self._clock()
        counts = await self._store.counts()
        channel_id = await self._store.ensure_channel(context.channel)
        channel = await self._store.get_channel(channel_id)
        here = len(await self._store.list_subscriptions(channel_id))
        gate = self._gate.stats()
        lines = [
            f"Version {__version__}, up {_duration((now - self._started_at).total_seconds())}.",
            f"This channel: {plural(here, 'subscription')}, mode {channel.mode}.",
        ]
        if channel.paused_reason:
            lines.append(f"Posting here is paused: {channel.paused_reason}")
        lines.append(schedule_line(channel))
        lines.append(await self._ranking_line(channel))
        lines += [
            f"All channels: {plural(counts.channels, 'channel')}, "
            f"{plural(counts.subscriptions, 'subscription')}, "
            f"{plural(counts.deliveries, 'paper')} delivered.",
            f"Stored papers: {counts.papers:,}.",
            index_line(await self._store.coverage(), counts.papers),
            _arxiv_line(now, gate),
            await self._harvest_line(now),
        ]
        next_run = self.operations.next_harvest() if self.operations is not None else None
        failure = await self._harvester.last_failure()
        if failure is not None:
            lines.append(self._failure_line(now, failure, next_run))
        errors: list[str] = []
        if self.operations is not None:
            if next_run is not None:
                lines.append(f"Next harvest: {_when(next_run, self._settings)}.")
            harvesting = await self.operations.harvesting_replica()
            if harvesting is not None:
                lines.append(f"Harvests: {harvesting}.")
            lines.append(f"Pending deliveries: {await self.operations.pending_deliveries():,}.")
            unmatched = await self.operations.unmatched_papers()
            if unmatched:
                lines.append(f"Papers waiting to be matched: {unmatched:,}.")
            errors += await self.operations.last_errors()
        if errors:
            lines.append("Last errors:")
            lines += [f"  {clean(mask_secrets(error))}" for error in errors]
        return Reply(title="arxiv-bot status", lines=tuple(lines))

    async def _harvest_line(self, now: datetime) -> str:
        report = await self._harvester.last_report()
        if report is None:
            return "Last harvest: never."
        finished = report.finished_at
        return (
            f"Last harvest: {_when(finished, self._settings)} ({_ago(now, finished)}), "
            f"{plural(report.new_papers, 'new paper')}, "
            f"{plural(report.revised_papers, 'revision')}."
        )

    def _failure_line(
        self, now: datetime, failure: HarvestFailure, next_run: datetime | None
    ) -> str:
        """The last harvest's failure in words; the detail is in the log."""
        when = f", at {_when(next_run, self._settings)}," if next_run else ""
        return (
            f"The last harvest failed ({_ago(now, failure.at)}): "
            f"{_HARVEST_PROBLEMS[failure.problem]}. The next harvest{when} starts again from "
            f"{failure.retry_from.isoformat()}, so nothing is lost."
        )


_HARVEST_PROBLEMS: dict[HarvestProblem, str] = {
    "unavailable": "arXiv could not be reached or was unavailable",
    "broken": "arXiv sent a broken answer",
    "incomplete": "arXiv sent an incomplete list of papers",
    "refused": "arXiv refused the harvest's request",
    "unexpected": "something unexpected went wrong; the log says what",
}


def _arxiv_line(now: datetime, gate: GateStats) -> str:
    """Whether arXiv answers this process, in words (counts are in the metrics)."""
    answered = f"last answer {_ago(now, gate.last_success_at)}" if gate.last_success_at else ""
    failed_last = gate.last_error_at is not None and (
        gate.last_success_at is None or gate.last_error_at > gate.last_success_at
    )
    if failed_last and gate.last_error_at is not None:
        earlier = f"; {answered}" if answered else ""
        return f"arXiv: the last request failed {_ago(now, gate.last_error_at)}{earlier}."
    return f"arXiv: answering, {answered}." if answered else "arXiv: not asked yet."


_MODE_TEXT = {
    DeliveryMode.EACH: "Each new paper is posted on its own (a busy day becomes one digest).",
    DeliveryMode.DIGEST: "New papers arrive as one digest per harvest.",
}


def _limit_message(count: int, limit: int) -> str:
    noun = "subscription" if count == 1 else "subscriptions"
    most = "the most allowed" if count == limit else f"and the most allowed is {limit}"
    return (
        f"This channel already has {count} {noun}, {most}. "
        "Remove one with /arxiv unsubscribe <id> (see /arxiv list), "
        "or combine queries with OR in one subscription."
    )


def _resumed_line(reason: str) -> str:
    return f"Posting here had been paused ({clean(reason)}); it resumes now."


def _newest_complete(local: LocalResults, since: date, command: SearchCommand) -> bool:
    """True when a newest-first page from the index is the true newest: full, and its
    last paper submitted after the index's first day, so nothing newer can be missing."""
    if len(local.papers) < command.limit:
        return False
    return local.papers[-1].submitted.date() > since


def _trending_reply(found: Trending, query: Query | None, listed: Mapping[str, HfPaper]) -> Reply:
    span = (
        f"on {found.days[0].isoformat()}"
        if len(found.days) == 1
        else f"from {found.days[-1].isoformat()} to {found.days[0].isoformat()}"
    )
    shown = f" matching {query.text}" if query is not None else ""
    no_categories = query is not None and "cat:" in query.text
    note = " (cat: matches nothing here: Hugging Face lists no categories)" if no_categories else ""
    lines = [f"Hugging Face's daily papers {span}{shown}, most upvoted first{note}."]
    if not found.complete:
        missing = ", ".join(day.isoformat() for day in found.missing_days)
        lines.append(
            f"Hugging Face did not answer for {missing}; papers of those days are missing."
        )
    if not found.entries:
        return Reply(
            title=f"No trending papers{shown} {span}.",
            lines=(*lines, "Try /arxiv trending week, or fewer words."),
        )
    return Reply(
        title=f"Trending on Hugging Face{shown}",
        lines=tuple(lines),
        papers=tuple(_trending_paper(entry, listed.get(entry.arxiv_id)) for entry in found.entries),
        signals=tuple(
            CommunitySignals(
                upvotes=entry.upvotes,
                github_repo=entry.github_repo,
                github_stars=entry.github_stars,
                daily=True,
            )
            for entry in found.entries
        ),
        footer="Upvotes and code links from huggingface.co/papers.",
    )


def _trending_paper(entry: TrendingEntry, listed: HfPaper | None) -> Paper:
    """A result line's paper: what the daily papers list gives (no categories)."""
    if listed is not None:
        return dataclasses.replace(paper_from_hf(listed), title=entry.title)
    when = datetime.combine(entry.day or date(1970, 1, 1), datetime.min.time(), tzinfo=UTC)
    return Paper(
        arxiv_id=entry.arxiv_id,
        version=1,
        title=entry.title,
        authors=(),
        abstract="",
        categories=(),
        submitted=when,
        updated=when,
    )


def _span(first: int, last: int) -> str:
    return f"{first:,}" if first == last else f"{first:,} to {last:,}"


def _snippets(papers: tuple[Paper, ...], stems: frozenset[str]) -> tuple[Snippet | None, ...]:
    return tuple(snippet(paper.abstract, stems) for paper in papers)


def _preview_lines(recent: Preview) -> tuple[str, ...]:
    """What a preview found, and how much of the window the index can vouch for."""
    if not recent.harvested:
        held = (
            "The bot does not harvest this query's categories yet (no subscription or "
            "INDEX_SETS covers them), so papers there are not counted; subscribing makes "
            "the next harvest fetch them."
        )
    elif recent.covered_days < recent.days:
        held = (
            f"The local index holds this query's categories for only the last "
            f"{plural(recent.covered_days, 'day')} of the {recent.days}."
        )
    else:
        held = ""
    if recent.scanned == 0:
        found = (
            f"No new papers were harvested in the last {recent.days} days yet, so there is "
            "nothing to preview; the bot harvests after arXiv's evening announcement."
        )
    else:
        found = (
            f"Over the last {recent.days} days it would have posted "
            f"{plural(recent.matches, 'paper')} (of {recent.scanned:,} new papers harvested)"
            + (", the newest:" if recent.newest else ".")
        )
    return (held, found) if held else (found,)


def schedule_line(channel: Channel) -> str:
    """When the channel gets papers: ``Schedule: daily at 09:00 Europe/Berlin; next post
    Tue 1 Dec 09:00 CET.``"""
    schedule = from_canonical(channel.schedule)
    if schedule.asap or channel.next_post_at is None:
        return f"Schedule: {schedule.describe()}."
    return f"Schedule: {schedule.describe()}; next post {schedule.local(channel.next_post_at)}."


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _when(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _ago(now: datetime, then: datetime) -> str:
    seconds = (now - then).total_seconds()
    return "just now" if seconds < 60 else f"{_duration(seconds)} ago"
