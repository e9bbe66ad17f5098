"""What only PostgreSQL does: the same schema as SQLite's, a server that drops the
connection or cannot be reached, replicas claiming channels side by side, migrations
raced by several processes, and arXiv's rhythm kept by the database for every replica.

Each test has a schema of its own on the server ``TEST_DATABASE_URL`` names (skipped
without it: see tests/databases.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ArxivUnavailableError, StorageError
from bot.models import ChannelRef, OutgoingMessage
from bot.sources.database_rhythm import DatabaseRhythm
from bot.sources.gate import ArxivGate
from bot.store import Store
from bot.store.outbox import ClaimOwner, Outbox
from tests import databases
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.clock import ManualTime
from tests.test_rhythm import UA, searches_from_two_processes

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_INDEX_TABLES = {"paper_index"}
"""The search index differs by design: FTS5 tables there, a tsvector table here."""


@pytest.fixture
def url() -> Iterator[str]:
    with databases.fresh_schema() as fresh:
        yield fresh


def columns(target: str | Path) -> dict[str, set[str]]:
    if isinstance(target, Path):
        tables = [
            str(row[0])
            for row in databases.rows(
                target,
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'paper_index%'",
            )
        ]
        return {
            table: {str(row[1]) for row in databases.rows(target, f"PRAGMA table_info({table})")}
            for table in tables
        }
    found: dict[str, set[str]] = {}
    for table, column in databases.rows(
        target,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()",
    ):
        if table not in _INDEX_TABLES and table != "schema_version":
            found.setdefault(str(table), set()).add(str(column))
    return found


async def test_both_databases_have_the_same_tables_and_columns(tmp_path: Path, url: str) -> None:
    async with await Store.open(tmp_path / "bot.db"), await Store.open(url):
        pass
    sqlite, postgres = columns(tmp_path / "bot.db"), columns(url)
    assert sqlite == postgres
    assert {"papers", "channels", "deliveries", "outbox", "leases"} <= set(postgres)


async def test_three_processes_migrating_one_schema_at_once_all_open_it(url: str) -> None:
    stores = await asyncio.gather(*(Store.open(url) for _ in range(3)))
    try:
        assert {store.schema_version for store in stores} == {stores[0].schema_version}
        assert databases.rows(url, "SELECT count(*) FROM schema_version") == [(1,)]
    finally:
        for store in stores:
            await store.close()


async def test_a_dropped_connection_fails_one_call_then_the_store_connects_again(
    url: str,
) -> None:
    async with await Store.open(url) as store:
        await store.set_state("before", "1")
        row = await store.fetchone("SELECT pg_backend_pid()")  # this store's own connection
        assert row is not None
        databases.execute(url, "SELECT pg_terminate_backend(?)", (int(row[0]),))
        with pytest.raises(StorageError, match="cannot be reached"):
            await store.get_state("before")
        assert await store.get_state("before") == "1", "connected again"
        await store.set_state("after", "2")
        assert await store.get_state("after") == "2"


async def test_an_unreachable_server_is_one_clear_message() -> None:
    with pytest.raises(StorageError) as caught:
        await Store.open("postgresql://nobody:secret@127.0.0.1:9/arxiv?connect_timeout=2")
    message = str(caught.value)
    assert "postgresql://nobody@127.0.0.1:9/arxiv cannot be reached" in message
    assert "secret" not in message
    assert "check that PostgreSQL runs" in message


# -- replicas claiming channels ------------------------------------------------------------


async def test_two_replicas_claiming_every_channel_at_once_never_share_one(url: str) -> None:
    async with await Store.open(url) as one, await Store.open(url) as two:
        channels = []
        for number in range(20):
            ref = ChannelRef("slack", "T1", f"C{number:03d}", f"c{number}")
            channel = await one.ensure_channel(ref)
            channels.append(channel)
            messages = [OutgoingMessage({"n": n}) for n in range(3)]
            assert await Outbox(one).plan(channel, [((), messages)], now=NOW)
        lease = NOW + timedelta(minutes=5)

        async def claim_all(store: Store) -> list[tuple[int, int]]:
            outbox, owner = Outbox(store), ClaimOwner.new_round()
            claimed = await asyncio.gather(
                *(outbox.claim(c, owner, now=NOW, lease_until=lease) for c in channels)
            )
            return [(m.channel_id, m.id) for batch in claimed for m in batch]

        first, second = await asyncio.gather(claim_all(one), claim_all(two))
    everything = Counter(first + second)
    assert len(everything) == 60 and set(everything.values()) == {1}, "each message once"
    by_channel = {channel for channel, _ in first} & {channel for channel, _ in second}
    assert by_channel == set(), "a channel's messages go to one replica, in order"


# -- arXiv's rhythm, kept by the database ----------------------------------------------------


def database_gate(url: str, clock: ManualTime | None = None, **options: float) -> ArxivGate:
    extra = {} if clock is None else {"clock": clock, "sleep": clock.sleep}
    return ArxivGate(
        interval=options.get("interval", 0),
        timeout=options.get("timeout", 5),
        max_attempts=int(options.get("max_attempts", 4)),
        user_agent=UA,
        shared_rhythm=DatabaseRhythm(url),
        **extra,  # type: ignore[arg-type]
    )


async def test_spacing_and_backoff_are_shared_through_the_database(
    url: str, fake_arxiv: FakeArxiv
) -> None:
    await _open_once_at(url)
    first, second = ManualTime(), ManualTime()
    await asyncio.to_thread(database_gate(url, first, interval=3).session().get, fake_arxiv.url)
    await asyncio.to_thread(database_gate(url, second, interval=3).session().get, fake_arxiv.url)
    assert first.sleeps == []
    (wait,) = second.sleeps  # the rest of the 3 s since the first gate's request started
    assert 2.0 < wait <= 3.0

    fake_arxiv.fail_next(429, retry_after="30")
    with pytest.raises(ArxivUnavailableError):
        gate = database_gate(url, ManualTime(), max_attempts=1)
        await asyncio.to_thread(gate.session().get, fake_arxiv.url)
    other = database_gate(url, ManualTime())
    with other.deadline(15), pytest.raises(ArxivUnavailableError, match="rate-limiting"):
        await asyncio.to_thread(other.session().get, fake_arxiv.url)
    assert fake_arxiv.request_count == 3, "the other gate did not ask arXiv again"


_HOLD = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("SELECT pg_advisory_lock(hashtext(current_schema() || ':arxiv-bot.arxiv-gate'))")
print("locked", flush=True)
sys.stdin.readline()
"""


def test_a_replica_killed_at_the_gate_does_not_keep_it_shut(
    url: str, fake_arxiv: FakeArxiv
) -> None:
    asyncio.run(_open_once_at(url))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        gate = database_gate(url)
        with gate.deadline(0.5), pytest.raises(ArxivUnavailableError):
            gate.session().get(fake_arxiv.url)
        assert fake_arxiv.request_count == 0, "nothing sent while another replica is at the gate"
        holder.kill()  # kill -9: the server ends its session, and its lock with it
        holder.wait()
        started = time.monotonic()
        gate.session().get(fake_arxiv.url)
        assert fake_arxiv.request_count == 1 and time.monotonic() - started < 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_two_processes_on_one_database_keep_one_rhythm(
    url: str, settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    searches_from_two_processes(settings.model_copy(update={"database_url": url}), fake_arxiv)


async def _open_once_at(url: str) -> None:
    """Create the schema (the state table the rhythm keeps its mark in)."""
    async with await Store.open(url):
        pass


# -- the command line ------------------------------------------------------------------------


def arxiv_bot(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "XDG_DATA_HOME": os.environ["XDG_DATA_HOME"]}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_db_check_and_backup_say_what_they_do_on_postgresql(url: str) -> None:
    unused = arxiv_bot(url, "db", "check")
    assert unused.returncode == 1 and "holds no arxiv-bot data" in unused.stderr

    asyncio.run(_open_once_at(url))
    checked = arxiv_bot(url, "db", "check")
    assert checked.returncode == 0, checked.stderr
    assert "schema version" in checked.stdout and "search index: ok" in checked.stdout

    databases.execute(url, "DELETE FROM paper_index")  # a paper without its document
    databases.execute(
        url,
        "INSERT INTO papers (id, arxiv_id, version, title, submitted, updated, first_seen_at)"
        " VALUES (1, '2601.00001', 1, 'T', '2026-01-01', '2026-01-01', '2026-01-01')",
    )
    damaged = arxiv_bot(url, "db", "check")
    assert damaged.returncode == 1 and "1 papers missing from the search index" in damaged.stdout

    backup = arxiv_bot(url, "db", "backup", "copy.db")
    assert backup.returncode == 2 and "pg_dump" in backup.stderr
    assert "Traceback" not in backup.stderr + damaged.stderr + unused.stderr


def test_an_unreachable_server_stops_a_command_with_one_line() -> None:
    ran = arxiv_bot("postgresql://bot:hunter22@127.0.0.1:9/arxiv", "search", "cat:cs.LG")
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1 and "cannot be reached" in ran.stderr
    assert "hunter22" not in ran.stderr


# -- waking the other replicas ---------------------------------------------------------------


async def test_queued_work_wakes_the_replicas_of_this_schema_only(url: str) -> None:
    async with await Store.open(url) as one, await Store.open(url) as two:
        with databases.fresh_schema() as elsewhere:
            async with await Store.open(elsewhere) as stranger:
                woken = asyncio.Event()

                async def listen() -> None:
                    async for _ in two.work_notices():
                        woken.set()

                listening = asyncio.create_task(listen())
                try:
                    await asyncio.sleep(0.3)  # LISTEN issued
                    await stranger.notify_work()  # another bot's schema on the server
                    await asyncio.sleep(0.3)
                    assert not woken.is_set()
                    await one.notify_work()
                    await asyncio.wait_for(woken.wait(), timeout=5)
                finally:
                    listening.cancel()
                    await asyncio.gather(listening, return_exceptions=True)


async def test_sqlite_has_no_notices(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "bot.db") as store:
        await store.notify_work()
        assert [notice async for notice in store.work_notices()] == []
