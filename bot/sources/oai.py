"""Harvest arXiv's metadata through OAI-PMH: ``ListRecords`` in the ``arXiv`` format.

arXiv recommends OAI-PMH for harvesting: ``verb=ListRecords&metadataPrefix=arXiv&from=
YYYY-MM-DD[&set=cs]`` returns every record whose datestamp (the day of its last change) is
on or after ``from``, about 2,500 a page, each page ending with a ``resumptionToken`` that
asks for the next one (``verb=ListRecords&resumptionToken=...``, no other arguments). An
empty or missing token ends the list; an empty window is the OAI error ``noRecordsMatch``,
not a failure.

Every request goes through the :class:`~bot.sources.gate.ArxivGate`'s session, which
spaces requests, retries 429/503 honouring ``Retry-After`` and times out; the client
itself never retries. Anything that keeps a list from being read to its end (an error
status, malformed or truncated XML, an expired resumption token) raises
:class:`~bot.errors.HarvestError`, so the harvester keeps its old watermark.

Pages are checked before they are believed: each resumption token's ``cursor`` (records
before this page) and ``completeListSize`` (the whole list) must agree with the records
counted so far, and a page without records cannot carry a token. A list that does not add
up (an empty page with a token, a page short of records, a list that ends early) is a
:class:`~bot.errors.HarvestError` like any other.

Why not ``sickle``: it sends requests with module-level ``requests.get`` rather than a
session (so it cannot go through the gate without overriding a private method), and it
parses with lxml's ``recover=True``, which turns a truncated page into a shorter page
without a resumption token: a harvest that silently loses records.

XML is parsed strictly, refusing any DOCTYPE (:func:`~bot.sources.xmlsafe.parse_xml`).
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from requests import Response

from bot.arxiv_ids import parse_arxiv_id
from bot.errors import ArxivBotError, ArxivIncompleteError, HarvestError, PaperIdError
from bot.models import HarvestedRecord, Paper
from bot.secrets import mask_url
from bot.sources.gate import ArxivGate, GatedSession
from bot.sources.xmlsafe import parse_xml

__all__ = [
    "ARXIV_FORMAT_NS",
    "METADATA_PREFIX",
    "OAI_NS",
    "OaiClient",
    "OaiError",
    "OaiPage",
    "parse_list_records",
]

log = logging.getLogger(__name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_FORMAT_NS = "http://arxiv.org/OAI/arXiv/"
METADATA_PREFIX = "arXiv"

_O = f"{{{OAI_NS}}}"
_A = f"{{{ARXIV_FORMAT_NS}}}"


@dataclass(frozen=True, slots=True)
class OaiPage:
    """One ``ListRecords`` answer."""

    records: tuple[HarvestedRecord, ...]
    token: str | None
    """The resumption token for the next page; None when this page is the last."""
    deleted: int = 0
    """Records marked ``status="deleted"``, left out of ``records``."""
    skipped: int = 0
    """Records that could not be read (no id, no title ...), left out and logged."""
    complete_list_size: int | None = None
    cursor: int | None = None

    @property
    def items(self) -> int:
        """Every record of the page, deleted and unreadable ones included: what the
        resumption token's ``cursor`` and ``completeListSize`` count."""
        return len(self.records) + self.deleted + self.skipped


@dataclass(slots=True)
class _Progress:
    """How far through one list: the pages' own counts, checked as they arrive."""

    items: int = 0
    """Records of every kind on the pages so far."""
    size: int | None = None
    """``completeListSize``, once a page gave it."""

    def add(self, page: OaiPage) -> None:
        """Count ``page`` in; :class:`~bot.errors.HarvestError` when the list does not
        add up, so no record is lost without a failed harvest to show for it."""
        if page.cursor is not None and page.cursor != self.items:
            raise HarvestError(
                f"OAI-PMH page starts at record {page.cursor} but {self.items} records "
                "came before it: records are missing",
                problem="incomplete",
            )
        if page.items == 0 and page.token is not None:
            raise HarvestError(
                "OAI-PMH sent an empty page with a resumption token", problem="incomplete"
            )
        self.items += page.items
        if page.complete_list_size is not None:
            if self.size is not None and page.complete_list_size != self.size:
                raise HarvestError(
                    f"OAI-PMH list size changed from {self.size} to {page.complete_list_size}",
                    problem="incomplete",
                )
            self.size = page.complete_list_size
        if self.size is None:
            return
        if page.token is None and self.items != self.size:
            raise HarvestError(
                f"OAI-PMH list ended after {self.items} of its {self.size} records",
                problem="incomplete",
            )
        if self.items > self.size:
            raise HarvestError(
                f"OAI-PMH sent {self.items} records of a list of {self.size}",
                problem="incomplete",
            )


class OaiError(HarvestError):
    """An OAI-PMH ``<error>`` answer, such as ``badResumptionToken`` or ``badArgument``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(
            f"OAI-PMH error {code}: {message}" if message else f"OAI-PMH error {code}",
            problem="refused",
        )
        self.code = code
        self.message = message


def _parse_xml(body: bytes) -> ET.Element:
    try:
        return parse_xml(body)
    except ValueError as exc:
        raise HarvestError(f"OAI-PMH answer {exc}") from None


def parse_list_records(body: bytes) -> OaiPage:
    """Read one ``ListRecords`` answer.

    Raises :class:`OaiError` for an OAI ``<error>`` (``noRecordsMatch`` included: the
    caller decides what it means) and :class:`~bot.errors.HarvestError` for anything
    that is not a well-formed OAI-PMH ``ListRecords`` answer.
    """
    root = _parse_xml(body)
    if root.tag != f"{_O}OAI-PMH":
        raise HarvestError(f"answer is not OAI-PMH (root element {root.tag!r})")
    error = root.find(f"{_O}error")
    if error is not None:
        raise OaiError(error.get("code") or "unknown", _collapse(error.text))
    listing = root.find(f"{_O}ListRecords")
    if listing is None:
        raise HarvestError("OAI-PMH answer has neither ListRecords nor an error")
    records: list[HarvestedRecord] = []
    deleted = skipped = 0
    for element in listing.iterfind(f"{_O}record"):
        header = element.find(f"{_O}header")
        if header is not None and header.get("status") == "deleted":
            deleted += 1
            continue
        try:
            records.append(_record(element))
        except ValueError as exc:
            skipped += 1
            identifier = header.findtext(f"{_O}identifier") if header is not None else None
            log.warning("skipping OAI-PMH record %s: %s", identifier or "?", exc)
    token_element = listing.find(f"{_O}resumptionToken")
    token = _collapse(token_element.text) if token_element is not None else ""
    return OaiPage(
        records=tuple(records),
        token=token or None,
        deleted=deleted,
        skipped=skipped,
        complete_list_size=_int_attr(token_element, "completeListSize"),
        cursor=_int_attr(token_element, "cursor"),
    )


def _record(element: ET.Element) -> HarvestedRecord:
    header = element.find(f"{_O}header")
    if header is None:
        raise ValueError("no header")
    datestamp = _date(header.findtext(f"{_O}datestamp"), "datestamp")
    meta = element.find(f"{_O}metadata/{_A}arXiv")
    if meta is None:
        raise ValueError("no arXiv metadata")
    raw_id = _collapse(meta.findtext(f"{_A}id"))
    try:
        arxiv_id, _ = parse_arxiv_id(raw_id)
    except PaperIdError:
        raise ValueError(f"bad arXiv id {raw_id!r}") from None
    created = _midnight(_date(meta.findtext(f"{_A}created"), "created"))
    updated_text = _collapse(meta.findtext(f"{_A}updated"))
    updated = _midnight(_date(updated_text, "updated")) if updated_text else created
    title = _collapse(meta.findtext(f"{_A}title"))
    if not title:
        raise ValueError(f"{arxiv_id} has no title")
    categories = tuple(dict.fromkeys(_collapse(meta.findtext(f"{_A}categories")).split()))
    paper = Paper(
        arxiv_id=arxiv_id,
        version=2 if updated_text else 1,
        title=title,
        authors=tuple(_authors(meta)),
        abstract=_collapse(meta.findtext(f"{_A}abstract")),
        categories=categories,
        submitted=created,
        updated=max(updated, created),
        comment=_collapse(meta.findtext(f"{_A}comments")) or None,
        journal_ref=_collapse(meta.findtext(f"{_A}journal-ref")) or None,
        doi=_collapse(meta.findtext(f"{_A}doi")) or None,
    )
    return HarvestedRecord(paper=paper, datestamp=datestamp)


def _authors(meta: ET.Element) -> Iterator[str]:
    """``forenames keyname suffix`` for each author, as arXiv writes names."""
    for author in meta.iterfind(f"{_A}authors/{_A}author"):
        parts = (
            _collapse(author.findtext(f"{_A}{part}")) for part in ("forenames", "keyname", "suffix")
        )
        name = " ".join(part for part in parts if part)
        if name:
            yield name


def _collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def _date(text: str | None, what: str) -> date:
    value = _collapse(text)
    try:
        # Datestamps may have seconds granularity (2025-06-14T00:00:00Z): keep the day.
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"bad {what} {value!r}") from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _int_attr(element: ET.Element | None, name: str) -> int | None:
    text = element.get(name) if element is not None else None
    try:
        return int(text) if text else None
    except ValueError:
        return None


class OaiClient:
    """A synchronous OAI-PMH client for arXiv, through the gate; run it in a worker thread.

    Not safe for concurrent use: one harvest at a time (the harvester serialises them).
    """

    def __init__(self, gate: ArxivGate, *, base_url: str) -> None:
        self._gate = gate
        self._base_url = base_url.rstrip("?")
        self._session: GatedSession | None = None
        self._count_lock = threading.Lock()
        self._requests = 0

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def gate(self) -> ArxivGate:
        return self._gate

    @property
    def requests(self) -> int:
        """HTTP answers received so far, the gate's retries included."""
        with self._count_lock:
            return self._requests

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def list_records(
        self, *, from_date: date, set_spec: str | None = None, until_date: date | None = None
    ) -> Generator[list[HarvestedRecord], None, None]:
        """Every record changed on or after ``from_date`` (and on or before ``until_date``;
        in ``set_spec``), page by page.

        Yields one list per page (possibly empty, when a page held only deleted records),
        following resumption tokens to the end. ``noRecordsMatch`` yields nothing. Any
        failure raises :class:`~bot.errors.HarvestError` (:class:`OaiError` for OAI
        errors such as an expired ``badResumptionToken``).
        """
        params = {
            "verb": "ListRecords",
            "metadataPrefix": METADATA_PREFIX,
            "from": from_date.isoformat(),
        }
        if until_date is not None:
            params["until"] = until_date.isoformat()
        if set_spec:
            params["set"] = set_spec
        where = f"set {set_spec}" if set_spec else "all sets"
        seen_tokens: set[str] = set()
        progress = _Progress()
        pages = records = 0
        while True:
            resuming = "resumptionToken" in params
            try:
                page = self._fetch(params)
            except OaiError as exc:
                if exc.code == "noRecordsMatch" and not resuming:
                    log.info("OAI-PMH: nothing changed in %s since %s", where, from_date)
                    return
                raise
            progress.add(page)
            pages += 1
            records += len(page.records)
            log.info(
                "OAI-PMH page %s of %s since %s: %s records (%s deleted, %s skipped)",
                pages,
                where,
                from_date,
                len(page.records),
                page.deleted,
                page.skipped,
            )
            yield list(page.records)
            if page.token is None:
                log.info("OAI-PMH: %s records in %s pages of %s", records, pages, where)
                return
            if page.token in seen_tokens:
                raise HarvestError(
                    f"OAI-PMH repeated the resumption token {page.token!r}", problem="incomplete"
                )
            seen_tokens.add(page.token)
            params = {"verb": "ListRecords", "resumptionToken": page.token}

    def _fetch(self, params: dict[str, str]) -> OaiPage:
        try:
            response = self._get_session().get(self._base_url, params=params)
        except ArxivBotError as exc:
            if isinstance(exc, ArxivIncompleteError):  # cut off: a broken answer
                raise HarvestError(f"OAI-PMH request failed: {exc.detail}") from exc
            raise HarvestError(f"OAI-PMH request failed: {exc}", problem="unavailable") from exc
        with response:
            status, body = response.status_code, response.content
        try:
            page = parse_list_records(body)
        except OaiError:
            raise  # an OAI error explains itself, whatever the status
        except HarvestError as exc:
            if status != 200:
                raise HarvestError(
                    f"OAI-PMH answered HTTP {status}", problem="unavailable"
                ) from None
            raise HarvestError(f"{exc} from {mask_url(self._base_url)}") from None
        if status != 200:
            raise HarvestError(f"OAI-PMH answered HTTP {status}", problem="unavailable")
        return page

    def _get_session(self) -> GatedSession:
        if self._session is None:
            self._session = self._gate.session()
            self._session.hooks["response"].append(self._count)
        return self._session

    def _count(self, response: Response, *args: Any, **kwargs: Any) -> None:
        with self._count_lock:
            self._requests += 1
