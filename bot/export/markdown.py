"""The "Daily Papers" README layout: a heading per subscription (its query), then a
table ``| Title | Date | Abstract | Comment |``, newest first, the abstract folded in
``<details>`` and long comments folded too.

Every cell is escaped for a GitHub-flavoured Markdown table: whitespace (newlines
included) becomes single spaces, ``&``, ``<`` and ``>`` become entities (untrusted text
never opens an HTML tag), and Markdown's punctuation (``|`` first of all, which would
end the cell) is backslash-escaped, so a title shows as written, TeX included.
"""

from __future__ import annotations

import html
import re

from bot.export.sections import Export, ExportSection
from bot.models import Paper

COMMENT_FOLD = 60
"""Comments longer than this are folded, their start shown as the summary."""
COMMENT_SUMMARY = 24
ABSTRACT_SUMMARY = "Show"
HEADER = "| Title | Date | Abstract | Comment |"
RULE = "| --- | --- | --- | --- |"

_PUNCTUATION = re.compile(r"([\\`*_\[\]|~$])")
"""What could start markup inside a cell (``|`` would end it); ``#``, ``-`` and the like
only matter at the start of a line, which a cell never is."""


def escape_cell(text: str) -> str:
    """``text`` as literal text in a GFM table cell (one line, no HTML, no markup)."""
    flat = " ".join(text.split())
    return _PUNCTUATION.sub(r"\\\1", html.escape(flat, quote=False))


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _folded(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary><p>{body}</p></details>"


def _comment_cell(comment: str | None) -> str:
    if not comment or not comment.strip():
        return ""
    if len(" ".join(comment.split())) <= COMMENT_FOLD:
        return escape_cell(comment)
    return _folded(escape_cell(_short(comment, COMMENT_SUMMARY)), escape_cell(comment))


def row(paper: Paper) -> str:
    """One table row."""
    title = f"**[{escape_cell(paper.title)}]({paper.abs_url})**"
    date = paper.submitted.date().isoformat()
    abstract = _folded(ABSTRACT_SUMMARY, escape_cell(paper.abstract)) if paper.abstract else ""
    return f"| {title} | {date} | {abstract} | {_comment_cell(paper.comment)} |"


def section_lines(section: ExportSection) -> list[str]:
    lines = [f"## {escape_cell(section.heading)}", ""]
    if not section.papers:
        return [*lines, "No papers yet.", ""]
    lines += [HEADER, RULE, *(row(paper) for paper in section.papers), ""]
    if section.capped:
        lines += [f"The newest {len(section.papers):,} of {section.total:,} papers.", ""]
    return lines


def render_markdown(export: Export, *, rows: int) -> str:
    """The whole README: a title, where the papers come from, then each section."""
    lines = [
        "# Daily Papers",
        "",
        f"Papers for {escape_cell(export.source)}, newest first; at most {rows:,} per "
        "heading. Made by arxiv-bot.",
        "",
        f"Last update: {export.generated.date().isoformat()}",
        "",
    ]
    for section in export.sections:
        lines += section_lines(section)
    return "\n".join(lines).rstrip() + "\n"
