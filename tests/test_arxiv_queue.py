"""The bot's own queue for arXiv: searches wait their turn on the event loop, hear where
they stand, answer instead of failing while arXiv is fine, and cost no request once their
askers have given up; nothing else waits behind them."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.errors import ArxivUnavailableError
from bot.models import ChannelRef, SearchResults, SortOrder
from bot.sources.arxiv_api import ArxivApi
from bot.sources.gate import ArxivGate, QueuePlace
from tests.fakes.arxiv_api import FakeArxiv, running_fake_arxiv
from tests.fakes.corpus import sample_papers
from tests.test_console import run_console

UA = "arxiv-bot/0.1.0 (+https://pypi.org/project/arxiv-bot/; mailto:test@example.org)"
INTERVAL = 0.2
LATENCY = 0.3
HERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with running_fake_arxiv(sample_papers()) as running:
        running.delay_next(LATENCY, times=1000)
        yield running


def make_api(url: str, *, deadline: float = 1.0, queue_limit: float = 60.0) -> ArxivApi:
    """A deadline shorter than the queue: only the request itself must fit in it."""
    gate = ArxivGate(interval=INTERVAL, timeout=5.0, user_agent=UA)
    return ArxivApi(gate, base_url=url, deadline=deadline, queue_limit=queue_limit)


async def test_queued_searches_all_answer_and_hear_where_they_stand(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    heard: dict[int, list[QueuePlace]] = {n: [] for n in range(10)}

    async def search(n: int) -> SearchResults:
        return await api.search(
            f"all:word{n}", sort=SortOrder.DATE, limit=5, on_queue=heard[n].append
        )

    started = time.monotonic()
    results = await asyncio.gather(*(search(n) for n in range(10)))
    took = time.monotonic() - started

    assert all(isinstance(result, SearchResults) for result in results)  # none "down"
    assert fake.request_count == 10 and fake.max_concurrent == 1
    assert took < 10 * (LATENCY + INTERVAL)
    assert heard[0] == []  # the first went at once
    for places in list(heard.values())[1:]:
        assert places, "a queued search heard nothing"
        aheads = [place.ahead for place in places]
        assert aheads == sorted(aheads, reverse=True) and aheads[-1] >= 1
    last = heard[9][0]
    assert last.ahead == 9 and last.wait >= 9 * INTERVAL


async def test_an_asker_who_gave_up_costs_no_request(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    first = asyncio.ensure_future(api.search("all:first", sort=SortOrder.DATE, limit=5))
    await asyncio.sleep(0.05)
    # Two askers share one queued search; a third asks for something else. All give up.
    shared = [
        asyncio.ensure_future(api.search("all:shared", sort=SortOrder.DATE, limit=5))
        for _ in range(2)
    ]
    other = asyncio.ensure_future(api.search("all:other", sort=SortOrder.DATE, limit=5))
    last = asyncio.ensure_future(api.search("all:last", sort=SortOrder.DATE, limit=5))
    await asyncio.sleep(0.05)
    assert api.gate.queued() == 3
    for task in (*shared, other):
        task.cancel()
    await first
    await last
    assert sorted(r.params["search_query"] for r in fake.requests) == ["all:first", "all:last"]
    assert api.gate.queued() == 0


async def test_one_asker_of_a_shared_search_giving_up_leaves_it_to_the_other(
    fake: FakeArxiv,
) -> None:
    api = make_api(fake.url)
    first = asyncio.ensure_future(api.search("all:first", sort=SortOrder.DATE, limit=5))
    await asyncio.sleep(0.05)
    askers = [
        asyncio.ensure_future(api.search("all:shared", sort=SortOrder.DATE, limit=5))
        for _ in range(2)
    ]
    await asyncio.sleep(0.05)
    askers[0].cancel()
    await first
    assert isinstance(await askers[1], SearchResults)
    assert fake.request_count == 2


async def test_a_queue_too_long_says_the_bot_is_busy_not_that_arxiv_is_down(
    fake: FakeArxiv,
) -> None:
    api = make_api(fake.url, queue_limit=1.0)
    outcomes = await asyncio.gather(
        *(api.search(f"all:w{n}", sort=SortOrder.DATE, limit=5) for n in range(6)),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, ArxivUnavailableError)]
    assert refused and isinstance(outcomes[0], SearchResults)
    assert all("busy" in str(error) and "down" not in str(error) for error in refused)
    assert fake.request_count == len(outcomes) - len(refused)  # refused ones cost nothing


async def test_requests_are_spaced_from_start_to_start(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    await asyncio.gather(*(api.search(f"all:s{n}", sort=SortOrder.DATE, limit=5) for n in range(4)))
    starts = [request.started for request in fake.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # One connection at a time: each starts when the last is answered (LATENCY), which is
    # already more than INTERVAL after its start; never INTERVAL after its end.
    assert all(LATENCY - 0.05 <= gap < LATENCY + INTERVAL - 0.02 for gap in gaps), gaps


# -- through the app and the adapters ---------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"arxiv_request_interval": INTERVAL})


async def test_preview_is_not_kept_waiting_by_queued_searches(
    app: BotApp, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.delay_next(LATENCY, times=1000)
    searches = [
        asyncio.ensure_future(app.execute(f"/arxiv search all:q{n}", HERE)) for n in range(20)
    ]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    preview = await app.execute("/arxiv preview ti:segmentation", HERE)
    took = time.monotonic() - started
    assert preview.title.startswith("Preview of") and took < 0.5, took
    for search in searches:
        search.cancel()
    await asyncio.gather(*searches, return_exceptions=True)
    assert fake_arxiv.request_count <= 2  # the cancelled ones never went out


async def test_the_console_shows_where_a_queued_search_stands(
    app: BotApp, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.delay_next(LATENCY, times=1000)
    ahead = [asyncio.ensure_future(app.execute(f"/arxiv search all:a{n}", HERE)) for n in range(3)]
    await asyncio.sleep(0.05)
    output = await run_console(app, "/arxiv search ti:segmentation\n")
    assert "searches ahead of yours, about" in output
    assert output.index("ahead of yours") < output.index("Segmentation")
    replies = await asyncio.gather(*ahead)
    assert not any("down" in reply.title for reply in replies)
