"""Replicas: several ``arxiv-bot run`` services on one PostgreSQL schema, with real
processes against the local fakes (OAI-PMH, Slack, Discord; tests/fakes/crash.py).

What it measures:

* **throughput**: the delivery rate of 1, 2 and 3 replicas. Slack channels each get a
  few posts; the Slack fake takes at most one post per second per channel (HTTP 429 and
  ``Retry-After`` beyond that, :attr:`FakeSlack.channel_pace`) and the bot paces itself
  to the same (``SLACK_POST_INTERVAL=1``). The papers are harvested and matched before
  the replicas start, so every replica's first delivery round sees all the work (see
  below); the time is from the first message landing to the last. What replicas add
  here is parallelism: a replica sends to at most 50 channels at a time (the
  dispatcher's ``parallel_channels``), a channel takes one post a second, and replicas
  spread channels between them (``FOR UPDATE SKIP LOCKED`` on the channel's row).
* **failover**: three replicas, the OAI fake holding its first answer; the replica that
  holds the harvest lease (it sent that request) is killed with SIGKILL. Measured from
  the kill: until another replica holds the lease (the ``leases`` table), until the
  harvest's first request arrives again, until the harvest completes (its success is
  recorded), and until the first post lands. Twice: on one host, where the others see
  the holder's pid is gone at their next renewal (a third of the lease); and with each
  replica under a host name of its own (``unshare --uts``, root only), where its lease
  has to run out: ``HARVEST_LEASE_SECONDS`` is short here (5 s; 30 s by default, so
  expect six times as long across real hosts).

:func:`delivery_kill` and :func:`failover` are what tests/test_replicas.py asserts on:
every (channel, paper) shown exactly once after a replica is killed mid-delivery, one
harvest's requests at the OAI fake, spaced by ``ARXIV_REQUEST_INTERVAL``.

What it leaves out:

* more hosts: the replicas share this machine's cores (the first line printed says how
  many) with PostgreSQL and the fakes (which run in this process's event loop), so the
  rates are this machine's, not a cluster's: on two cores, two or three replicas keep
  the CPU busy and the total varies from run to run (80 to 130 messages a second seen),
  the cores rather than the channels' pace being the limit. Replicas take the due
  channels from a random one on, so two rarely plan one channel at once (the loser of
  such a race drops its plan: "its deliveries changed while planning"). A
  claim of a killed replica is freed at once here (``reclaim_dead`` sees the dead pid),
  where on another host it waits ``DELIVERY_LEASE_SECONDS``;
* the wait between a harvest and the other replicas' share of its delivery: the throughput
  runs queue the work before the replicas start. In service, the replica that matched
  new papers wakes the others at once (PostgreSQL ``NOTIFY``, bot/app.py
  ``_listen_for_work``); without that notice they look every 30 s
  (``DELIVERY_PUMP_SECONDS``);
* Discord's pacing (the Discord fake never runs a rate-limit bucket dry), network
  latency, and a real PostgreSQL's other tenants.

Run from the repository root (``TEST_DATABASE_URL`` or ``--url`` names the server; each
run uses a fresh schema, dropped after)::

    .venv/bin/python -m bench.replicas
    .venv/bin/python -m bench.replicas --channels 300 --posts 4 --replicas 1,2,3
    .venv/bin/python -m bench.replicas --replicas 3 --adversarial  # kills, cut connections
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bot.categories import categories_in_archive
from bot.enqueue import Enqueuer
from bot.harvest import _LAST_SUCCESS_KEY, Harvester
from bot.leadership import HARVEST_LEASE
from bot.models import ChannelRef, DeliveryMode, Paper
from bot.processes import ProcessId
from bot.sources.oai import OaiClient
from bot.store import Store
from bot.store.deliveries import DeliveryQueue
from bot.store.outbox import ClaimOwner
from tests.databases import URL_VARIABLE, schema_on
from tests.fakes.corpus import make_paper
from tests.fakes.crash import (
    Service,
    _discord_texts,
    _env,
    _slack_texts,
    start_services,
    stop_services,
)
from tests.fakes.discord_api import GUILD_ID, FakeDiscord, running_fake_discord
from tests.fakes.oai import OAI_PATH, FakeOai, quick_gate, running_fake_oai
from tests.fakes.slack_api import TEAM_ID, FakeSlack, running_fake_slack

__all__ = [
    "DeliveryKill",
    "Failover",
    "Throughput",
    "delivery_kill",
    "failover",
    "throughput",
]

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
LEASE_SECONDS = 5.0
"""``HARVEST_LEASE_SECONDS`` of the failover runs (the setting's least is 3)."""
DELIVERY_LEASE_SECONDS = 10.0
"""``DELIVERY_LEASE_SECONDS`` of these runs: the setting's least."""
REQUEST_INTERVAL = 0.5
"""``ARXIV_REQUEST_INTERVAL`` of these runs (arXiv's own is 3 s)."""
PAGE_SIZE = 100
"""Records per OAI-PMH page at the fake."""
CATEGORIES = tuple(categories_in_archive("cs"))
"""Every channel subscribes to one of these: all in the OAI-PMH set ``cs``, so a harvest
is one list of pages."""
POLL = 0.05


# -- figures -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """What the fakes show, per (channel, paper) the subscriptions asked for."""

    pairs: int
    messages: int
    """Messages in those channels (and their threads)."""
    lost: int
    """Pairs shown in no message."""
    repeated: int
    """Showings beyond the first: a pair shown in three messages counts 2."""


@dataclass(frozen=True, slots=True)
class Requests:
    """The OAI fake's request log."""

    requests: int
    lists: int
    """Requests that start a list (no ``resumptionToken``): one per set per harvest."""
    min_gap: float | None
    """The least time between two requests' arrivals, whoever sent them."""


@dataclass(frozen=True, slots=True)
class Throughput:
    replicas: int
    channels: int
    expected: int
    messages: int
    seconds: float
    """From the first message landing to the last."""
    rate_limited: int
    """Posts the Slack fake answered with HTTP 429 (each retried after Retry-After)."""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.inf

    def __str__(self) -> str:
        noun = "replica" if self.replicas == 1 else "replicas"
        return (
            f"{self.replicas} {noun}: {self.messages} messages in {self.seconds:.1f} s "
            f"({self.rate:.1f} msg/s), {self.rate_limited} answered 429"
        )


@dataclass(frozen=True, slots=True)
class DeliveryKill:
    replicas: int
    tally: Tally
    landed_at_kill: int
    """Messages that had landed when the victim was killed."""
    victim_claims: int
    """Outbox messages the victim had claimed (was sending) when killed."""
    victim_led: bool
    """Whether the victim held the harvest lease."""
    undelivered: int
    """Delivery rows not ``delivered`` at the end."""
    requests: Requests
    expected_requests: int
    """One harvest's pages."""
    seconds: float

    def __str__(self) -> str:
        t = self.tally
        return (
            f"{self.replicas} replicas, one killed mid-delivery ({self.landed_at_kill} "
            f"messages landed, {self.victim_claims} claimed by it"
            f"{', the harvest leader' if self.victim_led else ''}): {t.pairs} (channel, "
            f"paper) pairs in {t.messages} messages, lost {t.lost}, repeated {t.repeated}; "
            f"{self.requests.requests} OAI requests (one harvest: {self.expected_requests}), "
            f"least gap {_gap(self.requests.min_gap)} ({self.seconds:.0f} s)"
        )


@dataclass(frozen=True, slots=True)
class Failover:
    lease_seconds: float
    lease_taken: float
    """Seconds from the kill until another replica held the harvest lease."""
    harvest_started: float
    """... until the new leader's first request reached the OAI fake."""
    harvest_done: float
    """... until its harvest was recorded complete."""
    first_post: float
    """... until the first message landed."""
    delivered: float
    """... until every delivery was delivered."""
    tally: Tally
    requests: Requests
    expected_requests: int
    """The killed leader's first request, then one whole harvest."""
    seconds: float
    hosts: bool = False
    """Each replica had a host name of its own: the lease had to run out."""

    def __str__(self) -> str:
        t = self.tally
        where = (
            "each replica its own host, so the lease runs out"
            if self.hosts
            else "one host, where the dead pid is seen at the next renewal"
        )
        return (
            f"failover ({where}): lease taken after {self.lease_taken:.1f} s, "
            f"harvest started after {self.harvest_started:.1f} s and done after "
            f"{self.harvest_done:.1f} s, first post after {self.first_post:.1f} s, "
            f"all {t.pairs} delivered after {self.delivered:.1f} s "
            f"(HARVEST_LEASE_SECONDS={self.lease_seconds:g}); lost {t.lost}, repeated "
            f"{t.repeated}, {self.requests.requests} OAI requests "
            f"(expected {self.expected_requests}), least gap {_gap(self.requests.min_gap)}"
        )


def _gap(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


# -- the bed: fakes, channels, papers, the database ---------------------------------


@dataclass(slots=True)
class _Bed:
    url: str
    oai: FakeOai
    slack: FakeSlack
    discord: FakeDiscord
    papers: list[Paper]
    wanted: dict[ChannelRef, list[Paper]]
    db: psycopg.AsyncConnection[Any]

    @property
    def pairs(self) -> int:
        return sum(len(papers) for papers in self.wanted.values())

    def env(self, **settings: str) -> dict[str, str]:
        return {
            **_env(self.url, self.oai, self.slack, self.discord),
            "ARXIV_REQUEST_INTERVAL": str(REQUEST_INTERVAL),
            "HARVEST_LEASE_SECONDS": str(LEASE_SECONDS),
            "DELIVERY_LEASE_SECONDS": str(DELIVERY_LEASE_SECONDS),
            "HF_PAPERS": "off",
            "LOG_LEVEL": "INFO",
            **settings,
        }

    def posted(self) -> int:
        return len(self.slack.messages()) + len(self.discord.channel_messages())

    def tally(self) -> Tally:
        lost = repeated = messages = 0
        for ref, papers in self.wanted.items():
            if ref.platform == "slack":
                texts = _slack_texts(self.slack, ref.channel)[0]
            else:
                texts = _discord_texts(self.discord, ref.channel)[0]
            messages += len(texts)
            for paper in papers:
                shown = sum(paper.abs_url in text for text in texts)
                lost += shown == 0
                repeated += max(0, shown - 1)
        return Tally(self.pairs, messages, lost, repeated)

    def requests(self) -> Requests:
        log = [r for r in self.oai.requests if r.path == OAI_PATH]
        starts = sorted(r.started for r in log)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        lists = sum("resumptionToken" not in r.params for r in log)
        return Requests(len(log), lists, min(gaps, default=None))

    def pages(self) -> int:
        """How many requests one harvest of the announced papers takes."""
        return max(1, math.ceil(len(self.papers) / self.oai.page_size))

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self.db.execute(sql, params)
        return list(await cursor.fetchall())

    async def undelivered(self) -> int:
        """Deliveries the subscriptions ask for that are not delivered (not yet matched
        counts as not delivered)."""
        rows = await self._rows("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
        return self.pairs - int(rows[0][0])

    async def lease_holder(self) -> str | None:
        rows = await self._rows("SELECT holder FROM leases WHERE name = %s", (HARVEST_LEASE,))
        return str(rows[0][0]) if rows else None

    async def claims(self) -> Counter[int]:
        """Outbox messages being sent, by the pid of the process that claimed them."""
        rows = await self._rows(
            "SELECT claim, count(*) FROM outbox WHERE status = 'sending'"
            " AND claim IS NOT NULL GROUP BY claim"
        )
        held: Counter[int] = Counter()
        for claim, count in rows:
            owner = ClaimOwner.parse(str(claim))
            if owner is not None:
                held[owner.pid] += int(count)
        return held

    async def harvested(self) -> bool:
        rows = await self._rows("SELECT value FROM state WHERE key = %s", (_LAST_SUCCESS_KEY,))
        return bool(rows and rows[0][0])


def _papers(count: int, categories: Sequence[str]) -> list[Paper]:
    return [
        make_paper(
            f"2507.{n:05d}",
            title=f"Replicated paper {n:05d} on {categories[n % len(categories)]}",
            categories=(categories[n % len(categories)],),
        )
        for n in range(1, count + 1)
    ]


def _channels(slack: int, discord: int) -> list[ChannelRef]:
    return [
        *(ChannelRef("slack", TEAM_ID, f"C0R{n:05d}", f"slack-{n}") for n in range(slack)),
        *(ChannelRef("discord", GUILD_ID, f"13{n:017d}", f"discord-{n}") for n in range(discord)),
    ]


async def _subscribe(
    url: str, refs: Sequence[ChannelRef], papers: Sequence[Paper], categories: Sequence[str]
) -> dict[ChannelRef, list[Paper]]:
    """Channel ``n`` subscribes to ``cat:`` the ``n``-th category (round the list), one
    post per paper; returns each channel's papers."""
    wanted: dict[ChannelRef, list[Paper]] = {}
    async with await Store.open(url) as store:
        for n, ref in enumerate(refs):
            category = categories[n % len(categories)]
            channel = await store.ensure_channel(ref)
            await store.add_subscription(channel, f"cat:{category}")
            await store.set_channel_mode(channel, DeliveryMode.EACH)
            wanted[ref] = [p for p in papers if p.categories[0] == category]
    return wanted


@contextlib.asynccontextmanager
async def _bed(
    url: str, *, slack: int, discord: int, papers: int, categories: int
) -> AsyncIterator[_Bed]:
    """The fakes, and ``slack`` + ``discord`` channels subscribed on the (empty) schema at
    ``url`` to ``papers`` papers spread over ``categories`` categories (not announced)."""
    chosen = CATEGORIES[:categories]
    announced = _papers(papers, chosen)
    async with AsyncExitStack() as stack:
        oai = stack.enter_context(running_fake_oai(page_size=PAGE_SIZE))
        fake_slack = await stack.enter_async_context(running_fake_slack())
        fake_discord = await stack.enter_async_context(running_fake_discord())
        fake_discord.nonce_window = 0.0  # only reading back protects against repeats
        refs = _channels(slack, discord)
        for ref in refs:
            if ref.platform == "discord":
                fake_discord.set_channel(ref.channel, name=ref.name)
        wanted = await _subscribe(url, refs, announced, chosen)
        db = await psycopg.AsyncConnection.connect(url, autocommit=True)
        stack.push_async_callback(db.close)
        yield _Bed(url, oai, fake_slack, fake_discord, announced, wanted, db)


# -- waiting ---------------------------------------------------------------------------


async def _wait(
    done: Callable[[], Awaitable[bool]],
    services: Sequence[Service],
    what: str,
    *,
    within: float,
    need: int | None = None,
) -> None:
    """Poll until ``done``; fail after ``within`` seconds, or when fewer than ``need``
    services (all, when None) still run."""
    deadline = time.monotonic() + within
    need = len(services) if need is None else need
    while not await done():
        running = [s for s in services if s.running]
        if len(running) < need or time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.log.name}:\n{s.tail()}" for s in services)
            state = "timed out" if len(running) >= need else "a replica stopped"
            raise RuntimeError(f"{state} waiting for {what}\n{logs}")
        await asyncio.sleep(POLL)


async def _quiet(posted: Callable[[], int], seconds: float = 1.5) -> None:
    """Until nothing more landed for ``seconds`` (a repeat would come now)."""
    count, still = posted(), 0.0
    while still < seconds:
        await asyncio.sleep(POLL)
        still = still + POLL if posted() == count else 0.0
        count = posted()


async def _kill(service: Service) -> None:
    service.process.send_signal(signal.SIGKILL)
    await service.process.wait()


def _logs(workdir: Path, replicas: int, prefix: str) -> list[Path]:
    return [workdir / f"{prefix}-{n}.log" for n in range(replicas)]


# -- the scenarios ---------------------------------------------------------------------


async def delivery_kill(
    url: str,
    workdir: Path,
    *,
    replicas: int = 3,
    papers: int = 500,
    slack: int = 100,
    discord: int = 100,
    categories: int = 40,
    kill_at: float = 0.15,
    within: float = 90.0,
) -> DeliveryKill:
    """``replicas`` services on the empty schema at ``url``; one harvest of ``papers``
    for ``slack`` + ``discord`` channels; once ``kill_at`` of the messages landed, a
    replica that is sending (it holds outbox claims) is killed with SIGKILL; then the
    others finish. Logs go to ``workdir``."""
    started = time.monotonic()
    async with _bed(url, slack=slack, discord=discord, papers=papers, categories=categories) as bed:
        bed.oai.announce(*bed.papers)
        services = await start_services(bed.env(), _logs(workdir, replicas, "replica"))
        try:
            threshold = max(1, int(bed.pairs * kill_at))

            async def some_landed() -> bool:
                return bed.posted() >= threshold

            await _wait(some_landed, services, "the first messages", within=within)
            victim, claims = await _sending(bed, services, within)
            holder = await bed.lease_holder()
            led = holder is not None and _holder_pid(holder) == victim.pid
            landed = bed.posted()
            await _kill(victim)

            async def all_delivered() -> bool:
                return await bed.undelivered() == 0

            await _wait(all_delivered, services, "every delivery", within=within, need=replicas - 1)
            await _quiet(bed.posted)
        finally:
            await stop_services(services)
        undelivered = await bed.undelivered()
    return DeliveryKill(
        replicas,
        bed.tally(),
        landed,
        claims,
        led,
        undelivered,
        bed.requests(),
        bed.pages(),
        time.monotonic() - started,
    )


async def _sending(bed: _Bed, services: Sequence[Service], within: float) -> tuple[Service, int]:
    """A replica that holds outbox claims now, and how many."""
    deadline = time.monotonic() + within
    while True:
        held = await bed.claims()
        for service in services:
            if service.running and held[service.pid]:
                return service, held[service.pid]
        if time.monotonic() > deadline:
            raise RuntimeError("no replica was seen sending")
        await asyncio.sleep(0.01)


@dataclass(frozen=True, slots=True)
class DatabaseDrops:
    replicas: int
    drops: int
    connections_cut: int
    tally: Tally
    undelivered: int
    seconds: float

    def __str__(self) -> str:
        t = self.tally
        return (
            f"{self.replicas} replicas, every bot connection to PostgreSQL cut {self.drops} "
            f"times mid-delivery ({self.connections_cut} connections in all): {t.pairs} "
            f"(channel, paper) pairs in {t.messages} messages, lost {t.lost}, repeated "
            f"{t.repeated}, undelivered {self.undelivered} ({self.seconds:.0f} s)"
        )


async def database_drops(
    url: str,
    workdir: Path,
    *,
    replicas: int = 2,
    drops: int = 3,
    papers: int = 300,
    slack: int = 60,
    discord: int = 60,
    categories: int = 30,
    within: float = 120.0,
) -> DatabaseDrops:
    """``replicas`` services on the empty schema at ``url``, one harvest; while they
    deliver, every connection of theirs to the server is cut ``drops`` times, as a
    database restart or failover would (``pg_terminate_backend``); then they finish.
    Nothing else may use the server's ``arxiv-bot`` connections meanwhile."""
    started = time.monotonic()
    async with _bed(url, slack=slack, discord=discord, papers=papers, categories=categories) as bed:
        bed.oai.announce(*bed.papers)
        services = await start_services(bed.env(), _logs(workdir, replicas, "drops"))
        cut = 0
        try:
            for drop in range(drops):
                threshold = max(1, int(bed.pairs * (drop + 1) / (drops + 2)))

                async def landed(enough: int = threshold) -> bool:
                    return bed.posted() >= enough

                await _wait(landed, services, "messages landing", within=within)
                with psycopg.connect(url, autocommit=True) as conn:
                    rows = conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name LIKE 'arxiv-bot%' AND pid <> pg_backend_pid()"
                    ).fetchall()
                cut += len(rows)

            async def all_delivered() -> bool:
                return await bed.undelivered() == 0

            await _wait(all_delivered, services, "every delivery", within=within)
            await _quiet(bed.posted)
        finally:
            await stop_services(services)
        undelivered = await bed.undelivered()
    return DatabaseDrops(replicas, drops, cut, bed.tally(), undelivered, time.monotonic() - started)


def _holder_pid(holder: str) -> int:
    """The pid in a lease holder's name (``host:pid:incarnation``)."""
    process = ProcessId.parse(holder)
    assert process is not None, holder
    return process.pid


async def failover(
    url: str,
    workdir: Path,
    *,
    replicas: int = 3,
    papers: int = 60,
    slack: int = 10,
    discord: int = 10,
    categories: int = 10,
    hold: float = 20.0,
    within: float = 60.0,
    hosts: bool = False,
) -> Failover:
    """``replicas`` services on the empty schema at ``url``; the OAI fake holds its
    first answer ``hold`` seconds (``ARXIV_TIMEOUT`` is longer); the harvest lease's
    holder (which asked) is killed with SIGKILL, and the times until the others take
    over are measured (see the module doc). With ``hosts``, each replica runs under a
    host name of its own (needs ``unshare --uts``: root), so no replica can see that the
    killed one is gone and its lease has to run out. Logs go to ``workdir``."""
    started = time.monotonic()
    async with _bed(url, slack=slack, discord=discord, papers=papers, categories=categories) as bed:
        bed.oai.announce(*bed.papers)
        bed.oai.delay_next(hold)
        env = bed.env(ARXIV_TIMEOUT=str(hold + 10))
        names = [f"replica-{number}" for number in range(replicas)] if hosts else []
        services = await start_services(env, _logs(workdir, replicas, "failover"), hosts=names)
        try:

            async def asked() -> bool:
                return bed.oai.in_flight > 0

            await _wait(asked, services, "the first harvest request", within=within)
            holder = await bed.lease_holder()
            victim = next(s for s in services if holder and s.pid == _holder_pid(holder))
            await _kill(victim)
            killed = time.monotonic()
            rest = replicas - 1

            async def taken() -> bool:
                now = await bed.lease_holder()
                return now is not None and now != holder

            await _wait(taken, services, "another lease holder", within=within, need=rest)
            lease_taken = time.monotonic() - killed

            def since_kill() -> list[float]:
                return [r.started - killed for r in bed.oai.requests if r.started > killed]

            async def asked_again() -> bool:
                return bool(since_kill())

            await _wait(asked_again, services, "the harvest again", within=within, need=rest)
            harvest_started = since_kill()[0]
            await _wait(bed.harvested, services, "the harvest", within=within, need=rest)
            harvest_done = time.monotonic() - killed

            async def first_post() -> bool:
                return bed.posted() > 0

            await _wait(first_post, services, "the first post", within=within, need=rest)
            posted = time.monotonic() - killed

            async def all_delivered() -> bool:
                return await bed.undelivered() == 0

            await _wait(all_delivered, services, "every delivery", within=within, need=rest)
            delivered = time.monotonic() - killed
            await _quiet(bed.posted)
        finally:
            await stop_services(services)
    # The fake is stopped: the held request is in its log now (answered nothing).
    return Failover(
        LEASE_SECONDS,
        lease_taken,
        harvest_started,
        harvest_done,
        posted,
        delivered,
        bed.tally(),
        bed.requests(),
        1 + bed.pages(),
        time.monotonic() - started,
        hosts,
    )


async def throughput(
    url: str,
    workdir: Path,
    replicas: int,
    *,
    channels: int = 300,
    posts: int = 4,
    pace: float = 1.0,
    within: float = 300.0,
) -> Throughput:
    """``replicas`` services delivering ``posts`` posts to each of ``channels`` Slack
    channels, queued before they start, each channel paced at one post per ``pace``
    seconds (see the module doc)."""
    async with _bed(url, slack=channels, discord=0, papers=posts, categories=1) as bed:
        bed.slack.channel_pace = pace
        bed.oai.announce(*bed.papers)
        await _queue_in_advance(bed)
        env = bed.env(SLACK_POST_INTERVAL=str(pace))
        services = await start_services(env, _logs(workdir, replicas, f"throughput-{replicas}"))
        try:

            async def all_landed() -> bool:
                return len(bed.slack.messages()) >= bed.pairs

            await _wait(all_landed, services, "every message", within=within)
            await _quiet(bed.posted, 0.5)
        finally:
            await stop_services(services)
        posts_ = bed.slack.calls("chat.postMessage")
        landed = [call.time for call in posts_ if call.ok]
        return Throughput(
            replicas,
            channels,
            bed.pairs,
            len(bed.slack.messages()),
            max(landed) - min(landed) if landed else 0.0,
            sum(call.status == 429 for call in posts_),
        )


async def _queue_in_advance(bed: _Bed) -> None:
    """Harvest and match in this process (no replica running yet), so that delivery is
    all that is left."""
    gate = quick_gate()
    try:
        async with await Store.open(bed.url) as store:
            await Harvester(store=store, oai=OaiClient(gate, base_url=bed.oai.url)).harvest()
            await Enqueuer(store=store, queue=DeliveryQueue(store)).match_pending()
    finally:
        gate.close()


# -- running it --------------------------------------------------------------------------


async def _main(
    server: str, counts: Sequence[int], channels: int, posts: int, *, adversarial: bool
) -> int:
    print(
        f"delivery: {channels} Slack channels x {posts} posts, each channel paced at one "
        "post a second by the Slack fake (HTTP 429 beyond), queued before the replicas "
        f"start; {os.cpu_count()} cores"
    )
    for count in counts:
        with schema_on(server, "bench") as url, tempfile.TemporaryDirectory() as workdir:
            print(await throughput(url, Path(workdir), count, channels=channels, posts=posts))
    with schema_on(server, "bench") as url, tempfile.TemporaryDirectory() as workdir:
        print(await failover(url, Path(workdir)))
    if os.geteuid() == 0 and shutil.which("unshare"):
        with schema_on(server, "bench") as url, tempfile.TemporaryDirectory() as workdir:
            print(await failover(url, Path(workdir), hosts=True))
    else:
        print("failover across hosts: not measured (needs root for unshare --uts)")
    if adversarial:
        for kill_at in (0.05, 0.35, 0.7):
            with schema_on(server, "bench") as url, tempfile.TemporaryDirectory() as workdir:
                print(await delivery_kill(url, Path(workdir), kill_at=kill_at))
        with schema_on(server, "bench") as url, tempfile.TemporaryDirectory() as workdir:
            print(await database_drops(url, Path(workdir)))
    return 0


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=environ.get(URL_VARIABLE) or DEFAULT_SERVER)
    parser.add_argument("--channels", type=int, default=300)
    parser.add_argument("--posts", type=int, default=4, help="posts per channel")
    parser.add_argument("--replicas", default="1,2,3", help="replica counts, comma-separated")
    parser.add_argument(
        "--adversarial",
        action="store_true",
        help="also kill a sending replica at 5, 35 and 70%% of the posts, and cut every "
        "bot connection to PostgreSQL three times mid-delivery",
    )
    options = parser.parse_args(argv)
    counts = [int(part) for part in options.replicas.split(",") if part.strip()]
    return asyncio.run(
        _main(
            options.url,
            counts,
            options.channels,
            options.posts,
            adversarial=options.adversarial,
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
