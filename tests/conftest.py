"""Shared fixtures: an isolated environment, a fake arXiv, and an open bot."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from bot.adapter import Adapter
from bot.app import BotApp
from bot.config import Settings
from bot.delivery import Sender
from bot.models import ChannelRef, Digest, Paper, PaperPost
from bot.store import Store
from tests import databases
from tests.fakes.arxiv_api import FakeArxiv, running_fake_arxiv
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import sample_papers
from tests.fakes.oai import FakeOai, running_fake_oai

AdapterT = TypeVar("AdapterT", bound=Adapter)

SETTING_NAMES = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer .env, settings or chat tokens leak into a test, and the default
    database (in the user's data directory) is under ``tmp_path``, never the real one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in list(os.environ):
        if name in SETTING_NAMES or name.startswith(("SLACK_", "DISCORD_")):
            monkeypatch.delenv(name)
    # No test asks the real Hugging Face: those that want it point HF_API_URL at a fake.
    monkeypatch.setenv("HF_PAPERS", "off")


@pytest.fixture
def corpus() -> list[Paper]:
    return sample_papers()


@pytest.fixture
def fake_arxiv(corpus: list[Paper]) -> Iterator[FakeArxiv]:
    with running_fake_arxiv(corpus) as fake:
        yield fake


@pytest.fixture
def fake_oai() -> Iterator[FakeOai]:
    """An OAI-PMH fake with no records; tests add what arXiv should have announced."""
    with running_fake_oai(page_size=50) as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, fake_arxiv: FakeArxiv, fake_oai: FakeOai) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        arxiv_api_url=fake_arxiv.url,
        arxiv_oai_url=fake_oai.url,
        arxiv_request_interval=0,
        arxiv_timeout=2,
        http_port=0,  # no health server unless a test asks for one (8080 may be taken)
        hf_papers=False,  # never the real Hugging Face (tests/fakes/hf_api.py when wanted)
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[BotApp]:
    async with BotApp(settings) as opened:
        yield opened


SLOW_FIRST = ("test_crash.py", "test_replicas.py", "test_schedule_kill.py")
"""Files of real processes killed and restarted (30 to 45 s each): started first, so
that two workers (``-n 2 --dist loadfile``) do not end the run waiting on one of them."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in SLOW_FIRST)  # stable: else as found


def pytest_sessionstart(session: pytest.Session) -> None:
    databases.check_server()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's last line: whether the PostgreSQL half ran (after the summary, where a
    reader of the last lines sees it)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or databases.server_url() is not None:
        return
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
        return
    skipped = [
        report
        for report in reporter.stats.get("skipped", [])
        if databases.NOT_RUN in str(getattr(report, "longrepr", ""))
    ]
    reporter.write_line(
        f"NOTE: {databases.NOT_RUN} ({len(skipped)} tests skipped).", yellow=True, bold=True
    )


@pytest.fixture(params=databases.DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | Path]:
    """Where a test's store lives, once on SQLite and once on PostgreSQL (see
    :mod:`tests.databases`): a file path or a ``postgresql://`` URL."""
    with databases.database_target(request.param, tmp_path) as target:
        yield target


@pytest.fixture
async def store(database: str | Path, clock: SettableClock) -> AsyncIterator[Store]:
    """A store of its own, on each database, reading ``now`` from the test module's
    ``clock`` fixture."""
    async with await Store.open(database, clock=clock) as opened:
        yield opened


@contextlib.asynccontextmanager
async def running(app: BotApp, adapter: AdapterT) -> AsyncIterator[AdapterT]:
    """``adapter`` started and registered as ``app``'s sender for its platform; stopped
    at the end of the block."""
    await adapter.start()
    app.senders[adapter.name] = adapter
    try:
        yield adapter
    finally:
        await adapter.stop()


async def send_plan(
    sender: Sender, channel: ChannelRef, item: PaperPost | Digest, *, cards: int = 10
) -> list[str]:
    """Plan ``item`` and send its messages in order, as the dispatcher does (threads
    included); the platform's references of the messages sent."""
    refs: list[str] = []
    for number, message in enumerate(sender.plan(item, cards=cards)):
        thread = refs[0] if message.in_thread else None
        refs.append(await sender.send(channel, message, key=f"t{number}", thread=thread))
    return refs


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a subprocess needs to see ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    for name, value in settings.model_dump().items():
        if value is not None:  # None: unset, the default applies
            env[name.upper()] = str(value)
    return env
