"""Reading the local search index in tests, the way /arxiv search does."""

from __future__ import annotations

from bot.localsearch.engine import LocalSearch
from bot.query import parse_query
from bot.store import Store


async def found(
    store: Store, query: str, *, newest_first: bool = False, limit: int = 25
) -> list[str]:
    """The arXiv ids the local index answers ``query`` with, best (or newest) first."""
    results = await LocalSearch(store).search(
        parse_query(query), newest_first=newest_first, limit=limit
    )
    assert results is not None, f"the index cannot narrow {query!r}"
    return [paper.arxiv_id for paper in results.papers]
