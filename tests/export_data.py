"""Channels whose delivered papers are real arXiv abstracts, for export tests."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.models import ChannelRef, Paper, Subscription
from bot.store import Store
from bot.store.values import to_text
from tests.recording import of_topic

DELIVERED_AT = datetime(2025, 6, 10, 23, 0, tzinfo=UTC)


def dated(papers: Sequence[Paper], newest: datetime, base: int = 10000) -> list[Paper]:
    """``papers`` re-dated a day apart, the first newest, with a comment on some."""
    found = []
    for number, paper in enumerate(papers):
        when = newest - timedelta(days=number)
        comment = None
        if number % 3 == 1:
            comment = "12 pages | 3 figures"
        elif number % 3 == 2:
            comment = "Accepted at MICCAI 2025; code at https://github.com/x/y. " * 2
        found.append(
            dataclasses.replace(
                paper,
                arxiv_id=f"2506.{base + number:05d}",
                submitted=when,
                updated=when,
                comment=comment,
            )
        )
    return found


async def seed_channel(
    store: Store,
    channel: ChannelRef,
    by_query: Mapping[str, Sequence[Paper]],
    *,
    delivered_at: datetime = DELIVERED_AT,
) -> list[Subscription]:
    """Subscribe ``channel`` to each query and record its papers as delivered to it."""
    channel_id = await store.ensure_channel(channel)
    subscriptions = []
    for query, papers in by_query.items():
        subscription = await store.add_subscription(channel_id, query, canonical=query)
        subscriptions.append(subscription)
        await store.upsert_papers(papers)
        for paper in papers:
            await store.execute(
                "INSERT INTO deliveries (channel_id, arxiv_id, version, kind, subscription_ids,"
                " status, queued_at, delivered_at, delivered_version)"
                " VALUES (?, ?, ?, 'new', ?, 'delivered', ?, ?, ?)"
                " ON CONFLICT (channel_id, arxiv_id) DO UPDATE SET subscription_ids ="
                " json_insert(subscription_ids, '$[#]', ?)",
                (
                    channel_id,
                    paper.arxiv_id,
                    paper.version,
                    json.dumps([subscription.id]),
                    to_text(delivered_at),
                    to_text(delivered_at),
                    paper.version,
                    subscription.id,
                ),
            )
    return subscriptions


def topic_papers(topic: str, count: int, newest: datetime, base: int) -> list[Paper]:
    return dated(of_topic(topic)[:count], newest, base)
