import pytest

from bot.commands.grammar import (
    DEFAULT_LIMIT,
    SPECS,
    HelpCommand,
    ListCommand,
    PaperCommand,
    SearchCommand,
    StatusCommand,
    SubscribeCommand,
    UnsubscribeCommand,
    parse_command,
)
from bot.errors import CommandError, QueryError
from bot.models import SortOrder


def test_search_with_options_keeps_quoted_phrases() -> None:
    command = parse_command(
        '/arxiv search ti:"medical imaging" AND cat:eess.IV --sort date --limit 5'
    )
    assert isinstance(command, SearchCommand)
    assert command.sort is SortOrder.DATE
    assert command.limit == 5
    assert command.query.to_api() == command.query.to_api()  # compiled once, stable
    assert 'ti:"medical imaging"' in command.query.to_api()
    assert "cat:eess.IV" in command.query.to_api()


def test_options_may_come_first_or_use_equals() -> None:
    command = parse_command("search --limit=3 --sort relevance mri")
    assert isinstance(command, SearchCommand)
    assert (command.limit, command.sort) == (3, SortOrder.RELEVANCE)
    assert "mri" in command.query.to_api()


def test_search_defaults() -> None:
    command = parse_command("/arxiv search transformers")
    assert isinstance(command, SearchCommand)
    assert (command.limit, command.sort) == (DEFAULT_LIMIT, SortOrder.RELEVANCE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/arxiv", HelpCommand()),
        ("/arxiv help", HelpCommand()),
        ("/arxiv help search", HelpCommand("search")),
        ("/ARXIV LIST", ListCommand()),
        ("status", StatusCommand()),
        ("/arxiv paper 2506.11674v2", PaperCommand("2506.11674v2")),
        ("/arxiv unsubscribe 7", UnsubscribeCommand(7)),
        ("/arxiv unsubscribe #7", UnsubscribeCommand(7)),
    ],
)
def test_simple_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_subscribe_parses_the_query() -> None:
    command = parse_command('/arxiv subscribe ti:"medical imaging" AND cat:eess.IV')
    assert isinstance(command, SubscribeCommand)
    assert command.query.source == 'ti:"medical imaging" AND cat:eess.IV'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/arxiv serch mri", "Did you mean `/arxiv search`?"),
        ("/arxiv frobnicate", "Unknown command 'frobnicate'"),
        ("/slack help", "Commands start with /arxiv"),
        ("/arxiv search", "Search for what?"),
        ("/arxiv search mri --sort newest", "--sort must be relevance or date"),
        ("/arxiv search mri --limit 0", "--limit must be a whole number from 1 to 25"),
        ("/arxiv search mri --limit many", "--limit must be a whole number"),
        ("/arxiv search mri --limit", "Option --limit needs a value"),
        ("/arxiv search mri --color red", "Unknown option --color for search"),
        ("/arxiv search mri --limit 2 --limit 3", "given twice"),
        ("/arxiv subscribe", "Subscribe to what?"),
        ("/arxiv subscribe mri --limit 3", "Unknown option --limit for subscribe"),
        ("/arxiv unsubscribe three", "Give the number of the subscription"),
        ("/arxiv paper", "Give one arXiv id or URL"),
        ("/arxiv list everything", "takes no arguments"),
        ("/arxiv help nothing", "Unknown command 'nothing'"),
    ],
)
def test_bad_commands_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    assert message in str(caught.value)


def test_bad_query_is_reported_by_the_query_language() -> None:
    with pytest.raises(QueryError) as caught:
        parse_command('/arxiv subscribe ti:"medical imaging')
    assert caught.value.position is not None


def test_every_command_has_usage_and_an_example() -> None:
    for name, spec in SPECS.items():
        assert spec.usage.startswith(f"/arxiv {name}")
        assert spec.example.startswith(f"/arxiv {name}")
        assert spec.summary


def test_subscribe_mode_and_mode_command() -> None:
    from bot.commands.grammar import ModeCommand
    from bot.models import DeliveryMode

    command = parse_command("/arxiv subscribe cat:cs.CV --mode digest")
    assert isinstance(command, SubscribeCommand)
    assert command.mode is DeliveryMode.DIGEST
    assert parse_command("/arxiv mode EACH") == ModeCommand(DeliveryMode.EACH)
    assert parse_command("/arxiv mode") == ModeCommand(None)
    with pytest.raises(CommandError, match="must be each or digest, not 'weekly'"):
        parse_command("/arxiv mode weekly")
    with pytest.raises(CommandError, match="must be each or digest"):
        parse_command("/arxiv subscribe mri --mode hourly")


def test_preview_parses_the_query() -> None:
    from bot.commands.grammar import PreviewCommand

    command = parse_command('/arxiv preview abs:"contrastive learning"')
    assert isinstance(command, PreviewCommand)
    assert 'abs:"contrastive learning"' in command.query.to_api()
    with pytest.raises(CommandError, match=r"Preview what\?"):
        parse_command("/arxiv preview")
