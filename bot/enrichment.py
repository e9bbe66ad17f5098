"""Extras on paper cards: Hugging Face's signals and the optional one-line TL;DR.

Both are fetched ahead of planning, off the posting path (:meth:`Enricher.prefetch`,
which the cycle runs after matching and waits for only a few seconds), and read back
from the clients' caches while planning (:meth:`Enricher.decorate`), which never makes a
request. A card whose extras are not at hand by then goes out without them: neither
ever delays a post by more than the cycle's short wait, nor drops one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from bot.models import CommunitySignals, Paper, PaperPost
from bot.sources.hf_wire import HfPaper
from bot.sources.huggingface import HuggingFacePapers

if TYPE_CHECKING:
    from bot.tldr import TldrMaker  # the openai client: imported only when TL;DRs are on

__all__ = ["HF_BUDGET_SECONDS", "TLDR_DEADLINE_SECONDS", "Enricher", "signals_of"]

log = logging.getLogger(__name__)

HF_BUDGET_SECONDS = 30.0
"""Seconds of Hugging Face requests per harvest (one a second: about 30 papers); they go
on in the background after the cycle stops waiting."""
TLDR_DEADLINE_SECONDS = 5.0
"""Seconds the TL;DRs of one harvest may take: what is not ready by then is left out."""


def signals_of(paper: HfPaper) -> CommunitySignals:
    return CommunitySignals(
        upvotes=paper.upvotes,
        github_repo=paper.github_repo,
        github_stars=paper.github_stars,
        daily=paper.in_daily_papers,
    )


class Enricher:
    """Prefetches and hands out Hugging Face signals and TL;DRs; either may be absent."""

    def __init__(
        self,
        hf: HuggingFacePapers | None,
        tldr: TldrMaker | None,
        *,
        hf_budget: float | None = None,
        tldr_deadline: float | None = None,
    ) -> None:
        self.hf = hf if hf is not None and hf.enabled else None
        self.tldr = tldr
        self._hf_budget = HF_BUDGET_SECONDS if hf_budget is None else hf_budget
        self._tldr_deadline = TLDR_DEADLINE_SECONDS if tldr_deadline is None else tldr_deadline

    @property
    def active(self) -> bool:
        return self.hf is not None or self.tldr is not None

    def community(self, arxiv_id: str) -> CommunitySignals | None:
        """What Hugging Face's cache holds for the paper (no request), or None."""
        found = self.hf.cached_paper(arxiv_id) if self.hf is not None else None
        return signals_of(found) if found is not None else None

    def decorate(self, post: PaperPost) -> PaperPost:
        """``post`` with the signals and TL;DR the caches hold (no request)."""
        community = self.community(post.paper.arxiv_id)
        tldr = self.tldr.cached(post.paper) if self.tldr is not None else None
        if community is None and tldr is None:
            return post
        return dataclasses.replace(
            post, community=community or post.community, tldr=tldr or post.tldr
        )

    async def prefetch(self, papers: Sequence[Paper]) -> None:
        """Fill the caches for ``papers`` (about to be posted, most wanted first): Hugging
        Face within its budget, TL;DRs within their deadline and per-harvest budget, both
        at once. Never raises but for cancellation."""
        if not papers or not self.active:
            return
        jobs: list[Coroutine[Any, Any, object]] = []
        if self.hf is not None:
            jobs.append(self.hf.paper_infos([p.arxiv_id for p in papers], budget=self._hf_budget))
        if self.tldr is not None:
            jobs.append(self.tldr.for_papers(papers, deadline_seconds=self._tldr_deadline))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):  # both promise not to; an extra never fails
                log.warning("prefetching card extras failed: %s", result, exc_info=result)
