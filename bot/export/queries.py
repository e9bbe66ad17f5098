"""Export sections straight from queries (``arxiv-bot export --query ...``): the newest
papers matching each, from the local index when it holds the whole answer, else from
arXiv (and from the index anyway, saying so, when arXiv does not answer)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import ArxivUnavailableError
from bot.export.sections import Export, ExportSection, capped, newest_first
from bot.localsearch.engine import LocalSearch
from bot.models import Paper, SortOrder
from bot.query import Query
from bot.sources.arxiv_api import ArxivApi
from bot.store import Store

log = logging.getLogger(__name__)

QUERIES_SOURCE = "the queries below"


@dataclass(frozen=True, slots=True)
class QueryExport:
    export: Export
    notes: tuple[str, ...]
    """Where each section came from, in words."""


async def _newest(
    query: Query, *, local: LocalSearch, arxiv: ArxivApi, store: Store, rows: int
) -> tuple[list[Paper], int, str]:
    since = await local.held_since(query)
    found = None
    if since is not None:
        found = await local.search(query, newest_first=True, limit=rows)
        if (
            found is not None
            and len(found.papers) >= rows
            and found.papers[-1].submitted.date() > since
        ):
            # a full page whose oldest paper is newer than the index's first day: nothing
            # newer can be missing
            return list(found.papers), found.total, "the local index"
    try:
        results = await arxiv.search(query.to_api(), sort=SortOrder.DATE, limit=rows)
    except ArxivUnavailableError as error:
        if found is None or not found.papers:
            raise
        log.warning("arXiv did not answer for %r; exporting from the index: %s", query.text, error)
        return list(found.papers), found.total, "the local index (arXiv did not answer)"
    await store.upsert_papers(results.papers)
    return newest_first(results.papers), results.total, "arXiv"


async def query_export(
    queries: Sequence[Query],
    *,
    local: LocalSearch,
    arxiv: ArxivApi,
    store: Store,
    rows: int,
    now: datetime,
) -> QueryExport:
    sections: list[ExportSection] = []
    notes: list[str] = []
    for query in queries:
        papers, total, origin = await _newest(
            query, local=local, arxiv=arxiv, store=store, rows=rows
        )
        section = capped(query.text, papers, rows)
        sections.append(ExportSection(section.heading, section.papers, max(total, len(papers))))
        notes.append(f"{query.text}: {len(section.papers):,} papers from {origin}.")
    export = Export(source=QUERIES_SOURCE, generated=now, sections=tuple(sections))
    return QueryExport(export, tuple(notes))
