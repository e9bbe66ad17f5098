"""``/arxiv export`` and ``arxiv-bot export``: real abstracts delivered to a channel,
exported as Daily Papers markdown (valid CommonMark with GFM tables), BibTeX, CSV and
JSON; filters; specific messages for bad input; the command line writes the file."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bibtexparser.entrypoint import parse_string
from click.testing import CliRunner
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.cli import cli
from bot.config import Settings
from bot.export.markdown import COMMENT_FOLD, escape_cell
from bot.models import ChannelRef, Reply, Tone
from tests.conftest import settings_env
from tests.export_data import seed_channel, topic_papers

LAB = ChannelRef(platform="console", workspace="local", channel="lab", name="lab")
CS = 'cat:cs.* AND abs:"neural network"'
MATH = "cat:math.*"
NEWEST = datetime(2025, 6, 9, 12, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"export_rows": 40})


async def seeded(app: BotApp) -> dict[str, list[int]]:
    subs = await seed_channel(
        app.store,
        LAB,
        {
            CS: topic_papers("computer science", 50, NEWEST, 10000),
            MATH: topic_papers("mathematics", 12, NEWEST, 20000),
        },
    )
    return {sub.query: [sub.id] for sub in subs}


async def export(app: BotApp, options: str = "") -> Reply:
    return await app.execute(f"/arxiv export {options}".strip(), CommandContext(LAB))


def shown(inline: Token) -> str:
    """What an inline token shows as text (escapes resolved)."""
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))


def md() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def tables(tokens: list[Token]) -> list[list[list[Token]]]:
    """Each table's rows (header first), each row's inline cell tokens."""
    found: list[list[list[Token]]] = []
    row: list[Token] = []
    previous = ""
    for token in tokens:
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and found and previous in ("th_open", "td_open"):
            row.append(token)
        elif token.type == "tr_close":
            found[-1].append(row)
        previous = token.type
    return found


async def test_markdown_is_the_daily_papers_layout_and_valid_gfm(app: BotApp) -> None:
    await seeded(app)
    reply = await export(app)
    assert reply.tone is Tone.SUCCESS and reply.file is not None
    assert reply.file.name.endswith(".md") and reply.file.mime == "text/markdown"
    text = reply.file.content.decode()
    tokens = md().parse(text)
    headings = [
        shown(tokens[i + 1])
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == "h2"
    ]
    assert headings == [CS, MATH]
    found = tables(tokens)
    assert len(found) == 2
    for table in found:
        assert [cell.content for cell in table[0]] == ["Title", "Date", "Abstract", "Comment"]
        assert all(len(row) == 4 for row in table)
    assert len(found[0]) - 1 == 40  # EXPORT_ROWS of 50 papers
    assert len(found[1]) - 1 == 12
    assert "The newest 40 of 50 papers." in text
    rows = found[0][1:]
    dates = [row[1].content for row in rows]
    assert dates == sorted(dates, reverse=True)  # newest first
    first_title = rows[0][0]
    link = next(c for c in first_title.children or [] if c.type == "link_open")
    assert str(link.attrs["href"]).startswith("https://arxiv.org/abs/2506.")
    for row in rows:
        abstract = row[2].content
        assert abstract.startswith("<details><summary>Show</summary><p>")
        assert abstract.endswith("</p></details>")
        comment = row[3].content
        if len(comment) > COMMENT_FOLD * 2:
            assert comment.startswith("<details><summary>")
        else:
            assert "<details>" not in comment
    assert any("<details>" in row[3].content for row in rows)
    assert any(shown(row[3]) == "12 pages | 3 figures" for row in rows)
    html = md().render(text)
    assert html.count("<table>") == 2


async def test_hostile_text_stays_in_its_cell(app: BotApp) -> None:
    (paper,) = topic_papers("mathematics", 1, NEWEST, 30000)
    hostile = dataclasses.replace(
        paper,
        title="A | B <script>alert(1)</script>\nC [x](javascript:y) *z* `q` $x_1$",
        comment="<!channel> | @everyone",
    )
    await seed_channel(app.store, LAB, {MATH: [hostile]})
    reply = await export(app)
    assert reply.file is not None
    text = reply.file.content.decode()
    (table,) = tables(md().parse(text))
    assert all(len(row) == 4 for row in table)
    html = md().render(text)
    assert "<script>" not in html and "javascript:" not in html.replace("javascript:y", "")
    assert '<a href="javascript' not in html
    assert escape_cell("a|b\nc") == "a\\|b c"


async def test_bibtex_csv_and_json_parse_back(app: BotApp) -> None:
    await seeded(app)
    bib = await export(app, "--format bibtex")
    assert bib.file is not None and bib.file.name.endswith(".bib")
    library = parse_string(bib.file.content.decode())
    assert not library.failed_blocks
    assert len(library.entries) == 52
    assert len({entry.key for entry in library.entries}) == 52
    assert {entry["archivePrefix"] for entry in library.entries} == {"arXiv"}

    table = await export(app, "--format csv")
    assert table.file is not None
    rows = list(csv.DictReader(io.StringIO(table.file.content.decode())))
    assert len(rows) == 52
    assert rows[0]["url"].startswith("https://arxiv.org/abs/")
    assert rows[0]["headings"] in (CS, MATH)

    document = await export(app, "--format json")
    assert document.file is not None
    parsed = json.loads(document.file.content)
    assert [s["heading"] for s in parsed["sections"]] == [CS, MATH]
    assert [s["total"] for s in parsed["sections"]] == [50, 12]
    assert len(parsed["sections"][0]["papers"]) == 40


async def test_since_and_subscription_filter(app: BotApp) -> None:
    ids = await seeded(app)
    later = datetime(2025, 6, 20, tzinfo=UTC)
    new = topic_papers("quantum physics", 3, later, 40000)
    await seed_channel(app.store, LAB, {"cat:quant-ph": new}, delivered_at=later)
    recent = await export(app, "--since 2025-06-15 --format json")
    assert recent.file is not None
    sections = json.loads(recent.file.content)["sections"]
    assert [len(s["papers"]) for s in sections] == [0, 0, 3]
    only = await export(app, f"--subscription {ids[MATH][0]} --format json")
    assert only.file is not None
    (section,) = json.loads(only.file.content)["sections"]
    assert section["heading"] == MATH and len(section["papers"]) == 12
    none = await export(app, "--since 2030-01-01")
    assert none.file is None and "No papers" in none.title


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--format pdf", "--format must be one of markdown, bibtex, csv, json, not 'pdf'."),
        ("--since 2025-02-30", "--since must be a day as YYYY-MM-DD"),
        ("--since last-week", "--since must be a day as YYYY-MM-DD"),
        ("--subscription 99", "No subscription #99 in this channel."),
        ("--subscription x", "--subscription must be a subscription number"),
        ("everything", "/arxiv export takes only options"),
    ],
)
async def test_bad_input_gets_a_specific_message(app: BotApp, options: str, message: str) -> None:
    await seeded(app)
    reply = await export(app, options)
    assert reply.tone is Tone.ERROR and reply.file is None
    assert message in reply.title


def test_the_command_line_writes_the_file(settings: Settings, tmp_path: Path) -> None:
    async def seed() -> None:
        async with BotApp(settings) as app:
            await seeded(app)

    asyncio.run(seed())
    env = settings_env(settings)
    out = tmp_path / "papers.bib"
    result = CliRunner().invoke(
        cli, ["export", "--channel", "lab", "--format", "bibtex", "--output", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    library = parse_string(out.read_text())
    assert len(library.entries) == 52 and not library.failed_blocks

    readme = tmp_path / "README.md"
    args = ["export", "--query", "ti:segmentation", "--query", "cat:cs.CV", "--rows", "5"]
    result = CliRunner().invoke(cli, [*args, "--output", str(readme)], env=env)
    assert result.exit_code == 0, result.output
    tokens = md().parse(readme.read_text())
    headings = [shown(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    headings = headings[1:]  # after the title
    assert headings == ["ti:segmentation", "cat:cs.CV"]
    assert all(len(table) - 1 <= 5 for table in tables(tokens))
    assert len(tables(tokens)[0]) > 1

    bad = CliRunner().invoke(cli, ["export", "--channel", "nowhere"], env=env)
    assert bad.exit_code == 1 and "No channel console:local:nowhere" in bad.output
    bad = CliRunner().invoke(cli, ["export", "--query", "tii:x"], env=env)
    assert bad.exit_code == 2
