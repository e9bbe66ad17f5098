"""The order a channel's new papers of one round are planned in, and its top picks.

With the channel's ranking on and enough of its papers liked (``RANKING_MIN_LIKES``),
its own model (:func:`bot.ranking.rank`, trained on the channel's newest feedback, in a
worker thread) orders them and marks its top picks. Otherwise, and whenever ranking
fails, they go by match strength (a title match above an abstract-only one, over the
channel's subscription queries), then newest first. Either way every paper is kept: the
order changes, never the set.

Papers are read :data:`PAGE` at a time, with their abstracts (match strength and the
model need them); past :data:`RANK_LIMIT` papers (a huge backlog) only their strength
and date are kept, and they are ordered by those alone, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.errors import ArxivBotError, StorageError
from bot.models import Paper, Subscription
from bot.query import Query, parse_query
from bot.ranking import reads_text, strength_for
from bot.store import Channel, Store
from bot.store.deliveries import DeliveryQueue
from bot.store.feedback import RatedPaper

if TYPE_CHECKING:
    from bot.ranking import Ranking

__all__ = ["PAGE", "RANK_LIMIT", "Ordering", "PaperOrderer", "TopPick"]

log = logging.getLogger(__name__)

PAGE = 200
"""Papers read (with abstracts) at a time while ordering."""
RANK_LIMIT = 3000
"""Above this many new papers in one round, a channel's papers are ordered by match
strength and date only: its model would hold every abstract in memory at once."""


@dataclass(frozen=True, slots=True)
class TopPick:
    """A top pick of the channel's model, and the liked paper it resembles (if any)."""

    like: str | None = None


def _no_picks() -> Mapping[str, TopPick]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Ordering:
    """``order``: every arXiv id given, best first. ``picks``: the top picks by id."""

    order: tuple[str, ...]
    picks: Mapping[str, TopPick] = field(default_factory=_no_picks)
    trained: bool = False

    def position(self) -> dict[str, int]:
        return {arxiv_id: i for i, arxiv_id in enumerate(self.order)}


_Key = tuple[int, float]
"""A paper's match strength and its submission time (seconds): the fallback order."""


class PaperOrderer:
    """Orders a channel's new papers for planning; see the module doc."""

    def __init__(
        self,
        store: Store,
        queue: DeliveryQueue,
        *,
        min_likes: int,
        rank_limit: int = RANK_LIMIT,
    ) -> None:
        self._store = store
        self._queue = queue
        self._min_likes = min_likes
        self._rank_limit = rank_limit

    async def order(
        self,
        channel: Channel,
        arxiv_ids: Sequence[str],
        subscriptions: Iterable[Subscription],
        *,
        page: int = PAGE,
    ) -> Ordering:
        """The order of ``arxiv_ids`` (version-less, distinct) for ``channel``, reading
        ``page`` papers at a time. Never raises but for the store failing: a ranking
        error is logged and the order falls back to match strength and date, or failing
        that stays as given."""
        ids = tuple(arxiv_ids)
        if len(ids) < 2:
            return Ordering(ids)
        try:
            return await self._order(channel, ids, list(subscriptions), max(page, 1))
        except StorageError:
            raise
        except Exception:
            log.exception(
                "Channel %s: ordering %s papers failed; they go in queue order",
                channel.id,
                len(ids),
            )
            return Ordering(ids)

    async def _order(
        self, channel: Channel, ids: tuple[str, ...], subscriptions: list[Subscription], size: int
    ) -> Ordering:
        queries = _queries(subscriptions)
        strength = strength_for(queries)
        keep = len(ids) <= self._rank_limit
        model = (
            keep
            and channel.ranking
            and await self._store.liked_papers_count(channel.id) >= self._min_likes
        )
        # Abstracts only when something reads them: a query of only authors and
        # categories gives every paper the same strength, and then the date decides.
        abstracts = model or reads_text(queries)
        keys: dict[str, _Key] = {}
        papers: list[Paper] = []
        for start in range(0, len(ids), size):
            page = await self._queue.papers(ids[start : start + size], abstracts=abstracts)
            keys.update(await asyncio.to_thread(_keys, page.values(), strength))
            if model:
                papers += page.values()
        fallback = _fallback(ids, keys)
        if not (model and papers):
            return fallback
        try:
            return await self._ranked(channel, papers, keys, fallback)
        except Exception:  # the model is an extra: the fallback order is still right
            log.exception("Channel %s: ranking failed; match strength and date order", channel.id)
            return fallback

    async def _ranked(
        self, channel: Channel, papers: list[Paper], keys: Mapping[str, _Key], fallback: Ordering
    ) -> Ordering:
        rated = await self._store.rated_papers(channel.id)
        strengths = {arxiv_id: key[0] for arxiv_id, key in keys.items()}
        ranking = await asyncio.to_thread(_rank, papers, rated, strengths, self._min_likes)
        if not ranking.trained:
            return fallback
        ranked = list(ranking.order)
        seen = set(ranked)
        ranked += [arxiv_id for arxiv_id in fallback.order if arxiv_id not in seen]  # gone ones
        picks = {a: TopPick(ranking.reasons.get(a)) for a in ranking.top_picks}
        log.info(
            "Channel %s: %s papers ranked by its model, %s top picks",
            channel.id,
            len(papers),
            len(picks),
        )
        return Ordering(tuple(ranked), MappingProxyType(picks), trained=True)


def _rank(
    papers: Sequence[Paper], rated: Sequence[RatedPaper], strengths: Mapping[str, int], likes: int
) -> Ranking:
    """Train the channel's model and rank ``papers`` (in a worker thread: the model's
    module, scikit-learn and all, is imported here the first time, off the event loop)."""
    from bot.ranking import model

    feedback = [model.PaperFeedback(r.paper, r.signal) for r in rated]
    return model.rank(papers, feedback, strength=strengths, min_positive=likes)


def _queries(subscriptions: Iterable[Subscription]) -> list[Query]:
    queries = []
    for subscription in subscriptions:
        try:
            queries.append(parse_query(subscription.query))
        except ArxivBotError:  # stored before a grammar change: it just adds no strength
            log.debug("subscription #%s: query no longer parses", subscription.id)
    return queries


def _keys(papers: Iterable[Paper], strength: Callable[[Paper], int]) -> dict[str, _Key]:
    """Each paper's match strength and submission time (CPU work: a worker thread)."""
    return {p.arxiv_id: (int(strength(p)), p.submitted.timestamp()) for p in papers}


def _fallback(ids: Sequence[str], keys: Mapping[str, _Key]) -> Ordering:
    """Strongest match first, then newest, then as given (the queue's order); ids
    without a stored paper go last, as given."""
    known = [a for a in ids if a in keys]
    known.sort(key=lambda a: (-keys[a][0], -keys[a][1]))  # stable: ties keep queue order
    return Ordering((*known, *(a for a in ids if a not in keys)))
