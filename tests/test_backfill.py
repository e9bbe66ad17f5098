"""Backfill and coverage: windows and sets, resuming after a kill -9, nothing posted as new,
coverage merging, the status line, and INDEX_SETS widening the harvest.

Real SQLite files, the real OAI-PMH client through a real gate and a real fake OAI-PMH
server on 127.0.0.1; the kill test runs ``arxiv-bot backfill`` as a subprocess.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.backfill import Backfill, Window, plan_windows
from bot.commands.grammar import StatusCommand
from bot.config import Settings
from bot.enqueue import Enqueuer
from bot.harvest import Harvester, harvest_scope
from bot.models import ChannelRef, HarvestedRecord
from bot.render import index_line
from bot.sources.oai import OaiClient
from bot.store import Store, upkeep
from bot.store.coverage import Coverage, merge_ranges
from bot.store.deliveries import DeliveryQueue
from tests.conftest import settings_env
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper
from tests.fakes.oai import FakeOai, ManualTime, quick_gate, record_sets, running_fake_oai
from tests.fakes.oai_corpus import synthetic_days

START = datetime(2025, 6, 17, 3, 0, tzinfo=UTC)
TODAY = START.date()


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def in_sets(records: list[HarvestedRecord], sets: set[str], start: date, end: date) -> list[str]:
    """The ids a backfill of ``sets`` from ``start`` to ``end`` must store."""
    return sorted(
        {
            r.paper.arxiv_id
            for r in records
            if start <= r.datestamp <= end and record_sets(r.paper.categories) & sets
        }
    )


def three_weeks(per_day: int = 12) -> list[HarvestedRecord]:
    """Records every day from 30 days ago to 10 days ago."""
    return list(synthetic_days([days_ago(n) for n in range(30, 9, -1)], per_day))


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
def fake() -> Iterator[FakeOai]:
    with running_fake_oai(page_size=20) as server:
        yield server


@pytest.fixture
def oai(fake: FakeOai) -> Iterator[OaiClient]:
    client = OaiClient(quick_gate(ManualTime()), base_url=fake.url)
    yield client
    client.close()


@pytest.fixture
def harvester(store: Store, oai: OaiClient, clock: SettableClock) -> Harvester:
    return Harvester(store=store, oai=oai, clock=clock, lookback_days=3)


async def stored_ids(store: Store) -> list[str]:
    rows = await store.fetchall("SELECT arxiv_id FROM papers ORDER BY arxiv_id")
    return [row["arxiv_id"] for row in rows]


# -- backfill --------------------------------------------------------------------------


async def test_backfill_stores_every_record_of_the_range_across_windows_and_sets(
    store: Store, oai: OaiClient, harvester: Harvester, fake: FakeOai
) -> None:
    records = three_weeks()
    fake.set_records(records)
    since, until = days_ago(28), days_ago(12)
    seen: list[int] = []

    progress = await Backfill(store=store, oai=oai, harvester=harvester).run(
        ("cs", "eess"), since, until, lambda p: seen.append(p.done)
    )

    assert await stored_ids(store) == in_sets(records, {"cs", "eess"}, since, until)
    assert progress.windows == 6 and progress.done == 6 and progress.skipped == 0  # 17 days
    assert progress.requests == len(fake.requests)
    assert progress.records_per_request > 10  # pages of 20, the last of each list shorter
    first_requests = [r.params for r in fake.requests if "from" in r.params]
    assert [(p["set"], p["from"], p["until"]) for p in first_requests][:3] == [
        ("cs", since.isoformat(), (since + timedelta(days=6)).isoformat()),
        ("cs", (since + timedelta(days=7)).isoformat(), (since + timedelta(days=13)).isoformat()),
        ("cs", (since + timedelta(days=14)).isoformat(), until.isoformat()),
    ]
    assert seen[-1] == 6
    assert await store.coverage() == [Coverage("cs", since, until), Coverage("eess", since, until)]
    assert await store.covered(["cs", "eess"], since, until)
    assert not await store.covered(["cs"], since - timedelta(days=1), until)
    assert await harvester.watermark() is None  # the scheduled harvest's is untouched

    again = await Backfill(store=store, oai=oai, harvester=harvester).run(
        ("cs", "eess"), since, until
    )
    assert again.windows == 0 and again.skipped == 6  # all covered: no request at all


def test_windows_skip_what_is_covered() -> None:
    covered = [Coverage("*", days_ago(30), days_ago(20)), Coverage("cs", days_ago(19), TODAY)]
    todo, skipped = plan_windows(("cs", "physics:hep-th"), days_ago(27), days_ago(14), covered)
    assert skipped == 3  # cs: both weeks; hep-th: the first, inside all of arXiv
    assert todo == [Window("physics:hep-th", days_ago(20), days_ago(14))]


async def test_backfilled_papers_are_not_queued_as_new(
    store: Store, oai: OaiClient, harvester: Harvester, fake: FakeOai, clock: SettableClock
) -> None:
    """A subscription older than the backfilled papers: only the days the scheduled
    harvest would read are left to matching; older ones are never queued."""
    clock.now = START - timedelta(days=40)
    channel = await store.ensure_channel(ChannelRef("console", "local", "general"))
    await store.add_subscription(channel, "cat:cs.LG")
    clock.now = START
    old = make_paper("2506.00001", submitted=START - timedelta(days=12))
    recent = make_paper("2506.00002", submitted=START - timedelta(days=2))
    fake.set_records([HarvestedRecord(old, days_ago(10)), HarvestedRecord(recent, days_ago(1))])

    await Backfill(store=store, oai=oai, harvester=harvester).run(("cs",), days_ago(20), TODAY)
    report = await Enqueuer(store=store, queue=DeliveryQueue(store), clock=clock).match_pending()

    assert report.papers == 1  # the recent paper, as the scheduled harvest would leave it
    assert report.queued == 1
    rows = await store.fetchall("SELECT arxiv_id FROM deliveries")
    assert [row["arxiv_id"] for row in rows] == ["2506.00002"]


# -- kill -9 and resume through the command line ----------------------------------------


def test_backfill_resumes_after_kill_9_without_gaps_or_duplicates(
    settings: Settings, fake_oai: FakeOai
) -> None:
    records = three_weeks(per_day=40)
    fake_oai.set_records(records)
    since, until = days_ago(30), days_ago(10)
    args = ["backfill", "--since", since.isoformat(), "--until", until.isoformat(), "--set", "cs"]
    first_window = in_sets(records, {"cs"}, since, since + timedelta(days=6))
    pages = -(-len(first_window) // 50)
    fake_oai.delay_next(30, after=pages + 1)  # the second window hangs on its second page
    database = settings.database_path
    command = [sys.executable, "-m", "bot", *args]
    env = {**settings_env(settings), "ARXIV_TIMEOUT": "60"}  # the hang is cut by the kill
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while _coverage_rows(database) < 1 or fake_oai.request_count < pages + 1:
            assert process.poll() is None, "the backfill ended on its own"
            assert time.monotonic() < deadline, "the first window was never stored"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert _papers_in(database) == len(first_window)
    fake_oai.clear_scripts()
    before = len(fake_oai.requests)

    result = subprocess.run(
        command, env=settings_env(settings), capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "(1 covered before)" in result.stdout
    resumed = [r.params for r in fake_oai.requests[before:] if "from" in r.params]
    assert [p["from"] for p in resumed] == [days_ago(23).isoformat(), days_ago(16).isoformat()]
    assert "windows" in result.stderr  # plain progress lines when piped
    with contextlib.closing(sqlite3.connect(database)) as conn:
        ids = [row[0] for row in conn.execute("SELECT arxiv_id FROM papers ORDER BY arxiv_id")]
        matched = conn.execute("SELECT count(*) FROM papers WHERE matched_at IS NULL").fetchone()
    assert ids == in_sets(records, {"cs"}, since, until)
    assert matched[0] == 0


def _coverage_rows(database: Path) -> int:
    return _count(database, "SELECT count(*) FROM coverage")


def _papers_in(database: Path) -> int:
    return _count(database, "SELECT count(*) FROM papers")


def _count(database: Path, sql: str) -> int:
    if not database.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=5)) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2025-06-10", "--until", "2025-06-01"], "is after --until"),
        (["--since", "2025-06-10", "--set", "bogus"], "unknown arXiv set 'bogus'"),
        (["--since", "2025-13-01"], "'2025-13-01' does not match the format"),
        (["--since", "2025-06-10", "--until", "2999-01-01"], "is in the future"),
    ],
)
def test_bad_backfill_input_exits_2_with_a_specific_message(
    settings: Settings, args: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "backfill", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr


# -- coverage --------------------------------------------------------------------------


def test_ranges_merge_when_they_overlap_or_touch() -> None:
    d = days_ago
    assert merge_ranges([(d(5), d(3)), (d(10), d(8)), (d(7), d(6)), (d(1), d(0))]) == [
        (d(10), d(3)),
        (d(1), d(0)),
    ]
    assert merge_ranges([(d(9), d(2)), (d(5), d(4))]) == [(d(9), d(2))]
    assert merge_ranges([]) == []


async def test_coverage_is_merged_per_set(store: Store) -> None:
    d = days_ago
    await store.add_coverage(["cs"], d(20), d(14))
    await store.add_coverage(["cs"], d(6), d(0))
    await store.add_coverage(["cs", "eess"], d(13), d(7))  # fills the gap
    await store.add_coverage([None], d(3), d(2))
    assert await store.coverage() == [
        Coverage("*", d(3), d(2)),
        Coverage("cs", d(20), d(0)),
        Coverage("eess", d(13), d(7)),
    ]
    assert await store.covered(["cs"], d(20), d(0))
    assert await store.covered(["physics:hep-th"], d(3), d(2))  # inside all of arXiv
    assert not await store.covered(["cs", "eess"], d(14), d(7))
    assert not await store.covered(None, d(4), d(2))
    with pytest.raises(ValueError, match="ends"):
        await store.add_coverage(["cs"], d(1), d(2))


def test_index_line_names_each_sets_latest_range() -> None:
    coverage = [
        Coverage("cs", date(2023, 1, 1), date(2023, 2, 1)),
        Coverage("cs", date(2024, 1, 1), TODAY),
        Coverage("eess", date(2024, 1, 1), TODAY),
        Coverage("stat", date(2025, 6, 14), TODAY),
    ]
    assert index_line(coverage, 123456) == (
        "Local index: cs, eess since 2024-01-01; stat since 2025-06-14 (123,456 papers)."
    )
    assert index_line([], 3) == "Local index: nothing harvested in full yet (3 papers)."


async def test_status_shows_the_local_index(settings: Settings) -> None:
    async with BotApp(settings) as app:
        await app.store.add_coverage(["cs", "eess"], date(2024, 1, 1), TODAY)
        reply = await app.handle(StatusCommand(), CommandContext(ChannelRef("cli", "l", "c")))
    assert "Local index: cs, eess since 2024-01-01 (0 papers)." in reply.lines


# -- INDEX_SETS and the scheduled harvest's coverage -----------------------------------


def test_index_sets_widen_the_harvest_scope() -> None:
    assert harvest_scope(["cat:cs.LG"], ("stat",)) == ("cs", "stat")
    assert harvest_scope([], ("eess", "stat")) == ("eess", "stat")
    assert harvest_scope(["cat:hep-th"], ("physics",)) == ("physics",)
    assert harvest_scope(["cat:cs.LG"], None) is None
    assert harvest_scope(["cat:cs.LG"]) == ("cs",)
    assert harvest_scope([]) is None


def test_index_sets_setting_is_normalised_and_checked() -> None:
    assert Settings(_env_file=None, index_sets="stat, CS").index_set_scope == ("cs", "stat")  # type: ignore[call-arg]
    assert Settings(_env_file=None, index_sets="all").index_set_scope is None  # type: ignore[call-arg]
    assert Settings(_env_file=None).index_set_scope == ()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"unknown arXiv set 'cs\.lg'"):
        Settings(_env_file=None, index_sets="cs.LG")  # type: ignore[call-arg]


async def test_the_scheduled_harvest_keeps_index_sets_and_records_coverage(
    store: Store, oai: OaiClient, fake: FakeOai, clock: SettableClock
) -> None:
    channel = await store.ensure_channel(ChannelRef("console", "local", "general"))
    await store.add_subscription(channel, "cat:cs.LG")
    harvester = Harvester(store=store, oai=oai, clock=clock, index_sets=("stat",))
    report = await harvester.harvest()
    assert report.sets == ("cs", "stat")
    assert [r.params.get("set") for r in fake.requests] == ["cs", "stat"]
    assert await store.coverage() == [
        Coverage("cs", days_ago(3), TODAY),
        Coverage("stat", days_ago(3), TODAY),
    ]


async def test_pruning_trims_the_coverage(store: Store) -> None:
    await store.add_coverage(["cs"], days_ago(400), days_ago(300))
    await store.add_coverage(["cs"], days_ago(200), TODAY)
    await upkeep.prune(store, before=days_ago(180), today=TODAY, grace_days=7)
    assert await store.coverage() == [Coverage("cs", days_ago(180), TODAY)]


def test_ctrl_c_stops_and_says_how_to_resume(settings: Settings, fake_oai: FakeOai) -> None:
    fake_oai.set_records(three_weeks())
    fake_oai.delay_next(30, after=1)
    command = [sys.executable, "-m", "bot", "backfill", "--since", days_ago(30).isoformat()]
    env = {**settings_env(settings), "ARXIV_TIMEOUT": "60"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while fake_oai.request_count < 1:
        assert time.monotonic() < deadline, "no request came"
        time.sleep(0.02)
    time.sleep(0.2)  # inside the slow second request
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 130
    assert "Stopped; run the same command again to resume." in err


def test_a_broken_list_exits_1_and_keeps_the_windows_done(
    settings: Settings, fake_oai: FakeOai
) -> None:
    fake_oai.set_records(three_weeks())
    fake_oai.end_list_next(after=2)  # the second window's list ends too early
    result = subprocess.run(
        [sys.executable, "-m", "bot", "backfill", "--since", days_ago(30).isoformat()],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "run the same command again to resume" in result.stderr
    assert _coverage_rows(settings.database_path) == 1
