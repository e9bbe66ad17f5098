"""Benchmark ``/arxiv search``: the local index against today's path through arXiv's API.

Run from the repository root::

    .venv/bin/python -m bench.search                    # everything, 1,000,000 papers
    .venv/bin/python -m bench.search --quick            # a smoke run, a minute or two
    .venv/bin/python -m bench.search --only local,slack --papers 200000
    .venv/bin/python -m bench.search --only local --postgres postgresql://...  # on PostgreSQL

``--postgres URL`` runs the ``local`` part on that PostgreSQL database (a schema of its
own is best: ``?options=-csearch_path%3Dbench``), the cached corpus copied there once by
the real ``arxiv-bot db copy`` CLI, which builds the ``tsvector`` index.

The corpus. ``--pool`` papers (20,000 by default) are generated once with
``tests/fakes/workload.py``'s ``synthetic_papers`` (realistic titles, abstracts, authors
and categories; about a millisecond each) and cached; the ``--papers`` papers of the
corpus are recombined from them, to keep the build within minutes: each takes the title,
categories and comment of one pool paper, the authors of another, and an abstract of 5 to
9 sentences drawn from random pool papers, under a fresh id (``2412.00001`` ...) whose
day runs evenly over the last ``--months`` months (24) up to today. Fewer distinct titles
than real arXiv (each pool title is used ``papers / pool`` times): this flatters nothing
that matters here, as the index still holds every paper's words.

What each part measures (``--only``, comma-separated; all by default):

``backfill``: the real ``arxiv-bot backfill --since <first day>`` CLI process (all of
arXiv, 7-day windows) against the fake OAI-PMH server (``tests/fakes/oai.py``, in this
process) serving the whole corpus at 2,500 records a page, with ``ARXIV_REQUEST_INTERVAL=0``:
the real 3 s spacing is left out of the wall time and printed as requests x 3 s instead.
The CLI runs in a fresh process started by a lean launcher (as ``bench/harvest.py`` does),
which reads its peak RSS with ``os.wait4``. Prints records per request, wall time, peak
RSS and the database's size per 100,000 papers. The database it leaves is the cached
corpus of the ``local`` part (``.bench-cache/``, keyed by :data:`FORMAT`, the store's
schema version and the size): when it is cached already the figures printed are the ones
measured when it was built (with that date), unless ``--rebuild``.

``local``: ``LocalSearch.search`` over that database, in a fresh process pinned to one
core, for 50 varied queries (``synthetic_queries(50, seed=12)``: bare words, phrases,
``ti:``/``abs:`` fields, ``au:``, ``cat:``, OR lists, ANDNOT), first page of 10, default
relevance order and newest first, each query's first run in that process timed (the OS
page cache is warm from the build; SQLite's own cache is not). Then today's path for
comparison: a few concurrent searches through the real ``ArxivApi`` and gate (3 s between
request starts) against the fake arXiv API (``tests/fakes/arxiv_api.py``) answering after
1 s; the queue for 50 searches is extrapolated from them (n-th answer = first answer +
(n - 1) x measured spacing), not run.

``slack``: 50 concurrent distinct ``/arxiv search`` slash commands, signed as Slack signs
them, posted over HTTP to the real Slack adapter in HTTP mode (bolt, the real
``BotApp``), answers read from the fake Slack's ``response_url`` log
(``tests/fakes/slack_api.py``): time from sending the request to the final answer's
arrival. Twice: with a ``--slack-papers`` corpus (50,000 papers, not 1,000,000: the local
part measures the large index) whose coverage spans the 24 months, so the index answers;
and on an empty database with no coverage, so every search goes to the fake arXiv API (1 s
latency, the real 3 s spacing; capped at ``--api-searches`` commands, 50 by default).
The bot, the fakes and the client share this process and its event loop (the fake arXiv
API in a thread), so the figures include their overhead.

Left out everywhere: the network to Slack and arXiv (all local), arXiv's own search time
(the fake's 1 s latency stands for it), rendering to a real client, and other work on the
machine (the load average is printed with each part).

This is a script that prints figures, not a test: pytest only collects ``tests/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import pickle
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.launcher import Launcher
from bot.models import HarvestedRecord, Paper

FORMAT = 1
"""Bump when the corpus recipe changes: cached databases of another format are rebuilt."""
CACHE = Path(".bench-cache")
POOL_SEED = 20
QUERY_SEED = 12
SLACK_QUERY_SEED = 34
PAGE_SIZE = 2500
ARXIV_SPACING = 3.0
API_LATENCY = 1.0
USER_AGENT = "arxiv-bot-bench/0 (+https://pypi.org/project/arxiv-bot/)"
GOAL_LOCAL_P95 = 0.050
GOAL_SLACK_P95 = 2.0
GOAL_RSS_MB = 300


def machine() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} (1 min) {five:.1f} (5 min)"


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95 is p95)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def spread(values: Sequence[float], unit: float = 1.0, suffix: str = "s") -> str:
    return (
        f"p50 {percentile(values, 0.5) * unit:.1f} {suffix}, "
        f"p95 {percentile(values, 0.95) * unit:.1f} {suffix}, "
        f"max {max(values) * unit:.1f} {suffix}"
    )


# -- the corpus --------------------------------------------------------------------------


def schema_key() -> str:
    from bot.store.migrations import LATEST_VERSION

    return f"f{FORMAT}-s{LATEST_VERSION}"


def load_pool(size: int) -> list[Paper]:
    """``size`` generated papers, cached in ``.bench-cache`` (generating costs ~1 ms each)."""
    from tests.fakes.workload import synthetic_papers

    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"pool-{size}-f{FORMAT}.pickle"
    if path.exists():
        with path.open("rb") as file:
            cached: list[Paper] = pickle.load(file)
        return cached
    started = time.perf_counter()
    pool = synthetic_papers(size, seed=POOL_SEED, day=date(2025, 1, 15))
    print(f"  generated a pool of {size:,} papers in {time.perf_counter() - started:.0f} s")
    partial = path.with_suffix(".partial")
    with partial.open("wb") as file:
        pickle.dump(pool, file)
    partial.replace(path)
    return pool


def first_day(today: date, months: int) -> date:
    return today - timedelta(days=round(months * 30.44) - 1)


def corpus(count: int, pool: Sequence[Paper], start: date, end: date) -> Iterator[HarvestedRecord]:
    """``count`` papers recombined from ``pool`` (see the module docstring), their days
    spread evenly from ``start`` to ``end``; the same arguments give the same papers."""
    rng = random.Random(count)
    sentences = [paper.abstract.split(". ") for paper in pool]
    days = (end - start).days + 1
    size = len(pool)
    month, number = "", 0
    for index in range(count):
        day = start + timedelta(days=index * days // count)
        if f"{day:%y%m}" != month:
            month, number = f"{day:%y%m}", 0
        number += 1
        base = pool[index % size]
        abstract = ". ".join(
            rng.choice(sentences[rng.randrange(size)]).rstrip(".") for _ in range(rng.randint(5, 9))
        )
        moment = datetime.combine(day, datetime.min.time(), UTC)
        paper = dataclasses.replace(
            base,
            arxiv_id=f"{month}.{number:05d}",
            authors=pool[rng.randrange(size)].authors,
            abstract=abstract + ".",
            submitted=moment,
            updated=moment,
        )
        yield HarvestedRecord(paper, day)


def database_bytes(path: Path) -> int:
    return sum(
        candidate.stat().st_size for candidate in (path, Path(f"{path}-wal")) if candidate.exists()
    )


def settle(path: Path) -> None:
    """Fold the write-ahead log into the database file, so it can be moved alone."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        extra.unlink(missing_ok=True)


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any bot setting, plus ``settings``."""
    from bot.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(settings)
    return env


# -- backfill: builds the cached corpus ----------------------------------------------------


def corpus_path(papers: int) -> Path:
    return CACHE / f"search-{papers}-{schema_key()}.db"


def backfill(
    options: argparse.Namespace, launcher: Launcher, pool: Sequence[Paper]
) -> dict[str, Any]:
    """Build (or read the figures of) the cached corpus of ``options.papers`` papers."""
    from tests.fakes.oai import running_fake_oai

    path = corpus_path(options.papers)
    figures_path = path.with_suffix(".json")
    if path.exists() and figures_path.exists() and not options.rebuild:
        figures: dict[str, Any] = json.loads(figures_path.read_text())
        figures["cached"] = True
        return figures
    today = datetime.now(UTC).date()
    start = first_day(today, options.months)
    started = time.perf_counter()
    records = list(corpus(options.papers, pool, start, today))
    print(f"  corpus of {len(records):,} records made in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="backfill-", dir=CACHE) as workdir:
        database = Path(workdir) / "bot.db"
        with running_fake_oai(records, page_size=PAGE_SIZE) as oai:
            print(
                f"  fake OAI-PMH serving them after {time.perf_counter() - started:.0f} s; "
                f"backfilling ({machine()})",
                flush=True,
            )
            del records
            env = clean_env(
                DATABASE_URL=f"sqlite:///{database.resolve()}",
                ARXIV_OAI_URL=oai.url,
                ARXIV_API_URL=oai.url.replace("/oai", "/api/query"),
                ARXIV_REQUEST_INTERVAL="0",
                ARXIV_TIMEOUT="120",
                RETENTION_DAYS="0",
                INDEX_SETS="",
            )
            arxiv_bot = str(Path(sys.executable).with_name("arxiv-bot"))
            command = [arxiv_bot, "backfill", "--since", start.isoformat()]
            done = launcher.run(command, env=env, cwd=workdir)
            requests = oai.request_count
        if done.code != 0:
            raise SystemExit(f"backfill failed ({done.code}):\n{done.stderr[-3000:]}")
        settle(database)
        size = database_bytes(database)
        with contextlib.closing(sqlite3.connect(database)) as conn:
            stored = int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
        figures = {
            "papers": options.papers,
            "stored": stored,
            "requests": requests,
            "seconds": done.seconds,
            "peak_rss_mb": done.peak_rss_mb,
            "bytes": size,
            "summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "",
            "first_day": start.isoformat(),
            "last_day": today.isoformat(),
            "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
        }
        database.replace(path)
    figures_path.write_text(json.dumps(figures, indent=1))
    figures["cached"] = False
    return figures


def print_backfill(figures: dict[str, Any]) -> None:
    papers, requests = figures["stored"], figures["requests"]
    when = f" (cached; measured {figures['measured']}, {figures['machine']})"
    print(
        f"\nBackfill of {figures['papers']:,} records, {figures['first_day']} to "
        f"{figures['last_day']}, through `arxiv-bot backfill` against the fake OAI-PMH server"
        + (when if figures["cached"] else "")
    )
    print(f"  {figures['summary']}")
    print(
        f"  {requests:,} requests, {figures['papers'] / requests:,.0f} records per request "
        f"({PAGE_SIZE:,} a full page; 7-day windows end in partial pages)"
    )
    cycle = figures["seconds"] / requests
    spaced = requests * max(ARXIV_SPACING, cycle)
    print(
        f"  wall time {figures['seconds'] / 60:.1f} min with the spacing OFF "
        f"(ARXIV_REQUEST_INTERVAL=0: {cycle:.1f} s per request, fetching and storing a page); "
        f"with arXiv's 3 s spacing about {spaced / 60:.0f} min ({requests:,} x "
        f"{max(ARXIV_SPACING, cycle):.1f} s)"
    )
    verdict = "meets" if figures["peak_rss_mb"] <= GOAL_RSS_MB else "MISSES"
    print(
        f"  peak RSS of the CLI process: {figures['peak_rss_mb']:.0f} MB "
        f"({verdict} the {GOAL_RSS_MB} MB goal)"
    )
    per = figures["bytes"] / papers * 100_000
    print(
        f"  database: {figures['bytes'] / 1e9:.2f} GB for {papers:,} papers, "
        f"{per / 1e6:.0f} MB per 100,000 papers"
    )


# -- local: LocalSearch over the cached corpus, in a child pinned to one core -------------


async def local_child(path: Path | str, count: int) -> dict[str, Any]:
    from bot.localsearch.engine import LocalSearch
    from bot.query import parse_query
    from bot.store import Store
    from tests.fakes.workload import synthetic_queries

    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    queries = synthetic_queries(count, seed=QUERY_SEED)
    store = await Store.open(path)
    rows: list[dict[str, Any]] = []
    try:
        search = LocalSearch(store)
        for text in queries:
            query = parse_query(text)
            row: dict[str, Any] = {"query": text}
            for name, newest in (("relevance", False), ("newest", True)):
                started = time.perf_counter()
                results = await search.search(query, newest_first=newest, limit=10)
                row[name] = time.perf_counter() - started
                row[f"{name}_total"] = None if results is None else results.total
                row[f"{name}_more"] = results is not None and results.more_than
            rows.append(row)
    finally:
        await store.close()
    import resource

    return {
        "rows": rows,
        "cpus": sorted(os.sched_getaffinity(0)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def local(options: argparse.Namespace, launcher: Launcher) -> dict[str, Any]:
    path: Path | str = corpus_path(options.papers)
    if options.postgres:
        path = postgres_corpus(options.postgres, corpus_path(options.papers), launcher)
    command = [sys.executable, "-m", "bench.search", "--child-local", str(path)]
    command += ["--queries", str(options.queries)]
    done = launcher.run(command)
    if done.code != 0:
        raise SystemExit(f"local search child failed ({done.code}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def postgres_corpus(url: str, corpus: Path, launcher: Launcher) -> str:
    """``url`` holding the corpus: copied there by the real ``arxiv-bot db copy`` CLI
    (which builds the tsvector index) unless it holds papers already; prints the time."""
    import psycopg

    with psycopg.connect(url) as conn:
        held = conn.execute("SELECT to_regclass('papers') IS NOT NULL").fetchone()
        papers = (
            conn.execute("SELECT count(*) FROM papers").fetchone() if held and held[0] else None
        )
    if papers and papers[0]:
        print(f"  PostgreSQL {url.split('@')[-1]} holds {papers[0]:,} papers already", flush=True)
        return url
    started = time.perf_counter()
    done = launcher.run(
        [sys.executable, "-m", "bot", "db", "copy", f"sqlite:///{corpus}", url],
        env=clean_env(),
    )
    if done.code != 0:
        raise SystemExit(f"db copy failed ({done.code}):\n{done.stderr[-3000:]}")
    print(
        f"  copied to PostgreSQL with its index by arxiv-bot db copy: "
        f"{time.perf_counter() - started:.0f} s, peak RSS {done.peak_rss_mb:.0f} MB",
        flush=True,
    )
    return url


def print_local(result: dict[str, Any], papers: int) -> None:
    rows = result["rows"]
    print(
        f"\nLocal search over {papers:,} papers: {len(rows)} queries, first page of 10, "
        f"LocalSearch.search in a process pinned to CPU {result['cpus']} "
        f"(peak RSS {result['peak_rss_mb']:.0f} MB)"
    )
    for name, label in (("relevance", "relevance (default)"), ("newest", "newest first")):
        times = [row[name] for row in rows]
        verdict = "meets" if percentile(times, 0.95) <= GOAL_LOCAL_P95 else "MISSES"
        print(
            f"  {label:20} {spread(times, 1000, 'ms')}  "
            f"({verdict} the p95 <= {GOAL_LOCAL_P95 * 1000:.0f} ms goal)"
        )
    matching = [row for row in rows if row["relevance_total"]]
    if len(matching) < len(rows):
        times = [row["relevance"] for row in matching]
        print(
            f"  {len(rows) - len(matching)} of {len(rows)} queries match nothing here; "
            f"the {len(matching)} others, relevance: {spread(times, 1000, 'ms')}"
        )
    slowest = sorted(rows, key=lambda row: -max(row["relevance"], row["newest"]))[:3]
    for row in slowest:
        more = "more than " if row["relevance_more"] else ""
        print(
            f"    slow: {row['relevance'] * 1000:6.1f} / {row['newest'] * 1000:6.1f} ms "
            f"({more}{row['relevance_total']} matches)  {row['query'][:90]}"
        )


async def api_path(count: int, pool: Sequence[Paper]) -> dict[str, Any]:
    """``count`` concurrent searches through the real ArxivApi and gate (3 s spacing)
    against the fake arXiv API answering after 1 s."""
    from bot.models import SortOrder
    from bot.query import parse_query
    from bot.sources.arxiv_api import ArxivApi
    from bot.sources.gate import ArxivGate
    from tests.fakes.arxiv_api import running_fake_arxiv
    from tests.fakes.workload import synthetic_queries

    queries = synthetic_queries(count, seed=QUERY_SEED)
    with running_fake_arxiv(pool[:1000]) as fake:
        fake.delay_next(API_LATENCY, times=10_000)
        gate = ArxivGate(interval=ARXIV_SPACING, timeout=30, user_agent=USER_AGENT)
        api = ArxivApi(gate, base_url=fake.url, cache_seconds=0)
        started = time.monotonic()

        async def one(text: str) -> float:
            await api.search(parse_query(text).to_api(), sort=SortOrder.RELEVANCE, limit=10)
            return time.monotonic() - started

        try:
            answers = sorted(await asyncio.gather(*(one(text) for text in queries)))
        finally:
            gate.close()
        serving = [r.finished - r.started for r in fake.requests]
    return {"answers": answers, "serving": serving}


def extrapolate(answers: Sequence[float], count: int) -> list[float]:
    """The answers of ``count`` queued searches: first + (n - 1) x measured spacing."""
    step = (answers[-1] - answers[0]) / (len(answers) - 1) if len(answers) > 1 else ARXIV_SPACING
    return [answers[0] + number * step for number in range(count)]


def print_api(result: dict[str, Any], count: int) -> None:
    answers = result["answers"]
    queue = extrapolate(answers, count)
    print(
        f"  today's API path: {len(answers)} concurrent searches through ArxivApi + gate "
        f"(3 s spacing, fake API answering in {statistics.mean(result['serving']):.2f} s): "
        "answers at " + ", ".join(f"{s:.1f}" for s in answers) + " s"
    )
    print(f"  extrapolated to {count} queued searches (not run): {spread(queue)}")


# -- slack: 50 signed slash commands through the real HTTP endpoint -------------------------


def slack_corpus(options: argparse.Namespace, pool: Sequence[Paper]) -> Path:
    """A database of ``--slack-papers`` papers stored with Store.upsert_harvested in
    batches of 2,500 and coverage of all of arXiv over the corpus' days (cached)."""
    from bot.store import Store

    path = CACHE / f"slack-{options.slack_papers}-{schema_key()}.db"
    today = datetime.now(UTC).date()
    start = first_day(today, options.months)
    stamp = path.with_suffix(".day")
    if path.exists() and stamp.exists() and stamp.read_text() == today.isoformat():
        return path

    async def build(target: Path) -> None:
        store = await Store.open(target)
        try:
            batch: list[HarvestedRecord] = []
            for record in corpus(options.slack_papers, pool, start, today):
                batch.append(record)
                if len(batch) == PAGE_SIZE:
                    await store.upsert_harvested(batch, matched_before=today)
                    batch = []
            await store.upsert_harvested(batch, matched_before=today)
            await store.add_coverage([None], start, today)
        finally:
            await store.close()

    CACHE.mkdir(exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="slack-", dir=CACHE) as workdir:
        target = Path(workdir) / "bot.db"
        asyncio.run(build(target))
        settle(target)
        target.replace(path)
    stamp.write_text(today.isoformat())
    print(
        f"  built the Slack corpus ({options.slack_papers:,} papers) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return path


def is_final(answer: dict[str, Any]) -> bool:
    """A search's answer, not a note that it waits for its turn at arXiv."""
    text = json.dumps(answer)
    return any(
        marker in text
        for marker in ("From the local index", "From arXiv", "No papers match", "not answering")
    )


async def slack_run(database: Path, api_url: str, queries: Sequence[str]) -> dict[str, Any]:
    """Post ``queries`` as concurrent signed ``/arxiv search`` commands; the seconds from
    each request's sending to its final answer's arrival at the fake response_url."""
    import aiohttp

    from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
    from bot.app import BotApp
    from bot.config import Settings
    from tests.fakes.slack_api import running_fake_slack
    from tests.slack.payloads import command_body, signed_headers, slack_settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{database}",
        arxiv_api_url=api_url,
        arxiv_oai_url=api_url.replace("/api/query", "/oai"),
        arxiv_request_interval=ARXIV_SPACING,
        arxiv_timeout=30,
        http_port=0,
        retention_days=0,
    )
    async with BotApp(settings) as app, running_fake_slack() as fake:
        adapter = SlackAdapter(app, slack_settings(fake), database=settings.database_target)
        await adapter.start()
        app.senders[adapter.name] = adapter
        try:
            url = f"http://127.0.0.1:{adapter.http_port}{EVENTS_PATH}"
            sent: dict[str, float] = {}
            acks: list[float] = []
            async with aiohttp.ClientSession() as session:

                async def post(number: int, text: str) -> None:
                    token = f"q{number}"
                    body = command_body(fake, f"search {text}", token=token)
                    headers = signed_headers(body)
                    sent[token] = time.monotonic()
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        acks.append(time.monotonic() - sent[token])
                        if response.status != 200:
                            raise RuntimeError(f"{token}: HTTP {response.status}")

                await asyncio.gather(*(post(n, text) for n, text in enumerate(queries)))
                deadline = time.monotonic() + 60 + len(queries) * ARXIV_SPACING * 1.5
                while time.monotonic() < deadline:
                    if all(any(map(is_final, fake.responses(t))) for t in sent):
                        break
                    await asyncio.sleep(0.05)
            # The fake logs each response_url post twice, the same dict in both logs:
            # per token (the answer) and per call (its arrival time).
            arrived = {id(call.params): call.time for call in fake.calls("respond")}
            answered: dict[str, float] = {}
            origins: dict[str, int] = {}
            for token, moment in sent.items():
                finals = [a for a in fake.responses(token) if is_final(a)]
                if not finals:
                    continue
                answered[token] = arrived[id(finals[-1])] - moment
                text = json.dumps(finals[-1])
                origin = "local index" if "From the local index" in text else "arXiv"
                if "No papers match" in text:
                    origin += " (no match)"
                origins[origin] = origins.get(origin, 0) + 1
        finally:
            await adapter.stop()
    return {
        "times": sorted(answered.values()),
        "unanswered": len(sent) - len(answered),
        "acks": acks,
        "origins": origins,
    }


def slack(options: argparse.Namespace, pool: Sequence[Paper]) -> dict[str, Any]:
    from tests.fakes.arxiv_api import running_fake_arxiv
    from tests.fakes.workload import synthetic_queries

    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(name, None)
    source = slack_corpus(options, pool)
    queries = synthetic_queries(options.slack_searches, seed=SLACK_QUERY_SEED)
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="arxiv-bot-bench-") as workdir,
        running_fake_arxiv(pool[:1000]) as fake,
    ):
        fake.delay_next(API_LATENCY, times=100_000)
        covered = Path(workdir) / "covered.db"
        shutil.copyfile(source, covered)
        print(f"  covered run ({machine()})", flush=True)
        results["covered"] = asyncio.run(slack_run(covered, fake.url, queries))
        results["covered_api_requests"] = len(fake.requests)
        empty = Path(workdir) / "empty.db"
        capped = queries[: options.api_searches]
        print(f"  uncovered run ({machine()})", flush=True)
        before = len(fake.requests)
        results["uncovered"] = asyncio.run(slack_run(empty, fake.url, capped))
        results["uncovered_api_requests"] = len(fake.requests) - before
    return results


def print_slack(results: dict[str, Any], options: argparse.Namespace) -> None:
    print(
        f"\nSlack: {options.slack_searches} concurrent distinct `/arxiv search` commands, "
        "signed, over HTTP to the real bolt endpoint; time to the final response_url answer"
    )
    for key, label in (
        ("covered", f"index covers them ({options.slack_papers:,} papers, 24 months)"),
        ("uncovered", "index does not (empty, no coverage): arXiv's API, 1 s + 3 s rule"),
    ):
        run = results[key]
        times = run["times"]
        origins = ", ".join(f"{n} from {o}" for o, n in sorted(run["origins"].items()))
        print(f"  {label}:")
        if not times:
            print("    no answers")
            continue
        line = f"    {len(times)} answered: {spread(times)}"
        if key == "covered":
            verdict = "meets" if percentile(times, 0.95) <= GOAL_SLACK_P95 else "MISSES"
            line += f" ({verdict} the p95 <= {GOAL_SLACK_P95:.0f} s goal)"
        print(line)
        print(
            f"    {origins}; {run['unanswered']} unanswered; "
            f"ack {spread(run['acks'], 1000, 'ms')}; "
            f"{results[key + '_api_requests']} arXiv API requests"
        )
        if key == "uncovered" and len(times) < options.slack_searches:
            queue = extrapolate(times, options.slack_searches)
            print(f"    extrapolated to {options.slack_searches} (not run): {spread(queue)}")


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="backfill,local,slack", help="parts to run")
    parser.add_argument("--papers", type=int, default=1_000_000, help="papers in the corpus")
    parser.add_argument("--pool", type=int, default=20_000, help="generated papers recombined")
    parser.add_argument("--months", type=int, default=24, help="months the corpus spans")
    parser.add_argument("--queries", type=int, default=50, help="local search queries")
    parser.add_argument("--api-searches", type=int, default=50, help="API-path Slack commands")
    parser.add_argument("--api-sample", type=int, default=5, help="ArxivApi searches run")
    parser.add_argument("--slack-papers", type=int, default=50_000)
    parser.add_argument("--slack-searches", type=int, default=50)
    parser.add_argument("--rebuild", action="store_true", help="build the corpus again")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--postgres",
        help="run the local part on this PostgreSQL URL (the corpus copied there once)",
    )
    parser.add_argument("--child-local", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        options.papers = min(options.papers, 20_000)
        options.pool = min(options.pool, 2_000)
        options.queries = min(options.queries, 20)
        options.api_sample = min(options.api_sample, 2)
        options.slack_papers = min(options.slack_papers, 5_000)
        options.slack_searches = min(options.slack_searches, 10)
        options.api_searches = min(options.api_searches, 3)
    return options


def main(argv: Sequence[str]) -> int:
    options = parse_args(argv)
    if options.child_local:
        target = options.child_local
        where = target if target.startswith("postgresql://") else Path(target)
        result = asyncio.run(local_child(where, options.queries))
        print(json.dumps(result))
        return 0
    parts = {part.strip() for part in options.only.split(",") if part.strip()}
    unknown = parts - {"backfill", "local", "slack"}
    if unknown:
        raise SystemExit(f"--only: unknown parts {sorted(unknown)}")
    launcher = Launcher()
    try:
        print(
            f"bench.search {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}; "
            f"corpus {options.papers:,} papers from a pool of {options.pool:,}"
        )
        pool = load_pool(options.pool)
        if "backfill" in parts or "local" in parts:
            figures = backfill(options, launcher, pool)
            if "backfill" in parts:
                print_backfill(figures)
        if "local" in parts:
            print(f"  local search ({machine()})", flush=True)
            print_local(local(options, launcher), options.papers)
            print_api(asyncio.run(api_path(options.api_sample, pool)), options.queries)
        if "slack" in parts:
            print_slack(slack(options, pool), options)
        print(f"\ndone; {machine()}")
    finally:
        launcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
