"""Exit codes: 0 when the work succeeded, 1 when it failed, 2 when the input is wrong.

Real ``arxiv-bot`` subprocesses against the fake arXiv and OAI-PMH servers; the table
is in docs/configuration.md#exit-codes.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from functools import partial

from bot.app import BotApp
from bot.cli import _cycle_failure
from bot.config import Settings
from bot.cycle import CycleReport
from bot.delivery import DeliveryReport
from bot.enqueue import MatchReport
from bot.harvest import HarvestReport
from bot.models import ChannelRef
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai
from tests.test_storage_failures import (
    arxiv_bot,
    arxiv_bot_command,
    child_env,
    concurrently,
    one_line_failure,
)

CLOSED_PORT = "http://127.0.0.1:9/api/query"
"""Nothing listens there: arXiv is unreachable."""


def test_run_once_exits_1_when_the_harvest_failed(settings: Settings, fake_oai: FakeOai) -> None:
    fake_oai.fail_next(503, retry_after="3600")  # longer than the gate waits out

    one_line_failure(
        arxiv_bot("run", "--once", settings=settings),
        "Error: the harvest failed: ",
        "HTTP 503",
        "(will retry from ",
    )


async def subscribe_console(settings: Settings, channel: str, query: str) -> None:
    async with BotApp(settings) as app:
        channel_id = await app.store.ensure_channel(
            ChannelRef("console", "local", channel, channel)
        )
        await app.store.add_subscription(channel_id, query, limit=25)


def test_run_once_exits_1_when_a_post_failed(settings: Settings, fake_oai: FakeOai) -> None:
    asyncio.run(subscribe_console(settings, "lab", "cat:eess.IV"))
    fake_oai.announce(paper_by_id("2506.11674"))

    with open("/dev/full", "w") as full:  # the console's posts cannot be written
        result = subprocess.run(
            arxiv_bot_command("run", "--once", "--channel", "lab"),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=child_env(settings),
            check=False,
        )

    assert result.returncode == 1, result.stderr
    assert "Error: 1 post failed (0 papers given up, the rest are retried)" in result.stderr
    assert "Traceback" not in result.stderr


async def test_what_counts_as_a_failed_cycle(settings: Settings) -> None:
    now = datetime.now(UTC)
    harvest = HarvestReport(now, now, now.date(), None, 0, 0, 0, 1)

    def cycle(delivered: DeliveryReport, harvested: HarvestReport | None = harvest) -> CycleReport:
        return CycleReport(harvested, MatchReport(), delivered)

    async with BotApp(settings) as app:
        failure = partial(_cycle_failure, app)
        assert await failure(cycle(DeliveryReport())) is None  # nothing due
        assert await failure(cycle(DeliveryReport(delivered=3, messages=3))) is None
        assert await failure(cycle(DeliveryReport(skipped=2))) is None  # platform not running
        assert await failure(cycle(DeliveryReport(failed=2, gave_up=1))) == (
            "2 posts failed (1 paper given up, the rest are retried)"
        )
        assert await failure(cycle(DeliveryReport(paused=("#lab",)))) == (
            "posting is paused in #lab"
        )
        assert await failure(None) == "stopped before the cycle finished"
        harvest_failed = await failure(cycle(DeliveryReport(), harvested=None))
        assert harvest_failed is not None
        assert harvest_failed.startswith("the harvest failed: ")


def test_one_shot_exit_codes(settings: Settings) -> None:
    run = partial(arxiv_bot, settings=settings)
    # A malformed query exits 2 too (tests/test_cli.py), a paper found 0.
    bad_paper_id, bad_setting, bad_option, arxiv_down, no_such_paper = concurrently(
        partial(run, "paper", "not-an-id"),
        partial(run, "search", "mri", env={"ARXIV_REQUEST_INTERVAL": "-1"}),
        partial(run, "run", "--no-such-option"),
        partial(run, "search", "mri", env={"ARXIV_API_URL": CLOSED_PORT}),
        partial(run, "paper", "2506.99998"),
    )

    one_line_failure(bad_paper_id, "not-an-id", code=2)
    one_line_failure(bad_setting, "invalid setting ARXIV_REQUEST_INTERVAL", code=2)
    assert bad_option.returncode == 2
    assert "Error: No such option '--no-such-option'" in bad_option.stderr
    one_line_failure(arxiv_down, "could not reach arXiv")
    one_line_failure(no_such_paper, "2506.99998")
