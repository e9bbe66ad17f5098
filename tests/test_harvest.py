"""Harvesting into the store: watermark, scope, interruptions, overlap, versions.

Real SQLite files in tmp_path, the real OAI-PMH client through a real gate (no spacing,
backoff on a manual clock), and a real fake OAI-PMH server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import HarvestError
from bot.harvest import Harvester, HarvestReport, harvest_scope
from bot.models import ChannelRef, HarvestedRecord, Paper
from bot.sources.oai import OaiClient
from bot.store import HarvestCounts, Store
from bot.store.sql import Dialect
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.oai import FakeOai, ManualTime, quick_gate, running_fake_oai
from tests.fakes.oai_corpus import synthetic_records
from tests.local_index import found

START = datetime(2025, 6, 17, 3, 0, tzinfo=UTC)
TODAY = START.date()


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def rec(paper: Paper, datestamp: date) -> HarvestedRecord:
    return HarvestedRecord(paper=paper, datestamp=datestamp)


def paper(arxiv_id: str, *categories: str, **fields: object) -> Paper:
    return make_paper(arxiv_id, categories=categories or ("cs.LG",), **fields)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
def fake() -> Iterator[FakeOai]:
    with running_fake_oai(page_size=2) as server:
        yield server


@pytest.fixture
def manual_time() -> ManualTime:
    return ManualTime()


@pytest.fixture
def oai(fake: FakeOai, manual_time: ManualTime) -> Iterator[OaiClient]:
    client = OaiClient(quick_gate(manual_time), base_url=fake.url)
    yield client
    client.close()


@pytest.fixture
def harvester(store: Store, oai: OaiClient, clock: SettableClock) -> Harvester:
    return Harvester(store=store, oai=oai, clock=clock, lookback_days=3)


async def subscribe(store: Store, *queries: str, channel: str = "general") -> None:
    channel_id = await store.ensure_channel(ChannelRef("console", "local", channel))
    for query in queries:
        await store.add_subscription(channel_id, query)


async def stored_ids(store: Store) -> list[str]:
    rows = await store.fetchall("SELECT arxiv_id FROM papers ORDER BY arxiv_id")
    return [row["arxiv_id"] for row in rows]


async def mark_all_matched(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("UPDATE papers SET matched_at = ?", (store.now_text(),))


async def unmatched(store: Store) -> list[str]:
    rows = await store.fetchall(
        "SELECT arxiv_id FROM papers WHERE matched_at IS NULL ORDER BY arxiv_id"
    )
    return [row["arxiv_id"] for row in rows]


async def paper_row(store: Store, arxiv_id: str) -> dict[str, object]:
    row = await store.fetchone("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
    assert row is not None
    return dict(row)


def week_of_records() -> list[HarvestedRecord]:
    """Seven papers, one a day from six days ago to today."""
    return [rec(paper(f"2506.1000{n}"), days_ago(n)) for n in range(7)]


# -- first run, watermark, state -------------------------------------------------------


async def test_first_run_harvests_the_lookback(
    harvester: Harvester, store: Store, oai: OaiClient, fake: FakeOai, clock: SettableClock
) -> None:
    fake.set_records(week_of_records())

    report = await harvester.harvest()

    assert await stored_ids(store) == ["2506.10000", "2506.10001", "2506.10002", "2506.10003"]
    assert fake.requests[0].params["from"] == days_ago(3).isoformat()
    assert "set" not in fake.requests[0].params, "no subscription: all of arXiv"
    assert report == HarvestReport(
        started_at=START,
        finished_at=START,
        from_date=days_ago(3),
        sets=None,
        records=4,
        new_papers=4,
        revised_papers=0,
        requests=2,
    )
    assert await harvester.watermark() == TODAY
    assert await harvester.last_success() == START
    assert await harvester.last_report() == report
    assert await harvester.last_error() is None
    reopened = Harvester(store=store, oai=oai)
    assert await reopened.last_report() == report, "kept in the store, not in memory"


async def test_lookback_is_configurable(
    store: Store, oai: OaiClient, fake: FakeOai, clock: SettableClock
) -> None:
    fake.set_records(week_of_records())
    harvester = Harvester(store=store, oai=oai, clock=clock, lookback_days=0)

    report = await harvester.harvest()

    assert report.from_date == TODAY
    assert await stored_ids(store) == ["2506.10000"]


async def test_no_records_match_still_advances_the_watermark(
    harvester: Harvester, store: Store, fake: FakeOai
) -> None:
    report = await harvester.harvest()

    assert (report.records, report.new_papers, report.requests) == (0, 0, 1)
    assert await harvester.watermark() == TODAY
    assert (await store.counts()).papers == 0


async def test_next_run_starts_one_day_before_the_watermark(
    harvester: Harvester, fake: FakeOai, clock: SettableClock
) -> None:
    await harvester.harvest()
    clock.advance(days=1)
    fake.clear_requests()

    report = await harvester.harvest()

    assert report.from_date == TODAY - timedelta(days=1)
    assert fake.requests[0].params["from"] == (TODAY - timedelta(days=1)).isoformat()
    assert await harvester.watermark() == TODAY + timedelta(days=1)


# -- scope -----------------------------------------------------------------------------


def test_scope_is_the_union_of_category_restrictions() -> None:
    assert harvest_scope(["cat:cs.CV", "ti:diffusion AND cat:eess.IV", "cat:hep-th"]) == (
        "cs",
        "eess",
        "physics:hep-th",
    )
    assert harvest_scope(["cat:cs.CV", "ti:diffusion"]) is None, "one unrestricted: all"
    assert harvest_scope([]) is None
    assert harvest_scope(["cat:cs.CV", "((("]) == ("cs",), "an unparsable query is left out"


async def test_harvests_each_set_and_stores_cross_lists_once(
    harvester: Harvester, store: Store, fake: FakeOai
) -> None:
    await subscribe(store, "cat:cs.CV", "ti:diffusion AND cat:eess.IV", "cat:hep-th")
    cross = rec(paper("2506.20001", "eess.IV", "cs.CV"), TODAY)
    fake.set_records(
        [
            cross,
            rec(paper("2506.20002", "cs.CV"), TODAY),
            rec(paper("2506.20003", "hep-th"), TODAY),
            rec(paper("2506.20004", "math.AG"), TODAY),
        ]
    )

    report = await harvester.harvest()

    assert report.sets == ("cs", "eess", "physics:hep-th")
    assert [r.params.get("set") for r in fake.requests if "from" in r.params] == [
        "cs",
        "eess",
        "physics:hep-th",
    ]
    assert await stored_ids(store) == ["2506.20001", "2506.20002", "2506.20003"]
    assert (report.records, report.new_papers) == (4, 3), "the cross-list came twice"


async def test_an_unrestricted_subscription_harvests_everything(
    harvester: Harvester, store: Store, fake: FakeOai
) -> None:
    await subscribe(store, "cat:cs.CV", "abs:transformer")
    fake.set_records([rec(paper("2506.20004", "math.AG"), TODAY)])

    report = await harvester.harvest()

    assert report.sets is None
    assert [r.params.get("set") for r in fake.requests] == [None]
    assert await stored_ids(store) == ["2506.20004"]


# -- interruptions ---------------------------------------------------------------------


def interrupt(fake: FakeOai, how: str, after: int) -> None:
    if how == "503":
        fake.fail_next(503, retry_after="2", times=3, after=after)  # beyond the 3 attempts
    elif how == "truncated":
        fake.truncate_next(after=after)
    else:
        fake.expire_tokens(after=after)


@pytest.mark.parametrize("how", ["503", "truncated", "expired"])
async def test_interrupted_first_harvest_is_retried_and_loses_nothing(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock, how: str
) -> None:
    records = [rec(paper(f"2506.3000{n}"), days_ago(n % 3)) for n in range(7)]
    fake.set_records(records)
    interrupt(fake, how, after=2)

    with pytest.raises(HarvestError):
        await harvester.harvest()

    assert await harvester.watermark() is None
    assert len(await stored_ids(store)) == 4, "the two pages read were stored"
    error = await harvester.last_error()
    assert error and error.startswith("2025-06-17 03:00 UTC: ")
    assert f"will retry from {days_ago(3).isoformat()}" in error
    assert await harvester.last_report() is None
    assert await harvester.last_success() is None

    clock.advance(hours=1)
    fake.clear_requests()
    report = await harvester.harvest()

    assert fake.requests[0].params["from"] == days_ago(3).isoformat()
    assert await stored_ids(store) == sorted(r.paper.arxiv_id for r in records)
    assert (report.records, report.new_papers) == (7, 3)
    assert await harvester.watermark() == TODAY
    assert await harvester.last_error() is None


@pytest.mark.parametrize("how", ["503", "truncated", "expired"])
async def test_interrupted_harvest_keeps_the_old_watermark(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock, how: str
) -> None:
    fake.set_records([rec(paper("2506.40000"), TODAY)])
    await harvester.harvest()
    clock.advance(days=1)
    tomorrow = TODAY + timedelta(days=1)
    fake.add_records(*(rec(paper(f"2506.4100{n}"), tomorrow) for n in range(5)))
    interrupt(fake, how, after=1)

    with pytest.raises(HarvestError):
        await harvester.harvest()
    assert await harvester.watermark() == TODAY

    fake.clear_requests()
    report = await harvester.harvest()

    assert report.from_date == TODAY - timedelta(days=1)
    assert len(await stored_ids(store)) == 6
    assert await harvester.watermark() == tomorrow


async def test_a_killed_harvest_is_retried_from_the_old_watermark(
    tmp_path: Path, fake: FakeOai, manual_time: ManualTime
) -> None:
    """A real SIGKILL in mid-pagination, then a harvest in this process."""
    records = [rec(paper(f"2506.5000{n}"), days_ago(1)) for n in range(6)]
    fake.set_records(records)
    fake.delay_next(30, after=1)  # the second page does not come before the kill
    database = tmp_path / "killed.db"

    await asyncio.to_thread(_kill_after_first_page, database, fake.url)
    # Under load the kill can land before the child asked for page two; the delay meant
    # for the killed harvest must not hold up the retry.
    fake.clear_scripts()

    clock = SettableClock(START)
    async with await Store.open(database, clock=clock) as store:
        assert len(await stored_ids(store)) == 2
        oai = OaiClient(quick_gate(manual_time), base_url=fake.url)
        harvester = Harvester(store=store, oai=oai, clock=clock)
        assert await harvester.watermark() is None
        report = await harvester.harvest()
        oai.close()
        assert report.from_date == days_ago(3)
        assert await stored_ids(store) == sorted(r.paper.arxiv_id for r in records)
        assert report.new_papers == 4


_HARVEST_SCRIPT = """
import asyncio, sys
from datetime import datetime
from bot.harvest import Harvester
from bot.sources.oai import OaiClient
from bot.store import Store
from tests.fakes.oai import quick_gate

async def main():
    async with await Store.open(sys.argv[1]) as store:
        now = datetime.fromisoformat(sys.argv[3])
        oai = OaiClient(quick_gate(), base_url=sys.argv[2])
        await Harvester(store=store, oai=oai, clock=lambda: now).harvest()

asyncio.run(main())
"""


def _kill_after_first_page(database: Path, url: str) -> None:
    """Run a harvest in a child process and SIGKILL it once the first page is stored."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    command = [sys.executable, "-c", _HARVEST_SCRIPT, str(database), url, START.isoformat()]
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 30
        while _papers_in(database) < 2:
            assert process.poll() is None, "the harvest ended on its own"
            assert time.monotonic() < deadline, "the first page was never stored"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def _papers_in(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet


# -- overlap, catch-up -----------------------------------------------------------------


async def test_the_day_of_overlap_is_deduplicated(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock
) -> None:
    fake.set_records([rec(paper("2506.60001"), TODAY), rec(paper("2506.60002"), TODAY)])
    await harvester.harvest()
    await mark_all_matched(store)
    clock.advance(days=1)
    fake.add_records(rec(paper("2506.60003"), TODAY + timedelta(days=1)))

    report = await harvester.harvest()

    assert (report.records, report.new_papers, report.revised_papers) == (3, 1, 0)
    assert await stored_ids(store) == ["2506.60001", "2506.60002", "2506.60003"]
    assert await unmatched(store) == ["2506.60003"], "re-harvested papers are not re-matched"


async def test_after_days_of_downtime_the_first_run_catches_up(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock
) -> None:
    await harvester.harvest()
    clock.advance(days=6)
    missed = [rec(paper(f"2506.7000{n}"), TODAY + timedelta(days=n)) for n in range(1, 7)]
    fake.set_records(missed)
    fake.clear_requests()

    report = await harvester.harvest()

    assert report.from_date == TODAY - timedelta(days=1)
    assert fake.requests[0].params["from"] == (TODAY - timedelta(days=1)).isoformat()
    assert report.new_papers == 6
    assert await harvester.watermark() == TODAY + timedelta(days=6)


# -- versions, cross-lists, matched_at -------------------------------------------------


async def test_revisions_bump_the_version_and_reset_matching(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock
) -> None:
    v1 = paper("2506.80001", submitted=_day(days_ago(2)), updated=_day(days_ago(2)))
    fake.set_records([rec(v1, days_ago(1))])
    await harvester.harvest()
    await mark_all_matched(store)
    stored = await store.get_paper("2506.80001")
    assert stored is not None and stored.version == 1

    for version, day in ((2, 2), (3, 4)):
        clock.advance(days=2)
        revised_day = TODAY + timedelta(days=day)
        revised = dataclasses.replace(
            v1, version=2, title=f"Revised {version}", updated=_day(revised_day)
        )
        fake.add_records(rec(revised, revised_day))

        report = await harvester.harvest()

        stored = await store.get_paper("2506.80001")
        assert stored is not None
        assert (stored.version, stored.title) == (version, f"Revised {version}")
        assert stored.updated == _day(revised_day)
        assert stored.submitted == v1.submitted
        assert (report.new_papers, report.revised_papers) == (0, 1)
        assert await unmatched(store) == ["2506.80001"]
        assert (await paper_row(store, "2506.80001"))["announced"] == days_ago(1).isoformat()
        await mark_all_matched(store)


async def test_a_new_cross_list_resets_matching(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock
) -> None:
    fake.set_records([rec(paper("2506.80002", "cs.LG"), TODAY)])
    await harvester.harvest()
    await mark_all_matched(store)
    clock.advance(days=1)
    fake.add_records(rec(paper("2506.80002", "cs.LG", "cs.CV"), TODAY + timedelta(days=1)))

    report = await harvester.harvest()

    stored = await store.get_paper("2506.80002")
    assert stored is not None
    assert (stored.version, stored.categories) == (1, ("cs.LG", "cs.CV"))
    assert (report.new_papers, report.revised_papers) == (0, 0)
    assert await unmatched(store) == ["2506.80002"]


async def test_upsert_harvested_counts_and_metadata_fixes(store: Store) -> None:
    base = paper("2506.90001", "cs.LG")
    assert await store.upsert_harvested([rec(base, TODAY)]) == HarvestCounts(new=1)
    await mark_all_matched(store)

    same = await store.upsert_harvested([rec(base, TODAY)])
    with_ref = await store.upsert_harvested(
        [rec(dataclasses.replace(base, journal_ref="Nature 1 (2025)"), TODAY)]
    )

    assert same == HarvestCounts(unchanged=1)
    assert with_ref == HarvestCounts(changed=1)
    stored = await store.get_paper("2506.90001")
    assert stored is not None and stored.journal_ref == "Nature 1 (2025)"
    assert await unmatched(store) == [], "a journal reference brings no new match"
    assert await store.upsert_harvested([]) == HarvestCounts()


async def test_duplicates_within_one_batch(store: Store) -> None:
    v1 = paper("2506.90002", "cs.LG")
    v2 = dataclasses.replace(v1, version=2, updated=v1.updated + timedelta(days=3))

    counts = await store.upsert_harvested([rec(v1, TODAY), rec(v1, TODAY), rec(v2, TODAY)])

    assert counts == HarvestCounts(new=1, revised=1, unchanged=1)
    stored = await store.get_paper("2506.90002")
    assert stored is not None and stored.version == 2


async def test_first_harvested_record_of_an_unseen_revision_is_v2(store: Store) -> None:
    revised = dataclasses.replace(
        paper("2506.90003"), version=2, updated=_day(TODAY), submitted=_day(days_ago(30))
    )
    assert await store.upsert_harvested([rec(revised, TODAY)]) == HarvestCounts(new=1)
    stored = await store.get_paper("2506.90003")
    assert stored is not None and stored.version == 2


async def test_papers_from_search_are_not_matched_until_harvested(store: Store) -> None:
    searched = paper_by_id("2506.11674")
    await store.upsert_papers([searched])
    assert await unmatched(store) == []
    assert (await paper_row(store, "2506.11674"))["announced"] is None

    counts = await store.upsert_harvested([rec(_midnight_copy(searched), TODAY)])

    assert counts == HarvestCounts(new=1), "new to the harvest"
    assert await unmatched(store) == ["2506.11674"]
    row = await paper_row(store, "2506.11674")
    assert row["announced"] == TODAY.isoformat()
    assert row["submitted"] == "2025-06-13T17:59:46.000000+00:00", "the precise time is kept"


async def test_search_results_revising_a_harvested_paper_reset_matching(store: Store) -> None:
    harvested = _midnight_copy(paper_by_id("2506.11674"))
    await store.upsert_harvested([rec(harvested, TODAY)])
    await mark_all_matched(store)

    await store.upsert_papers(
        [dataclasses.replace(harvested, version=2, updated=harvested.updated + timedelta(days=2))]
    )

    assert await unmatched(store) == ["2506.11674"]


# -- reading back -----------------------------------------------------------------------


async def test_harvested_papers_are_searchable(
    harvester: Harvester, store: Store, fake: FakeOai
) -> None:
    fake.set_records([rec(paper_by_id("2506.11674"), TODAY)])
    await harvester.harvest()

    assert await found(store, "diffusion segmentation Muller") == ["2506.11674"]
    stored = await store.get_paper("2506.11674")
    assert stored is not None and stored.authors[0] == "Lena Müller"


async def test_recent_papers_newest_announced_first(store: Store) -> None:
    await store.upsert_harvested(
        [
            rec(paper("2506.00010"), days_ago(9)),
            rec(paper("2506.00011"), days_ago(6)),
            rec(paper("2506.00012"), days_ago(1)),
            rec(paper("2506.00013"), days_ago(1)),
            rec(paper("2506.00014"), days_ago(3)),
        ]
    )
    await store.upsert_papers([paper("2506.00015")])  # searched, never announced

    recent = await store.recent_papers(days_ago(7))

    assert [p.arxiv_id for p in recent] == [
        "2506.00013",
        "2506.00012",
        "2506.00014",
        "2506.00011",
    ]
    assert [p.arxiv_id for p in await store.recent_papers(days_ago(7), limit=2)] == [
        "2506.00013",
        "2506.00012",
    ]
    explain = "EXPLAIN QUERY PLAN"
    if store.dialect is Dialect.POSTGRES:  # a few rows: PostgreSQL would rather scan them
        explain = "EXPLAIN"
        await store.execute("SET enable_seqscan = off")
    plan = await store.fetchall(
        f"{explain} SELECT * FROM papers WHERE announced >= ? ORDER BY announced DESC",
        ("2025-06-10",),
    )
    assert any("papers_announced" in str(list(row)) for row in plan)


async def test_a_synthetic_day_harvests_in_pages(
    harvester: Harvester, store: Store, fake: FakeOai
) -> None:
    records = synthetic_records(500, day=TODAY, seed=3)
    fake.page_size = 100
    fake.set_records(records)

    report = await harvester.harvest()

    assert (report.records, report.new_papers, report.requests) == (500, 500, 5)
    assert len(await unmatched(store)) == 500
    revised = sum(r.paper.version > 1 for r in records)
    rows = await store.fetchall("SELECT count(*) AS n FROM papers WHERE version = 2")
    assert rows[0]["n"] == revised > 0


def _day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _midnight_copy(original: Paper) -> Paper:
    """``original`` as OAI-PMH would list it (dates without times)."""
    return dataclasses.replace(
        original,
        version=1,
        submitted=_day(original.submitted.date()),
        updated=_day(original.submitted.date()),
    )
