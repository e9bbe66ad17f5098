"""Per-channel schedules under kill -9 and under two processes, with real processes.

Measures, with real ``arxiv-bot run --once`` processes against the local Slack and
Discord fakes (tests/fakes/crash.py; the Discord fake's nonce window is 0, so only
reading back prevents repeats there):

* **kills**: two channels (Slack and Discord) on ``daily 09:00 Europe/Berlin`` hold a
  wave of papers (a first run harvests and queues them; nothing is posted), then their
  post time is set in the past, so the digest is due. Runs are killed with SIGKILL at a
  random moment, then a last run goes to the end; a few rounds of this, a new wave each.
  Per round and channel exactly one digest should be posted, showing every paper.
* **race**: the same held wave, due, then two ``run --once`` processes started at the
  same moment on the one database; then a last run. Exactly one digest per channel.
  (Their start-up times differ enough that one has mostly planned before the other
  looks; ``wake`` is the race at the planning instant.)
* **wake**: the same held wave, its post time a few seconds ahead, and two long-running
  ``arxiv-bot run`` services on the one database: both delivery pumps wake at the post
  time and plan the digest at the same instant (their logs show the loser's "schedule
  or deliveries changed"). Exactly one digest per channel.

Counted per channel and round: **digests** (top-level messages: a digest's head; its
other messages reply in its thread), **lost** (a queued paper shown in no message),
**repeated** (a message posted twice: the same Slack metadata key or the same Discord
text and embeds in one place, plus every paper shown in more than one digest).

Run from the repository root::

    .venv/bin/python -m bench.schedule_kill                    # 20 kills, 5 races of each
    .venv/bin/python -m bench.schedule_kill --kills 40 --races 10 --seed 3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import ChannelRef, DeliveryMode, Paper
from bot.post_schedule import parse_schedule
from bot.store import Store
from bot.store.values import to_text
from tests.fakes.crash import (
    DISCORD_DIGEST,
    RUN_TIMEOUT,
    SLACK_DIGEST,
    _discord_texts,
    _env,
    _papers,
    _run_once,
    _slack_texts,
    _while_posting,
)
from tests.fakes.discord_api import FakeDiscord, running_fake_discord
from tests.fakes.oai import running_fake_oai
from tests.fakes.slack_api import FakeSlack, running_fake_slack

SCHEDULE = "daily 09:00 Europe/Berlin"
CHANNELS = (SLACK_DIGEST, DISCORD_DIGEST)


@dataclass(frozen=True, slots=True)
class ScheduleFigures:
    scenario: str
    rounds: int
    kills: int
    killed_before_plan: int
    """Kills that left the digest unplanned (its post time still passed)."""
    killed_while_sending: int
    """Kills that left a planned digest partly or wholly unsent."""
    pairs: int
    """(channel, paper) pairs queued, to be shown."""
    digests: int
    """Digests posted, over all channels and rounds (expected: channels x rounds)."""
    expected_digests: int
    held_posts: int
    """Messages posted while the papers were held (expected 0)."""
    lost: int
    repeated: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.digests == self.expected_digests and (
            self.lost,
            self.repeated,
            self.held_posts,
        ) == (0, 0, 0)

    def __str__(self) -> str:
        return (
            f"{self.scenario}: {self.rounds} rounds, {self.kills} kills "
            f"({self.killed_before_plan} before planning, {self.killed_while_sending} while "
            f"sending), {self.pairs} (channel, paper) pairs: digests {self.digests} "
            f"(expected {self.expected_digests}), lost {self.lost}, repeated {self.repeated}, "
            f"posted while held {self.held_posts} ({self.seconds:.0f} s)"
        )


class _Bed:
    def __init__(self, database: Path, slack: FakeSlack, discord: FakeDiscord) -> None:
        self.database = database
        self.slack = slack
        self.discord = discord

    def posted(self) -> int:
        return len(self.slack.messages()) + len(self.discord.channel_messages())

    def sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(self.database)) as db, db:
            return list(db.execute(query, params))

    def make_due(self, seconds: float) -> None:
        """Every scheduled channel's post time: ``seconds`` from now (negative: ago)."""
        at = to_text(datetime.now(UTC) + timedelta(seconds=seconds))
        self.sql("UPDATE channels SET next_post_at = ? WHERE schedule IS NOT NULL", (at,))

    def state(self) -> tuple[int, int]:
        """(channels whose post time has passed, open outbox messages)."""
        now = to_text(datetime.now(UTC))
        due = self.sql("SELECT count(*) FROM channels WHERE next_post_at <= ?", (now,))
        open_ = self.sql("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
        return int(str(due[0][0])), int(str(open_[0][0]))

    def count(self, ref: ChannelRef, papers: list[Paper], since: int) -> tuple[int, int, int]:
        """(digests, lost, repeated) for ``papers`` among the channel's messages after the
        first ``since`` ones."""
        if ref.platform == "slack":
            texts, keys = _slack_texts(self.slack, ref.channel)
            head_texts = [
                str(m.text) + str(m.blocks)
                for m in self.slack.messages(ref.channel)[since:]
                if m.thread_ts is None
            ]
        else:
            texts, keys = _discord_texts(self.discord, ref.channel)
            head_texts = [
                str(m.content) + str(m.embeds)
                for m in self.discord.channel_messages(ref.channel)[since:]
            ]
        shown = {p.arxiv_id for p in papers if any(p.abs_url in t for t in texts)}
        repeated = sum(n - 1 for n in keys.values() if n > 1)
        # A paper in two digests' heads: shown twice (a digest's head lists its papers).
        in_heads = Counter(p.arxiv_id for t in head_texts for p in papers if p.abs_url in t)
        repeated += sum(n - 1 for n in in_heads.values() if n > 1)
        return len(head_texts), len(papers) - len(shown), repeated

    def heads(self, ref: ChannelRef) -> int:
        if ref.platform == "slack":
            return len(self.slack.messages(ref.channel))
        return len(self.discord.channel_messages(ref.channel))


async def _subscribe(database: Path) -> None:
    schedule = parse_schedule(SCHEDULE)
    async with await Store.open(database) as store:
        for ref, mode in ((SLACK_DIGEST, DeliveryMode.EACH), (DISCORD_DIGEST, DeliveryMode.DIGEST)):
            channel = await store.ensure_channel(ref)
            await store.add_subscription(channel, "cat:cs.LG")
            await store.set_channel_mode(channel, mode)
            first = schedule.next_post(datetime.now(UTC) + timedelta(days=1))
            await store.set_channel_schedule(channel, schedule.canonical, first)


async def _two_services(env: Mapping[str, str], bed: _Bed, lead: float) -> None:
    """Two long-running ``arxiv-bot run`` services on the one database, started before
    the post time (``lead`` seconds from now): both delivery pumps wake at that time.
    Stopped with SIGTERM once both digests have begun to land and nothing more came
    for 1.5 s."""
    started = asyncio.get_running_loop().time()
    logs = [bed.database.parent / f"service-{n}.log" for n in range(2)]
    services = []
    for log in logs:
        with log.open("ab") as err:
            services.append(
                await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "bot", "run"),
                    env={**env, "HTTP_PORT": "0", "SLACK_PORT": "0", "LOG_LEVEL": "INFO"},
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=err,
                )
            )
    try:
        before = {ref: bed.heads(ref) for ref in CHANNELS}
        clock = asyncio.get_running_loop().time

        def running() -> bool:
            alive = all(service.returncode is None for service in services)
            return alive and clock() - started < RUN_TIMEOUT

        # Until each channel's digest has begun to land (the fakes keep lists, not events).
        while running() and any(bed.heads(ref) == before[ref] for ref in CHANNELS):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        posted, quiet = bed.posted(), 0
        while running() and quiet < 15:  # then 1.5 s with nothing more
            await asyncio.sleep(0.1)
            quiet = quiet + 1 if bed.posted() == posted else 0
            posted = bed.posted()
        for service, log in zip(services, logs, strict=True):
            if service.returncode is not None:
                raise RuntimeError(f"a service stopped early: {log.read_text()[-2000:]}")
            service.send_signal(signal.SIGTERM)
        for service in services:
            await asyncio.wait_for(service.wait(), timeout=RUN_TIMEOUT)
    finally:
        for service in services:
            if service.returncode is None:
                service.kill()
                await service.wait()


def _at_random(
    rng: random.Random, most: float, posted: Callable[[], int]
) -> Callable[[], Awaitable[None]]:
    """A random moment of the run: half the time up to ``most`` seconds after it starts
    (mostly while it starts, harvests and plans), half the time while it posts (up to a
    fifth of ``most`` after its first message lands)."""
    if rng.random() < 0.5:

        async def moment() -> None:
            await asyncio.sleep(rng.uniform(0.0, most))

        return moment
    return _while_posting(posted, rng, most / 5)


async def schedule_run(
    workdir: Path,
    *,
    scenario: str = "kills",
    rounds: int = 5,
    kills: int = 20,
    seed: int = 1,
    wave: int = 40,
    kill_within: float = 1.5,
    post_delay: float = 0.05,
    lead: float = 5.0,
) -> ScheduleFigures:
    """Run ``scenario`` (``kills``, ``race`` or ``wake``) in ``workdir``; see the module
    doc."""
    started = asyncio.get_running_loop().time()
    rng = random.Random(seed)
    papers = _papers("3", wave * rounds, "cs.LG")
    killed = before_plan = while_sending = held = pairs = 0
    digests = lost = repeated = 0
    async with AsyncExitStack() as stack:
        oai = stack.enter_context(running_fake_oai(page_size=100))
        slack = await stack.enter_async_context(running_fake_slack())
        discord = await stack.enter_async_context(running_fake_discord())
        discord.nonce_window = 0.0
        discord.post_delay = post_delay
        discord.set_channel(DISCORD_DIGEST.channel, name=DISCORD_DIGEST.name)
        database = workdir / "schedule.db"
        await _subscribe(database)
        bed = _Bed(database, slack, discord)
        env: Mapping[str, str] = _env(database, oai, slack, discord)
        per_round = max(1, kills // rounds)
        for number in range(rounds):
            batch = papers[number * wave : (number + 1) * wave]
            oai.announce(*batch)
            before = bed.posted()
            await _run_once(env)  # harvest and queue: held, the post time is tomorrow
            held += bed.posted() - before
            since = {ref: bed.heads(ref) for ref in CHANNELS}
            bed.make_due(lead if scenario == "wake" else -60.0)
            if scenario == "race":
                await asyncio.gather(_run_once(env), _run_once(env))
            elif scenario == "wake":
                await _two_services(env, bed, lead)
            else:
                quota = killed + (per_round if number < rounds - 1 else kills - killed)
                for _ in range(4 * (quota - killed)):
                    if killed >= quota:
                        break
                    if await _run_once(env, _at_random(rng, kill_within, bed.posted)):
                        killed += 1
                        due, open_ = bed.state()
                        before_plan += due > 0
                        while_sending += due == 0 and open_ > 0
            await _run_once(env)  # the last run goes to the end
            for ref in CHANNELS:
                counted = bed.count(ref, batch, since[ref])
                digests += counted[0]
                lost += counted[1]
                pairs += len(batch)
        for ref in CHANNELS:  # over the whole channel: messages twice, papers in two heads
            repeated += bed.count(ref, papers, 0)[2]
    seconds = asyncio.get_running_loop().time() - started
    return ScheduleFigures(
        scenario,
        rounds,
        killed,
        before_plan,
        while_sending,
        pairs,
        digests,
        rounds * len(CHANNELS),
        held,
        lost,
        repeated,
        seconds,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--races", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    ok = True
    runs = {
        "kills": {"rounds": options.rounds, "kills": options.kills},
        "race": {"rounds": options.races, "kills": 0},
        "wake": {"rounds": options.races, "kills": 0},
    }
    for scenario, sizes in runs.items():
        with tempfile.TemporaryDirectory() as workdir:
            figures = asyncio.run(
                schedule_run(Path(workdir), scenario=scenario, seed=options.seed, **sizes)
            )
        print(figures)
        ok = ok and figures.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
