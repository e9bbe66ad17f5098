"""The OAI-PMH client against arXiv's metadata format and a real local fake server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import requests

from bot.errors import ArxivUnavailableError, HarvestError
from bot.models import HarvestedRecord, Paper
from bot.sources.oai import OaiClient, OaiError, parse_list_records
from tests.fakes.corpus import make_paper, sample_papers
from tests.fakes.oai import FakeOai, ManualTime, quick_gate, record_sets, running_fake_oai

DAY = date(2025, 6, 16)

# A page as arXiv writes it: wrapped and indented text, runs of spaces, a suffix, an
# old-style id, a deleted record and a resumption token with its attributes.
ARXIV_PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<responseDate>2025-06-17T03:00:00Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXiv" from="2025-06-14">https://oaipmh.arxiv.org/oai</request>
<ListRecords>
<record>
<header>
 <identifier>oai:arXiv.org:2506.11674</identifier>
 <datestamp>2025-06-14</datestamp>
 <setSpec>eess</setSpec>
 <setSpec>cs</setSpec>
</header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/"
        xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">
 <id>2506.11674</id><created>2025-06-13</created><updated>2025-06-20</updated>
 <authors>
  <author><keyname>M\xc3\xbcller</keyname><forenames>Lena</forenames><suffix>Jr</suffix></author>
  <author><keyname>Iyer</keyname><forenames>Rahul  K.</forenames>
          <affiliation>IISc</affiliation></author>
  <author><keyname>ATLAS Collaboration</keyname></author>
 </authors>
 <title>Boundary-Aware Diffusion Models for
  Medical   Image Segmentation</title>
 <categories>eess.IV cs.CV cs.LG</categories>
 <comments>12 pages,
  5 figures</comments>
 <journal-ref>Med. Image Anal. 99 (2025) 103456</journal-ref>
 <doi>10.1016/j.media.2025.103456</doi>
 <license>http://creativecommons.org/licenses/by/4.0/</license>
 <abstract>  Accurate delineation of organ boundaries &amp; lesions remains
a central   challenge.
</abstract>
 </arXiv>
</metadata>
</record>
<record>
<header status="deleted">
 <identifier>oai:arXiv.org:2506.00001</identifier>
 <datestamp>2025-06-15</datestamp>
</header>
</record>
<record>
<header>
 <identifier>oai:arXiv.org:hep-th/9901001</identifier>
 <datestamp>2025-06-15</datestamp>
 <setSpec>physics:hep-th</setSpec>
</header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/">
 <id>hep-th/9901001</id><created>1999-01-04</created>
 <authors><author><keyname>Witten</keyname><forenames>Edward</forenames></author></authors>
 <title>Old-Style Identifiers Still Matter</title>
 <categories>hep-th</categories>
 <abstract>A short abstract.</abstract>
 </arXiv>
</metadata>
</record>
<resumptionToken cursor="0" completeListSize="5123">6960524|1001</resumptionToken>
</ListRecords>
</OAI-PMH>
"""


def _utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _record(paper: Paper, datestamp: date = DAY) -> HarvestedRecord:
    return HarvestedRecord(paper=paper, datestamp=datestamp)


def _as_harvested(paper: Paper) -> Paper:
    """What a paper looks like after the round trip: days, and a provisional version."""
    submitted = _utc(paper.submitted.date().isoformat())
    updated = _utc(paper.updated.date().isoformat()) if paper.version > 1 else submitted
    return dataclasses.replace(
        paper,
        version=2 if paper.version > 1 else 1,
        submitted=submitted,
        updated=updated,
    )


@pytest.fixture
def time() -> ManualTime:
    return ManualTime()


@pytest.fixture
def fake() -> Iterator[FakeOai]:
    records = [_record(p, date(2025, 6, 10 + i % 5)) for i, p in enumerate(sample_papers())]
    with running_fake_oai(records, page_size=4) as server:
        yield server


@pytest.fixture
def client(fake: FakeOai, time: ManualTime) -> Iterator[OaiClient]:
    oai = OaiClient(quick_gate(time), base_url=fake.url)
    yield oai
    oai.close()


# -- parsing ---------------------------------------------------------------------------


def test_parses_arxiv_metadata_format() -> None:
    page = parse_list_records(ARXIV_PAGE)

    assert page.token == "6960524|1001"
    assert (page.cursor, page.complete_list_size) == (0, 5123)
    assert (page.deleted, page.skipped) == (1, 0)
    assert [r.paper.arxiv_id for r in page.records] == ["2506.11674", "hep-th/9901001"]
    first, old = page.records
    assert first.datestamp == date(2025, 6, 14)
    assert first.paper == Paper(
        arxiv_id="2506.11674",
        version=2,
        title="Boundary-Aware Diffusion Models for Medical Image Segmentation",
        authors=("Lena Müller Jr", "Rahul K. Iyer", "ATLAS Collaboration"),
        abstract="Accurate delineation of organ boundaries & lesions remains a central challenge.",
        categories=("eess.IV", "cs.CV", "cs.LG"),
        submitted=_utc("2025-06-13"),
        updated=_utc("2025-06-20"),
        comment="12 pages, 5 figures",
        journal_ref="Med. Image Anal. 99 (2025) 103456",
        doi="10.1016/j.media.2025.103456",
    )
    assert old.paper.version == 1, "no <updated>: the first version"
    assert old.paper.updated == old.paper.submitted == _utc("1999-01-04")
    assert (old.paper.comment, old.paper.journal_ref, old.paper.doi) == (None, None, None)


def test_last_page_has_no_token() -> None:
    body = ARXIV_PAGE.replace(
        b'<resumptionToken cursor="0" completeListSize="5123">6960524|1001</resumptionToken>',
        b'<resumptionToken cursor="5000" completeListSize="5123"/>',
    )
    page = parse_list_records(body)
    assert page.token is None
    assert page.cursor == 5000


def test_unreadable_records_are_skipped_not_fatal() -> None:
    body = ARXIV_PAGE.replace(b"<id>hep-th/9901001</id>", b"<id>not an id</id>")
    page = parse_list_records(body)
    assert [r.paper.arxiv_id for r in page.records] == ["2506.11674"]
    assert page.skipped == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ARXIV_PAGE[: len(ARXIV_PAGE) // 2], "not well-formed"),
        (b"<html><body>Service Unavailable</body></html>", "not OAI-PMH"),
        (b"", "not well-formed"),
        (
            b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><GetRecord/></OAI-PMH>',
            "neither ListRecords nor an error",
        ),
    ],
)
def test_malformed_answers_raise(body: bytes, message: str) -> None:
    with pytest.raises(HarvestError, match=message):
        parse_list_records(body)


@pytest.mark.parametrize(
    "body",
    [
        # An external entity (XXE) reading a local file.
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        b"<resumptionToken>&x;</resumptionToken></ListRecords></OAI-PMH>",
        # Exponential entity expansion ("billion laughs").
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="x">&c;</error>'
        b"</OAI-PMH>",
    ],
)
def test_documents_with_a_doctype_are_refused(body: bytes) -> None:
    with pytest.raises(HarvestError, match="DOCTYPE"):
        parse_list_records(body)


def test_oai_errors_carry_their_code() -> None:
    body = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<error code="badResumptionToken">The token\n  expired</error></OAI-PMH>'
    )
    with pytest.raises(OaiError) as caught:
        parse_list_records(body)
    assert caught.value.code == "badResumptionToken"
    assert str(caught.value) == "OAI-PMH error badResumptionToken: The token expired"


# -- the client against the fake ------------------------------------------------------


def test_round_trips_every_sample_paper(client: OaiClient, fake: FakeOai) -> None:
    pages = list(client.list_records(from_date=date(2025, 6, 1)))

    harvested = [record for page in pages for record in page]
    expected = {r.paper.arxiv_id: r for r in fake.records}
    assert len(harvested) == len(expected) == len(sample_papers())
    for record in harvested:
        original = expected[record.paper.arxiv_id]
        assert record.datestamp == original.datestamp
        assert record.paper == _as_harvested(original.paper)


def test_follows_resumption_tokens_alone(client: OaiClient, fake: FakeOai) -> None:
    pages = list(client.list_records(from_date=date(2025, 6, 1)))

    count = len(sample_papers())
    assert [len(page) for page in pages] == [4] * (count // 4) + ([count % 4] if count % 4 else [])
    first, *rest = fake.requests
    assert first.params == {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": "2025-06-01"}
    assert rest and all(set(r.params) == {"verb", "resumptionToken"} for r in rest)
    assert client.requests == len(pages) == fake.request_count
    assert all(r.user_agent and r.user_agent.startswith("arxiv-bot") for r in fake.requests)


def test_from_and_set_filter_by_datestamp_and_cross_lists(client: OaiClient, fake: FakeOai) -> None:
    cross_listed = make_paper("2506.20001", categories=("eess.IV", "cs.CV"))
    physics = make_paper("2506.20002", categories=("hep-th", "gr-qc"))
    old = make_paper("2506.20003", categories=("cs.CV",))
    fake.set_records([_record(cross_listed), _record(physics), _record(old, date(2025, 6, 1))])

    cs = [r.paper.arxiv_id for p in client.list_records(from_date=DAY, set_spec="cs") for r in p]
    hep = [
        r.paper.arxiv_id
        for p in client.list_records(from_date=DAY, set_spec="physics:hep-th")
        for r in p
    ]
    everything = [
        r.paper.arxiv_id for p in client.list_records(from_date=date(2025, 5, 1)) for r in p
    ]

    assert cs == ["2506.20001"], "a cross-list puts a paper in its set; the old one is too old"
    assert hep == ["2506.20002"]
    assert sorted(everything) == ["2506.20001", "2506.20002", "2506.20003"]
    assert [r.params.get("set") for r in fake.requests] == ["cs", "physics:hep-th", None]


def test_fake_sets_follow_arxiv() -> None:
    assert record_sets(["eess.IV", "cs.CV"]) == {"eess", "eess:eess:IV", "cs", "cs:cs:CV"}
    assert record_sets(["hep-th", "astro-ph.CO"]) == {
        "physics",
        "physics:hep-th",
        "physics:astro-ph",
        "physics:astro-ph:CO",
    }


def test_no_records_match_is_an_empty_harvest(client: OaiClient, fake: FakeOai) -> None:
    assert list(client.list_records(from_date=date(2030, 1, 1))) == []
    assert fake.request_count == 1
    assert client.requests == 1


def test_deleted_records_are_left_out(client: OaiClient, fake: FakeOai) -> None:
    fake.set_records([_record(make_paper("2506.30001")), _record(make_paper("2506.30002"))])
    fake.delete_record("2506.30001", datestamp=DAY)

    pages = list(client.list_records(from_date=DAY))

    assert [[r.paper.arxiv_id for r in page] for page in pages] == [["2506.30002"]]
    assert fake.records == [_record(make_paper("2506.30002"))]


@pytest.mark.parametrize(("status", "retry_after"), [(503, "7"), (429, "3")])
def test_the_gate_waits_out_retry_after(
    client: OaiClient, fake: FakeOai, time: ManualTime, status: int, retry_after: str
) -> None:
    fake.fail_next(status, retry_after=retry_after, after=1)

    pages = list(client.list_records(from_date=date(2025, 6, 1)))

    assert sum(len(p) for p in pages) == len(sample_papers())
    assert time.sleeps == [float(retry_after)]
    assert [r.status for r in fake.requests][:3] == [200, status, 200]
    assert client.requests == fake.request_count, "retries count as requests"


def test_unavailable_beyond_retries_is_a_harvest_error(client: OaiClient, fake: FakeOai) -> None:
    fake.fail_next(503, retry_after="5", times=10, after=1)
    pages = client.list_records(from_date=date(2025, 6, 1))

    assert len(next(pages)) == 4
    with pytest.raises(HarvestError, match="HTTP 503") as caught:
        next(pages)
    assert isinstance(caught.value.__cause__, ArxivUnavailableError)
    assert fake.request_count == 1 + 3, "the gate's three attempts, no retries of our own"


def test_truncated_page_is_a_harvest_error(client: OaiClient, fake: FakeOai) -> None:
    fake.truncate_next(after=1)
    pages = client.list_records(from_date=date(2025, 6, 1))

    assert len(next(pages)) == 4
    with pytest.raises(HarvestError, match="not well-formed"):
        next(pages)


def test_expired_token_is_a_harvest_error(client: OaiClient, fake: FakeOai) -> None:
    pages = client.list_records(from_date=date(2025, 6, 1))
    assert len(next(pages)) == 4
    fake.expire_tokens()

    with pytest.raises(OaiError) as caught:
        next(pages)
    assert caught.value.code == "badResumptionToken"


def test_error_status_without_oai_body_is_a_harvest_error(client: OaiClient, fake: FakeOai) -> None:
    fake.fail_next(500)
    with pytest.raises(HarvestError, match="HTTP 500"):
        list(client.list_records(from_date=date(2025, 6, 1)))


def test_wrong_endpoint_is_a_harvest_error(fake: FakeOai, time: ManualTime) -> None:
    client = OaiClient(quick_gate(time), base_url=fake.base_url + "/nothing-here")
    with pytest.raises(HarvestError, match="HTTP 404"):
        list(client.list_records(from_date=DAY))


def test_fake_refuses_bad_arguments(fake: FakeOai) -> None:
    def error_code(params: dict[str, str]) -> str | None:
        body = requests.get(fake.url, params=params, timeout=5).content
        try:
            parse_list_records(body)
        except OaiError as exc:
            return exc.code
        return None

    base = {"verb": "ListRecords", "metadataPrefix": "arXiv"}
    assert error_code({**base, "from": "2025-06-01"}) is None
    assert error_code({**base, "from": "2025-06-01T00:00:00Z"}) == "badArgument"
    assert error_code({"verb": "ListRecords"}) == "badArgument"
    assert error_code({**base, "metadataPrefix": "oai_dc"}) == "cannotDisseminateFormat"
    assert error_code({"verb": "ListRecords", "resumptionToken": "1|4", "from": "x"}) == (
        "badArgument"
    )
    assert error_code({"verb": "ListRecords", "resumptionToken": "nope"}) == "badResumptionToken"
    assert error_code({"verb": "Identify"}) == "badVerb"
