"""Hugging Face signals: the wire format, the polite client against a fake over real HTTP,
its failures (never an exception, never past the budget), and /arxiv trending's ranking."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.query import parse_query
from bot.sources.hf_wire import HfFormatError, HfPaper, parse_daily_papers, parse_paper_info
from bot.sources.huggingface import HuggingFacePapers
from bot.trending import fetch_trending, paper_from_hf, period_days, rank_trending
from tests.fakes.clock import ManualTime
from tests.fakes.hf_api import (
    DAILY_PATH,
    FakeHfPaper,
    FakeHuggingFace,
    daily_at,
    running_fake_hf,
)

UA = "arxiv-bot/0.1.0 (+https://pypi.org/project/arxiv-bot/; mailto:test@example.org)"
TODAY = date(2025, 10, 29)

LLAMA = FakeHfPaper(
    "2407.21783",
    "The Llama 3 Herd of Models",
    summary="Modern artificial intelligence systems are powered by foundation models.",
    authors=("Abhimanyu Dubey", "Abhinav Jauhri"),
    upvotes=120,
    github_repo="https://github.com/meta-llama/llama3",
    github_stars=27000,
    published_at=datetime(2024, 7, 31, tzinfo=UTC),
    daily_at=daily_at(date(2024, 8, 1)),
)
NO_REPO = FakeHfPaper("2510.00001", "Diffusion models for medical image segmentation", upvotes=3)


def day_papers() -> list[FakeHfPaper]:
    """Daily papers over the week ending TODAY."""
    return [
        FakeHfPaper(
            "2510.20001",
            "Contrastive learning for protein folding",
            summary="We fold proteins with contrastive learning.",
            authors=("Grace Hopper",),
            upvotes=40,
            daily_at=daily_at(TODAY, 9),
        ),
        FakeHfPaper(
            "2510.20002",
            "Scaling diffusion transformers",
            summary="Diffusion transformers scale well on images.",
            authors=("Alan Turing",),
            upvotes=75,
            github_repo="https://github.com/example/dit",
            github_stars=310,
            daily_at=daily_at(TODAY, 8),
        ),
        FakeHfPaper(
            "2510.20003",
            "Agents that browse",
            upvotes=5,
            daily_at=daily_at(TODAY, 7),
        ),
        FakeHfPaper(
            "2510.10001",
            "A week-old diffusion survey",
            summary="A survey of diffusion models.",
            upvotes=300,
            daily_at=daily_at(date(2025, 10, 24)),
        ),
        FakeHfPaper(
            "2510.09999",
            "Too old for the week",
            upvotes=999,
            daily_at=daily_at(date(2025, 10, 22)),
        ),
    ]


@pytest.fixture
def fake() -> Iterator[FakeHuggingFace]:
    with running_fake_hf([LLAMA, NO_REPO, *day_papers()]) as running:
        yield running


def client_for(
    fake: FakeHuggingFace, time_: ManualTime | None = None, **options: Any
) -> HuggingFacePapers:
    """A client on the fake; on ``time_`` its waits are recorded, not slept."""
    settings: dict[str, Any] = {"interval": 0.0, "timeout": 2.0, **options}
    if time_ is not None:
        settings.update(clock=time_.clock, sleep=time_.sleep)
    return HuggingFacePapers(base_url=fake.base_url, user_agent=UA, **settings)


# -- the wire format -------------------------------------------------------------------


def test_parses_a_paper_answer_in_the_live_format() -> None:
    paper = parse_paper_info(LLAMA.detail(), "2407.21783")
    assert paper == HfPaper(
        arxiv_id="2407.21783",
        title="The Llama 3 Herd of Models",
        upvotes=120,
        summary="Modern artificial intelligence systems are powered by foundation models.",
        authors=("Abhimanyu Dubey", "Abhinav Jauhri"),
        github_repo="https://github.com/meta-llama/llama3",
        github_stars=27000,
        published_at=datetime(2024, 7, 31, tzinfo=UTC),
        submitted_on_daily_at=datetime(2024, 8, 1, 8, tzinfo=UTC),
        num_comments=None,
    )
    assert paper.in_daily_papers and paper.in_daily_papers_on(date(2024, 8, 1))
    assert not paper.in_daily_papers_on(date(2024, 8, 2))


def test_parses_a_daily_entry_with_the_paper_nested() -> None:
    entry = day_papers()[1].daily_entry()
    entry["paper"]["summary"] = "The full abstract, longer than the listing's."
    [paper] = parse_daily_papers([entry])
    assert paper.arxiv_id == "2510.20002"
    assert paper.title == "Scaling diffusion transformers"
    assert paper.summary == "The full abstract, longer than the listing's."
    assert (paper.upvotes, paper.github_repo, paper.github_stars) == (
        75,
        "https://github.com/example/dit",
        310,
    )
    assert paper.submitted_on_daily_at == daily_at(TODAY, 8)
    assert paper.published_at == datetime(2025, 10, 27, tzinfo=UTC)  # the arXiv date
    assert paper.num_comments == 0


def test_a_daily_entry_without_submitted_on_daily_at_uses_the_entry_date() -> None:
    entry = day_papers()[0].daily_entry()
    del entry["paper"]["submittedOnDailyAt"]
    [paper] = parse_daily_papers([entry])
    assert paper.submitted_on_daily_at == daily_at(TODAY, 9)


def test_untrusted_values_of_the_wrong_kind_count_as_absent() -> None:
    answer = NO_REPO.detail() | {
        "upvotes": "many",
        "githubRepo": "javascript:alert(1)",
        "githubStars": True,
        "authors": [{"name": 3}, "x", {"name": "  Real   Name "}],
        "publishedAt": "yesterday",
    }
    paper = parse_paper_info(answer, "2510.00001")
    assert (paper.upvotes, paper.github_repo, paper.github_stars) == (0, None, None)
    assert paper.authors == ("Real Name",)
    assert paper.published_at is None


@pytest.mark.parametrize(
    "answer",
    [[], "text", {"title": "no id"}, {"id": "not an id", "title": "x"}, {"id": "2407.21783"}],
)
def test_a_paper_answer_without_its_paper_is_refused(answer: object) -> None:
    with pytest.raises(HfFormatError):
        parse_paper_info(answer, "2407.21783")


def test_a_paper_answer_about_another_paper_is_refused() -> None:
    with pytest.raises(HfFormatError, match="asked for"):
        parse_paper_info(NO_REPO.detail(), "2407.21783")


def test_daily_answers_skip_unreadable_entries_but_refuse_all_unreadable() -> None:
    good = day_papers()[0].daily_entry()
    assert [p.arxiv_id for p in parse_daily_papers([good, {"paper": {}}, 7])] == ["2510.20001"]
    assert parse_daily_papers([]) == []
    with pytest.raises(HfFormatError):
        parse_daily_papers([{"paper": {"id": 5}}])
    with pytest.raises(HfFormatError):
        parse_daily_papers({"error": "x"})


# -- the client: answers ---------------------------------------------------------------


async def test_paper_info_with_a_repository(fake: FakeHuggingFace) -> None:
    client = client_for(fake)
    paper = await client.paper_info("https://arxiv.org/abs/2407.21783v2")
    assert paper is not None
    assert (paper.upvotes, paper.github_repo, paper.github_stars) == (
        120,
        "https://github.com/meta-llama/llama3",
        27000,
    )
    [request] = fake.requests
    assert request.path == "/api/papers/2407.21783"


async def test_paper_info_without_a_repository(fake: FakeHuggingFace) -> None:
    paper = await client_for(fake).paper_info("2510.00001")
    assert paper is not None
    assert (paper.upvotes, paper.github_repo, paper.github_stars) == (3, None, None)
    assert not paper.in_daily_papers


async def test_a_paper_hugging_face_lacks_is_none_and_remembered(fake: FakeHuggingFace) -> None:
    client = client_for(fake)
    assert await client.paper_info("2501.99999") is None
    assert await client.paper_info("2501.99999") is None
    assert [r.status for r in fake.requests] == [404]
    assert client.stats().paused_for == 0  # not a failure


async def test_ids_it_cannot_have_cost_no_request(fake: FakeHuggingFace) -> None:
    client = client_for(fake)
    assert await client.paper_infos(["hep-th/9901001", "not a paper", ""]) == {}
    assert fake.requests == []


async def test_the_user_agent_is_sent(fake: FakeHuggingFace) -> None:
    client = client_for(fake)
    await client.paper_info("2407.21783")
    await client.daily_papers(TODAY)
    assert [r.user_agent for r in fake.requests] == [UA, UA]


async def test_daily_papers_of_a_date(fake: FakeHuggingFace) -> None:
    papers = await client_for(fake).daily_papers(TODAY)
    assert papers is not None
    assert [p.arxiv_id for p in papers] == ["2510.20001", "2510.20002", "2510.20003"]
    assert all(p.in_daily_papers_on(TODAY) for p in papers)
    [request] = fake.requests
    assert request.path == DAILY_PATH
    assert request.params == {"date": "2025-10-29", "limit": "50", "p": "0"}


async def test_a_day_without_daily_papers_is_empty_not_unknown(fake: FakeHuggingFace) -> None:
    assert await client_for(fake).daily_papers(date(2025, 10, 26)) == []


async def test_daily_papers_are_read_page_by_page(fake: FakeHuggingFace) -> None:
    papers = await client_for(fake, page_size=2).daily_papers(TODAY)
    assert papers is not None and len(papers) == 3
    assert [r.params["p"] for r in fake.requests] == ["0", "1"]
    assert {r.params["limit"] for r in fake.requests} == {"2"}


async def test_a_day_read_only_in_part_is_not_believed(fake: FakeHuggingFace) -> None:
    fake.fail_next(500, after=1)
    client = client_for(fake, page_size=2)
    assert await client.daily_papers(TODAY) is None


async def test_disabled_it_asks_nothing(fake: FakeHuggingFace) -> None:
    client = HuggingFacePapers(base_url=fake.base_url, enabled=False)
    assert await client.paper_info("2407.21783") is None
    assert await client.daily_papers(TODAY) is None
    assert fake.requests == []
    assert not client.stats().enabled


# -- the cache -------------------------------------------------------------------------


async def test_the_cache_spares_repeat_requests_until_it_expires(fake: FakeHuggingFace) -> None:
    time_ = ManualTime()
    client = client_for(fake, time_, paper_ttl=60, day_ttl=60)
    ids = ["2407.21783", "2510.00001", "2501.99999"]
    first = await client.paper_infos(ids)
    assert sorted(first) == ["2407.21783", "2510.00001"]
    assert await client.paper_infos([*ids, "2407.21783v1"]) == first
    await client.daily_papers(TODAY)
    await client.daily_papers(TODAY)
    assert len(fake.requests) == 4
    assert client.cached_paper("2407.21783v3") == first["2407.21783"]

    time_.now += 61
    fake.set_upvotes("2407.21783", 121)
    again = await client.paper_info("2407.21783")
    assert again is not None and again.upvotes == 121
    assert len(fake.requests) == 5


async def test_concurrent_asks_for_one_paper_make_one_request(fake: FakeHuggingFace) -> None:
    client = client_for(fake, interval=0.05)
    answers = await asyncio.gather(*(client.paper_info("2407.21783") for _ in range(5)))
    assert all(a is not None and a.upvotes == 120 for a in answers)
    assert len(fake.requests) == 1


# -- the gate --------------------------------------------------------------------------


async def test_requests_are_one_at_a_time_and_spaced(fake: FakeHuggingFace) -> None:
    interval = 0.15
    client = client_for(fake, interval=interval)
    fake.delay_next(0.05, times=10)  # so that overlapping requests would show
    ids = ["2407.21783", "2510.00001", "2510.20001", "2510.20002"]
    await asyncio.gather(*(client.paper_info(i) for i in ids), client.daily_papers(TODAY))
    starts = [r.started for r in fake.requests]
    assert len(starts) == 5
    assert fake.max_concurrent == 1
    assert min(b - a for a, b in itertools.pairwise(starts)) >= interval - 0.01


async def test_spacing_waits_are_taken_on_the_injected_clock(fake: FakeHuggingFace) -> None:
    time_ = ManualTime()
    client = client_for(fake, time_, interval=1.0)
    await client.paper_infos(["2407.21783", "2510.00001", "2510.20001"])
    assert time_.sleeps == [1.0, 1.0]


async def test_a_batch_returns_what_it_got_within_its_budget(fake: FakeHuggingFace) -> None:
    client = client_for(fake, interval=0.4, min_request_time=0.2)
    ids = [p.arxiv_id for p in day_papers()] + ["2407.21783", "2510.00001"]
    started = time.monotonic()
    found = await client.paper_infos(ids, budget=1.0)
    took = time.monotonic() - started
    assert took < 1.3
    assert 1 <= len(found) < len(ids)
    assert len(fake.requests) == len(found)
    assert client.stats().paused_for == 0  # running out of budget is not a failure


async def test_a_short_retry_after_is_honoured_once(fake: FakeHuggingFace) -> None:
    time_ = ManualTime()
    client = client_for(fake, time_)
    fake.fail_next(429, retry_after="1")
    paper = await client.paper_info("2407.21783")
    assert paper is not None and paper.upvotes == 120
    assert [r.status for r in fake.requests] == [429, 200]
    assert time_.sleeps == [1.0]


async def test_a_retry_after_past_the_budget_pauses_for_that_long(fake: FakeHuggingFace) -> None:
    time_ = ManualTime()
    client = client_for(fake, time_, pause=60)
    fake.fail_next(503, retry_after="900")
    assert await client.paper_info("2407.21783") is None
    assert time_.sleeps == []
    assert client.stats().paused_for == 900


# -- failures: no line, no exception, within the budget, then a pause ---------------------


FAULTS = {
    "server error": lambda fake: fake.fail_next(500),
    "rate limited twice": lambda fake: fake.fail_next(429, retry_after="0", times=2),
    "unavailable": lambda fake: fake.fail_next(503, times=2),
    "hang": lambda fake: fake.hang_next(),
    "slow": lambda fake: fake.delay_next(5),
    "trickle": lambda fake: fake.trickle_next(0.05),
    "cut": lambda fake: fake.cut_next(),
    "truncated": lambda fake: fake.truncate_next(),
    "empty": lambda fake: fake.empty_next(),
    "malformed": lambda fake: fake.malformed_next(),
    "html": lambda fake: fake.serve_next(b"<html>Hugging Face is down</html>"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failing_paper_lookup_yields_no_line_and_pauses(
    fake: FakeHuggingFace, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    FAULTS[fault](fake)
    client = client_for(fake, timeout=0.5, min_request_time=0.2, max_retry_wait=0.1, pause=60)
    budget = 1.5
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="bot.sources.huggingface"):
        assert await client.paper_info("2407.21783", budget=budget) is None
    assert time.monotonic() - started < budget + 0.3
    stats = client.stats()
    assert stats.failures == 1 and stats.last_error
    assert 55 < stats.paused_for <= 60
    failed = [r for r in caplog.records if r.getMessage().startswith("Hugging Face failed")]
    assert len(failed) == 1 and failed[0].args  # logged with %s arguments

    asked = fake.request_count
    assert await client.paper_infos(["2407.21783", "2510.00001"]) == {}
    assert await client.daily_papers(TODAY) is None
    assert fake.request_count == asked  # paused: nothing asked


@pytest.mark.parametrize("fault", ["server error", "hang", "truncated", "malformed"])
async def test_a_failing_day_is_unknown_not_empty(fake: FakeHuggingFace, fault: str) -> None:
    FAULTS[fault](fake)
    client = client_for(fake, timeout=0.5, min_request_time=0.2, max_retry_wait=0.1)
    started = time.monotonic()
    assert await client.daily_papers(TODAY, budget=1.5) is None
    assert time.monotonic() - started < 1.8
    assert client.stats().paused_for > 0


async def test_an_unreachable_host_yields_nothing_quickly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HuggingFacePapers(base_url=f"http://127.0.0.1:{port}", interval=0, timeout=1)
    started = time.monotonic()
    assert await client.paper_infos(["2407.21783", "2510.00001"], budget=2) == {}
    assert time.monotonic() - started < 1.5
    assert client.stats().requests == 1  # the second was not tried: paused
    assert client.stats().last_error == "could not connect"


async def test_requests_resume_after_the_pause(fake: FakeHuggingFace) -> None:
    time_ = ManualTime()
    client = client_for(fake, time_, pause=300)
    fake.fail_next(500)
    assert await client.paper_info("2407.21783") is None
    time_.now += 299
    assert await client.paper_info("2407.21783") is None
    assert fake.request_count == 1
    time_.now += 2
    assert await client.paper_info("2407.21783") is not None
    assert fake.request_count == 2


async def test_a_cancelled_caller_frees_the_gate_at_once(fake: FakeHuggingFace) -> None:
    client = client_for(fake, timeout=5)
    fake.hang_next()
    task = asyncio.create_task(client.paper_info("2407.21783", budget=5))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.monotonic()
    assert await client.paper_info("2510.00001", budget=2) is not None
    assert time.monotonic() - started < 1.0
    assert client.stats().failures == 0  # being called off is not Hugging Face failing


# -- trending --------------------------------------------------------------------------


def hf(arxiv_id: str, upvotes: int, day: date, **extra: str) -> HfPaper:
    return HfPaper(
        arxiv_id=arxiv_id,
        title=extra.get("title", f"Paper {arxiv_id}"),
        upvotes=upvotes,
        summary=extra.get("summary", ""),
        github_repo=extra.get("repo"),
        submitted_on_daily_at=daily_at(day),
    )


def test_period_days_end_today() -> None:
    assert period_days("today", TODAY) == [TODAY]
    week = period_days("week", TODAY)
    assert len(week) == 7 and week[0] == TODAY and week[-1] == date(2025, 10, 23)


def test_ranking_counts_a_paper_once_with_its_highest_upvotes() -> None:
    entries = [
        hf("2510.00001", 10, date(2025, 10, 27)),
        hf("2510.00002", 30, date(2025, 10, 28), repo="https://github.com/a/b"),
        hf("2510.00001", 50, date(2025, 10, 29)),
        hf("2510.00002", 20, date(2025, 10, 29)),
        hf("2510.00003", 30, date(2025, 10, 28)),
    ]
    ranked = rank_trending(entries)
    assert [(e.arxiv_id, e.upvotes) for e in ranked] == [
        ("2510.00001", 50),
        ("2510.00002", 30),  # a tie goes to the one on the daily papers later
        ("2510.00003", 30),
    ]
    assert ranked[1].github_repo == "https://github.com/a/b"
    assert ranked[1].day == date(2025, 10, 29)
    assert rank_trending(entries, limit=1)[0].arxiv_id == "2510.00001"


def test_ranking_filters_with_the_bots_query_language() -> None:
    entries = [
        hf("2510.1", 10, TODAY, title="Medical image segmentation with transformers"),
        hf("2510.2", 90, TODAY, title="Language agents", summary="Agents for medical imaging."),
        hf("2510.3", 50, TODAY, title="Robot learning"),
    ]
    assert [e.arxiv_id for e in rank_trending(entries, query=parse_query("medical imaging"))] == [
        "2510.2",
        "2510.1",
    ]
    title_only = parse_query('ti:"medical imaging"')
    assert [e.arxiv_id for e in rank_trending(entries, query=title_only)] == ["2510.1"]
    assert rank_trending(entries, query=parse_query("cat:cs.CV")) == []  # no categories


def test_a_daily_entry_becomes_a_matchable_paper() -> None:
    paper = paper_from_hf(hf("2510.1", 1, TODAY, title="T", summary="S"))
    assert (paper.arxiv_id, paper.title, paper.abstract, paper.categories) == (
        "2510.1",
        "T",
        "S",
        (),
    )


async def test_trending_today(fake: FakeHuggingFace) -> None:
    trending = await fetch_trending(client_for(fake), "today", today=TODAY)
    assert trending is not None and trending.complete
    assert trending.days == (TODAY,)
    assert [(e.arxiv_id, e.upvotes) for e in trending.entries] == [
        ("2510.20002", 75),
        ("2510.20001", 40),
        ("2510.20003", 5),
    ]
    assert trending.entries[0].github_repo == "https://github.com/example/dit"
    assert trending.entries[0].github_stars == 310


async def test_trending_week_with_a_query(fake: FakeHuggingFace) -> None:
    client = client_for(fake)
    trending = await fetch_trending(client, "week", today=TODAY, query=parse_query("diffusion"))
    assert trending is not None and trending.complete
    assert [e.arxiv_id for e in trending.entries] == ["2510.10001", "2510.20002"]
    assert {r.params["date"] for r in fake.requests} == {d.isoformat() for d in trending.days}
    assert len(fake.requests) == 7

    everything = await fetch_trending(client, "week", today=TODAY)
    assert everything is not None
    assert [e.arxiv_id for e in everything.entries][:2] == ["2510.10001", "2510.20002"]
    assert "2510.09999" not in {e.arxiv_id for e in everything.entries}
    assert len(fake.requests) == 7  # the days were cached


async def test_trending_today_falls_back_to_the_latest_day_with_papers(
    fake: FakeHuggingFace,
) -> None:
    trending = await fetch_trending(client_for(fake), "today", today=date(2025, 10, 26))
    assert trending is not None
    assert trending.days == (date(2025, 10, 24),)
    assert [e.arxiv_id for e in trending.entries] == ["2510.10001"]


async def test_trending_when_hugging_face_is_down_is_none(fake: FakeHuggingFace) -> None:
    fake.fail_next(500)
    assert await fetch_trending(client_for(fake), "week", today=TODAY) is None
    assert fake.request_count == 1


async def test_trending_lists_the_days_it_could_not_ask_about(fake: FakeHuggingFace) -> None:
    client = client_for(fake, interval=0.3, min_request_time=0.2)
    trending = await fetch_trending(client, "week", today=TODAY, budget=1.0)
    assert trending is not None and not trending.complete
    assert trending.missing_days and set(trending.missing_days) < set(trending.days)
