"""Searching the local index: what it can answer, the answer, and papers like a paper.

Every hit is checked with the same :class:`~bot.matcher.Matcher` that drives
subscriptions, so local search and subscriptions never disagree on what matches; for
nearly every query the FTS5 expression is already exact (see
:mod:`bot.localsearch.translate`) and the check costs a few microseconds per shown paper.

Whether the index may answer is the caller's decision (:meth:`LocalSearch.held_since`
says from which day it holds the query's categories up to now).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from bot.clock import Clock, utc_now
from bot.errors import QueryTimeoutError
from bot.localsearch.expression import AnyOf, Expression, Phrase
from bot.localsearch.terms import title_token, token
from bot.localsearch.translate import FtsQuery, translate
from bot.matcher import PaperText, compile_matcher
from bot.models import Paper
from bot.query import Query
from bot.store import Store
from bot.textproc import stems

__all__ = ["STALE_DAYS", "LocalResults", "LocalSearch"]

logger = logging.getLogger(__name__)

STALE_DAYS = 3
"""The index counts as up to date when it holds the days up to this many days ago: a
failed harvest or a weekend does not send every search to arXiv."""
MAX_CHECKED = 2000
"""Candidates checked at most when an expression is wider than the query."""
SIMILAR_TERMS = 25
"""Words of a paper that :meth:`LocalSearch.similar` looks for."""
RANK_POOL = 2000
"""A relevance search ranks at most the newest this many matches: bm25 costs several
microseconds a paper, so ranking all 200,000 papers holding "graph" would take a second
(``bench/search.py`` measures it)."""
SIMILAR_POOL = 5000
SEARCH_SECONDS = 0.5
"""The most one local search may hold the database: a query of thirty stop words ORed
together would otherwise rank for seconds. Past it, the search goes to arXiv instead."""
SIMILAR_SECONDS = 2.0
COUNT_CAP = 5000
"""Counting stops here: "more than 5,000 papers match" is all anyone needs to know, and
the count comes from the same pass over the index as the ranking pool."""


@dataclass(frozen=True, slots=True)
class LocalResults:
    papers: tuple[Paper, ...]
    """The requested page, best first (or newest first)."""
    total: int
    exact_total: bool
    """False when ``total`` is an upper bound (a query the index cannot narrow exactly)."""
    more_than: bool = False
    """True when there are more than ``total`` matches (counting stopped there)."""
    ranked_among: int | None = None
    """When set, the ranking covered only the newest this many matches."""


class LocalSearch:
    """Searches over the store's index of papers."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def held_since(self, query: Query) -> date | None:
        """The first day from which the index holds every category ``query`` can match,
        without a gap up to the last few days; None if it does not hold them up to now."""
        through = self._clock().date() - timedelta(days=STALE_DAYS)
        return await self._store.held_since(query.category_scope(), through)

    async def search(
        self, query: Query, *, newest_first: bool, limit: int, offset: int = 0
    ) -> LocalResults | None:
        """The page ``offset``..``offset + limit`` of the stored papers matching ``query``,
        best bm25 first (``newest_first``: arXiv's order, newest first); None when the
        index cannot narrow the query at all (an author given by initials only) or not
        within :data:`SEARCH_SECONDS`."""
        expression = translate(query)
        if expression.expression is None:
            return None
        deadline = time.monotonic() + SEARCH_SECONDS
        try:
            return await self._search(expression, query, newest_first, limit, offset, deadline)
        except QueryTimeoutError:
            logger.info("Local search for %r took too long; leaving it to arXiv", query.text)
            return None

    async def _search(
        self,
        expression: FtsQuery,
        query: Query,
        newest_first: bool,
        limit: int,
        offset: int,
        deadline: float,
    ) -> LocalResults:
        assert expression.expression is not None
        matcher = compile_matcher(query)

        def matches(paper: Paper) -> bool:
            return matcher.matches(PaperText.lazy(paper))

        if expression.exact:
            newest = await self._store.index_newest(
                expression.expression, COUNT_CAP + 1, deadline=deadline
            )
            if not newest:
                return LocalResults((), 0, exact_total=True)
            floor = newest[RANK_POOL - 1] if len(newest) > RANK_POOL else None
            hits = await self._store.index_search(
                expression.expression,
                ranked=not newest_first,
                limit=limit,
                offset=offset,
                floor=None if newest_first else floor,
                deadline=deadline,
            )
            papers = tuple(hit.paper for hit in hits if matches(hit.paper))
            return LocalResults(
                papers,
                min(len(newest), COUNT_CAP),
                exact_total=True,
                more_than=len(newest) > COUNT_CAP,
                ranked_among=RANK_POOL if floor is not None and not newest_first else None,
            )
        return await self._checked(
            expression.expression, matches, newest_first, limit, offset, deadline
        )

    async def _checked(
        self,
        expression: Expression,
        matches: Callable[[Paper], bool],
        newest_first: bool,
        limit: int,
        offset: int,
        deadline: float,
    ) -> LocalResults:
        """Check the candidates of a wider expression, in one read, keeping those that
        match: up to :data:`MAX_CHECKED` of them, ranked (or newest first) as a whole."""
        newest = await self._store.index_newest(expression, RANK_POOL + 1, deadline=deadline)
        floor = None if newest_first or len(newest) <= RANK_POOL else newest[RANK_POOL - 1]
        hits = await self._store.index_search(
            expression,
            ranked=not newest_first,
            limit=MAX_CHECKED,
            floor=floor,
            deadline=deadline,
        )
        found = [hit.paper for hit in hits if matches(hit.paper)]
        page = tuple(found[offset : offset + limit])
        ranked_among = RANK_POOL if floor is not None else None
        if len(hits) < MAX_CHECKED:
            return LocalResults(page, len(found), True, ranked_among=ranked_among)
        upper = await self._store.index_count(expression, cap=COUNT_CAP, deadline=deadline)
        return LocalResults(
            page,
            min(upper, COUNT_CAP),
            exact_total=False,
            more_than=upper > COUNT_CAP,
            ranked_among=ranked_among,
        )

    async def similar(self, paper: Paper, *, limit: int, offset: int = 0) -> list[Paper]:
        """The stored papers most like ``paper`` by bm25 over its title and abstract
        words (each weighed by how rare it is), newest first among equals; never itself.
        Raises :class:`~bot.errors.QueryTimeoutError` past :data:`SIMILAR_SECONDS`."""
        expression = await self._similar_expression(paper)
        if expression is None:
            return []
        deadline = time.monotonic() + SIMILAR_SECONDS
        newest = await self._store.index_newest(expression, SIMILAR_POOL, deadline=deadline)
        hits = await self._store.index_search(
            expression,
            ranked=True,
            limit=limit,
            offset=offset,
            exclude=paper.arxiv_id,
            floor=newest[-1] if len(newest) == SIMILAR_POOL else None,
            deadline=deadline,
        )
        return [hit.paper for hit in hits]

    async def _similar_expression(self, paper: Paper) -> Expression | None:
        """An OR of the paper's most telling words (tf-idf), in title or abstract."""
        counts: dict[str, int] = {}
        for word in (*stems(paper.title), *stems(paper.title), *stems(paper.abstract)):
            if len(word) > 2 and not word.isdigit():
                counts[word] = counts.get(word, 0) + 1
        if not counts:
            return None
        total = max(await self._store.indexed_papers(), 1)
        tokens = {word: token(word) for word in counts}
        titles = {word: title_token(word) for word in counts}
        holding = await self._store.papers_holding([*tokens.values(), *titles.values()])

        def weight(word: str) -> float:
            # Papers with the word in the title nearly all have it in the abstract too.
            papers = max(holding.get(tokens[word], 0), holding.get(titles[word], 0))
            if papers <= 1:  # only this paper (or none) has it: it finds nothing else
                return 0.0
            return counts[word] * math.log(1 + (total - papers + 0.5) / (papers + 0.5))

        chosen = sorted(counts, key=lambda word: (-weight(word), word))[:SIMILAR_TERMS]
        chosen = [word for word in chosen if weight(word) > 0]
        if not chosen:
            return None
        return AnyOf(
            (
                *(Phrase(("ti",), (titles[word],)) for word in chosen),
                *(Phrase(("abs",), (tokens[word],)) for word in chosen),
            )
        )
