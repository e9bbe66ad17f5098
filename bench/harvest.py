"""Benchmark one automatic-post cycle (harvest, match, deliver) against local fakes.

Run from the repository root::

    .venv/bin/python -m bench.harvest                      # N = 10, 1,000 and 10,000
    .venv/bin/python -m bench.harvest --sizes 10,1000      # fewer sizes, quicker
    .venv/bin/python -m bench.harvest --sizes 10000 --channels 100,2000,default

What it sets up, once: a fake arXiv OAI-PMH server (``tests/fakes/oai.py``, a real HTTP
server on 127.0.0.1) serving a synthetic corpus of ``--days`` announcement days of
``--new`` papers each (20,000 by default; ``tests/fakes/workload.py``: arXiv's spread of
categories, cross-lists, realistic titles, abstracts and authors), a fake arXiv search
API (``tests/fakes/arxiv_api.py``) to show that a cycle never searches, and a store
template holding ``--stored`` papers minus the three days the runs below add.

Then, for each N (and each ``--channels`` count), in a fresh subprocess (so that peak RSS
is that run's alone: the fakes run in this parent process, and the subprocesses are
started by a lean launcher process, since Linux hands a parent's peak RSS down to its
children): copy the template, add N subscriptions over N/5 channels, or over each count
of ``--channels`` in turn (``default`` is N/5), spread evenly
(``tests/fakes/workload.py``'s realistic mix of queries),
store the two previous days as an earlier harvest would have and match them, and run the
measured cycle:
``Harvester.harvest()`` through the real gate and OAI-PMH client, then
``Enqueuer.match_pending()`` and ``Dispatcher.deliver_due()`` with a sender that does nothing.
The harvest window (watermark minus a day of overlap) covers three days of records, of
which only the last is new: about ``--new`` new papers per cycle.

It prints, per N: arXiv requests in the cycle (OAI-PMH and search API, as the fakes
counted them), harvest wall time, matching time for the cycle's papers, deliveries
queued and sent, and peak RSS; then the pure matching throughput (building the
subscription index, tokenizing the cycle's papers, ``SubscriptionIndex.match`` on each;
best of three runs, and tokenizing once more with an empty stem cache).

This is a script that prints figures, not a test: pytest only collects ``tests/``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.launcher import Launcher
from bot.delivery import Dispatcher
from bot.enqueue import Enqueuer
from bot.harvest import Harvester
from bot.index import SubscriptionIndex
from bot.matcher import PaperText
from bot.models import (
    ChannelRef,
    Digest,
    HarvestedRecord,
    OutgoingMessage,
    Paper,
    PaperPost,
    SentCandidate,
)
from bot.query import parse_query
from bot.sources.gate import ArxivGate
from bot.sources.oai import OaiClient
from bot.store import Store
from bot.store.deliveries import DeliveryQueue
from bot.textproc import stem
from tests.fakes.clock import SettableClock
from tests.fakes.workload import synthetic_papers, synthetic_queries

TODAY = date(2025, 6, 16)
"""The announcement day of the measured cycle; the corpus runs up to it."""
PLATFORM = "bench"
USER_AGENT = "arxiv-bot-bench/0 (+https://pypi.org/project/arxiv-bot/)"
STORE_BATCH = 5000


class NullSender:
    """An adapter that plans one message per post or digest (no platform rendering: that
    is left out of these figures), accepts every message at once and counts them. The
    outbox path (planning, claiming, recording each message) is the real one."""

    def __init__(self) -> None:
        self.posts = 0
        self.digests = 0

    def plan(self, item: PaperPost | Digest, *, cards: int) -> list[OutgoingMessage]:
        if isinstance(item, Digest):
            shows = tuple(post.paper.arxiv_id for post in item.posts)
            return [OutgoingMessage({"digest": True}, shows)]
        return [OutgoingMessage({"digest": False}, (item.paper.arxiv_id,))]

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        if message.payload["digest"]:
            self.digests += 1
        else:
            self.posts += 1
        return key

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> dict[str, str]:
        return {}


# -- the corpus --------------------------------------------------------------------------


def day_of(index: int, days: int) -> date:
    """Announcement day ``index`` of the corpus (0 is the oldest, days - 1 is TODAY)."""
    return TODAY - timedelta(days=days - 1 - index)


def day_papers(index: int, days: int, per_day: int) -> list[Paper]:
    """The papers announced on corpus day ``index``, the same in every process."""
    return synthetic_papers(
        per_day, seed=1000 + index, first_id=index * per_day, day=day_of(index, days)
    )


def day_records(index: int, days: int, per_day: int) -> list[HarvestedRecord]:
    day = day_of(index, days)
    return [HarvestedRecord(paper, day) for paper in day_papers(index, days, per_day)]


def older_papers(count: int) -> list[Paper]:
    """``count`` stored papers from months before: a few thousand generated, recombined
    (titles, abstracts and authors of different papers) to fill the store quickly."""
    base = synthetic_papers(min(count, 4000), seed=7, day=date(2025, 1, 15))
    size = len(base)
    return [
        dataclasses.replace(
            base[number % size],
            arxiv_id=f"2501.{number:05d}",
            title=base[(number * 7 + number // size) % size].title,
            abstract=base[(number * 13 + 2 * (number // size)) % size].abstract,
            authors=base[(number * 31 + 3 * (number // size)) % size].authors,
        )
        for number in range(count)
    ]


async def build_template(path: Path, count: int) -> float:
    """Create the store at ``path`` holding ``count`` older papers; the seconds it took."""
    started = time.perf_counter()
    store = await Store.open(path)
    try:
        papers = older_papers(count)
        for start in range(0, len(papers), STORE_BATCH):
            await store.upsert_papers(papers[start : start + STORE_BATCH])
    finally:
        await store.close()
    return time.perf_counter() - started


# -- one N, in a subprocess ------------------------------------------------------------


async def add_subscriptions(store: Store, count: int, channels: int | None = None) -> int:
    """``count`` subscriptions over ``channels`` channels (default ``count // 5``, at least
    one), spread evenly: five each by default."""
    channels = max(1, count // 5 if channels is None else channels)
    ids = [
        await store.ensure_channel(ChannelRef(PLATFORM, "bench", f"C{number:05d}", f"ch{number}"))
        for number in range(channels)
    ]
    # The same queries whatever the spread; more to draw from when a channel holds many.
    queries = iter(synthetic_queries(count * 2 + 50 * (count // channels), seed=count))
    held: dict[int, set[str]] = {channel: set() for channel in ids}
    for slot in range(count):
        channel = ids[slot % channels]
        canonical = parse_query(next(queries)).canonical()
        while canonical in held[channel]:  # a channel cannot hold the same query twice
            canonical = parse_query(next(queries)).canonical()
        held[channel].add(canonical)
        await store.add_subscription(channel, canonical, limit=count)
    return channels


async def run_cycle(options: argparse.Namespace) -> dict[str, Any]:
    count, days, per_day = options.child, options.days, options.new
    workdir = Path(options.workdir)
    database = workdir / f"bench-{count}.db"
    shutil.copyfile(options.template, database)
    clock = SettableClock(datetime.combine(TODAY - timedelta(days=3), datetime.min.time(), UTC))
    store = await Store.open(database, clock=clock)
    try:
        channels = await add_subscriptions(store, count, options.child_channels)
        sender = NullSender()
        queue = DeliveryQueue(store)
        enqueuer = Enqueuer(store=store, queue=queue, clock=clock)
        dispatcher = Dispatcher(store=store, queue=queue, senders={PLATFORM: sender}, clock=clock)
        gate = ArxivGate(interval=0, timeout=60, user_agent=USER_AGENT)
        oai = OaiClient(gate, base_url=options.oai_url)
        harvester = Harvester(store=store, oai=oai, clock=clock)

        # The cycles before: the two previous days harvested, matched and delivered.
        clock.now = datetime.combine(TODAY - timedelta(days=1), datetime.min.time(), UTC)
        clock.now += timedelta(hours=20)
        for index in (days - 3, days - 2):
            await store.upsert_harvested(day_records(index, days, per_day))
        await enqueuer.match_pending()
        await dispatcher.deliver_due()
        await harvester.set_watermark(clock.now.date())
        sender.posts = sender.digests = 0

        # The measured cycle.
        clock.now += timedelta(days=1)
        started = time.perf_counter()
        harvest = await harvester.harvest()
        harvested = time.perf_counter()
        matched = await enqueuer.match_pending()
        matching = time.perf_counter()
        delivered = await dispatcher.deliver_due()
        delivering = time.perf_counter()
        oai.close()
        gate.close()

        stored = (await store.counts()).papers
        # The cycle's peak, before the pure matching runs below hold 2,000 tokenized papers
        # at once (the dispatcher tokenizes a batch at a time).
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        pure = await asyncio.to_thread(
            pure_matching, await store.all_subscriptions(), days, per_day
        )
    finally:
        await store.close()
    return {
        "n": count,
        "channels": channels,
        "sets": list(harvest.sets) if harvest.sets is not None else None,
        "records": harvest.records,
        "new_papers": harvest.new_papers,
        "requests": harvest.requests,
        "harvest_s": harvested - started,
        "match_s": matched.seconds,
        "match_wall_s": matching - harvested,
        "matched_papers": matched.papers,
        "queued": matched.queued,
        "delivered": delivered.delivered,
        "posts": sender.posts,
        "digests": sender.digests,
        "deliver_s": delivering - matching,
        "stored": stored,
        "peak_rss_mb": peak_rss,
        **pure,
    }


def pure_matching(subscriptions: Sequence[Any], days: int, per_day: int) -> dict[str, Any]:
    """Index build, then tokenizing and matching the cycle's papers: best of three runs."""
    papers = day_papers(days - 1, days, per_day)
    build = rebuild = texts = match = float("inf")
    matches = 0
    index = SubscriptionIndex.build(subscriptions)
    stem.cache_clear()  # tokenizing once with no stem cached, as a fresh process does
    started = time.perf_counter()
    for paper in papers:
        PaperText.from_paper(paper)
    cold = time.perf_counter() - started
    for _ in range(3):
        gc.collect()
        started = time.perf_counter()
        index = SubscriptionIndex.build(subscriptions)
        built = time.perf_counter()
        SubscriptionIndex.build(subscriptions, previous=index)
        rebuild = min(rebuild, time.perf_counter() - built)
        built = time.perf_counter()
        tokenized = []  # let the previous run's papers go first
        tokenized = [PaperText.from_paper(paper) for paper in papers]
        done_texts = time.perf_counter()
        matches = sum(len(index.match(text)) for text in tokenized)
        done = time.perf_counter()
        build = min(build, built - started)
        texts = min(texts, done_texts - built)
        match = min(match, done - done_texts)
    return {
        "pure_build_s": build,
        "pure_rebuild_s": rebuild,
        "pure_texts_s": texts,
        "pure_texts_cold_s": cold,
        "pure_match_s": match,
        "pure_papers": len(papers),
        "pure_matches": matches,
        "distinct_queries": index.matcher_count,
    }


# -- the parent: fakes, template, one subprocess per N -----------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10,1000,10000",
        help="subscription counts N, comma-separated (default: 10,1000,10000)",
    )
    parser.add_argument(
        "--channels",
        default="default",
        help="channel counts the N subscriptions are spread over, comma-separated, each a "
        "run of its own; 'default' is N/5 (default: default)",
    )
    parser.add_argument("--days", type=int, default=10, help="announcement days served")
    parser.add_argument("--new", type=int, default=2000, help="papers announced per day")
    parser.add_argument(
        "--stored", type=int, default=100_000, help="papers in the store after the cycle"
    )
    parser.add_argument("--page-size", type=int, default=1000, help="OAI-PMH records a page")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-channels", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--oai-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_child(launcher: Launcher, command: Sequence[str]) -> str:
    """Run ``command`` through the lean launcher (Linux hands a parent's peak RSS down to
    its children); its standard output, or exit with its error output if it failed."""
    done = launcher.run(command)
    if done.code != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({done.code}):\n{done.stderr}")
    return done.stdout


def main(argv: Sequence[str]) -> int:
    options = parse_args(argv)
    if options.child is not None:
        print(json.dumps(asyncio.run(run_cycle(options))))
        return 0
    launcher = Launcher()
    try:
        return run_all(options, launcher)
    finally:
        launcher.close()


def run_all(options: argparse.Namespace, launcher: Launcher) -> int:
    from tests.fakes.arxiv_api import running_fake_arxiv
    from tests.fakes.oai import running_fake_oai

    sizes = [int(size) for size in options.sizes.split(",") if size.strip()]
    spreads = [parse_channels(text) for text in options.channels.split(",") if text.strip()]
    days, per_day = options.days, options.new
    if days < 3:
        raise SystemExit("--days must be at least 3 (two earlier days and the measured one)")
    older = max(0, options.stored - 3 * per_day)
    with tempfile.TemporaryDirectory(prefix="arxiv-bot-bench-") as workdir:
        template = Path(workdir) / "template.db"
        started = time.perf_counter()
        records = [record for index in range(days) for record in day_records(index, days, per_day)]
        generated = time.perf_counter() - started
        filled = asyncio.run(build_template(template, older))
        print(
            f"corpus: {len(records):,} papers over {days} days ({per_day:,} a day), generated "
            f"in {generated:.1f} s; store template: {older:,} older papers in {filled:.1f} s"
        )
        with (
            running_fake_oai(records, page_size=options.page_size) as oai,
            running_fake_arxiv(record.paper for record in records[-per_day:]) as api,
        ):
            results = []
            for count in sizes:
                for spread in spreads or [None]:
                    oai_before, api_before = oai.request_count, len(api.requests)
                    command = [
                        sys.executable,
                        *("-m", "bench.harvest"),
                        *("--child", str(count), "--days", str(days), "--new", str(per_day)),
                        *("--template", str(template), "--workdir", workdir),
                        *("--oai-url", oai.url),
                        *(("--child-channels", str(spread)) if spread is not None else ()),
                    ]
                    result = json.loads(run_child(launcher, command).strip().splitlines()[-1])
                    result["oai_requests"] = oai.request_count - oai_before
                    result["api_requests"] = len(api.requests) - api_before
                    results.append(result)
                    print_result(result, options.page_size)
    print_summary(results)
    return 0


def parse_channels(text: str) -> int | None:
    """One ``--channels`` entry: a positive count, or None for ``default`` (N/5)."""
    text = text.strip()
    if text == "default":
        return None
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"--channels: {text!r} is neither a positive count nor 'default'")
    return int(text)


def print_result(result: dict[str, Any], page_size: int) -> None:
    scope = ", ".join(result["sets"]) if result["sets"] is not None else "all of arXiv"
    print(
        f"\nN = {result['n']:,} subscriptions over {result['channels']:,} channels "
        f"({result['distinct_queries']:,} distinct queries); harvest scope: {scope}"
    )
    print(
        f"  arXiv requests per cycle: {result['oai_requests']} OAI-PMH ({page_size:,} records a "
        f"page; the client counted {result['requests']}), {result['api_requests']} search API"
    )
    print(
        f"  harvest: {result['harvest_s']:.2f} s wall for {result['records']:,} records, "
        f"{result['new_papers']:,} new papers"
    )
    print(
        f"  matching the cycle's {result['matched_papers']:,} papers: {result['match_s']:.2f} s "
        f"(tokenizing + index), {result['match_wall_s']:.2f} s wall with index build and "
        "store writes"
    )
    print(
        f"  deliveries queued: {result['queued']:,}; delivered {result['delivered']:,} in "
        f"{result['posts']:,} posts + {result['digests']:,} digests, {result['deliver_s']:.2f} s"
    )
    print(f"  peak RSS: {result['peak_rss_mb']:.0f} MB with {result['stored']:,} papers stored")
    total = result["pure_texts_s"] + result["pure_match_s"]
    print(
        f"  pure matching: index build {result['pure_build_s']:.2f} s "
        f"({result['pure_rebuild_s']:.2f} s reusing the previous index); "
        f"{result['pure_papers']:,} papers tokenized in {result['pure_texts_s']:.2f} s "
        f"({result['pure_texts_cold_s']:.2f} s with no stem cached) and "
        f"matched in {result['pure_match_s']:.2f} s = {total:.2f} s "
        f"({result['pure_papers'] / total:,.0f} papers/s, {result['pure_matches']:,} matches)"
    )


def print_summary(results: Sequence[dict[str, Any]]) -> None:
    if not results:
        return
    print(
        "\n| N subscriptions | channels | arXiv requests | harvest | matching | queued "
        "| delivering | peak RSS |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['n']:,} | {r['channels']:,} | {r['oai_requests'] + r['api_requests']} | "
            f"{r['harvest_s']:.2f} s | {r['match_s']:.2f} s | {r['queued']:,} | "
            f"{r['deliver_s']:.2f} s | {r['peak_rss_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
