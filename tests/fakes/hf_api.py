"""A fake Hugging Face papers API: a real HTTP server on 127.0.0.1 speaking its JSON.

Point the client at :attr:`FakeHuggingFace.base_url`::

    with running_fake_hf([FakeHfPaper("2407.21783", "The Llama 3 Herd of Models")]) as fake:
        client = HuggingFacePapers(base_url=fake.base_url, interval=0)
        ...
        assert fake.requests[0].path == "/api/papers/2407.21783"

What it serves, in the shapes of the live API (see :mod:`bot.sources.hf_wire`):

* ``GET /api/papers/{arxiv_id}``: one paper, its fields at the top level (``id``,
  ``title``, ``summary``, ``authors``, ``publishedAt``, ``submittedOnDailyAt``,
  ``upvotes``, ``githubRepo``/``githubStars`` when it has a repository, ``linkedModels``
  ...); 404 ``{"error": "Paper not found"}`` for a paper it does not hold.
* ``GET /api/daily_papers?date=YYYY-MM-DD&limit=N&p=PAGE``: the entries of that day's
  daily papers (the paper nested under ``paper``; the entry's own ``publishedAt`` is when
  it went up), newest first, ``limit`` a page (default 50, at most 100), ``p`` the page
  from 0; no ``date``: the latest day that has any. 400 ``{"error": ...}`` for a date or
  paging parameter it cannot read.

Scripted trouble, consumed a request at a time in the order scripted (the shared
machinery of :mod:`tests.fakes.http_server`): :meth:`~FakeHuggingFace.fail_next` (any
status, optional ``Retry-After``), :meth:`~FakeHuggingFace.delay_next`,
:meth:`~FakeHuggingFace.hang_next`, :meth:`~FakeHuggingFace.trickle_next`,
:meth:`~FakeHuggingFace.cut_next` (half the body, short of its ``Content-Length``),
and answers that are valid HTTP but not the JSON: :meth:`~FakeHuggingFace.truncate_next`
(the JSON cut in half, with a matching ``Content-Length``),
:meth:`~FakeHuggingFace.empty_next`, :meth:`~FakeHuggingFace.malformed_next`,
:meth:`~FakeHuggingFace.serve_next` (any body). Every request is recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.fakes.http_server import Answer, FakeHttpServer, RecordedRequest, Script

__all__ = [
    "DAILY_PATH",
    "PAPERS_PATH",
    "FakeHfPaper",
    "FakeHuggingFace",
    "RecordedRequest",
    "daily_at",
    "hf_time",
    "running_fake_hf",
]

DAILY_PATH = "/api/daily_papers"
PAPERS_PATH = "/api/papers/"
JSON = "application/json; charset=utf-8"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def hf_time(moment: datetime) -> str:
    """Hugging Face's timestamps: ``2024-07-31T00:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass
class FakeHfPaper:
    """A paper the fake holds; ``daily_at`` puts it in the daily papers of that UTC day."""

    arxiv_id: str
    title: str
    summary: str = "An abstract."
    authors: tuple[str, ...] = ("Ada Lovelace",)
    upvotes: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    published_at: datetime = field(default_factory=lambda: datetime(2025, 10, 27, tzinfo=UTC))
    daily_at: datetime | None = None
    num_comments: int = 0

    def _authors(self) -> list[dict[str, Any]]:
        return [
            {"_id": f"{index:024x}", "name": name, "hidden": False}
            for index, name in enumerate(self.authors, start=1)
        ]

    def _core(self) -> dict[str, Any]:
        core: dict[str, Any] = {
            "id": self.arxiv_id,
            "authors": self._authors(),
            "publishedAt": hf_time(self.published_at),
            "title": self.title,
            "summary": self.summary,
            "upvotes": self.upvotes,
            "discussionId": hashlib.sha1(self.arxiv_id.encode()).hexdigest()[:24],
            "ai_summary": "One line about it.",
            "ai_keywords": ["keyword"],
        }
        if self.daily_at is not None:
            core["submittedOnDailyAt"] = hf_time(self.daily_at)
            core["submittedOnDailyBy"] = {"_id": "0" * 24, "fullname": "AK", "user": "akhaliq"}
        if self.github_repo is not None:
            core["githubRepo"] = self.github_repo
            core["githubRepoAddedBy"] = "user"
            if self.github_stars is not None:
                core["githubStars"] = self.github_stars
        return core

    def detail(self) -> dict[str, Any]:
        """The answer to ``GET /api/papers/{id}``."""
        return {
            **self._core(),
            "projectPage": "https://example.org/project",
            "linkedModels": [],
            "numTotalModels": 0,
            "linkedDatasets": [],
            "numTotalDatasets": 0,
            "linkedSpaces": [],
            "numTotalSpaces": 0,
        }

    def daily_entry(self) -> dict[str, Any]:
        """One entry of ``GET /api/daily_papers``."""
        assert self.daily_at is not None
        return {
            "paper": self._core(),
            "publishedAt": hf_time(self.daily_at),
            "title": self.title,
            "summary": self.summary[:80],  # the listing's short form
            "thumbnail": f"https://cdn-thumbnails.huggingface.co/{self.arxiv_id}.png",
            "numComments": self.num_comments,
            "submittedBy": {"_id": "0" * 24, "fullname": "AK", "user": "akhaliq", "type": "user"},
            "isAuthorParticipating": False,
        }


@dataclass(slots=True)
class _Script(Script):
    body: bytes | None = None
    """Served with HTTP 200 in place of the answer."""
    truncate: bool = False
    """The answer's JSON cut in half, sent with a matching ``Content-Length``."""


class FakeHuggingFace(FakeHttpServer[_Script]):
    """Hugging Face's papers API at :attr:`base_url`. Thread-safe."""

    def __init__(self, papers: Iterable[FakeHfPaper] = ()) -> None:
        super().__init__(path=DAILY_PATH, name="fake-huggingface")
        self._papers: dict[str, FakeHfPaper] = {}
        for paper in papers:
            self.add(paper)

    # -- data

    def add(self, paper: FakeHfPaper) -> None:
        """Hold a copy of ``paper`` (later changes go through the fake's methods)."""
        with self._lock:
            self._papers[paper.arxiv_id] = dataclasses.replace(paper)

    def set_upvotes(self, arxiv_id: str, upvotes: int) -> None:
        with self._lock:
            self._papers[arxiv_id].upvotes = upvotes

    # -- scripted trouble

    def fail_next(
        self, status: int = 503, *, retry_after: str | None = None, times: int = 1, after: int = 0
    ) -> None:
        self._add_script(_Script(status=status, retry_after=retry_after, times=times, after=after))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        self._add_script(_Script(delay=seconds, times=times))

    def hang_next(self) -> None:
        self._add_script(_Script(hang=True))

    def trickle_next(self, seconds_per_byte: float) -> None:
        self._add_script(_Script(trickle=seconds_per_byte))

    def cut_next(self) -> None:
        self._add_script(_Script(cut=True))

    def truncate_next(self) -> None:
        self._add_script(_Script(truncate=True))

    def serve_next(self, body: bytes, *, times: int = 1) -> None:
        self._add_script(_Script(body=body, times=times))

    def empty_next(self) -> None:
        self.serve_next(b"")

    def malformed_next(self) -> None:
        self.serve_next(b'{"id": "2407.21783", "title": "The Llama 3 Herd of Mod')

    # -- what happened

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.startswith(prefix)]

    # -- answering

    def _respond(self, params: dict[str, str], script: _Script | None) -> Answer:
        return self._daily(params)

    def _answer(self, path: str, params: dict[str, str], script: _Script | None) -> Answer | None:
        if script is not None and not self._sleep(script.delay):
            return None
        if script is not None and script.status is not None:
            return self._failure(script, params)
        if path == DAILY_PATH:
            answer = self._daily(params)
        elif path.startswith(PAPERS_PATH):
            answer = self._paper(path[len(PAPERS_PATH) :])
        else:
            answer = _json(404, {"error": "Not Found"})
        if script is not None and script.body is not None:
            return 200, {"Content-Type": JSON}, script.body
        if script is not None and script.truncate:
            status, headers, body = answer
            return status, headers, body[: len(body) // 2]
        return answer

    def _paper(self, arxiv_id: str) -> Answer:
        with self._lock:
            paper = self._papers.get(arxiv_id)
            detail = paper.detail() if paper is not None else None
        if detail is None:
            return _json(404, {"error": "Paper not found"})
        return _json(200, detail)

    def _daily(self, params: dict[str, str]) -> Answer:
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            page = int(params.get("p", 0))
            day = date.fromisoformat(params["date"]) if "date" in params else None
        except ValueError as error:
            return _json(400, {"error": f'"date", "limit" or "p" is invalid: {error}'})
        if not 1 <= limit <= MAX_LIMIT or page < 0:
            return _json(400, {"error": f'"limit" must be 1-{MAX_LIMIT} and "p" >= 0'})
        with self._lock:
            listed = [p for p in self._papers.values() if p.daily_at is not None]
            if day is None and listed:
                day = max(p.daily_at for p in listed if p.daily_at is not None).date()
            of_day = [p for p in listed if p.daily_at is not None and p.daily_at.date() == day]
            of_day.sort(key=lambda p: (-(p.daily_at or p.published_at).timestamp(), p.arxiv_id))
            entries = [p.daily_entry() for p in of_day[page * limit : (page + 1) * limit]]
        return _json(200, entries)


def _json(status: int, value: object) -> Answer:
    return status, {"Content-Type": JSON}, json.dumps(value).encode()


def daily_at(day: date, hour: int = 8) -> datetime:
    """When a paper went up on the daily papers of ``day``."""
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


@contextlib.contextmanager
def running_fake_hf(papers: Iterable[FakeHfPaper] = ()) -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(papers) as fake:
        yield fake
