"""A channel's ranking, wired into delivery: a whole bot (real store, fake OAI-PMH) whose
channels have given feedback, and the order of the papers its next harvest posts.

Papers are real abstracts (``tests/data/abstracts.json``) announced as today's; liked
papers are stored papers with feedback rows, as reactions on earlier posts leave them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.models import ChannelRef, Paper, Tone
from bot.ordering import PaperOrderer
from bot.store.deliveries import DeliveryQueue
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper
from tests.fakes.oai import FakeOai
from tests.fakes.oai_corpus import harvested
from tests.recording import PlanRecorder, as_new, of_topic

START = datetime.now(UTC).replace(microsecond=0)
RANKED = ChannelRef("console", "local", "ranked", "ranked")
PLAIN = ChannelRef("console", "local", "plain", "plain")
FEW = ChannelRef("console", "local", "few", "few")
ASTRO, MATH, COND, HEP = "astrophysics", "mathematics", "condensed matter", "particle physics"


def today() -> date:
    return START.date()


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
async def bot(settings: Settings, clock: SettableClock) -> AsyncIterator[BotApp]:
    async with BotApp(settings, clock=clock) as app:
        yield app


async def subscribe(app: BotApp, channel: ChannelRef, text: str) -> int:
    reply = await app.execute(f"/arxiv subscribe {text}", CommandContext(channel))
    assert reply.tone is Tone.SUCCESS, reply
    channel_id = await app.store.find_channel(channel)
    assert channel_id is not None
    return channel_id


async def like(app: BotApp, channel_id: int, papers: Sequence[Paper], signal: int = 1) -> None:
    """Store ``papers`` (from an earlier harvest) and one person's reaction on each."""
    await app.store.upsert_papers(papers)
    emoji = "+1" if signal > 0 else "-1"
    for paper in papers:
        await app.store.add_feedback(
            channel_id, paper.arxiv_id, user="U1", source="reaction", emoji=emoji, signal=signal
        )


def liked_history() -> tuple[list[Paper], list[Paper]]:
    """Twelve astrophysics papers the channel liked and four maths papers it did not,
    from earlier harvests (ids of their own)."""
    earlier = START - timedelta(days=40)
    liked = [
        as_new(p, f"2609.{n:05d}", earlier, "cs.LG") for n, p in enumerate(of_topic(ASTRO)[:12])
    ]
    disliked = [
        as_new(p, f"2609.{100 + n:05d}", earlier, "cs.LG") for n, p in enumerate(of_topic(MATH)[:4])
    ]
    return liked, disliked


def mixed_day() -> tuple[list[Paper], set[str]]:
    """Today's 28 papers: 7 each of four archives, the astrophysics ones the oldest (so
    newest-first order puts them last), the others over four days; and the astrophysics
    ids."""
    papers: list[Paper] = []
    astro: set[str] = set()
    number = 0
    for topic in (ASTRO, MATH, COND, HEP):
        for paper in of_topic(topic)[30:37]:
            number += 1
            days = number % 4 if topic != ASTRO else 5
            arxiv_id = f"2611.{number:05d}"
            papers.append(as_new(paper, arxiv_id, START - timedelta(days=days), "cs.LG"))
            if topic == ASTRO:
                astro.add(arxiv_id)
    return papers, astro


def announce(fake_oai: FakeOai, papers: Sequence[Paper]) -> None:
    for paper in papers:
        fake_oai.add_records(harvested(paper, today()))


def newest_first(papers: Sequence[Paper]) -> list[str]:
    """Newest first by day of first submission (what OAI-PMH gives), ties in queue order
    (by id)."""
    by_id = sorted(papers, key=lambda p: p.arxiv_id)
    return [p.arxiv_id for p in sorted(by_id, key=lambda p: p.submitted.date(), reverse=True)]


async def test_a_channel_that_liked_a_topic_gets_it_first_with_top_picks_marked(
    bot: BotApp, fake_oai: FakeOai
) -> None:
    ranked = await subscribe(bot, RANKED, "cat:cs.LG --mode digest")
    plain = await subscribe(bot, PLAIN, "cat:cs.LG --mode digest")
    liked, disliked = liked_history()
    for channel_id in (ranked, plain):
        await like(bot, channel_id, liked)
        await like(bot, channel_id, disliked, signal=-1)
    off = await bot.execute("/arxiv ranking off", CommandContext(PLAIN))
    assert off.tone is Tone.SUCCESS and "now off" in off.title
    papers, astro = mixed_day()
    announce(fake_oai, papers)
    recorder = PlanRecorder()
    bot.senders["console"] = recorder

    report = await bot.run_cycle()

    assert report.delivered.delivered == 2 * len(papers)
    got = recorder.posts(RANKED.channel)
    ids = [post.paper.arxiv_id for post in got]
    assert sorted(ids) == sorted(p.arxiv_id for p in papers), "ranking never drops a paper"
    assert set(ids[:5]) <= astro, ids  # the liked topic first
    picks = [post for post in got if post.top_pick]
    assert picks and all(post.paper.arxiv_id in astro for post in picks)
    assert ids[: len(picks)] == [post.paper.arxiv_id for post in picks]
    liked_ids = {p.arxiv_id for p in liked}
    assert any(post.like in liked_ids for post in picks)
    # Ranking off: match strength (none: the query names only a category), newest first.
    plain_posts = recorder.posts(PLAIN.channel)
    assert [post.paper.arxiv_id for post in plain_posts] == newest_first(papers)
    assert not any(post.top_pick or post.like for post in plain_posts)

    status = await bot.execute("/arxiv status", CommandContext(RANKED))
    assert any("ranking by your reactions (12 likes)" in line for line in status.lines)
    shown = await bot.execute("/arxiv ranking", CommandContext(PLAIN))
    assert "off" in shown.title


async def test_below_the_threshold_title_matches_come_first_then_newest(
    bot: BotApp, fake_oai: FakeOai
) -> None:
    few = await subscribe(bot, FEW, "all:galaxy")
    liked, _ = liked_history()
    await like(bot, few, liked[:3])
    at = START - timedelta(days=5)
    papers = [
        make_paper(
            "2611.00101",
            title="Galaxy clusters, old",
            abstract="Galaxy.",
            submitted=at,
            updated=at,
            categories=("astro-ph.GA",),
        ),
        make_paper(
            "2611.00102",
            title="Stellar streams",
            abstract="A galaxy halo, newest.",
            submitted=at + timedelta(days=3),
            updated=at + timedelta(days=3),
            categories=("astro-ph.GA",),
        ),
        make_paper(
            "2611.00103",
            title="Dwarf galaxy survey",
            abstract="Dwarfs.",
            submitted=at + timedelta(days=1),
            updated=at + timedelta(days=1),
            categories=("astro-ph.GA",),
        ),
    ]
    announce(fake_oai, papers)
    recorder = PlanRecorder()
    bot.senders["console"] = recorder

    await bot.run_cycle()

    assert recorder.ids(FEW.channel) == ["2611.00103", "2611.00101", "2611.00102"]
    assert not any(post.top_pick for post in recorder.posts(FEW.channel))
    status = await bot.execute("/arxiv status", CommandContext(FEW))
    assert any(
        "ordered by match strength until 10 papers are liked (3 so far)" in line
        for line in status.lines
    ), status.lines


async def test_a_ranking_error_falls_back_and_drops_nothing(
    bot: BotApp, fake_oai: FakeOai, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranked = await subscribe(bot, RANKED, "cat:cs.LG --mode digest")
    liked, _ = liked_history()
    await like(bot, ranked, liked)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the model blew up")

    monkeypatch.setattr("bot.ranking.model.rank", broken)
    papers, _ = mixed_day()
    announce(fake_oai, papers)
    recorder = PlanRecorder()
    bot.senders["console"] = recorder

    report = await bot.run_cycle()

    assert report.delivered.delivered == len(papers)
    assert recorder.ids(RANKED.channel) == newest_first(papers)


async def test_ranking_commands_check_their_input_and_permission(bot: BotApp) -> None:
    bad = await bot.execute("/arxiv ranking sometimes", CommandContext(RANKED))
    assert bad.tone is Tone.ERROR and "on or off" in bad.title
    guest = CommandContext(RANKED, can_manage_channel=False)
    denied = await bot.execute("/arxiv ranking off", guest)
    assert denied.tone is Tone.ERROR
    on = await bot.execute("/arxiv ranking on", CommandContext(RANKED))
    assert on.tone is Tone.SUCCESS and "until 10 papers are liked (0 so far)" in on.lines[0]
    help_lines = (await bot.execute("/arxiv help", CommandContext(RANKED))).lines
    assert any(line.startswith("/arxiv ranking [on|off]") for line in help_lines)


async def test_a_huge_backlog_is_ordered_by_strength_alone(bot: BotApp) -> None:
    """Past the rank limit the model is not trained (it would hold every abstract)."""
    ranked = await subscribe(bot, RANKED, "cat:cs.LG")
    liked, _ = liked_history()
    await like(bot, ranked, liked)
    papers, _ = mixed_day()
    await bot.store.upsert_papers(papers)
    channel = await bot.store.get_channel(ranked)
    subscriptions = await bot.store.list_subscriptions(ranked)
    ids = [p.arxiv_id for p in papers]
    orderer = PaperOrderer(bot.store, DeliveryQueue(bot.store), min_likes=10, rank_limit=5)
    limited = await orderer.order(channel, ids, subscriptions)
    assert list(limited.order) == newest_first(papers) and not limited.trained
    full = await PaperOrderer(bot.store, DeliveryQueue(bot.store), min_likes=10).order(
        channel, ids, subscriptions
    )
    assert full.trained and sorted(full.order) == sorted(ids)
