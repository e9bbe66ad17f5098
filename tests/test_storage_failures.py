"""A database that cannot be used: one line, a non-zero exit, and nothing lost once fixed.

Real ``arxiv-bot`` subprocesses against real SQLite files made read-only, damaged,
locked by another process, impossible to reach, or unable to grow (a file size limit in
the child, like a full disk). Children run through ``tests/fakes/unprivileged.py``, so
file permissions bind them even when the tests run as root.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import IO, TypeVar

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.errors import StorageError
from bot.models import ChannelRef
from bot.store import Store
from tests.conftest import settings_env
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.oai import FakeOai
from tests.fakes.oai_corpus import harvested

T = TypeVar("T")

UNPRIVILEGED = Path(__file__).parent / "fakes" / "unprivileged.py"
SLACK = ChannelRef(platform="slack", workspace="T1", channel="C1", name="imaging")
BUSY_TIMEOUT = "0.5"
"""DATABASE_BUSY_TIMEOUT in the children: short, so the locked case is quick."""


# -- helpers ----------------------------------------------------------------------------


def arxiv_bot(
    *args: str,
    settings: Settings,
    stdin: str = "",
    env: dict[str, str] | None = None,
    file_size_limit: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``arxiv-bot ARGS`` as a subprocess bound by file permissions (and a size limit)."""
    return subprocess.run(
        arxiv_bot_command(*args, file_size_limit=file_size_limit),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(settings, env),
        check=False,
    )


def arxiv_bot_command(*args: str, file_size_limit: int | None = None) -> list[str]:
    limit = ["--file-size-limit", str(file_size_limit)] if file_size_limit is not None else []
    return [sys.executable, str(UNPRIVILEGED), *limit, sys.executable, "-m", "bot", *args]


def child_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Log only errors, so that what a failure prints is all there is on standard error."""
    env = settings_env(settings)
    env.update(LOG_LEVEL="ERROR", DATABASE_BUSY_TIMEOUT=BUSY_TIMEOUT)
    return {**env, **(extra or {})}


def concurrently(*calls: Callable[[], T]) -> list[T]:
    """Run independent subprocesses at once: each spends most of its time importing."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def one_line_failure(result: subprocess.CompletedProcess[str], *words: str, code: int = 1) -> str:
    """The single ``Error: ...`` line the failure printed, checked for ``words``."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def succeeds(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@dataclass(frozen=True)
class Contents:
    """What the database holds that a failure must not lose."""

    subscriptions: list[tuple[str, str]]
    deliveries: list[tuple[str, str]]
    papers: set[str]
    watermark: str | None = field(compare=False)


def contents(database: Path) -> Contents:
    """Read with plain sqlite3, as another program would."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        watermark = conn.execute("SELECT value FROM state WHERE key = 'harvest.watermark'")
        return Contents(
            subscriptions=conn.execute(
                "SELECT c.channel, s.query FROM subscriptions s "
                "JOIN channels c ON c.id = s.channel_id ORDER BY s.id"
            ).fetchall(),
            deliveries=conn.execute(
                "SELECT arxiv_id, status FROM deliveries ORDER BY arxiv_id"
            ).fetchall(),
            papers={row[0] for row in conn.execute("SELECT arxiv_id FROM papers")},
            watermark=next(iter(watermark), (None,))[0],
        )


async def seed(settings: Settings, fake_oai: FakeOai) -> Contents:
    """A Slack subscription, a harvest, and its deliveries queued (Slack is not running,
    so they stay queued through every ``run --once`` here)."""
    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.10231"))
    async with BotApp(settings) as app:
        channel = await app.store.ensure_channel(SLACK)
        await app.store.add_subscription(channel, "cat:eess.IV", limit=25)
        await app.run_cycle()
    seeded = contents(settings.database_path)
    assert seeded.subscriptions == [("C1", "cat:eess.IV")]
    assert [status for _, status in seeded.deliveries] == ["queued", "queued"]
    return seeded


def make_writable(directory: Path) -> None:
    directory.chmod(0o755)
    for child in directory.iterdir():
        child.chmod(0o755 if child.is_dir() else 0o644)


@pytest.fixture
def store_settings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The settings, with the database in a directory of its own (made read-only)."""
    data = tmp_path / "data"
    data.mkdir()
    yield settings.model_copy(update={"database_url": f"sqlite:///{data / 'bot.db'}"})
    make_writable(data)


# -- at start ---------------------------------------------------------------------------


async def test_read_only_file_stops_every_command(
    store_settings: Settings, fake_oai: FakeOai
) -> None:
    seeded = await seed(store_settings, fake_oai)
    database = store_settings.database_path
    database.chmod(0o444)
    run = partial(arxiv_bot, settings=store_settings)

    results = concurrently(
        partial(run, "run", "--once"),
        partial(run, "run", "--channel", "lab", stdin="/arxiv list\n"),
        partial(run, "search", "mri"),
        partial(run, "paper", "2506.11674"),
    )
    for result in results:
        one_line_failure(
            result,
            f"The database {database} is read-only: arxiv-bot needs to write to it",
            "Fix the permissions, or point DATABASE_URL at a writable file.",
        )

    database.chmod(0o644)  # SQLite made the -shm file beside it read-only too
    one_line_failure(run("run", "--once"), f"is read-only ({database}-shm is not writable)")
    make_writable(database.parent)
    succeeds(run("run", "--once"))
    assert contents(database) == seeded


async def test_read_only_directory(store_settings: Settings, fake_oai: FakeOai) -> None:
    seeded = await seed(store_settings, fake_oai)
    directory = store_settings.database_path.parent
    directory.chmod(0o555)

    one_line_failure(
        arxiv_bot("run", "--once", settings=store_settings),
        f"is read-only ({directory} is not writable)",
        "-wal and -shm files",
    )

    directory.chmod(0o755)
    succeeds(arxiv_bot("run", "--once", settings=store_settings))
    assert contents(store_settings.database_path) == seeded


async def test_damaged_file_is_restored_from_a_backup(
    store_settings: Settings, fake_oai: FakeOai
) -> None:
    seeded = await seed(store_settings, fake_oai)
    database = store_settings.database_path
    backup = database.with_name("backup.db")
    truncated = database.with_name("truncated.db")
    shutil.copy2(database, backup)
    shutil.copy2(database, truncated)
    with truncated.open("r+b") as file:
        file.truncate(truncated.stat().st_size // 2)
    database.write_bytes(bytes(range(256)) * 400)

    for result, path in zip(
        concurrently(
            partial(arxiv_bot, "run", "--once", settings=store_settings),
            partial(arxiv_bot, "search", "mri", settings=store_settings, env=_at(truncated)),
        ),
        (database, truncated),
        strict=True,
    ):
        one_line_failure(
            result,
            f"The database {path} is not an SQLite database or is damaged",
            "restore it from a backup (see docs/storage.md) or move it aside",
        )

    shutil.copy2(backup, database)
    succeeds(arxiv_bot("run", "--once", settings=store_settings))
    assert contents(database) == seeded


async def test_database_locked_by_another_program(
    store_settings: Settings, fake_oai: FakeOai
) -> None:
    seeded = await seed(store_settings, fake_oai)
    other = sqlite3.connect(store_settings.database_path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        one_line_failure(
            arxiv_bot("run", "--once", settings=store_settings),
            f"The database {store_settings.database_path} is locked by another program "
            "for more than 0.5 s",
            "DATABASE_BUSY_TIMEOUT",
        )
    finally:
        other.rollback()
        other.close()

    succeeds(arxiv_bot("run", "--once", settings=store_settings))
    assert contents(store_settings.database_path) == seeded


def test_impossible_paths(store_settings: Settings) -> None:
    base = store_settings.database_path.parent
    (base / "a-file").write_text("not a directory\n")
    (base / "a-directory").mkdir()
    (base / "closed").mkdir(mode=0o555)
    cases = {
        base / "a-file" / "bot.db": f"{base / 'a-file'} is a file, not a directory",
        base / "closed" / "new" / "bot.db": "arxiv-bot may not write in the directory "
        + str(base / "closed"),
        base / "a-directory": "it is a directory",
    }

    *opened, bad_scheme = concurrently(
        *(
            partial(arxiv_bot, "search", "mri", settings=store_settings, env=_at(path))
            for path in cases
        ),
        partial(
            arxiv_bot,
            "run",
            "--once",
            settings=store_settings,
            env={"DATABASE_URL": "mysql://db/bot"},
        ),
    )

    for result, (path, reason) in zip(opened, cases.items(), strict=True):
        one_line_failure(result, f"The database {path} cannot be opened: {reason}.")
    one_line_failure(bad_scheme, "invalid setting DATABASE_URL: use sqlite:///", code=2)
    assert not (base / "closed" / "new").exists()


def _at(database: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{database}"}


# -- while running ----------------------------------------------------------------------

FILE_SIZE_LIMIT = 256 * 1024
"""Like a full disk for the child: its files may not grow past this (EFBIG)."""


async def test_database_that_cannot_grow_mid_harvest_loses_nothing(
    store_settings: Settings, fake_oai: FakeOai
) -> None:
    seeded = await seed(store_settings, fake_oai)
    database = store_settings.database_path
    assert database.stat().st_size < FILE_SIZE_LIMIT  # it opens; the harvest fills it
    fake_oai.announce(
        *(
            make_paper(
                f"2611.{n:05d}",
                title=f"Imaging study {n}",
                abstract="A long abstract about medical imaging. " * 40,
                categories=("eess.IV",),
            )
            for n in range(300)
        )
    )

    one_line_failure(
        arxiv_bot("run", "--once", settings=store_settings, file_size_limit=FILE_SIZE_LIMIT),
        f"Writing the database {database} failed",
        f"arxiv-bot may write files of at most {FILE_SIZE_LIMIT} bytes (ulimit -f)",
        "nothing was lost, the last change was rolled back.",
    )
    failed = contents(database)
    assert failed.subscriptions == seeded.subscriptions
    assert failed.deliveries == seeded.deliveries
    assert seeded.papers <= failed.papers  # whole pages stored before the limit, or none
    assert len(failed.papers) < len(seeded.papers) + 300
    assert failed.watermark == seeded.watermark  # so the next harvest does it again
    with contextlib.closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    succeeds(arxiv_bot("run", "--once", settings=store_settings))
    fixed = contents(database)
    assert fixed.subscriptions == seeded.subscriptions
    assert set(seeded.deliveries) <= set(fixed.deliveries)
    assert len(fixed.papers) == len(seeded.papers) + 300
    assert len(fixed.deliveries) == len(seeded.deliveries) + 300


async def test_full_disk_rolls_the_write_back_and_loses_nothing(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    records = [harvested(make_paper(f"2611.{n:05d}"), date.today()) for n in range(50)]
    async with await Store.open(database) as store:
        channel = await store.ensure_channel(SLACK)
        await store.add_subscription(channel, "cat:eess.IV", limit=25)
        page_count = await store.fetchone("PRAGMA page_count")
        assert page_count is not None
        await store.fetchall(f"PRAGMA max_page_count = {page_count[0]}")  # SQLITE_FULL ahead

        with pytest.raises(StorageError) as caught:
            await store.upsert_harvested(records)
        assert str(caught.value) == (
            f"The disk holding {database} is full: free some space; "
            "nothing was lost, the last change was rolled back."
        )
        assert (await store.counts()).papers == 0  # not one record of the page

        await store.fetchall("PRAGMA max_page_count = 1000000")  # space freed
        await store.upsert_harvested(records)
        counts = await store.counts()
        assert (counts.papers, counts.subscriptions) == (50, 1)


async def test_a_stop_ends_the_wait_for_a_lock_at_once(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    async with await Store.open(database, busy_timeout=30) as store:
        other = sqlite3.connect(database, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            write = asyncio.create_task(store.set_state("key", "value"))
            await asyncio.sleep(0.3)
            assert not write.done()  # waiting for up to 30 s
            stopping = time.monotonic()
            store.stop_waiting()
            with pytest.raises(StorageError, match="locked by another program for more than 30 s"):
                await write
            assert time.monotonic() - stopping < 1
        finally:
            other.rollback()
            other.close()
        assert await store.get_state("key") is None


# -- stopping ---------------------------------------------------------------------------


async def test_sigterm_stops_the_bot_while_the_database_is_locked(
    store_settings: Settings, fake_oai: FakeOai
) -> None:
    seeded = await seed(store_settings, fake_oai)
    bot = subprocess.Popen(  # noqa: ASYNC220 - the test drives it step by step
        arxiv_bot_command("run", "--channel", "lab"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(store_settings, {"DATABASE_BUSY_TIMEOUT": "60"}),
    )
    other = sqlite3.connect(store_settings.database_path, isolation_level=None)
    try:
        assert bot.stdin is not None and bot.stdout is not None
        output = _lines(bot.stdout)
        bot.stdin.write("/arxiv list\n")
        bot.stdin.flush()
        while "This channel has no subscriptions yet." not in output.get(timeout=30):
            pass  # until the bot runs, its signal handlers installed
        other.execute("BEGIN EXCLUSIVE")
        bot.stdin.write("/arxiv subscribe cat:cs.LG\n")
        bot.stdin.flush()
        time.sleep(0.5)  # noqa: ASYNC251 - the command now waits for the lock (up to 60 s)
        assert bot.poll() is None
        stopping = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        stopped = bot.wait(timeout=10)
        assert time.monotonic() - stopping < 10
    finally:
        bot.kill()
        _, stderr = bot.communicate()
        other.rollback()
        other.close()
    assert stopped == 0, stderr  # a clean stop
    assert "Traceback" not in stderr
    assert contents(store_settings.database_path) == seeded  # the subscribe never happened


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The lines ``stream`` yields, as they come (from a reader thread)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines
