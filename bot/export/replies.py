"""The replies of ``/arxiv export`` and ``/arxiv bib``."""

from __future__ import annotations

from datetime import datetime

from bot.commands.grammar import ExportCommand
from bot.errors import NotFoundError
from bot.export.bibtex import bibtex_entry
from bot.export.collect import channel_export
from bot.export.files import MAX_FILE_BYTES, ExportFile, export_file
from bot.export.sections import Export
from bot.models import ChannelRef, Paper, Reply, Tone
from bot.render import plural
from bot.store import Store


def _section_lines(shown: Export) -> list[str]:
    lines = []
    for section in shown.sections:
        count = plural(len(section.papers), "paper")
        if section.capped:
            count += f" (the newest of {section.total:,})"
        lines.append(f"{section.heading}: {count}")
    return lines


def export_summary(made: ExportFile, fmt: str, rows: int) -> list[str]:
    """What the file holds, in lines: each heading's count, and any cut."""
    lines = _section_lines(made.export)
    if any(section.capped for section in made.export.sections):
        lines.append(f"At most {rows:,} papers per heading (EXPORT_ROWS).")
    if made.trimmed:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        lines.append(
            f"Cut to fewer papers per heading to stay under {limit} MB, the upload limit of "
            "chat platforms; arxiv-bot export on the command line has no such limit."
        )
    lines.append(f"File: {made.file.name} ({fmt}, {len(made.file.content):,} bytes).")
    return lines


async def export_reply(
    store: Store, command: ExportCommand, channel: ChannelRef, *, rows: int, now: datetime
) -> Reply:
    channel_id = await store.find_channel(channel)
    subscriptions = await store.list_subscriptions(channel_id) if channel_id is not None else []
    wanted = command.subscription_id
    if wanted is not None and all(sub.id != wanted for sub in subscriptions):
        raise NotFoundError(
            f"No subscription #{wanted} in this channel. /arxiv list shows this channel's "
            "subscriptions."
        )
    since = f" since {command.since.isoformat()}" if command.since else ""
    if channel_id is None:
        return Reply(title=f"This channel has received no papers{since} yet.")
    export = await channel_export(
        store,
        channel_id,
        source=f"#{channel.label}",
        now=now,
        rows=rows,
        since=command.since,
        only=wanted,
    )
    if export.rows == 0:
        which = f"subscription #{wanted}" if wanted is not None else "this channel"
        return Reply(title=f"No papers were posted for {which}{since} yet.")
    made = export_file(export, command.format, stem=channel.label, rows=rows)
    papers = len(made.export.unique_papers())
    return Reply(
        title=f"Export of {plural(papers, 'paper')} posted here{since} ({command.format})",
        lines=tuple(export_summary(made, command.format, rows)),
        tone=Tone.SUCCESS,
        file=made.file,
    )


def bib_reply(paper: Paper, note: str | None) -> Reply:
    """A paper's BibTeX entry, as code to copy."""
    return Reply(
        title=f"BibTeX for arXiv:{paper.versioned_id}",
        lines=(note,) if note else (),
        code=tuple(bibtex_entry(paper).splitlines()),
    )
