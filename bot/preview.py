"""What a query would have matched lately, from the store alone (no arXiv request)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.matcher import PaperText, compile_matcher
from bot.models import Paper
from bot.query import Query
from bot.store import Store

PREVIEW_DAYS = 7
PREVIEW_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Preview:
    matches: int
    """How many harvested papers of the window match."""
    scanned: int
    """How many harvested papers the window holds."""
    newest: tuple[Paper, ...]
    days: int


async def preview(
    store: Store,
    query: Query,
    *,
    now: datetime,
    days: int = PREVIEW_DAYS,
    shown: int = PREVIEW_SHOWN,
) -> Preview:
    """Match ``query`` against the papers harvested over the last ``days`` days."""
    papers = await store.recent_papers((now - timedelta(days=days)).date())
    matcher = compile_matcher(query)

    def run() -> list[Paper]:
        return [paper for paper in papers if matcher.matches(PaperText.from_paper(paper))]

    # Thousands of papers take a moment to tokenise: keep the event loop free meanwhile.
    hits = await asyncio.to_thread(run)
    return Preview(matches=len(hits), scanned=len(papers), newest=tuple(hits[:shown]), days=days)
