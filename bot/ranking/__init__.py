"""Per-channel ranking of a harvest's papers, learned from the channel's feedback.

:func:`rank` is pure and synchronous (run it with ``asyncio.to_thread``): papers and
feedback in, a :class:`Ranking` out. :func:`strength_for` gives the match strength of
the fallback order from a channel's subscription queries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bot.ranking.fallback import Strength, fallback_order
from bot.ranking.strength import MatchStrength, match_strength, reads_text, strength_for

if TYPE_CHECKING:
    from bot.ranking.model import (
        MAX_PICKS,
        MIN_POSITIVE,
        PICK_SHARE,
        PaperFeedback,
        Ranking,
        rank,
        split_feedback,
    )

_MODEL_NAMES = frozenset(
    {
        "MAX_PICKS",
        "MIN_POSITIVE",
        "PICK_SHARE",
        "PaperFeedback",
        "Ranking",
        "rank",
        "split_feedback",
    }
)
"""Names of :mod:`bot.ranking.model`, imported on first use: it loads scikit-learn and
SciPy (about a second), which a bot whose channels never rank, and every one-shot
command, need not wait for."""


def __getattr__(name: str) -> Any:
    if name in _MODEL_NAMES:
        return getattr(importlib.import_module("bot.ranking.model"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "reads_text",
    "split_feedback",
    "strength_for",
]
