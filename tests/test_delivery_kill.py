"""A real SIGKILL in the middle of delivery, then a restart: nothing lost, nothing doubled.

The target process (tests/fakes/kill_target.py) delivers to a file that it fsyncs after
every post, so the file is what "the platform" accepted. The guarantees under test (see
bot/delivery.py): every paper is delivered; where the platform can tell what it already
has (read-back), nothing appears twice; where it cannot, only the one post in flight
when the process died may. The restart reclaims the dead process's claims at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COUNT = 40

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def _command(tmp_path: Path, *, read_back: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.fakes.kill_target",
        str(tmp_path / "bot.db"),
        str(tmp_path / "posted.txt"),
        str(COUNT),
        "--pause",
        "0.05",
        "--lease",
        "600",  # longer than the test: only reclaiming a dead process's claim lets it finish
        *(["--read-back"] if read_back else []),
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.parametrize("read_back", [True, False], ids=["read-back", "no-read-back"])
def test_a_killed_delivery_resumes_and_repeats_at_most_the_post_in_flight(
    tmp_path: Path, read_back: bool
) -> None:
    posted = tmp_path / "posted.txt"
    process = subprocess.Popen(_command(tmp_path, read_back=read_back), cwd=ROOT, env=_env())
    try:
        deadline = time.monotonic() + 30
        while len(_lines(posted)) < 5:
            assert process.poll() is None, "the target exited before it was killed"
            assert time.monotonic() < deadline, "the target never started delivering"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    before = _lines(posted)
    assert 5 <= len(before) < COUNT, "killed in the middle of delivery"

    command = _command(tmp_path, read_back=read_back)
    restarted = subprocess.run(command, cwd=ROOT, env=_env(), timeout=60)
    assert restarted.returncode == 0

    after = [line.split()[1] for line in _lines(posted)]
    before = [line.split()[1] for line in before]
    expected = {f"2506.{n:05d}" for n in range(1, COUNT + 1)}
    assert set(after) == expected, "every paper was delivered"
    repeated = {arxiv_id: n for arxiv_id, n in Counter(after).items() if n > 1}
    if read_back:
        assert repeated == {}, "what landed before the kill was found, not posted again"
    assert len(repeated) <= 1 and all(n == 2 for n in repeated.values()), repeated
    if repeated:
        (arxiv_id,) = repeated
        assert arxiv_id == before[-1], "only the post in flight at the kill is repeated"
    assert after[: len(before)] == before
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM deliveries GROUP BY status"))
    assert statuses == {"delivered": COUNT}
