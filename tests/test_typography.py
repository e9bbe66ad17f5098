"""Typographic input read as the user meant it: curly quotes, dashes before options and
non-breaking spaces, in chat (the grammar, the console) and on the command line."""

from __future__ import annotations

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.cli import query_from_argv
from bot.commands.grammar import SearchCommand, SubscribeCommand, parse_command
from bot.config import Settings
from bot.errors import QueryError
from bot.models import ChannelRef, SortOrder
from bot.query import parse_query
from bot.typography import option_text, plain, sanitize
from tests.fakes.arxiv_api import FakeArxiv
from tests.test_cli import arxiv_bot

PHRASE = 'ti:"medical imaging"'


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("ti:\u201cmedical imaging\u201d", PHRASE),  # English curly quotes
        ("ti:\u201emedical imaging\u201c", PHRASE),  # German
        ("ti:\u00abmedical imaging\u00bb", PHRASE),  # French guillemets
        ("ti:\u2018medical imaging\u2019", PHRASE),  # British single quotes
        ("ti:\uff02medical imaging\uff02", PHRASE),  # full-width
        ("au:O\u2019Brien", "au:O'Brien"),  # an apostrophe stays one
        ("ti:\u2018Schr\u00f6dinger\u2019s cat\u2019", 'ti:"Schr\u00f6dinger\'s cat"'),
        ("medical\u00a0imaging\u202fnow\u2009too", "medical imaging now too"),
    ],
)
def test_plain_reads_typography_and_keeps_every_offset(typed: str, read: str) -> None:
    assert plain(typed) == read
    assert len(plain(typed)) == len(typed)


def test_sanitize_shows_control_characters_and_undecodable_bytes() -> None:
    typed = "mri\x00\x1b[31m \udcff\u202eend\tok"
    assert sanitize(typed) == "mri\ufffd\ufffd[31m \ufffd\ufffdend\tok"


@pytest.mark.parametrize(
    ("word", "option"),
    [
        ("--limit", "limit"),
        ("\u2014limit", "limit"),  # em-dash
        ("\u2013sort", "sort"),  # en-dash
        ("\u2014-limit=2", "limit=2"),
        ("\u2212\u2212limit", "limit"),  # two minus signs
        ("\u2014", None),
        ("\u20145", None),  # a dash before a number is not an option
        ("-x", None),
        ("hep\u2013th", None),
    ],
)
def test_option_text_recognises_dashes_a_keyboard_made(word: str, option: str | None) -> None:
    assert option_text(word) == option


@pytest.mark.parametrize(
    "text",
    [
        "search ti:\u201cmedical imaging\u201d \u2014limit 2 \u2013sort date",
        "search ti:\u201emedical imaging\u201c \u2014limit=2 \u2014-sort date",
        "search\u00a0ti:\u00ab\u00a0medical imaging\u00a0\u00bb \u2014limit\u00a02 --sort date",
        "/arxiv\u202fsearch ti:\u2018medical imaging\u2019 --limit 2 \u2014sort date",
    ],
)
def test_the_grammar_reads_typographic_commands_as_plain_ones(text: str) -> None:
    plain_command = parse_command(f"search {PHRASE} --limit 2 --sort date")
    command = parse_command(text)
    assert isinstance(command, SearchCommand)
    assert isinstance(plain_command, SearchCommand)
    assert (command.limit, command.sort) == (2, SortOrder.DATE)
    assert command.query.root == plain_command.query.root  # a phrase, not two words
    assert command.query.to_api() == PHRASE


def test_a_dash_inside_curly_quotes_is_part_of_the_phrase() -> None:
    command = parse_command("subscribe ti:\u201cgraphs \u2014mode digest\u201d")
    assert isinstance(command, SubscribeCommand)
    assert command.mode is None
    assert command.query.to_api() == 'ti:"graphs mode digest"'


def test_errors_quote_the_query_as_typed_and_point_into_it() -> None:
    typed = "ti:\u201cmedical imaging AND tii:x"
    with pytest.raises(QueryError) as raised:
        parse_command(f"search {typed}")
    assert raised.value.query == typed
    assert raised.value.position == typed.index("\u201c")
    assert "never closed" in raised.value.message
    with pytest.raises(QueryError) as field:
        parse_query("\u201cmri\u201d AND tii:x")
    assert field.value.query == "\u201cmri\u201d AND tii:x"
    assert field.value.position == len("\u201cmri\u201d AND ")


def test_an_apostrophe_reads_like_a_straight_one() -> None:
    assert parse_query("au:O\u2019Brien").root == parse_query("au:O'Brien").root


async def test_the_console_stores_a_curly_quoted_subscription_as_a_phrase(app: BotApp) -> None:
    context = CommandContext(ChannelRef("console", "local", "lab", "lab"))
    reply = await app.execute(
        "/arxiv subscribe ti:\u201cmedical imaging\u201d AND cat:eess.IV \u2014mode digest",
        context,
    )
    assert reply.title.endswith('ti:"medical imaging" AND cat:eess.IV'), reply.title
    listed = await app.execute("list", context)
    assert '#1  ti:"medical imaging" AND cat:eess.IV' in listed.lines[0]
    mode = await app.execute("mode", context)
    assert mode.title == "This channel's mode is digest."


def test_shell_words_with_curly_quotes_are_not_quoted_again() -> None:
    assert query_from_argv(["ti:\u201cmedical imaging\u201d"]) == "ti:\u201cmedical imaging\u201d"
    assert (
        query_from_argv(["ti:\u201cmedical", "imaging\u201d"]) == "ti:\u201cmedical imaging\u201d"
    )


def test_the_command_line_reads_curly_quotes_and_dashed_options(
    settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    result = arxiv_bot(
        "search",
        "ti:\u201cmedical",
        "imaging\u201d",
        "\u2014limit",
        "2",
        "\u2013sort",
        "date",
        settings=settings,
    )
    assert result.returncode == 0, result.stderr
    (request,) = fake_arxiv.requests
    assert request.params["search_query"] == PHRASE
    assert request.params["max_results"] == "2"
    assert request.params["sortBy"] == "submittedDate"
