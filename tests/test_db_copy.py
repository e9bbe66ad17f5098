"""``arxiv-bot db copy``: a bot's data moved between SQLite and PostgreSQL, on real
SQLite files and the real PostgreSQL server (``TEST_DATABASE_URL``), through the real
command line; and a copy killed with SIGKILL halfway, which leaves the target empty."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from click.testing import CliRunner, Result
from psycopg.rows import dict_row
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore

from bot import cli as cli_module
from bot.cli import cli
from bot.errors import StorageError
from bot.models import ChannelRef
from bot.store import Store
from bot.store import copy as copy_module
from bot.store.copy import INDEX_KEYS, LEFT_OUT, TABLES
from bot.store.deliveries import DeliveryQueue
from tests.conftest import SETTING_NAMES
from tests.databases import fresh_schema, rows
from tests.fakes.clock import SettableClock
from tests.local_index import found
from tests.test_delivery import IMAGING, NLP, START, Bed, RecordingSender, paper

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ChannelRef("teams", "T", "lab", "lab")
"""A channel on a platform that is not running: its paper stays queued, on both sides."""
CLIENT_ID = "111.222"
EXPIRES = 1_900_000_000
PAPERS = 20


# -- the bot to move ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the source holds that the checks compare with."""

    pending: int
    outbox_pending: int
    posted: int


async def seed(target: str | Path) -> Seeded:
    """A bot that ran: channels, subscriptions with gaps (the highest one removed),
    harvested papers delivered, one waiting for a platform that is not running,
    feedback, coverage, the harvest watermark."""
    clock = SettableClock(START)
    sender = RecordingSender()
    async with await Store.open(target, clock=clock) as store:
        bed = Bed(store, clock, sender, {"slack": sender, "discord": sender})
        await bed.subscribe(IMAGING, "cat:eess.IV", "ti:gone")  # 1, 2
        await bed.subscribe(NLP, "cat:cs.CL")  # 3
        await bed.subscribe(OFFLINE, "ti:unsent")  # 4
        [last] = await bed.subscribe(NLP, "ti:removed")  # 5
        await store.remove_subscription(bed.channels[IMAGING], 2)
        await store.remove_subscription(bed.channels[NLP], last.id)
        papers = [
            paper(f"2506.{50001 + n}", "eess.IV" if n % 2 else "cs.CL", title=f"Segmentation {n}")
            for n in range(PAPERS)
        ]
        await bed.harvest([*papers, paper("2506.60000", "cs.LG", title="Unsent results")])
        await bed.cycle(bed.dispatcher())
        for user, signal_ in (("U1", 1), ("U2", -1)):
            await store.add_feedback(
                bed.channels[IMAGING],
                "2506.50002",
                user=user,
                source="reaction",
                emoji="+1" if signal_ > 0 else "-1",
                signal=signal_,
            )
        await store.add_coverage([None, "cs"], date(2025, 6, 1), date(2025, 6, 14))
        await store.set_state("harvest.watermark", "2025-06-14")
        backlog = await store.backlog()
        seeded = Seeded(
            pending=await DeliveryQueue(store).pending_count(),
            outbox_pending=backlog.outbox_pending,
            posted=len(sender.sent),
        )
    assert seeded.posted == PAPERS and seeded.pending == 1
    _install_slack(target)
    return seeded


def _installation() -> Installation:
    return Installation(
        app_id="A1",
        enterprise_id=None,
        team_id="T1",
        team_name="Lab",
        bot_token="xoxb-1",
        bot_id="B1",
        bot_user_id="UB1",
        bot_scopes=["chat:write"],
        bot_refresh_token="xoxe-1",
        bot_token_expires_at=EXPIRES,
        user_id="U1",
        installed_at=1_750_000_000.0,
    )


@contextlib.contextmanager
def slack_store(
    target: str | Path,
) -> Iterator[SQLite3InstallationStore | SQLAlchemyInstallationStore]:
    """slack_sdk's own store of installs in ``target``, as the Slack adapter uses it."""
    if isinstance(target, Path):
        yield SQLite3InstallationStore(database=str(target), client_id=CLIENT_ID)
        return
    engine = sqlalchemy.create_engine(target.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        yield SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=engine)
    finally:
        engine.dispose()


def _install_slack(target: str | Path) -> None:
    with slack_store(target) as store:
        store.save(_installation())


# -- running the command -----------------------------------------------------------------


def url(target: str | Path) -> str:
    return target if isinstance(target, str) else f"sqlite:///{target}"


def copy(source: str | Path, target: str | Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["db", "copy", url(source), url(target), *args])


def table_rows(target: str | Path, table: str, key: tuple[str, ...]) -> list[dict[str, Any]]:
    order = ", ".join(f'"{column}"' for column in key)
    sql = f"SELECT * FROM {table} ORDER BY {order}"
    if isinstance(target, Path):
        with contextlib.closing(sqlite3.connect(target)) as conn:
            conn.row_factory = sqlite3.Row
            found = [dict(row) for row in conn.execute(sql)]
    else:
        with psycopg.connect(target, row_factory=dict_row) as conn:
            found = list(conn.execute(sql.encode()).fetchall())
    if table == "state":
        found = [row for row in found if row["key"] not in INDEX_KEYS]
    return sorted(found, key=lambda row: tuple(str(row[column]) for column in key))


def check_copied(source: str | Path, target: str | Path, seeded: Seeded) -> None:
    """The target holds what the source does, row for row, and acts like it."""
    for table in TABLES:
        count = f"SELECT count(*) FROM {table.name}"
        if table.name != "state":  # its index keys: each database's own
            assert rows(target, count) == rows(source, count), table.name
        if not table.name.startswith("slack_"):  # their types differ: see check_slack
            assert table_rows(target, table.name, table.key) == table_rows(
                source, table.name, table.key
            ), table.name
    check_slack(source, target)
    asyncio.run(check_target(target, seeded))


def check_slack(source: str | Path, target: str | Path) -> None:
    """The other database's slack_sdk store finds the install, times and all."""
    with slack_store(source) as old, slack_store(target) as new:
        for store in (old, new):
            bot = store.find_bot(enterprise_id=None, team_id="T1")
            assert bot is not None
            assert (bot.bot_token, bot.bot_token_expires_at) == ("xoxb-1", EXPIRES)
            assert not bot.is_enterprise_install
        before = old.find_installation(enterprise_id=None, team_id="T1")
        after = new.find_installation(enterprise_id=None, team_id="T1")
        assert before is not None and after is not None
        assert (after.bot_token, after.user_id, after.team_name) == ("xoxb-1", "U1", "Lab")
        assert abs(after.installed_at - before.installed_at) < 1


async def check_target(target: str | Path, seeded: Seeded) -> None:
    clock = SettableClock(START + timedelta(hours=1))
    sender = RecordingSender()
    async with await Store.open(target, clock=clock) as store:
        assert await store.get_state("harvest.watermark") == "2025-06-14"
        # The search index was built by the copy, on the target's own terms.
        assert await store.indexed_papers() == PAPERS + 1
        assert len(await found(store, "ti:segmentation")) == PAPERS
        assert await found(store, "ti:unsent") == ["2506.60000"]
        # Nothing is matched, queued or posted again.
        bed = Bed(store, clock, sender, {"slack": sender, "discord": sender})
        for ref in (IMAGING, NLP, OFFLINE):
            channel = await store.find_channel(ref)
            assert channel is not None
            bed.channels[ref] = channel
        matched = await bed.match()
        assert (matched.papers, matched.queued) == (0, 0)
        await bed.dispatcher().deliver_due()
        assert sender.sent == []
        assert await DeliveryQueue(store).pending_count() == seeded.pending
        assert (await store.backlog()).outbox_pending == seeded.outbox_pending
        # Same subscription numbers; a new one gets a number never handed out before.
        assert [s.id for s in await store.all_subscriptions()] == [1, 3, 4]
        fresh = await store.add_subscription(bed.channels[IMAGING], "ti:fresh")
        assert fresh.id == 6
        assert await store.ensure_channel(ChannelRef("slack", "T1", "C-new", "new")) == 4


# -- both directions ---------------------------------------------------------------------


def test_sqlite_to_postgresql_copies_everything_and_posts_nothing_again(tmp_path: Path) -> None:
    source = tmp_path / "bot.db"
    seeded = asyncio.run(seed(source))
    with fresh_schema() as target:
        result = copy(source, target, "--batch", "3")  # many batches: keys read in order

        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].startswith(f"Copied sqlite:///{source} to postgresql://")
        assert any(line.split() == ["papers", str(PAPERS + 1)] for line in lines)
        assert any(line.split() == ["subscriptions", "3"] for line in lines)
        assert f"Search index built: {PAPERS + 1} papers in " in result.stdout
        assert lines[-1].startswith("Next: set DATABASE_URL to TARGET (postgresql://")
        assert "Building the search index of 21 papers" in result.stderr
        check_copied(source, target, seeded)


def test_postgresql_to_sqlite_moves_back(tmp_path: Path) -> None:
    target = tmp_path / "back.db"
    with fresh_schema() as source:
        seeded = asyncio.run(seed(source))
        result = copy(source, target)

        assert result.exit_code == 0, result.output
        check_copied(source, target, seeded)


def test_sqlite_to_sqlite_keeps_removed_numbers_unused_and_shows_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "bot.db", tmp_path / "copy.db"
    seeded = asyncio.run(seed(source))
    monkeypatch.setattr(copy_module, "PROGRESS_SECONDS", 0.0)

    result = copy(source, target, "--batch", "2")

    assert result.exit_code == 0, result.output
    assert "Copying papers: 2 of 21 rows" in result.stderr.splitlines()
    check_copied(source, target, seeded)


def test_a_failed_index_build_says_the_copy_is_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "bot.db", tmp_path / "copy.db"
    seeded = asyncio.run(seed(source))

    async def unreachable(target: str, *, busy_timeout: float) -> int:
        raise StorageError("The database X cannot be reached (gone)")

    monkeypatch.setattr(cli_module, "build_index", unreachable)
    result = copy(source, target)

    assert result.exit_code == 1
    assert result.stdout.startswith("Copied ")
    assert result.stderr.strip() == (
        "Error: The copy is complete, but its search index was not built (The database X "
        "cannot be reached (gone)): the bot builds it when it starts."
    )
    check_copied(source, target, seeded)  # opening it built the index


def test_every_table_is_copied_or_left_out_on_purpose() -> None:
    """A table a later migration adds must be put in one list or the other."""
    with fresh_schema() as server:
        asyncio.run(_migrate(server))
        tables = {
            str(row[0])
            for row in rows(
                server,
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()",
            )
        }
    copied = {table.name for table in TABLES}
    assert copied <= tables
    assert tables - copied <= set(LEFT_OUT), "add it to TABLES or LEFT_OUT in bot/store/copy.py"


# -- refusals ----------------------------------------------------------------------------


def test_a_target_holding_data_is_refused_and_left_alone(tmp_path: Path) -> None:
    source, target = tmp_path / "bot.db", tmp_path / "other.db"
    asyncio.run(seed(source))
    asyncio.run(seed(target))
    before = rows(target, "SELECT count(*) FROM papers")

    result = copy(source, target)

    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message
    assert "already holds data (channels: 3, subscriptions: 3, papers: 21" in message
    assert "never merges" in message and "empty database or schema" in message
    assert rows(target, "SELECT count(*) FROM papers") == before


def test_a_postgresql_target_holding_data_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bot.db"
    asyncio.run(seed(source))
    with fresh_schema() as target:
        assert copy(source, target).exit_code == 0

        again = copy(source, target)

        assert again.exit_code == 2
        assert "already holds data" in again.stderr
        assert rows(target, "SELECT count(*) FROM subscriptions") == [(3,)]


def test_the_same_database_twice_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bot.db"
    asyncio.run(seed(source))
    result = CliRunner().invoke(
        cli, ["db", "copy", "sqlite:///bot.db", f"sqlite:///{source}"]
    )  # the tests run in tmp_path: one file, spelled twice
    assert result.exit_code == 2
    assert "SOURCE and TARGET are the same database" in result.stderr


def test_an_empty_source_is_refused(tmp_path: Path) -> None:
    asyncio.run(_migrate(tmp_path / "empty.db"))  # opened once, never used
    result = copy(tmp_path / "empty.db", tmp_path / "copy.db")

    assert result.exit_code == 2
    assert "holds no channels and no papers" in result.stderr
    assert rows(tmp_path / "copy.db", "SELECT count(*) FROM state") != [(0,)]  # untouched


def test_a_missing_source_file_is_refused_not_created(tmp_path: Path) -> None:
    result = copy(tmp_path / "typo.db", tmp_path / "copy.db")

    assert result.exit_code == 2
    assert f"SOURCE {tmp_path / 'typo.db'} does not exist" in result.stderr
    assert not (tmp_path / "typo.db").exists()
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("mysql://db/bot", "sqlite:///copy.db", "SOURCE 'mysql://db/bot' is not a database URL"),
        ("sqlite:///bot.db", "copy.db", "TARGET 'copy.db' is not a database URL"),
        (
            "sqlite:///bot.db",
            "postgresql://host:5432/",
            "TARGET: the PostgreSQL URL names no database",
        ),
        ("sqlite:///bot.db", "sqlite:///no/such/dir/copy.db", "does not exist: create it"),
    ],
)
def test_bad_urls_are_refused_in_one_line(
    tmp_path: Path, source: str, target: str, message: str
) -> None:
    (tmp_path / "bot.db").touch()
    result = CliRunner().invoke(cli, ["db", "copy", source, target])

    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_server_fails_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "bot.db"
    asyncio.run(seed(source))
    result = copy(source, "postgresql://postgres:secret@127.0.0.1:1/test")

    assert result.exit_code == 1
    assert "cannot be reached" in result.stderr
    assert "secret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_help_explains_the_command() -> None:
    result = CliRunner().invoke(cli, ["db", "copy", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "arxiv-bot db copy sqlite:///arxiv-bot.db postgresql://" in result.output
    assert "Stop the bot first" in text and "leaves TARGET empty" in text
    assert "copy" in CliRunner().invoke(cli, ["db", "--help"]).output


# -- killed halfway ----------------------------------------------------------------------


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    return {**env, "PYTHONPATH": str(ROOT)}


def _waiting_on(server: str, table: str) -> bool:
    """True when some session waits for a lock on ``table`` (in ``server``'s schema)."""
    found = rows(
        server,
        "SELECT count(*) FROM pg_locks WHERE relation = CAST(? AS regclass) AND NOT granted",
        (table,),
    )
    return bool(found[0][0])


@contextlib.contextmanager
def holding(server: str, mode: str) -> Iterator[None]:
    """A lock on ``slack_bots``, the last table copied, held until the block ends: the
    copy stops there, every other table written, its transaction open."""
    with psycopg.connect(server) as conn:
        conn.execute(f"LOCK TABLE slack_bots IN {mode} MODE".encode())
        yield
        conn.rollback()


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
@pytest.mark.parametrize("to_postgres", [True, False], ids=["sqlite-to-pg", "pg-to-sqlite"])
def test_a_copy_killed_halfway_leaves_the_target_empty(tmp_path: Path, to_postgres: bool) -> None:
    with fresh_schema() as server:
        source: str | Path
        target: str | Path
        if to_postgres:
            source, target = tmp_path / "bot.db", server
            asyncio.run(_migrate(server))
            mode = "SHARE"  # the copy may read it, but cannot write it
        else:
            source, target = server, tmp_path / "back.db"
            mode = "ACCESS EXCLUSIVE"  # the copy cannot read it
        seeded = asyncio.run(seed(source))
        with holding(server, mode):
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    "db",
                    "copy",
                    url(source),
                    url(target),
                    "--batch",
                    "4",
                ],
                cwd=tmp_path,
                env=_environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:
                deadline = time.monotonic() + 60
                while not _waiting_on(server, "slack_bots"):
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "the copy never reached slack_bots"
                    time.sleep(0.05)
                process.send_signal(signal.SIGKILL)
            finally:
                process.kill()
                output, errors = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert b"Copied" not in output, errors

        for table in ("channels", "subscriptions", "papers", "deliveries", "outbox"):
            assert rows(target, f"SELECT count(*) FROM {table}") == [(0,)], table

        again = copy(source, target)
        assert again.exit_code == 0, again.output
        check_copied(source, target, seeded)


async def _migrate(target: str | Path) -> None:
    async with await Store.open(target):
        pass
