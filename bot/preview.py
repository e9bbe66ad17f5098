"""What a subscription would have posted lately, from the local index (no arXiv request).

The papers counted are exactly those a subscription made ``days`` ago would have been
sent: matched by the same matcher, first announced since then, and new by
:class:`~bot.enqueue.NewPaperWindow` (an old paper that was merely revised is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.enqueue import NEW_PAPER_GRACE_DAYS
from bot.localsearch.engine import STALE_DAYS
from bot.localsearch.expression import Expression
from bot.localsearch.translate import translate
from bot.matcher import PaperText, compile_matcher
from bot.models import Paper
from bot.query import Query
from bot.store import Store

PREVIEW_DAYS = 7
PREVIEW_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Preview:
    matches: int
    """How many papers of the window a subscription would have posted."""
    scanned: int
    """How many new papers the window holds (announced in it, whatever they match)."""
    newest: tuple[Paper, ...]
    """The newest of the matches."""
    days: int
    covered_days: int
    """Days of the window for which the index holds every paper of the query's
    categories (0 when they are not harvested at all)."""
    harvested: bool
    """Whether the bot harvests the query's categories (for a subscription or
    ``INDEX_SETS``); False means the window may miss matches."""


async def preview(
    store: Store,
    query: Query,
    *,
    now: datetime,
    days: int = PREVIEW_DAYS,
    shown: int = PREVIEW_SHOWN,
) -> Preview:
    """Count and list what ``query`` would have posted over the last ``days`` days."""
    today = now.date()
    first_announced = today - timedelta(days=days)
    earliest_submitted = first_announced - timedelta(days=NEW_PAPER_GRACE_DAYS)
    translated = translate(query)
    expression = translated.expression

    async def count(expression: Expression | None) -> int:
        return await store.recent_count(
            expression, announced_since=first_announced, submitted_since=earliest_submitted
        )

    async def listed(expression: Expression | None, limit: int | None) -> list[Paper]:
        return await store.recent_matches(
            expression,
            announced_since=first_announced,
            submitted_since=earliest_submitted,
            limit=limit,
        )

    scanned = await count(None)
    if translated.exact and expression is not None:
        matches, newest = await count(expression), await listed(expression, shown)
    else:
        matcher = compile_matcher(query)
        candidates = await listed(expression, None)
        hits = [paper for paper in candidates if matcher.matches(PaperText.lazy(paper))]
        matches, newest = len(hits), hits[:shown]
    held = await store.held_since(query.category_scope(), today - timedelta(days=STALE_DAYS))
    return Preview(
        matches=matches,
        scanned=scanned,
        newest=tuple(newest),
        days=days,
        covered_days=_covered_days(held, first_announced, today),
        harvested=held is not None,
    )


def _covered_days(held: date | None, first: date, today: date) -> int:
    if held is None:
        return 0
    return max(0, (today - max(held, first)).days)
