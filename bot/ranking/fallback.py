"""The order before a channel's model can be trained: match strength, then newest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bot.models import Paper

__all__ = ["Strength", "fallback_order", "strengths_of"]

Strength = Mapping[str, int] | Callable[[Paper], int]
"""Each paper's match strength (higher first): precomputed by arXiv id (a missing id
counts as 0), or a function of the paper such as :func:`bot.ranking.strength_for`."""


def strengths_of(papers: Sequence[Paper], strength: Strength | None) -> list[int]:
    """The strength of each paper, in order (all 0 without ``strength``)."""
    if strength is None:
        return [0] * len(papers)
    if isinstance(strength, Mapping):
        return [int(strength.get(paper.arxiv_id, 0)) for paper in papers]
    return [int(strength(paper)) for paper in papers]


def fallback_order(papers: Sequence[Paper], strength: Strength | None = None) -> list[int]:
    """Positions of ``papers`` in fallback order: strongest match first, then newest
    (first version's submission time), then the higher arXiv id, then input order; a
    permutation of ``range(len(papers))``."""
    strengths = strengths_of(papers, strength)
    # Two stable sorts: the later key wins, the earlier breaks its ties.
    order = sorted(range(len(papers)), key=lambda i: papers[i].arxiv_id, reverse=True)
    order.sort(key=lambda i: (-strengths[i], -papers[i].submitted.timestamp()))
    return order
