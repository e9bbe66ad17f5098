"""Twenty kill -9s of a real ``arxiv-bot run --once`` while it posts to the Slack and
Discord fakes (see tests/fakes/crash.py): every (channel, paper) shown exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fakes.crash import crash_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


async def test_twenty_kills_lose_repeat_and_hide_nothing(tmp_path: Path) -> None:
    figures = await crash_run(tmp_path, kills=20, seed=7)
    print(figures)  # shown with pytest -s; bench/crash.py prints the same figures
    assert figures.kills == 20
    assert figures.mid_delivery == 20, f"every kill lands while posting: {figures}"
    assert figures.pairs > 1000 and figures.messages > 200, figures
    assert (figures.lost, figures.repeated, figures.hidden) == (0, 0, 0), str(figures)
