"""An :class:`~bot.export.sections.Export` as a file in one of the formats, cut to fit
the chat platforms' upload limits."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from bot.export.bibtex import render_bibtex
from bot.export.csvfile import render_csv
from bot.export.jsonfile import render_json
from bot.export.markdown import render_markdown
from bot.export.sections import Export, ExportFormat
from bot.models import ReplyFile

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Under Discord's smallest attachment limit (10 MiB; Slack takes far more)."""

EXTENSIONS = {
    ExportFormat.MARKDOWN: ("md", "text/markdown"),
    ExportFormat.BIBTEX: ("bib", "application/x-bibtex"),
    ExportFormat.CSV: ("csv", "text/csv"),
    ExportFormat.JSON: ("json", "application/json"),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ExportFile:
    file: ReplyFile
    export: Export
    """What the file shows (fewer rows than asked when it had to fit the size limit)."""
    trimmed: bool
    """True when rows were dropped to fit :data:`MAX_FILE_BYTES`."""


def render(export: Export, fmt: ExportFormat, *, rows: int) -> str:
    match fmt:
        case ExportFormat.MARKDOWN:
            return render_markdown(export, rows=rows)
        case ExportFormat.BIBTEX:
            return render_bibtex(export.unique_papers())
        case ExportFormat.CSV:
            return render_csv(export)
        case ExportFormat.JSON:
            return render_json(export)


def file_name(stem: str, fmt: ExportFormat, day: str) -> str:
    """``arxiv-general-2025-06-16.md``: safe on every platform and file system."""
    safe = _UNSAFE.sub("-", stem).strip("-")[:60] or "papers"
    return f"arxiv-{safe}-{day}.{EXTENSIONS[fmt][0]}"


def export_file(
    export: Export, fmt: ExportFormat, *, stem: str, rows: int, max_bytes: int = MAX_FILE_BYTES
) -> ExportFile:
    """``export`` rendered; while it is over ``max_bytes``, each section keeps half its
    rows (the newest)."""
    shown, trimmed = export, False
    content = render(shown, fmt, rows=rows).encode()
    keep = rows
    while len(content) > max_bytes and keep > 1:
        keep //= 2
        trimmed = True
        shown = dataclasses.replace(
            export,
            sections=tuple(
                dataclasses.replace(section, papers=section.papers[:keep])
                for section in export.sections
            ),
        )
        content = render(shown, fmt, rows=keep).encode()
    name = file_name(stem, fmt, export.generated.date().isoformat())
    return ExportFile(ReplyFile(name, EXTENSIONS[fmt][1], content), shown, trimmed)
