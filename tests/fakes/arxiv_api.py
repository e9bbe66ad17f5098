"""A fake arXiv API: a real HTTP server on 127.0.0.1 speaking arXiv's Atom format.

Point the real ``arxiv`` client (or the bot's settings) at :attr:`FakeArxiv.url`::

    with running_fake_arxiv(sample_papers()) as fake:
        settings = Settings(arxiv_api_url=fake.url, arxiv_request_interval=0, ...)
        ...
        assert len(fake.requests) == 1
        assert fake.requests[0].params["search_query"] == "ti:segmentation"

What it serves at ``GET /api/query``:

* ``search_query``: fields ``ti au abs co jr cat rn all``, ``AND OR ANDNOT`` (left to
  right; adjacent terms mean AND), parentheses, ``"phrases"``, a trailing ``*``, and
  ``submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]`` (also ``lastUpdatedDate``). A term
  matches when it occurs at the start of a word, case- and accent-insensitively, in the
  field's text (``segment`` finds "segmentation"; no real stemming). ``cat:`` matches
  a category exactly, or by prefix with ``cs.*``. Relevance is the number of matching
  terms.
* ``id_list``: comma-separated ids with or without version; an earlier version than the
  paper's is served with the same metadata, a later one is not found.
* ``start``, ``max_results`` (default 10, at most 2000), ``sortBy``
  (``relevance|lastUpdatedDate|submittedDate``) and ``sortOrder``.
* HTTP 400 with an arXiv error entry for malformed requests: unbalanced parentheses or
  quotes, unknown fields, bad dates, ids or paging parameters.

Scripted trouble, consumed one request at a time in the order scripted:
:meth:`FakeArxiv.fail_next` (any status, optional ``Retry-After``),
:meth:`FakeArxiv.delay_next` (a slow answer), a body sent badly
(:meth:`~FakeArxiv.trickle_next` a byte at a time, :meth:`~FakeArxiv.hang_next` never,
:meth:`~FakeArxiv.cut_next` cut off short of its ``Content-Length``), and answers that
are valid HTTP but not a complete feed (:meth:`~FakeArxiv.serve_next` any body, such as
an HTML page; :meth:`~FakeArxiv.truncate_next`, :meth:`~FakeArxiv.drop_entries_next`,
:meth:`~FakeArxiv.strip_next`). Every request is recorded
(:class:`RecordedRequest`) with its parameters, headers, status and timestamps, and
:attr:`FakeArxiv.max_concurrent` tells whether requests ever overlapped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from bot.models import Paper
from tests.fakes.http_server import Answer, FakeHttpServer, RecordedRequest, Script

__all__ = [
    "API_PATH",
    "FakeArxiv",
    "FakeQueryError",
    "RecordedRequest",
    "parse_query",
    "render_error_feed",
    "render_feed",
    "running_fake_arxiv",
]

API_PATH = "/api/query"
MAX_RESULTS_LIMIT = 2000

_NS = (
    'xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom"'
)
_SCHEME = "http://arxiv.org/schemas/atom"
_ATOM = "application/atom+xml; charset=utf-8"
_ENTRY_RE = re.compile(rb"  <entry>.*?</entry>\n", re.DOTALL)
_FIELDS = ("ti", "au", "abs", "co", "jr", "cat", "rn", "all", "id")
_DATE_FIELDS = {"submitteddate": "submitted", "lastupdateddate": "updated"}
_SORTS = ("relevance", "lastUpdatedDate", "submittedDate")
_ID_RE = re.compile(
    r"(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?"
)


class FakeQueryError(ValueError):
    """A request the real arXiv would answer with HTTP 400; the message is arXiv-style."""


@dataclass(slots=True)
class _Script(Script):
    message: str | None = None
    """With a ``status``: the body is an arXiv error feed carrying it."""
    rewrite: Callable[[bytes], bytes] | None = None
    """Applied to the normal answer's body (sent with HTTP 200)."""
    content_type: str | None = None


# -- the query language, as far as a fake needs it -------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    field: str
    value: str
    phrase: bool


@dataclass(frozen=True, slots=True)
class _Range:
    attribute: str  # "submitted" or "updated"
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class _BoolOp:
    op: str  # AND, OR, ANDNOT
    left: _Node
    right: _Node


_Node = _Term | _Range | _BoolOp
_OPERATORS = ("AND", "OR", "ANDNOT")
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<field>[A-Za-z]+):(?P<value>"[^"]*"|\[[^\]]*\]|[^\s()"]+)
      | (?P<phrase>"[^"]*")
      | (?P<word>[^\s()"]+)
    )""",
    re.VERBOSE,
)


def _tokenize(query: str) -> list[tuple[str, Any]]:
    if query.count('"') % 2:
        raise FakeQueryError("unbalanced quotes in query")
    depth = 0
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(query, pos)
        if match is None:
            raise FakeQueryError(f"cannot parse query near {query[pos : pos + 20]!r}")
        pos = match.end()
        if match.group("paren"):
            depth += 1 if match.group("paren") == "(" else -1
            if depth < 0:
                raise FakeQueryError("unbalanced parentheses in query")
            tokens.append(("paren", match.group("paren")))
        elif match.group("field"):
            tokens.append(("atom", _atom(match.group("field"), match.group("value"))))
        elif match.group("phrase"):
            tokens.append(("atom", _Term("all", match.group("phrase")[1:-1], phrase=True)))
        else:
            word = match.group("word")
            if word in _OPERATORS:
                tokens.append(("op", word))
            else:
                tokens.append(("atom", _Term("all", word, phrase=False)))
    if depth != 0:
        raise FakeQueryError("unbalanced parentheses in query")
    return tokens


def _atom(field: str, value: str) -> _Node:
    name = field.lower()
    if name in _DATE_FIELDS:
        match = re.fullmatch(r"\[(\d{12}) TO (\d{12})\]", value.replace("+", " "))
        if match is None:
            raise FakeQueryError(
                f"{field} must be of the form [YYYYMMDDTTTT TO YYYYMMDDTTTT], got {value}"
            )
        try:
            start, end = (
                datetime.strptime(part, "%Y%m%d%H%M").replace(tzinfo=UTC) for part in match.groups()
            )
        except ValueError:
            raise FakeQueryError(f"invalid date in {field}:{value}") from None
        return _Range(_DATE_FIELDS[name], start, end.replace(second=59))
    if name not in _FIELDS:
        raise FakeQueryError(f"unknown field {field!r} in query")
    if value.startswith("["):
        raise FakeQueryError(f"ranges are only allowed for submittedDate, not {field}")
    phrase = value.startswith('"')
    return _Term(name, value.strip('"'), phrase)


def parse_query(query: str) -> _Node | None:
    """Parse a ``search_query``; None for an empty one. Raises :class:`FakeQueryError`."""
    tokens = _tokenize(query)
    if not tokens:
        return None
    node, rest = _parse_expression(tokens)
    if rest:
        raise FakeQueryError(f"unexpected {rest[0][1]!s} in query")
    return node


def _parse_expression(tokens: list[tuple[str, Any]]) -> tuple[_Node, list[tuple[str, Any]]]:
    node, tokens = _parse_operand(tokens)
    while tokens and tokens[0] != ("paren", ")"):
        op = "AND"
        if tokens[0][0] == "op":
            op = tokens[0][1]
            tokens = tokens[1:]
        right, tokens = _parse_operand(tokens)
        node = _BoolOp(op, node, right)
    return node, tokens


def _parse_operand(tokens: list[tuple[str, Any]]) -> tuple[_Node, list[tuple[str, Any]]]:
    if not tokens:
        raise FakeQueryError("query ends where a term was expected")
    kind, value = tokens[0]
    if kind == "atom":
        return value, tokens[1:]
    if (kind, value) == ("paren", "("):
        node, rest = _parse_expression(tokens[1:])
        if not rest or rest[0] != ("paren", ")"):
            raise FakeQueryError("unbalanced parentheses in query")
        return node, rest[1:]
    raise FakeQueryError(f"unexpected {value} in query")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().replace("ł", "l").split())


def _field_texts(paper: Paper, field: str) -> list[str]:
    match field:
        case "ti":
            return [paper.title]
        case "au":
            return list(paper.authors)
        case "abs":
            return [paper.abstract]
        case "co":
            return [paper.comment or ""]
        case "jr":
            return [paper.journal_ref or ""]
        case "cat":
            return list(paper.categories)
        case "id":
            return [paper.arxiv_id]
        case "rn":
            return []
    return [
        paper.title,
        *paper.authors,
        paper.abstract,
        paper.comment or "",
        paper.journal_ref or "",
        *paper.categories,
    ]


def _term_matches(paper: Paper, term: _Term) -> bool:
    value = _fold(term.value.replace("_", " ") if term.field == "au" else term.value)
    prefix = value.endswith("*")
    value = value.rstrip("*")
    texts = [_fold(text) for text in _field_texts(paper, term.field)]
    if term.field == "cat":
        return any(t.startswith(value) if prefix else t == value for t in texts)
    words = [value] if term.phrase else value.split()
    return all(any(_at_word_start(word, text) for text in texts) for word in words)


def _at_word_start(word: str, text: str) -> bool:
    """``segment`` is in "image segmentation", ``cat`` is not in "classification"."""
    return re.search(r"(?<!\w)" + re.escape(word), text) is not None


def _score(paper: Paper, node: _Node) -> int:
    """How many terms of ``node`` match ``paper``, or 0 when ``node`` does not match."""
    if isinstance(node, _Term):
        return int(_term_matches(paper, node))
    if isinstance(node, _Range):
        moment = paper.submitted if node.attribute == "submitted" else paper.updated
        return int(node.start <= moment <= node.end)
    left, right = _score(paper, node.left), _score(paper, node.right)
    if node.op == "AND":
        return left + right if left and right else 0
    if node.op == "OR":
        return left + right
    return left if left and not right else 0


# -- the feed ------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _feed_head(params: dict[str, str], total: int, start: int, per_page: int) -> str:
    query = urlencode(params)
    digest = hashlib.sha1(query.encode()).hexdigest()[:20]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<feed {_NS}>\n"
        f"  <id>https://arxiv.org/api/{digest}</id>\n"
        f"  <title>arXiv Query: {escape(query)}</title>\n"
        f"  <updated>{_stamp(today)}</updated>\n"
        f"  <link href={quoteattr('https://arxiv.org/api/query?' + query)}"
        ' type="application/atom+xml"/>\n'
        f"  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )


def _entry(paper: Paper) -> str:
    """One ``<entry>``, with arXiv's line-wrapped title and abstract."""
    abs_url = f"http://arxiv.org/abs/{paper.versioned_id}"
    title = textwrap.fill(paper.title, width=70, subsequent_indent="  ")
    summary = textwrap.fill(paper.abstract, width=80)
    lines = [
        "  <entry>",
        f"    <id>{abs_url}</id>",
        f"    <title>{escape(title)}</title>",
        f"    <updated>{_stamp(paper.updated)}</updated>",
        f'    <link href="https://arxiv.org/abs/{paper.versioned_id}" rel="alternate"'
        ' type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{paper.versioned_id}" rel="related"'
        ' type="application/pdf" title="pdf"/>',
        f"    <summary>{escape(summary)}\n</summary>",
    ]
    lines += [f'    <category term={quoteattr(c)} scheme="{_SCHEME}"/>' for c in paper.categories]
    lines.append(f"    <published>{_stamp(paper.submitted)}</published>")
    if paper.comment:
        lines.append(f"    <arxiv:comment>{escape(paper.comment)}</arxiv:comment>")
    lines.append(
        f'    <arxiv:primary_category term={quoteattr(paper.primary_category)} scheme="{_SCHEME}"/>'
    )
    if paper.journal_ref:
        lines.append(f"    <arxiv:journal_ref>{escape(paper.journal_ref)}</arxiv:journal_ref>")
    if paper.doi:
        lines.append(
            f'    <link title="doi" href={quoteattr("https://doi.org/" + paper.doi)}'
            ' rel="related"/>'
        )
        lines.append(f"    <arxiv:doi>{escape(paper.doi)}</arxiv:doi>")
    lines += [
        f"    <author>\n      <name>{escape(name)}</name>\n    </author>" for name in paper.authors
    ]
    lines.append("  </entry>")
    return "\n".join(lines) + "\n"


def render_feed(
    papers: Iterable[Paper], *, params: dict[str, str], total: int, start: int
) -> bytes:
    """An arXiv API result page holding ``papers``."""
    page = list(papers)
    body = _feed_head(params, total, start, len(page)) + "".join(_entry(p) for p in page)
    return (body + "</feed>\n").encode()


def render_error_feed(message: str, *, params: dict[str, str] | None = None) -> bytes:
    """arXiv's answer to a bad request: a feed with one error entry (sent with HTTP 400)."""
    anchor = re.sub(r"\W+", "_", message).strip("_")
    error_id = f"https://arxiv.org/api/errors#{anchor}"
    today = _stamp(datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    body = (
        _feed_head(params or {}, 1, 0, 1) + "  <entry>\n"
        f"    <id>{escape(error_id)}</id>\n"
        "    <title>Error</title>\n"
        f"    <summary>{escape(message)}</summary>\n"
        f"    <updated>{today}</updated>\n"
        f'    <link href={quoteattr(error_id)} rel="alternate" type="text/html"/>\n'
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n"
        "  </entry>\n</feed>\n"
    )
    return body.encode()


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name, "")
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise FakeQueryError(f"{name} must be an integer") from None
    if value < 0:
        raise FakeQueryError(f"{name} must be non-negative")
    return value


# -- the server ----------------------------------------------------------------------


class FakeArxiv(FakeHttpServer[_Script]):
    """The running fake; create it with :func:`running_fake_arxiv`. Thread-safe."""

    def __init__(self, papers: Iterable[Paper] = ()) -> None:
        super().__init__(path=API_PATH, name="fake-arxiv")
        self._papers: list[Paper] = list(papers)

    @property
    def url(self) -> str:
        """The API endpoint, ``http://127.0.0.1:PORT/api/query`` (``ARXIV_API_URL``)."""
        return super().url

    # -- content

    @property
    def papers(self) -> list[Paper]:
        with self._lock:
            return list(self._papers)

    def add_papers(self, *papers: Paper) -> None:
        """Serve more papers; a paper with an id already served replaces the old one."""
        with self._lock:
            ids = {p.arxiv_id for p in papers}
            self._papers = [p for p in self._papers if p.arxiv_id not in ids] + list(papers)

    def set_papers(self, papers: Iterable[Paper]) -> None:
        with self._lock:
            self._papers = list(papers)

    # -- scripted trouble

    def fail_next(
        self,
        status: int = 503,
        *,
        retry_after: str | None = None,
        times: int = 1,
        message: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (after ``delay`` seconds).

        ``retry_after`` is sent verbatim as ``Retry-After`` (seconds or an HTTP-date).
        With ``message`` the body is an arXiv error feed carrying it (as for HTTP 400);
        otherwise it is plain text, like arXiv's ``Rate exceeded.`` for 429.
        """
        self._add_script(
            _Script(status, retry_after=retry_after, delay=delay, times=times, message=message)
        )

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` requests normally, but only after ``seconds``."""
        self._add_script(_Script(delay=seconds, times=times))

    def trickle_next(self, seconds: float, *, times: int = 1) -> None:
        """Send the next answers' bodies one byte every ``seconds``."""
        self._add_script(_Script(trickle=seconds, times=times))

    def hang_next(self, *, times: int = 1) -> None:
        """Send the next answers' headers, then nothing until the server stops."""
        self._add_script(_Script(hang=True, times=times))

    def cut_next(self, *, times: int = 1) -> None:
        """Close the connection halfway through the next answers' bodies, short of the
        ``Content-Length`` they announced."""
        self._add_script(_Script(cut=True, times=times))

    def serve_next(
        self, body: bytes, *, content_type: str = "text/html; charset=utf-8", times: int = 1
    ) -> None:
        """Answer the next requests with HTTP 200 and ``body`` (an HTML page, nothing ...)."""
        self._add_script(_Script(rewrite=lambda _: body, content_type=content_type, times=times))

    def truncate_next(self, *, times: int = 1) -> None:
        """Cut the next feeds off inside their last entry (valid HTTP, broken XML)."""
        self._add_script(_Script(rewrite=_truncate, times=times))

    def drop_entries_next(self, *, total: int | None = None, times: int = 1) -> None:
        """Leave the entries out of the next feeds, their ``totalResults`` kept (or made
        ``total``)."""
        self._add_script(_Script(rewrite=lambda body: _drop_entries(body, total), times=times))

    def strip_next(self, tag: str, *, times: int = 1) -> None:
        """Leave every ``<tag>`` element (``title``, ``category`` ...) out of the next
        feeds' entries."""
        self._add_script(_Script(rewrite=lambda body: _strip(body, tag), times=times))

    # -- answers

    def _respond(self, params: dict[str, str], script: _Script | None) -> Answer:
        status, body = self.answer(params)
        content_type = _ATOM
        if script is not None and script.rewrite is not None:
            status, body = 200, script.rewrite(body)
            content_type = script.content_type or _ATOM
        return status, {"Content-Type": content_type}, body

    def _failure(self, script: _Script, params: dict[str, str]) -> Answer:
        status, headers, body = super()._failure(script, params)
        if script.message is not None:
            headers["Content-Type"] = _ATOM
            body = render_error_feed(script.message, params=params)
        return status, headers, body

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        """The status and body the fake gives for these query parameters."""
        try:
            return 200, self._search(params)
        except FakeQueryError as exc:
            return 400, render_error_feed(str(exc), params=params)

    def _search(self, params: dict[str, str]) -> bytes:
        start = _int_param(params, "start", 0)
        max_results = _int_param(params, "max_results", 10)
        if max_results > MAX_RESULTS_LIMIT:
            raise FakeQueryError(f"max_results must be at most {MAX_RESULTS_LIMIT}")
        sort_by = params.get("sortBy") or "relevance"
        if sort_by not in _SORTS:
            raise FakeQueryError(f"sortBy must be in {', '.join(_SORTS)}")
        sort_order = params.get("sortOrder") or "descending"
        if sort_order not in ("ascending", "descending"):
            raise FakeQueryError("sortOrder must be in ascending, descending")
        query = parse_query(params.get("search_query", ""))
        ids = [part.strip() for part in params.get("id_list", "").split(",") if part.strip()]

        papers = self.papers
        candidates: list[tuple[Paper, int]]
        if ids:
            candidates = [(p, 1) for p in (self._by_id(papers, wanted) for wanted in ids) if p]
        else:
            candidates = [(p, 1) for p in papers] if query is not None else []
        if query is not None:
            candidates = [(p, _score(p, query)) for p, _ in candidates]
            candidates = [(p, score) for p, score in candidates if score > 0]

        reverse = sort_order == "descending"
        if sort_by == "submittedDate":
            candidates.sort(key=lambda c: c[0].submitted, reverse=reverse)
        elif sort_by == "lastUpdatedDate":
            candidates.sort(key=lambda c: c[0].updated, reverse=reverse)
        elif query is not None:
            candidates.sort(key=lambda c: c[1], reverse=reverse)
        page = [paper for paper, _ in candidates[start : start + max_results]]
        return render_feed(page, params=params, total=len(candidates), start=start)

    @staticmethod
    def _by_id(papers: list[Paper], wanted: str) -> Paper | None:
        match = _ID_RE.fullmatch(wanted)
        if match is None:
            raise FakeQueryError(f"incorrect id format for {wanted}")
        version = int(match.group("version")) if match.group("version") else None
        arxiv_id = re.sub(r"\.[A-Z]{2}/", "/", match.group("id"))
        for paper in papers:
            if paper.arxiv_id == arxiv_id:
                if version is None:
                    return paper
                if 1 <= version <= paper.version:
                    return dataclasses.replace(paper, version=version)
        return None


def _truncate(body: bytes) -> bytes:
    last = body.rfind(b"<entry>")
    return body[: last + len(body[last:]) // 2] if last > 0 else body[: len(body) // 2]


def _drop_entries(body: bytes, total: int | None) -> bytes:
    body = _ENTRY_RE.sub(b"", body)
    if total is None:
        return body
    return re.sub(
        rb"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>{total}<".encode(), body
    )


def _strip(body: bytes, tag: str) -> bytes:
    """``body`` without the ``<tag>`` elements of its entries (the feed's own title stays)."""
    element = re.compile(
        rb"\s*<" + tag.encode() + rb"\b[^>]*?(/>|>.*?</" + tag.encode() + rb">)", re.DOTALL
    )
    return _ENTRY_RE.sub(lambda entry: element.sub(b"", entry.group()), body)


@contextlib.contextmanager
def running_fake_arxiv(papers: Iterable[Paper] = ()) -> Iterator[FakeArxiv]:
    """Start a :class:`FakeArxiv` serving ``papers`` on an ephemeral port; stop it after."""
    with FakeArxiv(papers) as fake:
        yield fake
