"""``/arxiv trending``: Hugging Face's daily papers of a period, by upvotes.

:func:`rank_trending` is pure: daily-paper entries in, the period's papers out, each
once, optionally only those a query in the bot's own syntax matches (the matcher of
subscriptions, over the title, abstract and authors Hugging Face lists; it has no
arXiv categories, so ``cat:`` terms match nothing), most upvoted first.
:func:`fetch_trending` asks a :class:`~bot.sources.huggingface.HuggingFacePapers` for
the period's days within a time budget and ranks what it got.

A paper listed on several days of a week counts once, with the highest upvote count
seen: upvotes are the paper's running total, so summing the days would count the same
votes twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bot.matcher import PaperText, compile_matcher
from bot.models import Paper
from bot.query import Query
from bot.sources.hf_wire import HfPaper
from bot.sources.huggingface import HuggingFacePapers

__all__ = [
    "PERIODS",
    "Period",
    "Trending",
    "TrendingEntry",
    "fetch_trending",
    "paper_from_hf",
    "period_days",
    "rank_trending",
]

Period = Literal["today", "week"]

PERIODS: dict[Period, int] = {"today": 1, "week": 7}
"""Days each period covers, ending today."""

TODAY_FALLBACK_DAYS = 3
"""When today has no daily papers yet (early in the UTC day, a weekend), ``today``
shows the latest of this many days before it that has some."""

DEFAULT_TRENDING_BUDGET = 10.0


@dataclass(frozen=True, slots=True)
class TrendingEntry:
    """One paper of the period: what a trending list shows."""

    arxiv_id: str
    title: str
    upvotes: int
    github_repo: str | None = None
    github_stars: int | None = None
    day: date | None = None
    """The latest day of the period it was in the daily papers."""


@dataclass(frozen=True, slots=True)
class Trending:
    """The answer to ``/arxiv trending``: the days asked about, the entries, and the days
    Hugging Face could not be asked about in time (the list may lack their papers)."""

    period: Period
    days: tuple[date, ...]
    entries: tuple[TrendingEntry, ...]
    missing_days: tuple[date, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing_days


def period_days(period: Period, today: date) -> list[date]:
    """The days of ``period`` ending ``today``, newest first."""
    return [today - timedelta(days=back) for back in range(PERIODS[period])]


def paper_from_hf(entry: HfPaper) -> Paper:
    """A :class:`~bot.models.Paper` to match queries against: Hugging Face's title,
    abstract and authors; no categories (it lists none); version 1."""
    when = entry.published_at or entry.submitted_on_daily_at or datetime(1970, 1, 1, tzinfo=UTC)
    return Paper(
        arxiv_id=entry.arxiv_id,
        version=1,
        title=entry.title,
        authors=entry.authors,
        abstract=entry.summary,
        categories=(),
        submitted=when,
        updated=when,
    )


def rank_trending(
    entries: Iterable[HfPaper], *, query: Query | None = None, limit: int | None = None
) -> list[TrendingEntry]:
    """Each paper once (its highest upvotes; a repository any entry names), those
    ``query`` matches if given, ordered by upvotes descending, then newest daily day,
    then id; at most ``limit``."""
    best: dict[str, HfPaper] = {}
    repos: dict[str, tuple[str, int | None]] = {}
    latest: dict[str, date] = {}
    for entry in entries:
        held = best.get(entry.arxiv_id)
        if held is None or entry.upvotes > held.upvotes:
            best[entry.arxiv_id] = entry
        if entry.github_repo and entry.arxiv_id not in repos:
            repos[entry.arxiv_id] = (entry.github_repo, entry.github_stars)
        if entry.submitted_on_daily_at is not None:
            day = entry.submitted_on_daily_at.date()
            latest[entry.arxiv_id] = max(day, latest.get(entry.arxiv_id, day))
    papers = list(best.values())
    if query is not None:
        matches = compile_matcher(query).matches
        papers = [paper for paper in papers if matches(PaperText.from_paper(paper_from_hf(paper)))]
    ranked = [
        _entry(paper, repos.get(paper.arxiv_id), latest.get(paper.arxiv_id)) for paper in papers
    ]
    ranked.sort(key=lambda e: (-e.upvotes, -(e.day or date.min).toordinal(), e.arxiv_id))
    return ranked if limit is None else ranked[:limit]


def _entry(paper: HfPaper, repo: tuple[str, int | None] | None, day: date | None) -> TrendingEntry:
    repo_url, stars = repo if repo is not None else (None, None)
    return TrendingEntry(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        upvotes=paper.upvotes,
        github_repo=repo_url,
        github_stars=stars,
        day=day,
    )


async def fetch_trending(
    client: HuggingFacePapers,
    period: Period,
    *,
    today: date,
    query: Query | None = None,
    limit: int | None = None,
    budget: float = DEFAULT_TRENDING_BUDGET,
) -> Trending | None:
    """The trending papers of ``period`` ending ``today`` (a UTC date), or None when
    Hugging Face could not be asked about any of its days (disabled, unreachable, slow).

    When Hugging Face answers that ``today`` has no daily papers (yet), ``today`` shows
    the latest of the :data:`TODAY_FALLBACK_DAYS` days before it that has some.
    """
    started = time.monotonic()
    days = period_days(period, today)
    got = await client.daily_papers_of(days, budget=budget)
    if period == "today" and got.get(today) == []:
        for back in range(1, TODAY_FALLBACK_DAYS + 1):
            day = today - timedelta(days=back)
            left = budget - (time.monotonic() - started)
            more = await client.daily_papers_of([day], budget=left) if left > 0 else {}
            if day not in more:
                break  # unknown, not empty: keep today's answer
            if more[day]:
                days, got = [day], more
                break
    if not got:
        return None
    entries = [paper for day in days for paper in got.get(day, ())]
    return Trending(
        period=period,
        days=tuple(days),
        entries=tuple(rank_trending(entries, query=query, limit=limit)),
        missing_days=tuple(day for day in days if day not in got),
    )
