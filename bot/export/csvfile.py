"""CSV: one row per paper (once, whatever the number of headings it is under)."""

from __future__ import annotations

import csv
import io

from bot.export.sections import Export

COLUMNS = (
    "arxiv_id",
    "version",
    "title",
    "authors",
    "submitted",
    "updated",
    "primary_category",
    "categories",
    "comment",
    "journal_ref",
    "doi",
    "url",
    "headings",
    "abstract",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Untrusted text that a spreadsheet would run as a formula is quoted with ``'``."""
    return "'" + text if text.startswith(_FORMULA) else text


def render_csv(export: Export) -> str:
    headings = export.headings_of()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for paper in export.unique_papers():
        writer.writerow(
            [
                paper.arxiv_id,
                paper.version,
                _cell(paper.title),
                _cell("; ".join(paper.authors)),
                paper.submitted.date().isoformat(),
                paper.updated.date().isoformat(),
                paper.primary_category,
                " ".join(paper.categories),
                _cell(paper.comment or ""),
                _cell(paper.journal_ref or ""),
                paper.doi or "",
                paper.abs_url,
                _cell(" | ".join(headings.get(paper.arxiv_id, []))),
                _cell(paper.abstract),
            ]
        )
    return out.getvalue()
