"""ArxivApi end to end: the real ``arxiv`` client, the gate, and the fake arXiv over HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime

import arxiv
import pytest

from bot.errors import ArxivRejectedError, ArxivUnavailableError, NotFoundError, PaperIdError
from bot.models import Paper, SortOrder
from bot.sources.arxiv_api import ArxivApi, paper_from_result
from bot.sources.gate import ArxivGate
from tests.fakes.arxiv_api import FakeArxiv, running_fake_arxiv
from tests.fakes.corpus import paper_by_id, sample_papers

UA = "arxiv-bot/0.1.0 (+https://pypi.org/project/arxiv-bot/; mailto:test@example.org)"


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with running_fake_arxiv(sample_papers()) as running:
        yield running


def make_api(
    url: str,
    *,
    timeout: float = 5.0,
    deadline: float = 15.0,
    max_attempts: int = 4,
    cache_seconds: float = 300,
    page_size: int = 100,
) -> ArxivApi:
    gate = ArxivGate(
        interval=0,
        timeout=timeout,
        user_agent=UA,
        max_attempts=max_attempts,
        sleep=lambda seconds: None,  # backoff without real waiting
    )
    return ArxivApi(
        gate, base_url=url, cache_seconds=cache_seconds, deadline=deadline, page_size=page_size
    )


# -- search ----------------------------------------------------------------------------


async def test_search_returns_papers_newest_first(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    results = await api.search("ti:segmentation", sort=SortOrder.DATE, limit=10)
    expected = sorted(
        (p for p in sample_papers() if "segmentation" in p.title.lower()),
        key=lambda p: p.submitted,
        reverse=True,
    )
    assert results.query == "ti:segmentation"
    assert results.papers == tuple(expected)
    assert results.total == len(expected) == 3
    (request,) = fake.requests
    assert request.params["search_query"] == "ti:segmentation"
    assert request.params["sortBy"] == "submittedDate"
    assert request.params["sortOrder"] == "descending"
    assert request.params["max_results"] == "10"
    assert request.user_agent == UA


async def test_relevance_sort(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    await api.search("all:language", sort=SortOrder.RELEVANCE, limit=5)
    assert fake.requests[0].params["sortBy"] == "relevance"


async def test_total_comes_from_the_feed(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    results = await api.search("cat:cs.CL", sort=SortOrder.DATE, limit=2)
    assert len(results.papers) == 2
    assert results.total == sum("cs.CL" in p.categories for p in sample_papers())
    assert fake.requests[0].params["max_results"] == "2"  # no more than needed


async def test_no_results(fake: FakeArxiv) -> None:
    results = await make_api(fake.url).search("ti:zebrafish", sort=SortOrder.DATE, limit=5)
    assert (results.total, results.papers) == (0, ())


async def test_limit_beyond_a_page_pages_through(fake: FakeArxiv) -> None:
    api = make_api(fake.url, page_size=2)
    results = await api.search("cat:cs.CL", sort=SortOrder.DATE, limit=5)
    assert len(results.papers) == 5
    assert len({p.arxiv_id for p in results.papers}) == 5
    pages = [(r.params["start"], r.params["max_results"]) for r in fake.requests]
    assert pages == [("0", "2"), ("2", "2"), ("4", "1")]


async def test_every_sample_paper_survives_the_round_trip(fake: FakeArxiv) -> None:
    """Titles wrapped over lines, accents, markup and old-style ids come back intact."""
    api = make_api(fake.url)
    for paper in sample_papers():
        assert await api.lookup(paper.arxiv_id) == paper


async def test_malformed_query_is_rejected_with_arxivs_message(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    with pytest.raises(ArxivRejectedError) as caught:
        await api.search('ti:"medical imaging', sort=SortOrder.DATE, limit=5)
    assert str(caught.value) == "arXiv rejected the query: unbalanced quotes in query"
    assert fake.request_count == 1  # not retried


async def test_scripted_rejection(fake: FakeArxiv) -> None:
    fake.fail_next(400, message="submittedDate must be of the form [YYYYMMDDTTTT TO YYYYMMDDTTTT]")
    with pytest.raises(ArxivRejectedError, match=r"rejected the query: submittedDate must be"):
        await make_api(fake.url).search("submittedDate:2025", sort=SortOrder.DATE, limit=5)


# -- lookup ----------------------------------------------------------------------------


async def test_lookup_latest_and_by_version(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    latest = await api.lookup("https://arxiv.org/abs/2506.08123")
    assert latest.versioned_id == "2506.08123v3"
    first = await api.lookup("2506.08123", version=1)
    assert first.versioned_id == "2506.08123v1"
    assert (await api.lookup("arXiv:2506.08123v2")).version == 2
    assert [r.params["id_list"] for r in fake.requests] == [
        "2506.08123",
        "2506.08123v1",
        "2506.08123v2",
    ]


async def test_lookup_old_style_id_with_subject_class(fake: FakeArxiv) -> None:
    paper = await make_api(fake.url).lookup("math.GT/0309136v2")
    assert paper.arxiv_id == "math/0309136"
    assert paper.categories == ("math.GT", "math.SG")


async def test_lookup_not_found(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    with pytest.raises(NotFoundError, match=r"arXiv has no paper 2501\.00001"):
        await api.lookup("2501.00001")
    with pytest.raises(NotFoundError, match=r"no version 9 of paper 2506\.11674"):
        await api.lookup("2506.11674v9")


async def test_lookup_rejects_non_ids_without_a_request(fake: FakeArxiv) -> None:
    with pytest.raises(PaperIdError):
        await make_api(fake.url).lookup("not a paper")
    assert fake.request_count == 0


# -- caching ---------------------------------------------------------------------------


async def test_identical_searches_cost_one_request(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    first = await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    second = await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert first == second
    assert fake.request_count == 1
    await api.search("ti:segmentation", sort=SortOrder.RELEVANCE, limit=5)
    await api.search("ti:segmentation", sort=SortOrder.DATE, limit=6)
    assert fake.request_count == 3


async def test_concurrent_identical_searches_share_one_request(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    fake.delay_next(0.2)
    results = await asyncio.gather(
        *(api.search("abs:diffusion", sort=SortOrder.DATE, limit=5) for _ in range(5))
    )
    assert fake.request_count == 1
    assert all(r == results[0] for r in results)
    assert results[0].papers[0].arxiv_id == "2506.11674"


async def test_lookups_are_cached(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    await api.lookup("2506.11674")
    await api.lookup("https://arxiv.org/pdf/2506.11674")
    assert fake.request_count == 1


async def test_cache_expires(fake: FakeArxiv) -> None:
    api = make_api(fake.url, cache_seconds=0.05)
    await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    await asyncio.sleep(0.1)
    await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert fake.request_count == 2


async def test_errors_are_not_cached(fake: FakeArxiv) -> None:
    api = make_api(fake.url, max_attempts=1)
    fake.fail_next(503)
    with pytest.raises(ArxivUnavailableError, match=r"HTTP 503"):
        await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    results = await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert results.total == 3
    assert fake.request_count == 2


# -- trouble ---------------------------------------------------------------------------


async def test_503_is_retried_transparently(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    fake.fail_next(503, times=2)
    results = await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert results.total == 3
    assert [r.status for r in fake.requests] == [503, 503, 200]


async def test_long_retry_after_fails_at_once(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    fake.fail_next(429, retry_after="120")
    started = time.monotonic()
    with pytest.raises(ArxivUnavailableError) as caught:
        await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert time.monotonic() - started < 1
    assert str(caught.value) == (
        "arXiv is rate-limiting requests right now; try again in about 120 seconds"
    )


async def test_slow_arxiv_fails_within_the_deadline(fake: FakeArxiv) -> None:
    api = make_api(fake.url, timeout=10, deadline=0.5)
    fake.delay_next(5)
    started = time.monotonic()
    with pytest.raises(ArxivUnavailableError) as caught:
        await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert time.monotonic() - started < 1.5
    assert str(caught.value) == (
        "arXiv did not answer within 0.5 seconds; it may be down — try again later"
    )


async def test_request_timeout(fake: FakeArxiv) -> None:
    api = make_api(fake.url, timeout=0.3)
    fake.delay_next(5)
    with pytest.raises(ArxivUnavailableError, match=r"did not answer within 0\.3 seconds"):
        await api.lookup("2506.11674")


async def test_arxiv_down(fake: FakeArxiv) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = make_api(f"http://127.0.0.1:{port}/api/query")
    with pytest.raises(ArxivUnavailableError, match=rf"could not reach arXiv at 127.0.0.1:{port}"):
        await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)


async def test_wrong_endpoint(fake: FakeArxiv) -> None:
    api = make_api(fake.base_url + "/nope")
    with pytest.raises(ArxivUnavailableError, match="check the ARXIV_API_URL setting"):
        await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)


async def test_the_event_loop_keeps_running_during_a_request(fake: FakeArxiv) -> None:
    api = make_api(fake.url)
    fake.delay_next(0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    task.cancel()
    assert ticks >= 10


# -- paper_from_result -----------------------------------------------------------------


def test_paper_from_result_normalises() -> None:
    result = arxiv.Result(
        entry_id="http://arxiv.org/abs/2506.11674v2",
        updated=datetime(2025, 6, 20, 10, 0),  # naive: taken as UTC
        published=datetime.fromisoformat("2025-06-13T19:59:46+02:00"),
        title="  Boundary-Aware   Diffusion\n  Models ",
        authors=[arxiv.Result.Author("Lena  Müller"), arxiv.Result.Author(" ")],
        summary="  Accurate delineation\nof boundaries.\n",
        comment="",
        journal_ref="  ",
        doi="10.1000/xyz",
        primary_category="eess.IV",
        categories=["cs.CV", "eess.IV", "cs.CV", "cs.LG"],
    )
    paper = paper_from_result(result)
    assert paper == Paper(
        arxiv_id="2506.11674",
        version=2,
        title="Boundary-Aware Diffusion Models",
        authors=("Lena Müller",),
        abstract="Accurate delineation of boundaries.",
        categories=("eess.IV", "cs.CV", "cs.LG"),
        submitted=datetime(2025, 6, 13, 17, 59, 46, tzinfo=UTC),
        updated=datetime(2025, 6, 20, 10, 0, tzinfo=UTC),
        comment=None,
        journal_ref=None,
        doi="10.1000/xyz",
    )


def test_paper_from_result_old_style_id() -> None:
    result = arxiv.Result(entry_id="http://arxiv.org/abs/hep-th/9901001v1", title="T")
    paper = paper_from_result(result)
    assert (paper.arxiv_id, paper.version) == ("hep-th/9901001", 1)
    assert paper_by_id("hep-th/9901001").arxiv_id == paper.arxiv_id


def test_paper_from_result_refuses_error_entries() -> None:
    result = arxiv.Result(entry_id="http://arxiv.org/api/errors#incorrect_id_format_for_1")
    with pytest.raises(ValueError, match="not a paper entry"):
        paper_from_result(result)


# -- the fake itself (other tests rely on its matching) --------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"


def fake_ids(fake: FakeArxiv, query: str, **params: str) -> list[str]:
    status, body = fake.answer({"search_query": query, "max_results": "50", **params})
    assert status == 200, body
    root = ET.fromstring(body)
    return [
        (entry.findtext(f"{ATOM}id") or "").removeprefix("http://arxiv.org/abs/")
        for entry in root.iter(f"{ATOM}entry")
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("au:müller", {"2506.11674v1", "2505.21234v1", "2506.12000v1"}),
        ("au:Muller AND ti:ultrasound", {"2506.12000v1"}),
        ("au:muller ANDNOT cat:cs.LG", {"2505.21234v1", "2506.12000v1"}),
        ("ti:knot OR ti:cat", {"math/0309136v2", "2505.12345v1"}),
        ('ti:"chest x-ray"', {"2506.04410v1"}),
        ('ti:"medical image" AND (cat:eess.IV OR cat:cs.CR)', {"2506.11674v1", "2502.03456v1"}),
        ("cat:hep-*", {"2505.09090v1", "0704.0001v2", "hep-th/9901001v1"}),
        ("co:MICCAI", {"2506.11674v1", "2505.21234v1"}),
        ("jr:Phys.Rev.D76", {"0704.0001v2"}),
        (
            "cat:eess.IV AND submittedDate:[202506130000 TO 202506142359]",
            {"2506.11674v1", "2506.12000v1"},
        ),
        ("ti:zebrafish", set()),
    ],
)
def test_fake_matches_like_arxiv_roughly(fake: FakeArxiv, query: str, expected: set[str]) -> None:
    assert set(fake_ids(fake, query)) == expected


def test_fake_sorts_and_pages(fake: FakeArxiv) -> None:
    newest = fake_ids(fake, "cat:cs.CL", sortBy="submittedDate", sortOrder="descending")
    oldest = fake_ids(fake, "cat:cs.CL", sortBy="submittedDate", sortOrder="ascending")
    assert newest == oldest[::-1]
    page = fake_ids(
        fake,
        "cat:cs.CL",
        sortBy="submittedDate",
        sortOrder="descending",
        start="1",
        max_results="2",
    )
    assert page == newest[1:3]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"search_query": "ti:(a OR b"}, "unbalanced parentheses in query"),
        ({"search_query": "ti:a)"}, "unbalanced parentheses in query"),
        ({"search_query": 'ti:"a b'}, "unbalanced quotes in query"),
        ({"search_query": "xx:a"}, "unknown field 'xx' in query"),
        ({"search_query": "ti:a AND"}, "query ends where a term was expected"),
        ({"search_query": "submittedDate:[2025 TO 2026]"}, "submittedDate must be of the form"),
        ({"id_list": "not-an-id"}, "incorrect id format for not-an-id"),
        ({"search_query": "ti:a", "start": "x"}, "start must be an integer"),
        ({"search_query": "ti:a", "max_results": "5000"}, "max_results must be at most 2000"),
        ({"search_query": "ti:a", "sortBy": "date"}, "sortBy must be in"),
    ],
)
def test_fake_rejects_malformed_requests(
    fake: FakeArxiv, params: dict[str, str], message: str
) -> None:
    status, body = fake.answer(params)
    assert status == 400
    summary = ET.fromstring(body).findtext(f"{ATOM}entry/{ATOM}summary") or ""
    assert summary.startswith(message)


def test_fake_id_list_versions(fake: FakeArxiv) -> None:
    status, body = fake.answer({"id_list": "2506.08123v2,hep-th/9901001,2506.08123v4"})
    assert status == 200
    ids = [e.findtext(f"{ATOM}id") for e in ET.fromstring(body).iter(f"{ATOM}entry")]
    assert ids == ["http://arxiv.org/abs/2506.08123v2", "http://arxiv.org/abs/hep-th/9901001v1"]
