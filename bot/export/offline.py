"""``arxiv-bot export``: a channel's export, or one built from queries, with no upload
limit (the file goes to disk or standard output)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.app import BotApp
from bot.clock import utc_now
from bot.errors import NotFoundError
from bot.export.collect import channel_export
from bot.export.files import ExportFile, export_file
from bot.export.queries import QUERIES_SOURCE, query_export
from bot.export.sections import ExportFormat
from bot.localsearch.engine import LocalSearch
from bot.models import ChannelRef
from bot.query import Query

NO_LIMIT = 2**62


async def export_queries(
    app: BotApp, queries: Sequence[Query], fmt: ExportFormat, *, rows: int
) -> tuple[ExportFile, tuple[str, ...]]:
    """The newest ``rows`` papers of each query, from the index or arXiv."""
    now = utc_now()
    made = await query_export(
        queries,
        local=LocalSearch(app.store, clock=utc_now),
        arxiv=app.arxiv,
        store=app.store,
        rows=rows,
        now=now,
    )
    file = export_file(made.export, fmt, stem=QUERIES_SOURCE, rows=rows, max_bytes=NO_LIMIT)
    return file, made.notes


async def export_channel(
    app: BotApp,
    channel: ChannelRef,
    fmt: ExportFormat,
    *,
    rows: int,
    since: date | None = None,
    subscription: int | None = None,
) -> ExportFile:
    """What ``/arxiv export`` gives in ``channel``, whatever its size."""
    channel_id = await app.store.find_channel(channel)
    if channel_id is None:
        raise NotFoundError(
            f"No channel {channel.platform}:{channel.workspace}:{channel.channel} in the "
            "bot's database; give --channel as the console channel's name or as "
            "platform:workspace:channel."
        )
    if subscription is not None:
        known = {sub.id for sub in await app.store.list_subscriptions(channel_id)}
        if subscription not in known:
            raise NotFoundError(f"No subscription #{subscription} in {channel.label}.")
    export = await channel_export(
        app.store,
        channel_id,
        source=f"#{channel.label}",
        now=utc_now(),
        rows=rows,
        since=since,
        only=subscription,
    )
    return export_file(export, fmt, stem=channel.label, rows=rows, max_bytes=NO_LIMIT)
