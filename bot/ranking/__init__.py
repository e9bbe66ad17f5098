"""Per-channel ranking of a harvest's papers, learned from the channel's feedback.

:func:`rank` is pure and synchronous (run it with ``asyncio.to_thread``): papers and
feedback in, a :class:`Ranking` out. :func:`strength_for` gives the match strength of
the fallback order from a channel's subscription queries.
"""

from bot.ranking.fallback import Strength, fallback_order
from bot.ranking.model import (
    MAX_PICKS,
    MIN_POSITIVE,
    PICK_SHARE,
    PaperFeedback,
    Ranking,
    rank,
    split_feedback,
)
from bot.ranking.strength import MatchStrength, match_strength, strength_for

__all__ = [
    "MAX_PICKS",
    "MIN_POSITIVE",
    "PICK_SHARE",
    "MatchStrength",
    "PaperFeedback",
    "Ranking",
    "Strength",
    "fallback_order",
    "match_strength",
    "rank",
    "split_feedback",
    "strength_for",
]
