"""The application: wires settings, store, arXiv access, commands and automatic posts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bot import __version__, systemd
from bot.adapter import Adapter, AdapterFactory, AdapterOptions, CommandContext, runs_as_service
from bot.clock import Clock, utc_now
from bot.commands.grammar import Command
from bot.commands.handlers import CommandHandler
from bot.config import Settings
from bot.cycle import Cycle, CycleReport
from bot.delivery import Dispatcher, Sender
from bot.enqueue import Enqueuer
from bot.enrichment import Enricher
from bot.errors import StorageError
from bot.feedback import FeedbackEvent, FeedbackRecorder
from bot.harvest import Harvester
from bot.leadership import Leadership
from bot.link_previews import LinkPreview, previews
from bot.models import ChannelRef, Reply, Subscription, Tone
from bot.observability.metrics import Metrics
from bot.observability.probes import Probes
from bot.post_schedule import wait_seconds
from bot.retention import Retention
from bot.schedule import HarvestSchedule
from bot.scheduler import Scheduler
from bot.sources.arxiv_api import ArxivApi
from bot.sources.gate import ArxivGate, build_user_agent
from bot.sources.huggingface import HuggingFacePapers
from bot.sources.oai import OaiClient
from bot.sources.rhythm import Rhythm, rhythm_path
from bot.store import Store
from bot.store.deliveries import DeliveryQueue

if TYPE_CHECKING:
    from aiohttp.web import RouteDef

    from bot.observability.server import HealthServer
    from bot.tldr import TldrMaker

log = logging.getLogger(__name__)

DELIVERY_PUMP_SECONDS = 30.0
"""How often, between harvests, papers left unmatched are matched and posts whose backoff
has passed are retried (also once at start)."""
LISTEN_RETRY_SECONDS = 5.0
"""Pause before listening again for other replicas' work after the connection failed."""

STOPPING_TEXT = "arxiv-bot is restarting; try again in a minute."
SHUTDOWN_GRACE_SECONDS = 10.0
"""How long stopping waits for a running cycle. Cutting a harvest short loses nothing:
the watermark only moves after a complete harvest."""
INPUT_END_GRACE_SECONDS = 1.0
"""How long the end of the input (a piped console) waits for a running cycle: one nearly
done may finish; any other stops, and the next start harvests from the watermark."""


@dataclass(slots=True)
class _Open:
    """What exists only while the app is open."""

    store: Store
    handler: CommandHandler
    harvester: Harvester
    enqueuer: Enqueuer
    dispatcher: Dispatcher
    cycle: Cycle
    feedback: FeedbackRecorder
    tldr: TldrMaker | None


class BotApp:
    """Owns every long-lived resource; use as ``async with BotApp(settings) as app``."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self._clock = clock
        self.gate = ArxivGate(
            interval=settings.arxiv_request_interval,
            timeout=settings.arxiv_timeout,
            user_agent=build_user_agent(__version__, settings.arxiv_contact),
            wall_clock=clock,
            # Every process on this database keeps one rhythm with arXiv.
            shared_rhythm_path=None
            if settings.uses_postgres
            else rhythm_path(settings.database_path),
            shared_rhythm=_database_rhythm(settings),
        )
        self.arxiv = ArxivApi(
            self.gate, base_url=settings.arxiv_api_url, cache_seconds=settings.search_cache_seconds
        )
        self.oai = OaiClient(self.gate, base_url=settings.arxiv_oai_url)
        self.hf = HuggingFacePapers(
            base_url=settings.hf_api_url,
            enabled=settings.hf_papers,
            user_agent=build_user_agent(__version__, settings.arxiv_contact),
        )
        """Hugging Face's papers API (its own gate); with HF_PAPERS=off it asks nothing."""
        self.schedule = HarvestSchedule.from_settings(settings)
        self.metrics = Metrics(gate_stats=self.gate.stats)
        self.senders: dict[str, Sender] = {}
        """Adapters by platform name; the dispatcher posts through these."""
        self._open: _Open | None = None
        self._scheduler: Scheduler | None = None
        self._leadership: Leadership | None = None
        self._work = asyncio.Event()
        """Set when another process queued posts: the delivery pump's early wake-up."""

    def _require_open(self) -> _Open:
        if self._open is None:
            raise RuntimeError("BotApp is not open; use `async with BotApp(...)`")
        return self._open

    @property
    def store(self) -> Store:
        return self._require_open().store

    @property
    def harvester(self) -> Harvester:
        return self._require_open().harvester

    @property
    def dispatcher(self) -> Dispatcher:
        return self._require_open().dispatcher

    async def __aenter__(self) -> BotApp:
        settings, clock = self.settings, self._clock
        store = await Store.open(
            settings.database_target, clock=clock, busy_timeout=settings.database_busy_timeout
        )
        queue = DeliveryQueue(store)
        metrics = self.metrics
        tldr = _tldr_maker(settings)
        enricher = Enricher(self.hf, tldr)
        harvester = Harvester(
            store=store,
            oai=self.oai,
            clock=clock,
            lookback_days=settings.harvest_lookback_days,
            index_sets=settings.index_set_scope,
            metrics=metrics,
        )
        enqueuer = Enqueuer(
            store=store,
            queue=queue,
            revision_notes=settings.revision_notes,
            clock=clock,
            metrics=metrics,
        )
        dispatcher = Dispatcher(
            store=store,
            queue=queue,
            senders=self.senders,
            digest_cap=settings.digest_cap,
            digest_cards=settings.digest_cards,
            max_attempts=settings.delivery_max_attempts,
            lease_seconds=settings.delivery_lease_seconds,
            clock=clock,
            metrics=metrics,
            ranking_min_likes=settings.ranking_min_likes,
            enricher=enricher,
        )
        handler = CommandHandler(
            settings=settings,
            store=store,
            arxiv=self.arxiv,
            gate=self.gate,
            harvester=harvester,
            operations=self,
            clock=clock,
            metrics=metrics,
            hf=self.hf,
        )
        retention = Retention(store, days=settings.retention_days, clock=clock)
        cycle = Cycle(
            harvester,
            enqueuer,
            dispatcher,
            retention,
            enricher=enricher,
            queue=queue,
            leads=self._leads,
            on_queued=store.notify_work,
        )
        feedback = FeedbackRecorder(
            store, positive=settings.feedback_names(1), negative=settings.feedback_names(-1)
        )
        self._open = _Open(store, handler, harvester, enqueuer, dispatcher, cycle, feedback, tldr)
        log.info("store ready at %s", store.label)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._open is not None:
            opened, self._open = self._open, None
            await opened.cycle.aclose()
            if opened.tldr is not None:
                await opened.tldr.aclose()
            await opened.store.close()
        self.hf.close()
        self.gate.close()

    # -- what adapters call ------------------------------------------------------------

    async def execute(self, text: str, context: CommandContext) -> Reply:
        if self._open is None:  # a command that arrived while the bot was stopping
            return Reply(title=STOPPING_TEXT, tone=Tone.ERROR)
        return await self._open.handler.execute(text, context)

    async def handle(self, command: Command, context: CommandContext) -> Reply:
        return await self._require_open().handler.handle(command, context)

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        if self._open is None:
            return []
        channel_id = await self.store.find_channel(channel)
        return await self.store.list_subscriptions(channel_id) if channel_id is not None else []

    async def feedback(self, event: FeedbackEvent) -> bool:
        if self._open is None:  # a reaction that arrived while the bot was stopping
            return False
        return await self._open.feedback.record(event)

    async def link_previews(self, urls: Sequence[str], channel: ChannelRef) -> list[LinkPreview]:
        if self._open is None:  # links pasted while the bot was stopping
            return []
        handler, context = self._open.handler, CommandContext(channel=channel)
        return await previews(urls, lambda reference: handler.paper_post(reference, context))

    # -- what /arxiv status reports ----------------------------------------------------

    async def harvesting_replica(self) -> str | None:
        """For ``/arxiv status``: which replica harvests (on PostgreSQL, or when another
        process holds the lease); None for a bot alone on its database."""
        leadership = self._leadership
        if leadership is None:
            return None
        if leadership.leading:
            return "this replica" if self.settings.uses_postgres else None
        lease = await self._require_open().store.lease(leadership.name)
        if lease is None:
            return "none right now; this replica takes over within the lease"
        return f"another replica ({lease.holder.rsplit(':', 1)[0]}); this one posts"

    def next_harvest(self) -> datetime | None:
        return self._scheduler.next_run() if self._scheduler is not None else None

    async def pending_deliveries(self) -> int:
        return await self.dispatcher.pending_count()

    async def unmatched_papers(self) -> int:
        return await self._require_open().enqueuer.waiting()

    async def last_errors(self) -> list[str]:
        return await self.dispatcher.last_errors()

    # -- running -----------------------------------------------------------------------

    async def run_cycle(self) -> CycleReport:
        """One harvest, match and delivery cycle."""
        return await self._require_open().cycle.run()

    async def _harvest_overdue(self) -> bool:
        last = await self._require_open().harvester.last_success()
        return self.schedule.is_overdue(last, self._clock())

    async def run(
        self,
        factories: Sequence[AdapterFactory],
        *,
        channel: str | None = None,
        once: bool = False,
    ) -> CycleReport | None:
        """Run the adapters with automatic posts until they run out of input or a signal.

        ``channel`` names the console's channel. With ``once``, run one cycle through the
        adapters (their commands off) and return its report (None when stopped first).
        """
        server, routes = (None, []) if once else self._health(factories)
        options = AdapterOptions(
            database=self.settings.database_target,
            commands=not once,
            channel=channel,
            probe_routes=routes,
        )
        adapters: list[Adapter] = []
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop_signal, stop)
        pump: asyncio.Task[None] | None = None
        listening: asyncio.Task[None] | None = None
        leading: asyncio.Task[None] | None = None
        grace = SHUTDOWN_GRACE_SECONDS
        try:
            if server is not None:
                await server.start()
            for factory in factories:
                adapter = factory.create(self, options)
                adapters.append(adapter)
                if not await _until_first(adapter.start(), stop.wait()):
                    return None  # a signal while connecting
                self.senders[adapter.name] = adapter
                self.metrics.platform_started(adapter.name)
                log.info("adapter %s started", adapter.name)
            if once:
                cycle = asyncio.ensure_future(self.run_cycle())
                return cycle.result() if await _until_first(cycle, stop.wait()) else None
            self._leadership = Leadership(
                self._require_open().store,
                lease_seconds=self.settings.harvest_lease_seconds,
                clock=self._clock,
                on_elected=self._elected,
            )
            await self._leadership.step()  # alone on the database: leads from the start
            leading = asyncio.create_task(self._leadership.run(), name="harvest-lease")
            self._scheduler = Scheduler(self.schedule, self._scheduled_cycle, clock=self._clock)
            await self._scheduler.start(catch_up=await self._harvest_overdue())
            pump = asyncio.create_task(self._pump_deliveries(), name="delivery-pump")
            listening = asyncio.create_task(self._listen_for_work(), name="work-notices")
            # Under systemd (Type=notify): READY=1, watchdog pings, then STOPPING=1.
            async with systemd.serving("running: " + ", ".join(a.name for a in adapters)):
                if await _until_first(
                    asyncio.gather(*(adapter.wait_closed() for adapter in adapters)), stop.wait()
                ):
                    grace = INPUT_END_GRACE_SECONDS  # the input ended: answer and go
            return None
        finally:
            for task in (pump, listening):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            if self._scheduler is not None:
                await self._scheduler.shutdown(grace_seconds=grace)
                self._scheduler = None
            if leading is not None:  # after the last harvest: hands the lease on
                leading.cancel()
                await asyncio.gather(leading, return_exceptions=True)
                self._leadership = None
            for adapter in reversed(adapters):
                self.senders.pop(adapter.name, None)
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter %s did not stop cleanly", adapter.name)
            if server is not None:
                await server.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    def _health(
        self, factories: Sequence[AdapterFactory]
    ) -> tuple[HealthServer | None, list[RouteDef]]:
        """The health and metrics server (None when ``HTTP_PORT`` turns it off), and its
        routes, which Slack's HTTP mode serves as well."""
        from bot.observability.server import HealthServer, probe_routes  # aiohttp: only here

        opened = self._require_open()
        probes = Probes(
            store=opened.store,
            harvester=opened.harvester,
            schedule=self.schedule,
            metrics=self.metrics,
            adapters=self.senders,
            expected=[factory.name for factory in factories],
            clock=self._clock,
        )
        port = self.settings.health_port(service=runs_as_service(factories))
        server = (
            None if port is None else HealthServer(probes, host=self.settings.http_host, port=port)
        )
        return server, probe_routes(probes)

    def _stop_signal(self, stop: asyncio.Event) -> None:
        """SIGINT or SIGTERM: stop, and let no other program's lock on the database hold
        the stop (store operations that find it locked now fail at once)."""
        stop.set()
        self.gate.stop()  # cut what arXiv is doing now; a harvest cut short loses nothing
        if self._open is not None:
            self._open.store.stop_waiting()

    def _leads(self) -> bool:
        """Whether this process harvests: always, unless it runs as a service beside
        others on the database and another holds the harvest lease."""
        return self._leadership is None or self._leadership.leading

    async def _elected(self) -> None:
        """This service took the harvest over (it started, or the last holder died):
        harvest now if the holder before it left one undone."""
        if self._scheduler is not None and await self._harvest_overdue():
            log.info("taking over an overdue harvest")
            self._scheduler.run_now()

    async def _scheduled_cycle(self) -> int:
        try:
            return (await self.run_cycle()).new_papers
        except StorageError as error:  # said in one line; the next cycle tries again
            log.error("harvest cycle failed: %s", error)
            return 0

    async def _pump_deliveries(self) -> None:
        """At start and between harvests: match stranded papers, send what is due; and
        at each scheduled channel's post time (/arxiv schedule), as it comes."""
        while True:
            try:
                await self._require_open().cycle.match_and_deliver()
            except StorageError as error:
                log.error("delivering queued posts failed: %s", error)
            except Exception:
                log.exception("delivering queued posts failed")
            with contextlib.suppress(TimeoutError):  # woken early by another process
                await asyncio.wait_for(self._work.wait(), await self._pump_wait())
            self._work.clear()

    async def _listen_for_work(self) -> None:
        """On PostgreSQL, wake the pump when another replica queued posts (its matching
        ran): this replica sends its share at once rather than at its next round."""
        if not self.settings.uses_postgres:
            return
        while True:
            try:
                async for _ in self._require_open().store.work_notices():
                    self._work.set()
            except StorageError as error:
                log.warning(
                    "not told of new work for now (%s); looking every %s s",
                    error,
                    DELIVERY_PUMP_SECONDS,
                )
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    async def _pump_wait(self) -> float:
        """Seconds until the next round: the pump's interval, or less when a scheduled
        channel's post time comes sooner."""
        now = self._clock()
        try:
            next_post = await self._require_open().store.next_scheduled_post(now)
        except StorageError:
            next_post = None
        return wait_seconds(now, next_post, DELIVERY_PUMP_SECONDS)


def _database_rhythm(settings: Settings) -> Rhythm | None:
    """On PostgreSQL, the database keeps arXiv's rhythm for every replica."""
    if not settings.uses_postgres:
        return None
    from bot.sources.database_rhythm import DatabaseRhythm  # psycopg only when used

    return DatabaseRhythm(settings.database_url)


def _tldr_maker(settings: Settings) -> TldrMaker | None:
    """The TL;DR maker the ``LLM_*`` settings ask for, or None; the ``openai`` client is
    imported only then (it takes a while)."""
    tldr_settings = settings.tldr_settings
    if tldr_settings is None:
        return None
    from bot.tldr import TldrMaker

    return TldrMaker.from_settings(tldr_settings)


async def _until_first(work: Awaitable[Any], *others: Awaitable[Any]) -> bool:
    """Wait until ``work`` or one of ``others`` (a stop signal) finishes; cancel and reap
    the rest. True when ``work`` finished first; its exception, if any, is raised."""
    first = asyncio.ensure_future(work)
    waiters: list[asyncio.Future[Any]] = [first, *map(asyncio.ensure_future, others)]
    done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    if first in done:
        first.result()  # raises what the work raised
        return True
    return False
