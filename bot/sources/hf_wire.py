"""Hugging Face's papers API, as data: what its JSON answers hold and how to read them.

Two endpoints, both public and without authentication (``{HF}`` is ``HF_API_URL``,
``https://huggingface.co`` by default):

* ``GET {HF}/api/papers/{arxiv_id}``: one paper, its fields at the top level::

    {"id": "2407.21783", "title": "...", "summary": "...", "authors": [{"name": ...}],
     "publishedAt": "2024-07-31T00:00:00.000Z", "submittedOnDailyAt": "...",
     "upvotes": 12, "githubRepo": "https://github.com/...", "githubStars": 40,
     "numComments": 3, "projectPage": "...", "linkedModels": [...], ...}

  404 when Hugging Face has no page for the paper (most arXiv papers).
* ``GET {HF}/api/daily_papers?date=YYYY-MM-DD&limit=N&p=PAGE``: the daily papers of a
  day (``limit`` defaults to 50, ``p`` counts pages from 0), a list of entries whose
  paper is nested::

    [{"paper": {"id": ..., "title": ..., "summary": ..., "authors": [...],
                "publishedAt": ..., "submittedOnDailyAt": ..., "upvotes": 5,
                "githubRepo"?: ..., "githubStars"?: ...},
      "title": ..., "summary": ..., "publishedAt": ..., "numComments": 2,
      "submittedBy": {...}, "thumbnail": ...}]

The field names and the nesting follow ``huggingface_hub``'s ``PaperInfo``
(``hf_api.py``: ``paper_info``, ``list_daily_papers``), which reads a field from the
nested ``paper`` first and the entry second, and recorded answers of the live API.
Unlike ``PaperInfo`` the repository and its stars are also looked for inside ``paper``,
where daily entries carry them. In a daily entry the top-level ``publishedAt`` is when
the entry went up on Daily Papers, ``paper.publishedAt`` the arXiv date.

Everything read here is untrusted: values of the wrong type count as absent, and an
answer without what must be there raises :class:`HfFormatError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.arxiv_ids import parse_arxiv_id
from bot.errors import ArxivBotError, PaperIdError

__all__ = ["HfFormatError", "HfPaper", "parse_daily_papers", "parse_paper_info"]

_MAX_TITLE = 1000
_MAX_SUMMARY = 20_000


class HfFormatError(ArxivBotError):
    """An answer from Hugging Face that is not what its API sends."""


@dataclass(frozen=True, slots=True)
class HfPaper:
    """What Hugging Face knows of one arXiv paper.

    ``upvotes`` is the paper's running total when it was fetched. ``github_repo`` is an
    ``http(s)`` URL or None; ``github_stars`` is None when Hugging Face gave no count.
    ``submitted_on_daily_at`` is when the paper went up on Daily Papers, None if it never
    did. Datetimes are timezone-aware (UTC).
    """

    arxiv_id: str
    title: str
    upvotes: int = 0
    summary: str = ""
    authors: tuple[str, ...] = ()
    github_repo: str | None = None
    github_stars: int | None = None
    published_at: datetime | None = None
    submitted_on_daily_at: datetime | None = None
    num_comments: int | None = None

    @property
    def in_daily_papers(self) -> bool:
        return self.submitted_on_daily_at is not None

    def in_daily_papers_on(self, day: date) -> bool:
        """True if the paper is in the daily papers of ``day`` (a UTC date)."""
        return self.submitted_on_daily_at is not None and self.submitted_on_daily_at.date() == day

    @property
    def page_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}"


def parse_paper_info(data: object, arxiv_id: str) -> HfPaper:
    """Read a ``/api/papers/{arxiv_id}`` answer (parsed JSON); :class:`HfFormatError` if
    it is not one, or is about another paper."""
    if not isinstance(data, Mapping):
        raise HfFormatError(f"paper answer is a {type(data).__name__}, not an object")
    paper = _read_paper(data, nested=None)
    if paper is None:
        raise HfFormatError("paper answer lacks a valid id or title")
    if paper.arxiv_id != arxiv_id:
        raise HfFormatError(f"asked for {arxiv_id}, got {paper.arxiv_id}")
    return paper


def parse_daily_papers(data: object) -> list[HfPaper]:
    """Read a ``/api/daily_papers`` answer (parsed JSON), skipping entries that name no
    paper; :class:`HfFormatError` if it is not a list, or no entry of a non-empty list
    can be read."""
    if not isinstance(data, list):
        raise HfFormatError(f"daily papers answer is a {type(data).__name__}, not a list")
    papers: list[HfPaper] = []
    for entry in data:
        if not isinstance(entry, Mapping):
            continue
        nested = entry.get("paper")
        paper = _read_paper(entry, nested=nested if isinstance(nested, Mapping) else {})
        if paper is not None:
            papers.append(paper)
    if data and not papers:
        raise HfFormatError(f"none of the {len(data)} daily entries names a paper")
    return papers


def _read_paper(top: Mapping[str, Any], *, nested: Mapping[str, Any] | None) -> HfPaper | None:
    """A paper from a detail answer (``nested`` None) or a daily entry (its ``paper``)."""
    inner: Mapping[str, Any] = nested if nested is not None else {}

    def pick(name: str) -> object:
        value = inner.get(name)
        return value if value is not None else top.get(name)

    arxiv_id = _arxiv_id(pick("id"))
    # A daily entry's own title is the paper's; a detail answer has only one.
    title = _text(top.get("title"), _MAX_TITLE) or _text(inner.get("title"), _MAX_TITLE)
    if arxiv_id is None or not title:
        return None
    if nested is None:
        submitted = _datetime(top.get("submittedOnDailyAt"))
    else:  # the entry's publishedAt is when it went up on Daily Papers
        submitted = _datetime(inner.get("submittedOnDailyAt")) or _datetime(top.get("publishedAt"))
    return HfPaper(
        arxiv_id=arxiv_id,
        title=title,
        upvotes=_count(pick("upvotes")) or 0,
        summary=_text(inner.get("summary"), _MAX_SUMMARY)
        or _text(top.get("summary"), _MAX_SUMMARY),
        authors=_authors(pick("authors")),
        github_repo=_url(pick("githubRepo")),
        github_stars=_count(pick("githubStars")),
        published_at=_datetime(
            inner.get("publishedAt") if nested is not None else top.get("publishedAt")
        ),
        submitted_on_daily_at=submitted,
        num_comments=_count(top.get("numComments")),
    )


def _arxiv_id(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        arxiv_id, _ = parse_arxiv_id(value)
    except PaperIdError:
        return None
    return arxiv_id


def _text(value: object, limit: int) -> str:
    """One line of plain text (whitespace collapsed), cut at ``limit`` characters."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:limit]


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    url = value.strip()
    if (
        not url.startswith(("https://", "http://"))
        or len(url) > 500
        or any(c.isspace() for c in url)
    ):
        return None
    return url


def _authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (_text(a.get("name"), 300) for a in value if isinstance(a, Mapping))
    return tuple(name for name in names if name)


def _datetime(value: object) -> datetime | None:
    """``2024-07-31T00:00:00.000Z`` as a UTC datetime (no offset: UTC); None for
    anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
