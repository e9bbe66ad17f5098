"""A channel's delivered papers, read from the store, as export sections.

A paper counts once the channel got it (``deliveries.delivered_version`` is set, so a
revised note still waiting does not hide it). It goes under each of the channel's
subscriptions that matched it; papers of subscriptions removed since go under one
heading of their own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from bot.export.sections import Export, ExportSection, capped
from bot.models import Paper, Subscription
from bot.store import Store
from bot.store.rows import paper_from_row

REMOVED_HEADING = "Papers of removed subscriptions"

_DELIVERED = (
    "SELECT d.subscription_ids, p.arxiv_id, p.version, p.title, p.authors, p.abstract,"
    " p.categories, p.submitted, p.updated, p.comment, p.journal_ref, p.doi"
    " FROM deliveries AS d JOIN papers AS p ON p.arxiv_id = d.arxiv_id"
    " WHERE d.channel_id = ? AND d.delivered_version IS NOT NULL"
    " AND COALESCE(d.delivered_at, d.queued_at) >= ?"
    " ORDER BY p.submitted DESC, p.arxiv_id DESC"
)


async def delivered(
    store: Store, channel_id: int, *, since: date | None = None
) -> list[tuple[Paper, tuple[int, ...]]]:
    """The papers the channel got (delivered on or after ``since``), newest first, each
    with the subscriptions that matched it."""
    rows = await store.fetchall(_DELIVERED, (channel_id, since.isoformat() if since else ""))
    found: list[tuple[Paper, tuple[int, ...]]] = []
    for row in rows:
        ids = json.loads(row["subscription_ids"] or "[]")
        found.append((paper_from_row(row), tuple(int(i) for i in ids)))
    return found


def channel_sections(
    papers: Sequence[tuple[Paper, tuple[int, ...]]],
    subscriptions: Sequence[Subscription],
    *,
    rows: int,
    only: int | None = None,
) -> tuple[ExportSection, ...]:
    """A section per subscription (``only``: just that one), in the order of
    ``subscriptions``, then one for papers of removed subscriptions if any."""
    known = {subscription.id for subscription in subscriptions}
    sections: list[ExportSection] = []
    for subscription in subscriptions:
        if only is not None and subscription.id != only:
            continue
        mine = [paper for paper, ids in papers if subscription.id in ids]
        sections.append(capped(subscription.query, mine, rows, subscription.id))
    if only is None:
        orphans = [paper for paper, ids in papers if not known.intersection(ids)]
        if orphans:
            sections.append(capped(REMOVED_HEADING, orphans, rows))
    return tuple(sections)


async def channel_export(
    store: Store,
    channel_id: int,
    *,
    source: str,
    now: datetime,
    rows: int,
    since: date | None = None,
    only: int | None = None,
) -> Export:
    subscriptions = await store.list_subscriptions(channel_id)
    papers = await delivered(store, channel_id, since=since)
    sections = channel_sections(papers, subscriptions, rows=rows, only=only)
    return Export(source=source, generated=now, sections=sections)
