"""Terminal tables for the one-shot CLI, drawn with rich when stdout is a terminal.

arXiv ids are terminal hyperlinks to the paper's abstract page; piped output is plain
text (:func:`bot.render.reply_text`), which prints the URL instead.
"""

from __future__ import annotations

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from bot.models import Paper, PaperPost, Reply, Snippet, Tone
from bot.render import (
    author_line,
    category_line,
    clean,
    date_line,
    format_date,
    more_line,
    shown_abstract,
    shown_title,
    snippet_for,
    snippet_runs,
)

SNIPPET_CHARS = 300
SNIPPET_STYLE = "dim"
HIGHLIGHT_STYLE = "reverse"


def _post_table(post: PaperPost) -> Table:
    paper = post.paper
    table = Table(title=Text(shown_title(paper)), show_header=False, expand=True)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("arXiv", _linked_id(paper))
    rows = [
        ("Authors", author_line(paper.authors)),
        ("Categories", category_line(paper)),
        ("Dates", date_line(paper)),
        ("Comment", clean(paper.comment or "")),
        ("Journal", clean(paper.journal_ref or "")),
        ("Abstract", shown_abstract(paper)),
        ("Links", f"{paper.abs_url}\n{paper.pdf_url}\n{paper.html_url}"),
        ("Code", "\n".join(post.code_links)),
    ]
    for name, value in rows:
        if value:
            table.add_row(name, Text(value))
    return table


def _linked_id(paper: Paper) -> Text:
    """The versioned id, a terminal hyperlink to its abstract page (OSC 8, where the
    terminal supports it); a style, never markup, so the URL is not read as markup."""
    return Text(paper.versioned_id, style=Style(link=paper.abs_url))


def _title_cell(paper: Paper, snippet: Snippet | None) -> Text:
    """The title, then the snippet on the next line, dim, its marks in reverse video."""
    cell = Text(shown_title(paper))
    runs = snippet_runs(snippet, SNIPPET_CHARS) if snippet is not None else []
    if runs:
        cell.append("\n")
        for text, highlighted in runs:
            style = f"{SNIPPET_STYLE} {HIGHLIGHT_STYLE}" if highlighted else SNIPPET_STYLE
            cell.append(text, style=style)
    return cell


def print_reply_table(reply: Reply, console: Console | None = None, *, shell: bool = False) -> None:
    """Print ``reply`` as tables; untrusted text goes in as ``Text``, never as markup.

    A result's snippet shows under its title, its highlights in reverse video (rich
    leaves them out where the output is not a terminal). ``reply.more`` ends the output
    as :func:`bot.render.more_line` (``shell`` for the one-shot CLI).
    """
    console = console or Console()
    style = "red" if reply.tone is Tone.ERROR else "bold"
    console.print(Text(reply.title, style=style))
    for line in reply.lines:
        console.print(Text(line))
    for line in reply.code:
        console.print(Text("    " + line, style="cyan"))
    if reply.papers:
        table = Table(expand=True)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("Title", ratio=3, overflow="fold")
        table.add_column("Authors", ratio=2, overflow="fold")
        table.add_column("arXiv", no_wrap=True)
        table.add_column("Category", no_wrap=True)
        table.add_column("Submitted", no_wrap=True)
        for number, paper in enumerate(reply.papers, start=1):
            table.add_row(
                str(number),
                _title_cell(paper, snippet_for(reply, number - 1)),
                Text(author_line(paper.authors, 3)),
                _linked_id(paper),
                paper.primary_category,
                format_date(paper.submitted),
            )
        console.print(table)
    for post in reply.posts:
        console.print(_post_table(post))
    if reply.footer:
        console.print(Text(reply.footer, style="dim"))
    if reply.more:
        console.print(Text(more_line(reply.more, shell=shell), style="dim"))
