"""Kill -9 a real ``arxiv-bot run --once`` again and again while it posts to local
Slack and Discord fakes, then let it finish, and count what was lost, repeated or hidden.

Four channels (Slack and Discord, each mode and digest mode) are subscribed in a fresh
database. Before each run the fake OAI-PMH server announces another wave of papers (the
first wave gives the digest channels more than 200 at once). Each run is a real process
(``python -m bot run --once``) killed with SIGKILL at a random moment after its first
message lands (so while it posts), unless it finishes first; a last run goes to the end.
The Discord fake's nonce window is zero, so only reading back protects against repeats
there (stricter than Discord).

What is counted, per (channel, paper):
* **lost**: the paper appears in no message of its channel (or that channel's threads);
* **repeated**: a message posted twice (the same Slack metadata key, or the same Discord
  text and embeds in the same place);
* **hidden**: marked delivered in the database but shown nowhere.

Used by ``tests/test_crash.py`` (which asserts all three are zero) and
``bench/crash.py`` (which prints them).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.discord.render import message_fingerprint
from bot.models import ChannelRef, DeliveryMode, Paper
from bot.store import Store
from tests.fakes.corpus import make_paper
from tests.fakes.discord_api import BOT_TOKEN as DISCORD_TOKEN
from tests.fakes.discord_api import FakeDiscord, running_fake_discord
from tests.fakes.oai import FakeOai, running_fake_oai
from tests.fakes.slack_api import BOT_TOKEN as SLACK_TOKEN
from tests.fakes.slack_api import TEAM_ID, FakeSlack, running_fake_slack

SLACK_EACH = ChannelRef("slack", TEAM_ID, "C0EACH", "slack-each")
SLACK_DIGEST = ChannelRef("slack", TEAM_ID, "C0DIGEST", "slack-digest")
DISCORD_EACH = ChannelRef("discord", "1100000000000000002", "1200000000000000101", "d-each")
RUN_TIMEOUT = 60.0
DISCORD_DIGEST = ChannelRef("discord", "1100000000000000002", "1200000000000000102", "d-dig")


@dataclass(frozen=True, slots=True)
class CrashFigures:
    runs: int
    kills: int
    mid_delivery: int
    """Kills that landed while the run was posting (messages arrived during it)."""
    pairs: int
    """(channel, paper) pairs that should be shown."""
    messages: int
    """Messages the fakes accepted."""
    lost: int
    repeated: int
    hidden: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.kills} kills ({self.mid_delivery} while posting) over {self.runs} runs, "
            f"{self.pairs} (channel, paper) pairs, "
            f"{self.messages} messages: lost {self.lost}, repeated {self.repeated}, "
            f"hidden {self.hidden} ({self.seconds:.0f} s)"
        )


def _upto(sizes: tuple[int, int], waves: int) -> int:
    """How many papers ``waves`` waves announce: ``sizes[0]`` first, ``sizes[1]`` each after."""
    return sizes[0] + sizes[1] * (waves - 1) if waves else 0


def _wave(papers: list[Paper], sizes: tuple[int, int], wave: int) -> list[Paper]:
    """The papers of wave number ``wave`` (from 0)."""
    return papers[_upto(sizes, wave) : _upto(sizes, wave + 1)]


def _papers(prefix: str, count: int, category: str) -> list[Paper]:
    return [
        make_paper(
            f"2507.{prefix}{n:04d}",
            title=f"Paper {prefix}{n:04d} on {category}",
            categories=(category,),
        )
        for n in range(1, count + 1)
    ]


async def _subscribe(database: Path) -> None:
    async with await Store.open(database) as store:
        for ref, query, mode in (
            (SLACK_EACH, "cat:cs.CV", DeliveryMode.EACH),
            (SLACK_DIGEST, "cat:cs.LG", DeliveryMode.DIGEST),
            (DISCORD_EACH, "cat:cs.CV", DeliveryMode.EACH),
            (DISCORD_DIGEST, "cat:cs.LG", DeliveryMode.DIGEST),
        ):
            channel = await store.ensure_channel(ref)
            await store.add_subscription(channel, query)
            await store.set_channel_mode(channel, mode)


def _env(
    database: Path | str, oai: FakeOai, slack: FakeSlack, discord: FakeDiscord
) -> dict[str, str]:
    """The environment of a bot process on the fakes; ``database`` is an SQLite file, or
    a ``DATABASE_URL`` (``postgresql://...``) as it is."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    return {
        **keep,
        "DATABASE_URL": database if isinstance(database, str) else f"sqlite:///{database}",
        "ARXIV_OAI_URL": oai.url,
        "ARXIV_API_URL": "http://127.0.0.1:9/api/query",
        "ARXIV_REQUEST_INTERVAL": "0",
        "ARXIV_TIMEOUT": "5",
        "LOG_LEVEL": "ERROR",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": "crash-test-secret",
        "SLACK_API_URL": slack.api_url,
        "SLACK_POST_INTERVAL": "0.05",
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "DISCORD_API_URL": discord.api_url,
    }


async def _run_once(
    env: Mapping[str, str], kill: Callable[[], Awaitable[None]] | None = None
) -> bool:
    """One ``arxiv-bot run --once``; with ``kill`` (which returns at the moment to kill),
    killed with SIGKILL then unless it finished first. True if it was killed."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "run", "--once"),
        env=dict(env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        if kill is None:
            await asyncio.wait_for(process.wait(), timeout=RUN_TIMEOUT)
            return False
        waiting = asyncio.ensure_future(kill())
        done, _ = await asyncio.wait(
            {waiting, asyncio.ensure_future(process.wait())},
            timeout=RUN_TIMEOUT,
            return_when=asyncio.FIRST_COMPLETED,
        )
        waiting.cancel()
        if waiting not in done or process.returncode is not None:
            return False
        process.send_signal(signal.SIGKILL)
        await process.wait()
        return True
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@dataclass(frozen=True, slots=True)
class Service:
    """A long-running ``arxiv-bot run`` process, its stderr in ``log``."""

    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def tail(self, chars: int = 2000) -> str:
        """The end of its log (for a failure's message)."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


async def start_services(
    env: Mapping[str, str], logs: Iterable[Path], *, hosts: Sequence[str] = ()
) -> list[Service]:
    """One ``arxiv-bot run`` service per log file, all on ``env`` (no health server, Slack's
    HTTP mode on a port of its own), logging at INFO unless ``env`` says otherwise. With
    ``hosts``, each runs under its own host name (a UTS namespace: ``unshare --uts``, which
    needs root), as if on a machine of its own."""
    services = []
    for number, log in enumerate(logs):
        command: list[str] = [sys.executable, "-m", "bot", "run"]
        if hosts:  # unshare and sh exec the bot: the service's pid is the bot's
            rename = 'hostname "$0" && exec "$@"'
            command = ["unshare", "--uts", "sh", "-c", rename, hosts[number], *command]
        with log.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                *command,
                env={"LOG_LEVEL": "INFO", **env, "HTTP_PORT": "0", "SLACK_PORT": "0"},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        services.append(Service(process, log))
    return services


async def stop_services(services: Iterable[Service], grace: float = RUN_TIMEOUT) -> None:
    """SIGTERM every service still running and wait for it; SIGKILL what outlives
    ``grace`` seconds."""
    services = list(services)
    for service in services:
        if service.running:
            service.process.send_signal(signal.SIGTERM)
    try:
        for service in services:
            await asyncio.wait_for(service.process.wait(), timeout=grace)
    finally:
        for service in services:
            if service.running:
                service.process.kill()
                await service.process.wait()


def _while_posting(
    posted: Callable[[], int], rng: random.Random, most: float
) -> Callable[[], Awaitable[None]]:
    """A moment while the run posts: after its first message, a random part of ``most``
    seconds later."""

    async def moment() -> None:
        before = posted()
        while posted() == before:  # noqa: ASYNC110 - the fakes keep lists, not events
            await asyncio.sleep(0.005)
        await asyncio.sleep(rng.uniform(0, most))

    return moment


def _slack_texts(fake: FakeSlack, channel: str) -> tuple[list[str], Counter[str]]:
    messages = fake.messages(channel)
    keys = Counter(
        str(((m.metadata or {}).get("event_payload") or {}).get("key")) for m in messages
    )
    return [str(m.text) + str(m.blocks) for m in messages], keys


def _discord_texts(fake: FakeDiscord, channel: str) -> tuple[list[str], Counter[Any]]:
    places = [channel, *(t["id"] for t in fake.threads(channel))]
    messages = [m for place in places for m in fake.channel_messages(place)]
    prints = Counter((m.channel_id, message_fingerprint(m.payload)) for m in messages)
    return [str(m.content) + str(m.embeds) for m in messages], prints


def _count(
    texts: list[str], keys: Counter[Any], papers: Iterable[Paper], delivered: set[str]
) -> tuple[int, int, int]:
    shown = {p.arxiv_id for p in papers if any(p.abs_url in t for t in texts)}
    wanted = {p.arxiv_id for p in papers}
    repeated = sum(n - 1 for n in keys.values() if n > 1)
    return len(wanted - shown), repeated, len(delivered - shown)


def _delivered(database: Path, ref: ChannelRef) -> set[str]:
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT d.arxiv_id FROM deliveries AS d JOIN channels AS c ON c.id = d.channel_id"
            " WHERE c.channel = ? AND d.status = 'delivered'",
            (ref.channel,),
        )
        return {row[0] for row in rows}


async def crash_run(
    workdir: Path,
    *,
    kills: int = 20,
    seed: int = 1,
    each: tuple[int, int] = (25, 6),
    digest: tuple[int, int] = (220, 25),
    kill_within: float = 0.8,
    post_delay: float = 0.05,
) -> CrashFigures:
    """Run the scenario in ``workdir``; see the module doc."""
    started = asyncio.get_running_loop().time()
    rng = random.Random(seed)
    database = workdir / "crash.db"
    vision = _papers("1", _upto(each, kills * 3 + 1), "cs.CV")
    learning = _papers("2", _upto(digest, kills * 3 + 1), "cs.LG")
    async with AsyncExitStack() as stack:
        oai = stack.enter_context(running_fake_oai(page_size=100))
        slack = await stack.enter_async_context(running_fake_slack())
        discord = await stack.enter_async_context(running_fake_discord())
        discord.nonce_window = 0.0
        discord.post_delay = post_delay
        for ref in (DISCORD_EACH, DISCORD_DIGEST):
            discord.set_channel(ref.channel, name=ref.name)
        await _subscribe(database)
        env = _env(database, oai, slack, discord)
        killed = mid_delivery = runs = 0

        def posted() -> int:
            return len(slack.messages()) + len(discord.channel_messages())

        while killed < kills and runs < kills * 3:
            oai.announce(*_wave(vision, each, runs), *_wave(learning, digest, runs))
            runs += 1
            before = posted()
            if await _run_once(env, _while_posting(posted, rng, kill_within)):
                killed += 1
                mid_delivery += posted() > before
        oai.announce(*_wave(vision, each, runs), *_wave(learning, digest, runs))
        runs += 1
        await _run_once(env)
        vision, learning = vision[: _upto(each, runs)], learning[: _upto(digest, runs)]
        lost = repeated = hidden = pairs = messages = 0
        for ref, papers in (
            (SLACK_EACH, vision),
            (SLACK_DIGEST, learning),
            (DISCORD_EACH, vision),
            (DISCORD_DIGEST, learning),
        ):
            if ref.platform == "slack":
                texts, keys = _slack_texts(slack, ref.channel)
            else:
                texts, keys = _discord_texts(discord, ref.channel)
            figures = _count(texts, keys, papers, _delivered(database, ref))
            lost, repeated, hidden = lost + figures[0], repeated + figures[1], hidden + figures[2]
            pairs += len(papers)
            messages += len(texts)
    seconds = asyncio.get_running_loop().time() - started
    return CrashFigures(
        runs, killed, mid_delivery, pairs, messages, lost, repeated, hidden, seconds
    )
