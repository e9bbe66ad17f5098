"""``/arxiv trending``: Hugging Face's daily papers through the whole bot and its fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.commands.grammar import TrendingCommand, parse_command
from bot.config import Settings
from bot.models import ChannelRef, Tone
from bot.sources.huggingface import HuggingFacePapers
from tests.fakes.hf_api import FakeHfPaper, FakeHuggingFace, daily_at, running_fake_hf

HERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))
TODAY = datetime.now(UTC).date()


@pytest.fixture
def fake_hf() -> Iterator[FakeHuggingFace]:
    papers = [
        FakeHfPaper(
            "2611.00301",
            "Diffusion Models for Video",
            summary="We generate video with diffusion.",
            upvotes=12,
            daily_at=daily_at(TODAY),
        ),
        FakeHfPaper(
            "2611.00302",
            "A Small Language Model",
            summary="A language model that fits a phone.",
            upvotes=80,
            github_repo="https://github.com/lab/slm",
            github_stars=900,
            daily_at=daily_at(TODAY),
        ),
        FakeHfPaper(
            "2611.00303",
            "Diffusion for Proteins",
            summary="Protein design with diffusion.",
            upvotes=200,
            daily_at=daily_at(TODAY - timedelta(days=3)),
        ),
    ]
    with running_fake_hf(papers) as fake:
        yield fake


async def open_bot(settings: Settings, base_url: str, *, enabled: bool = True) -> BotApp:
    app = BotApp(settings)
    app.hf = HuggingFacePapers(base_url=base_url, enabled=enabled, interval=0, pause=0)
    return app


@pytest.fixture
async def bot(settings: Settings, fake_hf: FakeHuggingFace) -> AsyncIterator[BotApp]:
    async with await open_bot(settings, fake_hf.base_url) as app:
        yield app


def test_grammar_reads_period_and_query() -> None:
    assert parse_command("/arxiv trending") == TrendingCommand("today", None)
    week = parse_command("/arxiv trending week diffusion")
    assert isinstance(week, TrendingCommand) and week.period == "week"
    assert week.query is not None and week.query.text == "diffusion"
    bare = parse_command("/arxiv trending ti:diffusion")
    assert isinstance(bare, TrendingCommand) and bare.period == "today"


async def test_today_lists_the_daily_papers_by_upvotes_with_signals(bot: BotApp) -> None:
    reply = await bot.execute("/arxiv trending", HERE)
    assert reply.tone is not Tone.ERROR, reply
    assert [p.arxiv_id for p in reply.papers] == ["2611.00302", "2611.00301"]
    assert reply.papers[0].title == "A Small Language Model"
    assert reply.papers[0].abstract.startswith("A language model")
    first = reply.signals[0]
    assert first is not None
    assert (first.upvotes, first.github_repo, first.github_stars) == (
        80,
        "https://github.com/lab/slm",
        900,
    )
    assert len(reply.signals) == len(reply.papers)


async def test_week_and_a_query(bot: BotApp) -> None:
    week = await bot.execute("/arxiv trending week", HERE)
    assert [p.arxiv_id for p in week.papers] == ["2611.00303", "2611.00302", "2611.00301"]
    matching = await bot.execute("/arxiv trending week diffusion", HERE)
    assert [p.arxiv_id for p in matching.papers] == ["2611.00303", "2611.00301"]
    none = await bot.execute("/arxiv trending today cat:cs.CV", HERE)
    assert not none.papers and "No trending papers" in none.title
    assert any("no categories" in line for line in none.lines)


async def test_hugging_face_down_or_off_is_a_friendly_message(
    settings: Settings, fake_hf: FakeHuggingFace
) -> None:
    fake_hf.fail_next(503, times=20)
    async with await open_bot(settings, fake_hf.base_url) as app:
        down = await app.execute("/arxiv trending week", HERE)
    assert down.tone is Tone.ERROR and "could not be reached" in down.title
    async with await open_bot(settings, fake_hf.base_url, enabled=False) as app:
        off = await app.execute("/arxiv trending", HERE)
    assert off.tone is Tone.ERROR and "HF_PAPERS=off" in off.title
