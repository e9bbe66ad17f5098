"""One arXiv rhythm per database: the lock file beside it, shared by every process.

Two real processes against the fake arXiv for the spacing and the one-connection rule;
a process holding the lock; and the file's reading, on injected times.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.errors import ArxivUnavailableError
from bot.sources.gate import ArxivGate
from bot.sources.rhythm import Mark, SharedRhythm, rhythm_path
from tests.conftest import settings_env
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.clock import ManualTime

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

UA = "arxiv-bot-tests/0 (+https://pypi.org/project/arxiv-bot/)"
INTERVAL = 1.0


def shared_gate(
    path: Path,
    clock: ManualTime | None = None,
    *,
    interval: float = 0,
    timeout: float = 5,
    max_attempts: int = 4,
) -> ArxivGate:
    """A gate sharing ``path``, on the real clock or on ``clock`` (sleeps recorded)."""
    if clock is None:
        return ArxivGate(
            interval=interval,
            timeout=timeout,
            user_agent=UA,
            max_attempts=max_attempts,
            shared_rhythm_path=path,
        )
    return ArxivGate(
        interval=interval,
        timeout=timeout,
        user_agent=UA,
        max_attempts=max_attempts,
        shared_rhythm_path=path,
        clock=clock,
        sleep=clock.sleep,
    )


# -- two processes, one database --------------------------------------------------------

_SEARCHES = """
import asyncio, sys
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import load_settings
from bot.models import ChannelRef

async def main():
    async with BotApp(load_settings()) as app:
        print("ready", flush=True)
        sys.stdin.readline()
        here = CommandContext(ChannelRef("console", "local", "lab", "lab"))
        for query in sys.argv[1:]:
            print((await app.execute("/arxiv search " + query, here)).title, flush=True)

asyncio.run(main())
"""


def test_two_processes_on_one_database_keep_one_rhythm(
    settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    spacing = searches_from_two_processes(settings, fake_arxiv)
    print(f"4 requests from 2 processes; minimum spacing {spacing:.3f} s")


def searches_from_two_processes(settings: Settings, fake_arxiv: FakeArxiv) -> float:
    """Two processes on ``settings``' database searching at once, two searches each:
    checks one rhythm held between them and returns the smallest spacing seen."""
    shared = settings.model_copy(
        update={"arxiv_request_interval": INTERVAL, "search_cache_seconds": 0}
    )
    asyncio.run(_open_once(shared))  # the database exists before the processes start
    queries = [["ti:segmentation", "abs:diffusion"], ["cat:cs.CL", "all:language"]]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SEARCHES, *words],
            env=settings_env(shared),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for words in queries
    ]
    try:
        for process in processes:  # both started, then both let go at once
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=30) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert " match " in out, out

    arrivals = sorted(request.started for request in fake_arxiv.requests)
    spacing = min(later - earlier for earlier, later in itertools.pairwise(arrivals))
    assert len(arrivals) == 4
    assert spacing >= 0.95 * INTERVAL, f"minimum spacing {spacing:.3f} s"
    assert fake_arxiv.max_concurrent == 1
    return spacing


async def _open_once(settings: Settings) -> None:
    async with BotApp(settings):
        pass


def test_the_app_keeps_its_rhythm_beside_the_database(settings: Settings) -> None:
    app = BotApp(settings)
    assert app.gate.shared_rhythm_path == settings.database_path.with_name("bot.db.arxiv-gate")
    assert rhythm_path(Path(":memory:")) is None


# -- another process holding the gate ---------------------------------------------------

_HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock file until a line is written to it."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path / "bot.db.arxiv-gate")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    yield process
    process.kill()
    process.wait()


def test_a_request_waits_for_another_process_at_the_gate(
    tmp_path: Path, fake_arxiv: FakeArxiv, holder: subprocess.Popen[str]
) -> None:
    gate = shared_gate(tmp_path / "bot.db.arxiv-gate", interval=0, timeout=5)
    session = gate.session()
    started = time.monotonic()
    with gate.deadline(0.3), pytest.raises(ArxivUnavailableError, match=r"within 0\.3 seconds"):
        session.get(fake_arxiv.url)
    assert time.monotonic() - started < 0.8
    assert fake_arxiv.request_count == 0, "nothing sent while another process is at the gate"

    waiting = threading.Thread(target=lambda: session.get(fake_arxiv.url))
    waiting.start()
    time.sleep(0.2)
    assert fake_arxiv.request_count == 0
    assert holder.stdin is not None
    released = time.monotonic()
    holder.stdin.write("done\n")
    holder.stdin.flush()
    waiting.join(timeout=5)
    assert [r.status for r in fake_arxiv.requests] == [200]
    assert fake_arxiv.requests[0].started >= released


# -- one process, two gates on one file (injected monotonic clocks) ---------------------


def test_spacing_is_shared_through_the_file(tmp_path: Path, fake_arxiv: FakeArxiv) -> None:
    path = tmp_path / "bot.db.arxiv-gate"
    first, second = ManualTime(), ManualTime()
    shared_gate(path, first, interval=3, timeout=5).session().get(fake_arxiv.url)
    shared_gate(path, second, interval=3, timeout=5).session().get(fake_arxiv.url)
    assert first.sleeps == []
    (wait,) = second.sleeps  # the rest of the 3 s since the first gate's request started
    assert 2.5 < wait <= 3.0
    assert fake_arxiv.request_count == 2


def test_a_backoff_is_shared_through_the_file(tmp_path: Path, fake_arxiv: FakeArxiv) -> None:
    path = tmp_path / "bot.db.arxiv-gate"
    fake_arxiv.fail_next(429, retry_after="30")
    with pytest.raises(ArxivUnavailableError):
        shared_gate(path, ManualTime(), interval=0, timeout=5, max_attempts=1).session().get(
            fake_arxiv.url
        )
    other = shared_gate(path, ManualTime(), interval=0, timeout=5)
    with other.deadline(15), pytest.raises(ArxivUnavailableError, match="rate-limiting"):
        other.session().get(fake_arxiv.url)
    assert fake_arxiv.request_count == 1, "the other gate did not ask arXiv again"


# -- reading the file --------------------------------------------------------------------


def test_a_mark_waits_for_the_larger_interval_and_the_backoff() -> None:
    mark = Mark(started=100.0, interval=3.0, blocked_until=0.0)
    assert mark.waits(101.0, 1.0) == (2.0, 0.0)
    assert mark.waits(101.0, 5.0) == (4.0, 0.0)
    assert mark.waits(200.0, 3.0) == (0.0, 0.0)
    assert Mark(100.0, 3.0, 160.0).waits(110.0, 3.0) == (0.0, 50.0)


def test_a_clock_set_back_never_makes_a_longer_wait() -> None:
    mark = Mark(started=1000.0, interval=3.0, blocked_until=1010.0)
    assert mark.waits(400.0, 3.0) == (3.0, 10.0)  # as if no time had passed


def test_the_file_round_trips_and_unreadable_content_means_no_wait(tmp_path: Path) -> None:
    now = [5000.0]
    rhythm = SharedRhythm(tmp_path / "gate", now=lambda: now[0])
    assert rhythm.try_lock()
    assert rhythm.waits(3.0) == (0.0, 0.0)
    rhythm.started(3.0)
    rhythm.block(20.0)
    now[0] += 1.0
    assert rhythm.waits(3.0) == (2.0, 19.0)
    rhythm.unlock()
    assert Mark.from_text(" 5000.0 3.0 5020.0\n") == Mark(5000.0, 3.0, 5020.0)
    assert Mark.from_text("") is None
    assert Mark.from_text("garbage") is None
    assert Mark.from_text("1 2") is None


def test_an_unusable_lock_file_leaves_spacing_in_process(
    tmp_path: Path, fake_arxiv: FakeArxiv, caplog: pytest.LogCaptureFixture
) -> None:
    gate = shared_gate(tmp_path / "missing-dir" / "bot.db.arxiv-gate", interval=0, timeout=5)
    assert gate.session().get(fake_arxiv.url).status_code == 200
    assert "cannot use" in caplog.text
