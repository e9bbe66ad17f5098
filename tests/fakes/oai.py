"""A fake arXiv OAI-PMH interface: a real HTTP server on 127.0.0.1, arXiv metadata format.

Point the real client (or the bot's settings) at :attr:`FakeOai.url`::

    with running_fake_oai(records, page_size=2) as fake:
        client = OaiClient(gate, base_url=fake.url)
        ...
        assert [r.params.get("set") for r in fake.requests] == ["cs", None]

What it serves at ``GET /oai`` (``verb=ListRecords`` only):

* ``metadataPrefix=arXiv`` (anything else: ``cannotDisseminateFormat``), ``from`` and
  ``until`` (days, ``YYYY-MM-DD``, compared with each record's datestamp) and ``set``. A
  record belongs to the set of each of its categories' archives, cross-lists included
  (:func:`bot.categories.oai_set_for`: ``cs``, ``physics:hep-th`` ...), to ``physics``
  for every physics archive, and to category sets such as ``cs:cs:CV``.
* Records in datestamp then id order, ``page_size`` a page, each page but the last
  ending with a ``resumptionToken`` (``verb=ListRecords&resumptionToken=...`` and
  nothing else asks for the next page; the list is a snapshot taken by the first
  request). An empty list is the error ``noRecordsMatch``; bad arguments are
  ``badArgument``, unknown verbs ``badVerb``, unknown tokens ``badResumptionToken``.
  OAI errors come with HTTP 200, as the protocol says.
* Titles and abstracts line-wrapped and indented like arXiv's; authors split into
  ``keyname``, ``forenames`` and ``suffix``; ``<updated>`` only for papers whose version
  is above 1. Records removed with :meth:`FakeOai.delete_record` are served as
  ``status="deleted"`` headers.

Scripted trouble, consumed one request at a time in the order scripted, each optionally
only ``after`` so many more normal answers (to break a harvest in mid-pagination):
:meth:`FakeOai.fail_next` (any status, optional ``Retry-After``),
:meth:`FakeOai.truncate_next` (the answer cut in the middle of a record, with a matching
``Content-Length``), :meth:`FakeOai.delay_next` (a slow answer),
:meth:`FakeOai.hang_next` (headers, then nothing), :meth:`FakeOai.expire_tokens` (every
resumption token handed out so far answers ``badResumptionToken``), and lists that do not
add up: :meth:`FakeOai.empty_page_next` (a page without its records but with its token),
:meth:`FakeOai.short_page_next` (a page missing records, its token going on as if not)
and :meth:`FakeOai.end_list_next` (a last page, empty, in the middle of the list).
Every request is recorded
(:class:`~tests.fakes.http_server.RecordedRequest`).

Records are rendered once when added, so serving tens of thousands stays fast.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from bot.categories import archive_of, oai_set_for
from bot.models import HarvestedRecord, Paper
from bot.sources.gate import ArxivGate
from tests.fakes.clock import ManualTime
from tests.fakes.http_server import TEXT, Answer, FakeHttpServer, Script

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "OAI_PATH",
    "FakeOai",
    "ManualTime",
    "quick_gate",
    "record_sets",
    "render_record",
    "running_fake_oai",
]

OAI_PATH = "/oai"
DEFAULT_PAGE_SIZE = 2500
_SUFFIXES = frozenset({"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV"})
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
    'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
)
_ARXIV_OPEN = (
    '<arXiv xmlns="http://arxiv.org/OAI/arXiv/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">'
)


def record_sets(categories: Iterable[str]) -> frozenset[str]:
    """Every OAI-PMH set a paper listed in ``categories`` belongs to."""
    sets: set[str] = set()
    for code in categories:
        base = oai_set_for(code)
        sets.add(base)
        if ":" in base:
            sets.add(base.split(":", 1)[0])
        if "." in code:
            sub = code.split(".", 1)[1]
            archive = archive_of(code)
            sets.add(f"{base}:{archive}:{sub}" if base == archive else f"{base}:{sub}")
    return frozenset(sets)


def _header_sets(categories: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(oai_set_for(code) for code in categories))


def _author(name: str) -> str:
    words = name.split()
    suffix = ""
    if len(words) >= 3 and words[-1] in _SUFFIXES:
        suffix = words.pop()
    keyname, forenames = words[-1], " ".join(words[:-1])
    parts = [f"<keyname>{escape(keyname)}</keyname>"]
    if forenames:
        parts.append(f"<forenames>{escape(forenames)}</forenames>")
    if suffix:
        parts.append(f"<suffix>{escape(suffix)}</suffix>")
    return "<author>" + "".join(parts) + "</author>"


def _wrap(text: str, width: int, *, first: str, rest: str) -> str:
    """Line-wrap like arXiv's metadata (``textwrap.fill`` is too slow for big corpora)."""
    lines: list[str] = []
    line = first
    for word in text.split():
        if len(line) + len(word) + 1 > width and line.strip():
            lines.append(line)
            line = rest
        line = f"{line} {word}" if line.strip() else line + word
    lines.append(line)
    return "\n".join(lines)


def _optional(tag: str, value: str | None) -> str:
    return f"<{tag}>{escape(value)}</{tag}>" if value else ""


def render_record(record: HarvestedRecord) -> str:
    """One ``<record>`` in arXiv's OAI metadata format."""
    paper: Paper = record.paper
    title = _wrap(paper.title, 70, first="", rest="  ")
    abstract = _wrap(paper.abstract, 80, first="  ", rest="")
    updated = _optional("updated", paper.updated.date().isoformat()) if paper.version > 1 else ""
    sets = "".join(f"<setSpec>{escape(s)}</setSpec>" for s in _header_sets(paper.categories))
    return (
        "<record><header>"
        f"<identifier>oai:arXiv.org:{escape(paper.arxiv_id)}</identifier>"
        f"<datestamp>{record.datestamp.isoformat()}</datestamp>{sets}"
        f"</header><metadata>{_ARXIV_OPEN}"
        f"<id>{escape(paper.arxiv_id)}</id>"
        f"<created>{paper.submitted.date().isoformat()}</created>{updated}"
        f"<authors>{''.join(_author(name) for name in paper.authors)}</authors>"
        f"<title>{escape(title)}</title>"
        f"<categories>{escape(' '.join(paper.categories))}</categories>"
        + _optional("comments", paper.comment)
        + _optional("journal-ref", paper.journal_ref)
        + _optional("doi", paper.doi)
        + "<license>http://creativecommons.org/licenses/by/4.0/</license>"
        f"<abstract>{escape(abstract)}\n</abstract>"
        "</arXiv></metadata></record>\n"
    )


def _render_deleted(arxiv_id: str, datestamp: date, categories: Iterable[str]) -> str:
    sets = "".join(f"<setSpec>{escape(s)}</setSpec>" for s in _header_sets(categories))
    return (
        '<record><header status="deleted">'
        f"<identifier>oai:arXiv.org:{escape(arxiv_id)}</identifier>"
        f"<datestamp>{datestamp.isoformat()}</datestamp>{sets}</header></record>\n"
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    arxiv_id: str
    datestamp: date
    sets: frozenset[str]
    xml: str
    record: HarvestedRecord | None  # None: deleted


@dataclass(slots=True)
class _List:
    entries: list[_Entry]
    expired: bool = False


@dataclass(slots=True)
class _Script(Script):
    truncate: bool = False
    """Cut the answer off in the middle of a record."""
    expire: bool = False
    """Expire the resumption tokens handed out so far (and answer normally)."""
    empty: bool = False
    """Leave out the page's records, the token unchanged."""
    missing: int = 0
    """Leave out the page's last ``missing`` records, the token unchanged."""
    end: bool = False
    """Answer as the list's last page: no records, a token without text."""
    bare: bool = False
    """Leave the resumption token out altogether."""


class _OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FakeOai(FakeHttpServer[_Script]):
    """The running fake; create it with :func:`running_fake_oai`. Thread-safe."""

    _stopping_answer = 503, {"Content-Type": TEXT}, b"Stopping\n"

    def __init__(
        self, records: Iterable[HarvestedRecord] = (), *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        super().__init__(path=OAI_PATH, name="fake-oai")
        self.page_size = page_size
        self._entries: dict[str, _Entry] = {}
        self._lists: dict[str, _List] = {}
        self._list_ids = itertools.count(1)
        self.add_records(*records)

    @property
    def url(self) -> str:
        """The OAI-PMH endpoint, ``http://127.0.0.1:PORT/oai`` (``ARXIV_OAI_URL``)."""
        return super().url

    # -- content

    @property
    def records(self) -> list[HarvestedRecord]:
        """The records served (deleted ones left out), in datestamp then id order."""
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: (e.datestamp, e.arxiv_id))
        return [e.record for e in entries if e.record is not None]

    def announce(self, *papers: Paper, days_ago: int = 0) -> None:
        """Serve ``papers`` as new: announced ``days_ago`` days before today (UTC), as
        version 1 submitted the day before that."""
        announced = datetime.now(UTC) - timedelta(days=days_ago)
        submitted = announced - timedelta(days=1)
        self.add_records(
            *(
                HarvestedRecord(
                    replace(paper, submitted=submitted, updated=submitted, version=1),
                    announced.date(),
                )
                for paper in papers
            )
        )

    def add_records(self, *records: HarvestedRecord) -> None:
        """Serve more records; one with an id already served replaces the old one."""
        entries = [
            _Entry(
                r.paper.arxiv_id, r.datestamp, record_sets(r.paper.categories), render_record(r), r
            )
            for r in records
        ]
        with self._lock:
            self._entries.update((e.arxiv_id, e) for e in entries)

    def set_records(self, records: Iterable[HarvestedRecord]) -> None:
        with self._lock:
            self._entries.clear()
        self.add_records(*records)

    def delete_record(self, arxiv_id: str, *, datestamp: date) -> None:
        """Serve ``arxiv_id`` as a deleted record stamped ``datestamp`` from now on."""
        with self._lock:
            old = self._entries.get(arxiv_id)
            categories = old.record.paper.categories if old and old.record else ()
            self._entries[arxiv_id] = _Entry(
                arxiv_id,
                datestamp,
                old.sets if old else frozenset(),
                _render_deleted(arxiv_id, datestamp, categories),
                None,
            )

    # -- scripted trouble

    def fail_next(
        self,
        status: int = 503,
        *,
        retry_after: str | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer ``times`` requests with ``status`` (and ``Retry-After``), once ``after``
        more requests have been answered normally."""
        self._add_script(_Script(status, retry_after, times=times, after=after))

    def truncate_next(self, *, times: int = 1, after: int = 0) -> None:
        """Cut ``times`` answers off in the middle of a record (valid HTTP with a matching
        ``Content-Length``, broken XML), once ``after`` requests were answered normally."""
        self._add_script(_Script(truncate=True, times=times, after=after))

    def delay_next(self, seconds: float, *, times: int = 1, after: int = 0) -> None:
        """Answer ``times`` requests only after ``seconds`` (cut short when stopping)."""
        self._add_script(_Script(delay=seconds, times=times, after=after))

    def hang_next(self, *, times: int = 1, after: int = 0) -> None:
        """Send the headers of ``times`` answers, then nothing until the server stops."""
        self._add_script(_Script(hang=True, times=times, after=after))

    def empty_page_next(self, *, after: int = 0) -> None:
        """Serve a page without its records but with its resumption token."""
        self._add_script(_Script(empty=True, after=after))

    def short_page_next(self, missing: int, *, after: int = 0) -> None:
        """Serve a page without its last ``missing`` records, the next page's ``cursor``
        counting them as sent."""
        self._add_script(_Script(missing=missing, after=after))

    def end_list_next(self, *, after: int = 0, token: bool = True) -> None:
        """End the list early: a page with no records and an empty resumption token (its
        ``cursor`` and ``completeListSize`` still the list's), or with ``token=False``
        no resumption token at all."""
        self._add_script(_Script(end=True, bare=not token, after=after))

    def expire_tokens(self, *, after: int = 0) -> None:
        """Make every resumption token handed out so far answer ``badResumptionToken``:
        at once, or just before the request that follows ``after`` normal ones."""
        if after:
            self._add_script(_Script(expire=True, after=after))
            return
        with self._lock:
            self._expire_locked()

    def _expire_locked(self) -> None:
        for listing in self._lists.values():
            listing.expired = True

    def _add_script(self, script: _Script) -> None:
        if script.times < 1 or script.after < 0:
            raise ValueError("times must be >= 1 and after >= 0")
        super()._add_script(script)

    # -- answers

    def _taken_locked(self, script: _Script) -> _Script | None:
        if script.expire:
            self._expire_locked()
            return None
        return script

    def _respond(self, params: dict[str, str], script: _Script | None) -> Answer:
        body = self.answer(params, script)
        if script is not None and script.truncate:  # inside the last record
            cut = body.rfind(b"<record>")
            body = body[: cut + len(body[cut:]) // 2] if cut > 0 else body[: len(body) // 2]
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, body

    def answer(self, params: dict[str, str], script: _Script | None = None) -> bytes:
        """The OAI-PMH answer to these parameters (always sent with HTTP 200)."""
        try:
            return self._list_records(params, script)
        except _OaiError as exc:
            return _document(
                params, f"<error code={quoteattr(exc.code)}>{escape(exc.message)}</error>"
            )

    def _list_records(self, params: dict[str, str], script: _Script | None) -> bytes:
        verb = params.get("verb")
        if verb != "ListRecords":
            raise _OaiError("badVerb", f"Illegal verb {verb!r}" if verb else "No verb given")
        token = params.get("resumptionToken")
        if token is not None:
            extra = set(params) - {"verb", "resumptionToken"}
            if extra:
                raise _OaiError(
                    "badArgument", f"resumptionToken is exclusive, also got {sorted(extra)}"
                )
            list_id, cursor = self._resume(token)
        else:
            list_id, cursor = self._new_list(params), 0
        with self._lock:
            entries = self._lists[list_id].entries
        if not entries:
            raise _OaiError("noRecordsMatch", "No records match the request")
        page = entries[cursor : cursor + self.page_size]
        end = cursor + len(page)
        size = len(entries)
        if end < size and not (script and script.end):
            token_xml = (
                f'<resumptionToken cursor="{cursor}" completeListSize="{size}">'
                f"{list_id}|{end}</resumptionToken>"
            )
        elif cursor > 0 or (script and script.end):
            token_xml = f'<resumptionToken cursor="{cursor}" completeListSize="{size}"/>'
        else:
            token_xml = ""
        page = _served(page, script)
        if script is not None and script.bare:
            token_xml = ""
        body = "<ListRecords>\n" + "".join(e.xml for e in page) + token_xml + "</ListRecords>"
        return _document(params, body)

    def _resume(self, token: str) -> tuple[str, int]:
        list_id, _, cursor_text = token.partition("|")
        with self._lock:
            listing = self._lists.get(list_id)
        if listing is None or listing.expired or not cursor_text.isdigit():
            raise _OaiError("badResumptionToken", f"The resumptionToken {token!r} is invalid")
        return list_id, int(cursor_text)

    def _new_list(self, params: dict[str, str]) -> str:
        allowed = {"verb", "metadataPrefix", "from", "until", "set"}
        extra = set(params) - allowed
        if extra:
            raise _OaiError("badArgument", f"Illegal arguments {sorted(extra)}")
        prefix = params.get("metadataPrefix")
        if not prefix:
            raise _OaiError("badArgument", "metadataPrefix is required")
        if prefix != "arXiv":
            raise _OaiError("cannotDisseminateFormat", f"Unknown metadataPrefix {prefix!r}")
        start = _day(params, "from")
        end = _day(params, "until")
        wanted_set = params.get("set")
        with self._lock:
            entries = [
                e
                for e in self._entries.values()
                if (start is None or e.datestamp >= start)
                and (end is None or e.datestamp <= end)
                and (wanted_set is None or wanted_set in e.sets)
            ]
            entries.sort(key=lambda e: (e.datestamp, e.arxiv_id))
            list_id = str(next(self._list_ids))
            self._lists[list_id] = _List(entries)
        return list_id


def _served(page: list[_Entry], script: _Script | None) -> list[_Entry]:
    """The records of ``page`` that ``script`` lets through."""
    if script is None:
        return page
    if script.empty or script.end:
        return []
    return page[: max(0, len(page) - script.missing)]


def _day(params: dict[str, str], name: str) -> date | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _OaiError("badArgument", f"{name} must be a day, YYYY-MM-DD; got {text!r}") from None


def _document(params: dict[str, str], body: str) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    attributes = "".join(f" {k}={quoteattr(v)}" for k, v in params.items() if k.isalpha())
    return (
        f"{_HEAD}<responseDate>{now}</responseDate>\n"
        f"<request{attributes}>https://oaipmh.arxiv.org/oai</request>\n"
        f"{body}\n</OAI-PMH>\n"
    ).encode()


@contextlib.contextmanager
def running_fake_oai(
    records: Iterable[HarvestedRecord] = (), *, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[FakeOai]:
    """Start a :class:`FakeOai` serving ``records`` on an ephemeral port; stop it after."""
    with FakeOai(records, page_size=page_size) as fake:
        yield fake


def quick_gate(time: ManualTime | None = None, *, max_attempts: int = 3) -> ArxivGate:
    """A gate for tests: no spacing, and backoff on a :class:`ManualTime` (no real waits)."""
    manual = time or ManualTime()
    return ArxivGate(
        interval=0,
        timeout=5,
        user_agent="arxiv-bot-tests/0 (+https://pypi.org/project/arxiv-bot/)",
        max_attempts=max_attempts,
        clock=manual.clock,
        sleep=manual.sleep,
    )
