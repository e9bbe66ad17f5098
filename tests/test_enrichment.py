"""Hugging Face signals and TL;DRs on the cards of a harvest, through the whole bot:
real clients against the local fakes of both APIs, in good and bad health.

The bound a fault may cost is the cycle's wait for card extras (``ENRICH_WAIT_SECONDS``,
2 s here); the asserts allow a generous margin on top.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.models import ChannelRef, Paper, Tone
from bot.sources.huggingface import HuggingFacePapers
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper
from tests.fakes.hf_api import FakeHfPaper, FakeHuggingFace, daily_at, running_fake_hf
from tests.fakes.llm_api import FakeLlm, default_answer, running_fake_llm
from tests.fakes.oai import FakeOai
from tests.fakes.oai_corpus import harvested
from tests.recording import PlanRecorder

START = datetime.now(UTC).replace(microsecond=0)
LAB = ChannelRef("console", "local", "lab", "lab")
WAIT = 2.0
MARGIN = 4.0
MODEL = "tiny"
KEY = "sk-fake-key"


def papers() -> list[Paper]:
    at = START - timedelta(hours=5)
    return [
        make_paper(
            f"2611.0020{n}",
            title=f"Segmentation study {n}",
            abstract="We segment images with a simpler method.",
            categories=("eess.IV",),
            submitted=at + timedelta(minutes=n),
            updated=at + timedelta(minutes=n),
        )
        for n in range(1, 4)
    ]


@pytest.fixture(autouse=True)
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.cycle.ENRICH_WAIT_SECONDS", WAIT)
    monkeypatch.setattr("bot.enrichment.TLDR_DEADLINE_SECONDS", WAIT)


@pytest.fixture
def fake_hf() -> Iterator[FakeHuggingFace]:
    known = [
        FakeHfPaper(
            "2611.00201",
            "Segmentation study 1",
            upvotes=42,
            github_repo="https://github.com/lab/seg",
            github_stars=120,
            daily_at=daily_at(START.date()),
        ),
        FakeHfPaper("2611.00202", "Segmentation study 2", upvotes=3),
    ]
    with running_fake_hf(known) as fake:
        yield fake


@pytest.fixture
def fake_llm() -> Iterator[FakeLlm]:
    with running_fake_llm(api_key=KEY, model=MODEL) as fake:
        yield fake


def closed_url() -> str:
    """An address where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def with_extras(settings: Settings, *, hf_url: str, llm_url: str, timeout: float = 1.0) -> Settings:
    return replace_settings(
        settings,
        hf_papers=True,
        hf_api_url=hf_url,
        llm_api_url=llm_url,
        llm_model=MODEL,
        llm_api_key=KEY,
        llm_timeout=timeout,
    )


def replace_settings(settings: Settings, **changes: object) -> Settings:
    return Settings(_env_file=None, **{**settings.model_dump(), **changes})  # type: ignore[call-arg]


async def harvest_and_post(settings: Settings, fake_oai: FakeOai) -> tuple[PlanRecorder, float]:
    """Subscribe #lab, announce three papers, run one cycle; what was posted, and the
    cycle's seconds."""
    app = BotApp(settings, clock=SettableClock(START))
    app.hf = HuggingFacePapers(base_url=settings.hf_api_url, enabled=settings.hf_papers, interval=0)
    async with app:
        reply = await app.execute("/arxiv subscribe cat:eess.IV", CommandContext(LAB))
        assert reply.tone is Tone.SUCCESS
        for paper in papers():
            fake_oai.add_records(harvested(paper, START.date()))
        recorder = PlanRecorder()
        app.senders["console"] = recorder
        started = time.monotonic()
        report = await app.run_cycle()
        elapsed = time.monotonic() - started
        assert report.delivered.delivered == 3, "no extra ever drops a post"
        return recorder, elapsed


async def test_cards_carry_the_tldr_and_hugging_face_signals(
    settings: Settings, fake_oai: FakeOai, fake_hf: FakeHuggingFace, fake_llm: FakeLlm
) -> None:
    configured = with_extras(settings, hf_url=fake_hf.base_url, llm_url=fake_llm.base_url)
    recorder, elapsed = await harvest_and_post(configured, fake_oai)

    posts = {post.paper.arxiv_id: post for post in recorder.posts(LAB.channel)}
    assert len(posts) == 3 and elapsed < WAIT + MARGIN
    for post in posts.values():
        assert post.tldr is not None
        assert post.tldr.rstrip(".") in default_answer(post.paper.title)
    first = posts["2611.00201"].community
    assert first is not None
    assert (first.upvotes, first.github_repo, first.github_stars, first.daily) == (
        42,
        "https://github.com/lab/seg",
        120,
        True,
    )
    second = posts["2611.00202"].community
    assert second is not None and second.upvotes == 3 and second.github_repo is None
    assert posts["2611.00203"].community is None  # not on Hugging Face: no line
    assert len(fake_llm.chats) == 3


async def test_search_results_carry_cached_signals_without_a_request(
    settings: Settings, fake_oai: FakeOai, fake_hf: FakeHuggingFace
) -> None:
    configured = replace_settings(settings, hf_papers=True, hf_api_url=fake_hf.base_url)
    app = BotApp(configured, clock=SettableClock(START))
    app.hf = HuggingFacePapers(base_url=fake_hf.base_url, interval=0)
    async with app:
        await app.store.upsert_papers(papers())
        await app.hf.paper_infos(["2611.00201"])
        asked = len(fake_hf.requests)
        reply = await app.execute("/arxiv paper 2611.00201", CommandContext(LAB))
        assert reply.posts[0].community is not None
        assert reply.posts[0].community.upvotes == 42
        assert len(fake_hf.requests) == asked


@pytest.mark.parametrize("fault", ["hf down", "llm hangs", "llm fails", "both"])
async def test_a_failing_extra_never_delays_a_post_beyond_the_bound(
    settings: Settings,
    fake_oai: FakeOai,
    fake_hf: FakeHuggingFace,
    fake_llm: FakeLlm,
    fault: str,
) -> None:
    hf_url = closed_url() if fault in ("hf down", "both") else fake_hf.base_url
    if fault in ("llm hangs", "both"):
        fake_llm.hang_next(times=10)
    if fault == "llm fails":
        fake_llm.fail_next(500, times=10)
    configured = with_extras(settings, hf_url=hf_url, llm_url=fake_llm.base_url, timeout=5)

    recorder, elapsed = await harvest_and_post(configured, fake_oai)

    posts = recorder.posts(LAB.channel)
    assert len(posts) == 3
    assert elapsed < WAIT + MARGIN, elapsed
    if fault == "hf down" or fault == "both":
        assert all(post.community is None for post in posts)
    if fault != "hf down":
        assert all(post.tldr is None for post in posts)


async def test_half_set_llm_settings_stop_the_start_with_what_to_set(settings: Settings) -> None:
    from bot.config import load_settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, llm_model="llama3.2")
    assert "LLM_MODEL is set but LLM_API_URL is not" in str(caught.value)
