"""OAI-PMH lists that do not add up fail the harvest, keep the watermark, lose nothing.

Each ``ListRecords`` page's resumption token says where the page starts (``cursor``) and
how long the list is (``completeListSize``). A real harvester, store and fake OAI-PMH
server over HTTP; 191 records in pages of 50, as on a busy day of ``eess.IV``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import HarvestError
from bot.harvest import Harvester
from bot.models import HarvestedRecord
from bot.sources.oai import OaiClient
from bot.store import Store
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper
from tests.fakes.oai import FakeOai, quick_gate, running_fake_oai

START = datetime(2025, 6, 17, 3, 0, tzinfo=UTC)
TODAY = START.date()
WATERMARK = TODAY - timedelta(days=1)
"""Left by an earlier complete harvest."""
RECORDS = [
    HarvestedRecord(make_paper(f"2506.{20000 + n}", categories=("eess.IV",)), TODAY)
    for n in range(191)
]

BREAKS: dict[str, tuple[Callable[[FakeOai], None], str]] = {
    "an empty page with a token": (
        lambda fake: fake.empty_page_next(after=1),
        "OAI-PMH sent an empty page with a resumption token",
    ),
    "a page short of records": (
        lambda fake: fake.short_page_next(5, after=1),
        "OAI-PMH page starts at record 100 but 95 records came before it",
    ),
    "a last page short of records": (
        lambda fake: fake.short_page_next(5, after=3),
        "OAI-PMH list ended after 186 of its 191 records",
    ),
    "50 of 191, then the list ends": (
        lambda fake: fake.end_list_next(after=1),
        "OAI-PMH list ended after 50 of its 191 records",
    ),
    "50 of 191, then a page without a token": (
        lambda fake: fake.end_list_next(after=1, token=False),
        "OAI-PMH list ended after 50 of its 191 records",
    ),
}


@pytest.fixture
def fake() -> Iterator[FakeOai]:
    with running_fake_oai(RECORDS, page_size=50) as server:
        yield server


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
async def harvester(store: Store, fake: FakeOai, clock: SettableClock) -> AsyncIterator[Harvester]:
    oai = OaiClient(quick_gate(), base_url=fake.url)
    harvester = Harvester(store=store, oai=oai, clock=clock)
    await harvester.set_watermark(WATERMARK)
    yield harvester
    oai.close()


@pytest.mark.parametrize("how", BREAKS)
async def test_a_list_that_does_not_add_up_fails_the_harvest_and_loses_nothing(
    harvester: Harvester, store: Store, fake: FakeOai, clock: SettableClock, how: str
) -> None:
    break_list, message = BREAKS[how]
    break_list(fake)

    with pytest.raises(HarvestError, match=message):
        await harvester.harvest()

    assert await harvester.watermark() == WATERMARK
    assert message in (await harvester.last_error() or "")
    assert await stored(store) < len(RECORDS)

    clock.advance(hours=1)
    report = await harvester.harvest()

    assert await stored(store) == report.records == len(RECORDS)
    assert await harvester.watermark() == TODAY
    assert await harvester.last_error() is None


async def test_a_list_that_adds_up_is_harvested_whole(harvester: Harvester, fake: FakeOai) -> None:
    report = await harvester.harvest()
    assert report.records == len(RECORDS)
    assert [r.params.get("resumptionToken", "first") for r in fake.requests] == [
        "first",
        "1|50",
        "1|100",
        "1|150",
    ]


async def stored(store: Store) -> int:
    rows = await store.fetchall("SELECT arxiv_id FROM papers")
    return len(rows)
