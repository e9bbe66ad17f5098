"""What every export format renders: papers grouped under headings, newest first."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Paper

DEFAULT_ROWS = 100
"""Papers per heading at most (the ``EXPORT_ROWS`` setting), as Daily Papers keeps."""


class ExportFormat(enum.StrEnum):
    MARKDOWN = "markdown"
    BIBTEX = "bibtex"
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class ExportSection:
    """One heading of an export: a subscription's (or a query's) papers, newest first.

    ``total`` counts the papers before the row cap; ``papers`` holds at most the cap.
    """

    heading: str
    papers: tuple[Paper, ...]
    total: int
    subscription_id: int | None = None

    @property
    def capped(self) -> bool:
        return self.total > len(self.papers)


@dataclass(frozen=True, slots=True)
class Export:
    """Everything an export file shows: where it comes from, when, and its sections."""

    source: str
    """Who the papers are for, in words: ``#general``, ``the queries given``."""
    generated: datetime
    sections: tuple[ExportSection, ...]

    def unique_papers(self) -> list[Paper]:
        """Every paper once, in section order (a paper under two headings, once)."""
        seen: dict[str, Paper] = {}
        for section in self.sections:
            for paper in section.papers:
                seen.setdefault(paper.arxiv_id, paper)
        return list(seen.values())

    def headings_of(self) -> dict[str, list[str]]:
        """The headings each paper appears under, by arXiv id."""
        found: dict[str, list[str]] = {}
        for section in self.sections:
            for paper in section.papers:
                found.setdefault(paper.arxiv_id, []).append(section.heading)
        return found

    @property
    def rows(self) -> int:
        return sum(len(section.papers) for section in self.sections)


def newest_first(papers: Sequence[Paper]) -> list[Paper]:
    """``papers`` by first submission, newest first; ties by arXiv id, highest first."""
    return sorted(papers, key=lambda paper: (paper.submitted, paper.arxiv_id), reverse=True)


def capped(
    heading: str, papers: Sequence[Paper], rows: int, subscription_id: int | None = None
) -> ExportSection:
    """A section of ``papers`` (already newest first), cut to ``rows``."""
    return ExportSection(heading, tuple(papers[:rows]), len(papers), subscription_id)
