"""Database upkeep: online backups, checks and retention pruning, on real SQLite files;
the ``arxiv-bot db`` commands as real subprocesses."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.errors import StorageError
from bot.models import ChannelRef, HarvestedRecord
from bot.retention import Retention
from bot.store import LATEST_VERSION, Store, upkeep
from tests.conftest import settings_env
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper, revised
from tests.fakes.oai import FakeOai
from tests.local_index import found
from tests.test_delivery import IMAGING, NLP, START, Bed, RecordingSender, paper

OFFLINE = ChannelRef("teams", "T", "lab", "lab")
"""A channel on a platform that is not running: its deliveries stay queued."""


def arxiv_bot(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=settings_env(settings),
        check=False,
    )


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


async def filled_database(path: Path, papers: int) -> None:
    """A migrated database holding ``papers`` harvested papers (about 2 kB each)."""
    async with await Store.open(path) as store:
        await store.upsert_harvested(
            HarvestedRecord(
                make_paper(f"2601.{n:05d}", title=f"Paper {n}", abstract="words " * 300),
                date(2026, 1, 2),
            )
            for n in range(papers)
        )


# -- backup ----------------------------------------------------------------------------


@contextlib.contextmanager
def writing(path: Path) -> Iterator[list[int]]:
    """Another connection inserting rows into ``state`` in a loop, as a running bot
    writes; yields the list of the numbers it committed so far."""
    committed: list[int] = []
    stop = threading.Event()

    def write() -> None:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("PRAGMA busy_timeout = 5000")
            number = 0
            while not stop.is_set():
                conn.execute(
                    "INSERT INTO state (key, value, updated_at) VALUES (?, 'x', '')",
                    (f"test.{number:06d}",),
                )
                committed.append(number)
                number += 1
                time.sleep(0.001)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        while not committed:
            time.sleep(0.01)
        yield committed
    finally:
        stop.set()
        thread.join(timeout=10)


async def test_a_backup_while_another_connection_writes_is_a_consistent_snapshot(
    tmp_path: Path,
) -> None:
    database, target = tmp_path / "bot.db", tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    await filled_database(database, 2000)
    results: list[upkeep.BackupResult] = []
    with writing(database) as committed:
        before = len(committed)
        # Small steps, so the copy takes many of them while the writer goes on: without
        # one snapshot for the whole copy, every write would restart it, for ever.
        copying = threading.Thread(
            target=lambda: results.append(upkeep.backup(database, target, pages=16, pause=0.002)),
            daemon=True,
        )
        copying.start()
        copying.join(timeout=30)
        written_meanwhile = len(committed) - before

    assert results, "the backup did not finish within 30 s"
    [result] = results
    assert written_meanwhile > 0, "the writer was not blocked while the backup ran"
    assert result.path == target and result.size == target.stat().st_size
    assert result.schema_version == LATEST_VERSION
    assert [p.name for p in target.parent.iterdir()] == ["copy.db"], "no temporary file"
    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert rows(target, "PRAGMA journal_mode") == [("delete",)], "one self-contained file"
    assert rows(target, "SELECT count(*) FROM papers") == [(2000,)]
    keys = [str(key) for (key,) in rows(target, "SELECT key FROM state WHERE key LIKE 'test.%'")]
    # A snapshot: every row committed before it began, then an unbroken run.
    assert len(keys) >= before
    assert keys == [f"test.{number:06d}" for number in range(len(keys))]
    assert upkeep.check(target).ok


async def test_backup_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    database, target = tmp_path / "bot.db", tmp_path / "copy.db"
    await filled_database(database, 3)
    target.write_text("keep me")
    with pytest.raises(FileExistsError):
        upkeep.backup(database, target)
    assert target.read_text() == "keep me"
    upkeep.backup(database, target, overwrite=True)
    assert rows(target, "SELECT count(*) FROM papers") == [(3,)]
    with pytest.raises(StorageError, match=r"There is no database at .*missing\.db"):
        upkeep.backup(tmp_path / "missing.db", tmp_path / "other.db")
    assert not (tmp_path / "missing.db").exists(), "nothing is created"


def test_db_backup_command(settings: Settings, tmp_path: Path) -> None:
    assert arxiv_bot("db", "prune", settings=settings).returncode == 0  # creates the file
    target = tmp_path / "backup.db"

    first = arxiv_bot("db", "backup", str(target), settings=settings)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"Backed up {settings.database_path} to {target}: ")
    assert f"schema version {LATEST_VERSION}" in first.stdout

    again = arxiv_bot("db", "backup", str(target), settings=settings)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"Error: {target} exists already: name another file, or add --force to overwrite it"
    )
    forced = arxiv_bot("db", "backup", str(target), "--force", settings=settings)
    assert forced.returncode == 0, forced.stderr

    into = tmp_path / "backups"
    into.mkdir()
    dated = arxiv_bot("db", "backup", str(into), settings=settings)
    assert dated.returncode == 0, dated.stderr
    [made] = into.iterdir()
    assert made.name.startswith("arxiv-bot-") and made.suffix == ".db"

    itself = arxiv_bot("db", "backup", str(settings.database_path), "--force", settings=settings)
    assert itself.returncode == 2
    assert "is the database itself" in itself.stderr
    nowhere = arxiv_bot("db", "backup", str(tmp_path / "no" / "x.db"), settings=settings)
    assert nowhere.returncode == 2
    assert "is not a directory" in nowhere.stderr


# -- check -----------------------------------------------------------------------------


def test_db_check_of_a_good_database(settings: Settings) -> None:
    missing = arxiv_bot("db", "check", settings=settings)
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"Error: There is no database at {settings.database_path}")
    assert not settings.database_path.exists()

    assert arxiv_bot("db", "prune", settings=settings).returncode == 0  # creates the file
    result = arxiv_bot("db", "check", settings=settings)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Database {settings.database_path}: "
        f"{upkeep.size_text(settings.database_path.stat().st_size)}, schema version "
        f"{LATEST_VERSION} (this arxiv-bot's is {LATEST_VERSION}).",
        "Integrity, references and full-text index: ok.",
    ]


def _damage_an_index(path: Path) -> None:
    """Overwrite the ``papers_updated`` index's first page with garbage."""
    [(root,)] = rows(path, "SELECT rootpage FROM sqlite_schema WHERE name = 'papers_updated'")
    [(page_size,)] = rows(path, "PRAGMA page_size")
    size = int(str(page_size))
    with path.open("r+b") as file:
        file.seek((int(str(root)) - 1) * size)
        file.write(b"\x0d\xff" * (size // 2))


async def test_db_check_of_a_damaged_database(settings: Settings) -> None:
    path = settings.database_path
    await filled_database(path, 300)
    _damage_an_index(path)

    result = arxiv_bot("db", "check", settings=settings)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[1] == "Problems:"
    assert len(lines) > 2 and all(line.startswith("  ") for line in lines[2:])
    assert result.stderr.strip().startswith("Error: ")
    assert "found in the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_check_of_a_file_that_is_no_database(settings: Settings) -> None:
    settings.database_path.write_bytes(b"these are not the pages you are looking for" * 100)
    result = arxiv_bot("db", "check", settings=settings)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: The database {settings.database_path} is not an SQLite database or is damaged"
    )
    assert "Traceback" not in result.stderr


async def test_check_reports_broken_references_and_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    await filled_database(path, 1)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "INSERT INTO deliveries (channel_id, arxiv_id, version, queued_at)"
            " VALUES (42, '2601.00000', 1, '')"
        )
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
        conn.commit()
    report = upkeep.check(path)
    assert not report.ok
    assert report.schema_version == LATEST_VERSION + 1
    assert any("written by a newer arxiv-bot" in problem for problem in report.problems)
    assert "1 row of deliveries points at missing rows of channels" in report.problems


# -- retention -------------------------------------------------------------------------


@pytest.fixture
async def bed(tmp_path: Path) -> AsyncIterator[Bed]:
    clock = SettableClock(START)
    sender = RecordingSender()
    async with await Store.open(tmp_path / "bot.db", clock=clock) as store:
        yield Bed(store, clock, sender, {"slack": sender, "discord": sender})


async def ids(store: Store, sql: str) -> list[str]:
    return sorted(str(row[0]) for row in await store.fetchall(sql))


async def test_prune_removes_exactly_the_old_rows_nothing_needs(bed: Bed, tmp_path: Path) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(OFFLINE, "ti:unsent")
    delivered = paper("2506.50001", "eess.IV")
    unmatched = paper("2506.50002", "cs.CL")
    waiting = paper("2506.50003", "cs.CL", title="Unsent results")  # queued for OFFLINE
    await bed.harvest([delivered, unmatched, waiting], date(2025, 6, 14))
    dispatcher = bed.dispatcher()
    await bed.cycle(dispatcher)
    assert bed.sender.ids(IMAGING) == ["2506.50001"]
    channel = bed.channels[OFFLINE]  # not sent to: the dispatcher leaves these as they are
    old = "2025-06-14T00:00:00.000000+00:00"
    for status, thread_of in (("failed", None), ("pending", None), ("sent", None)):
        await bed.store.execute(
            "INSERT INTO outbox (channel_id, payload, thread_of, status, created_at)"
            " VALUES (?, '{}', ?, ?, ?)",
            (channel, thread_of, status, old),
        )
    # A thread whose first message went out long ago while a reply still waits.
    await bed.store.execute(
        "INSERT INTO outbox (channel_id, payload, thread_of, status, created_at)"
        " VALUES (?, '{}', (SELECT max(id) FROM outbox), 'pending', ?)",
        (channel, old),
    )

    bed.clock.advance(days=200)
    fresh = paper("2512.50004", "eess.IV", submitted="2025-12-29")
    await bed.harvest([fresh], date(2025, 12, 30))
    await bed.cycle(dispatcher)
    messages_before = await ids(bed.store, "SELECT id || ':' || status FROM outbox")
    retention = Retention(bed.store, days=180, clock=bed.clock)
    assert retention.cutoff() == date(2025, 6, 13) + timedelta(days=200 - 180)

    counts = await retention.prune()

    assert (counts.papers, counts.messages) == (2, 2)
    assert str(counts) == "2 papers and 2 sent messages"
    assert await ids(bed.store, "SELECT arxiv_id FROM papers") == ["2506.50003", "2512.50004"]
    messages_after = await ids(bed.store, "SELECT id || ':' || status FROM outbox")
    gone = set(messages_before) - set(messages_after)
    assert sorted(message.split(":")[1] for message in gone) == ["failed", "sent"]
    # Kept: the old pending message, the thread (sent, and its pending reply), the new post.
    assert sorted(m.split(":")[1] for m in messages_after) == ["pending", "pending", "sent", "sent"]
    # Every delivery row stays: the at-most-once key.
    assert await ids(bed.store, "SELECT arxiv_id FROM deliveries") == [
        "2506.50001",
        "2506.50003",
        "2512.50004",
    ]
    row = await bed.row(IMAGING, "2506.50001")
    assert (row["status"], row["message_id"]) == ("delivered", None)
    # The full-text index followed.
    assert await found(bed.store, "Unsent") != []
    assert await found(bed.store, "paper") == []
    assert upkeep.check(tmp_path / "bot.db").ok

    # A revision of the pruned, delivered paper arrives: it is not posted as new.
    v2 = revised(delivered, 2, updated=bed.clock.now)
    await bed.harvest([v2], bed.clock.now.date())
    matched = await bed.match()
    assert (matched.papers, matched.queued) == (1, 0)
    assert (await dispatcher.deliver_due()).messages == 0
    assert bed.sender.ids(IMAGING) == ["2506.50001", "2512.50004"]

    assert (await retention.prune()) == upkeep.PruneCounts()  # nothing more to do


async def test_a_paper_a_young_subscription_never_took_as_new_is_kept(bed: Bed) -> None:
    """Announced before a subscription that came within a week of its submission: if it
    were pruned, a revision re-harvested later would count as newly announced, and so as
    new to that subscription. It stays while that subscription does."""
    paper_id = "2506.60001"
    await bed.harvest([paper(paper_id, "eess.IV")], date(2025, 6, 14))
    await bed.match()
    bed.clock.advance(days=3)  # June 16: after the announcement, within 7 days of June 13
    [late] = await bed.subscribe(NLP, "cat:eess.IV")
    bed.clock.advance(days=200)
    retention = Retention(bed.store, days=180, clock=bed.clock)

    assert (await retention.prune()).papers == 0
    v2 = revised(paper(paper_id, "eess.IV"), 2, updated=bed.clock.now)
    await bed.harvest([v2], bed.clock.now.date())
    await bed.cycle(bed.dispatcher())
    assert bed.sender.ids(NLP) == [], "not new to the late subscription"

    await bed.store.remove_subscription(late.channel_id, late.id)
    assert (await retention.prune()).papers == 1


async def test_retention_0_keeps_everything_and_pruning_runs_once_a_day(bed: Bed) -> None:
    await bed.harvest([paper("2506.70001", "cs.CL")], date(2025, 6, 14))
    await bed.match()
    bed.clock.advance(days=400)
    assert await Retention(bed.store, days=0, clock=bed.clock).prune_if_due() is None
    assert await Retention(bed.store, days=0, clock=bed.clock).prune() == upkeep.PruneCounts()
    assert await ids(bed.store, "SELECT arxiv_id FROM papers") == ["2506.70001"]

    daily = Retention(bed.store, days=30, clock=bed.clock)
    first = await daily.prune_if_due()
    assert first is not None and first.papers == 1
    assert await daily.prune_if_due() is None, "done today already"
    bed.clock.advance(days=1)
    assert await daily.prune_if_due() == upkeep.PruneCounts()


async def test_the_bot_prunes_after_a_harvest_cycle(settings: Settings, fake_oai: FakeOai) -> None:
    fake_oai.announce(make_paper("2506.80001"), make_paper("2506.80002"), days_ago=1)
    old = make_paper("2401.80003", submitted=datetime(2024, 1, 2, tzinfo=UTC))
    async with BotApp(settings.model_copy(update={"retention_days": 30})) as app:
        await app.store.upsert_harvested([HarvestedRecord(old, date(2024, 1, 3))])
        await app.run_cycle()  # harvest, match (the old paper too), deliver, prune
        assert await ids(app.store, "SELECT arxiv_id FROM papers") == ["2506.80001", "2506.80002"]
        assert await app.store.get_state("retention.last_prune") == (
            datetime.now(UTC).date().isoformat()
        )


def test_db_prune_command(settings: Settings) -> None:
    result = arxiv_bot("db", "prune", "--days", "30", settings=settings)
    assert result.returncode == 0, result.stderr
    cutoff = datetime.now(UTC).date() - timedelta(days=30)
    assert result.stdout.strip() == (
        f"Pruned 0 papers and 0 sent messages from before {cutoff} (30 days ago)."
    )
    kept = arxiv_bot("db", "prune", "--days", "0", settings=settings)
    assert kept.stdout.strip() == "RETENTION_DAYS is 0: everything is kept, nothing was pruned."
    bad = arxiv_bot("db", "prune", "--days", "-3", settings=settings)
    assert bad.returncode == 2
