"""Numbers out of range are bad input like any other: a message saying what is wrong and
how to fix it, never an OverflowError from SQLite or Python's digit limit."""

from __future__ import annotations

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.arxiv_ids import parse_arxiv_id
from bot.commands.grammar import SearchCommand, UnsubscribeCommand, parse_command
from bot.errors import CommandError, PaperIdError
from bot.models import ChannelRef, Tone

HUGE = "9" * 5000  # past Python's 4,300-digit limit for int()
LONG = "9" * 900  # as long as a command may be


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unsubscribe 99999999999999999999", "'99999999999999999999' is too large"),
        (f"unsubscribe {LONG}", "is too large"),
        (f"unsubscribe {HUGE}", "This command is 5,012 characters long; the limit is 1,000"),
        ("unsubscribe -3", "without a sign: not '-3'"),
        ("unsubscribe +3", "without a sign: not '+3'"),
        ("unsubscribe 0", "'0' is too small"),
        ("unsubscribe 000", "'000' is too small"),
        ("unsubscribe \u0663", "Give the number of the subscription"),  # Arabic-Indic 3
        ("unsubscribe \u00b2", "Give the number of the subscription"),  # superscript 2
        ("unsubscribe 1_000", "Give the number of the subscription"),
        ("search mri --limit 1000000000000000000000000000000", "from 1 to 25; '1000"),
        (f"search mri --limit {LONG}", "is too large"),
        ("search mri --limit 0", "from 1 to 25; '0' is too small"),
        ("search mri --limit -5", "without a sign: not '-5'"),
        ("search mri --limit=+5", "without a sign: not '+5'"),
        ("search mri --limit \u00b2", "from 1 to 25, not '\u00b2'"),
        ("search mri --limit 2.5", "from 1 to 25, not '2.5'"),
        ("search mri --page 41", "from 1 to 40; '41' is too large"),
        ("search mri --page 0", "from 1 to 40; '0' is too small"),
    ],
)
def test_numbers_out_of_range_get_a_specific_message(text: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    assert message in str(raised.value)
    assert len(str(raised.value)) < 300  # a huge number is quoted back cut short


def test_leading_zeros_are_the_number_they_spell() -> None:
    assert parse_command("unsubscribe 007") == UnsubscribeCommand(7)
    assert parse_command("unsubscribe #12") == UnsubscribeCommand(12)
    command = parse_command("search mri --limit 05")
    assert isinstance(command, SearchCommand)
    assert command.limit == 5


def test_the_largest_sqlite_integer_is_still_a_subscription_number() -> None:
    assert parse_command("unsubscribe 9223372036854775807") == UnsubscribeCommand(2**63 - 1)
    with pytest.raises(CommandError, match="too large"):
        parse_command("unsubscribe 9223372036854775808")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("2506.11674v99999999999999999999", "not a version arXiv has"),
        (f"2506.11674v{HUGE}", "not a version arXiv has"),
        ("\u0662\u0665\u0660\u0666.\u0661\u0661\u0666\u0667\u0664", "is not an arXiv paper id"),
    ],
)
def test_paper_ids_with_impossible_numbers_are_explained(reference: str, message: str) -> None:
    with pytest.raises(PaperIdError) as raised:
        parse_arxiv_id(reference)
    assert message in str(raised.value)
    assert len(str(raised.value)) < 400


async def test_unsubscribing_a_huge_number_is_answered_and_changes_nothing(app: BotApp) -> None:
    context = CommandContext(ChannelRef("console", "local", "lab", "lab"))
    await app.execute("subscribe mri", context)
    for text in ("unsubscribe 99999999999999999999", "unsubscribe 9223372036854775807"):
        reply = await app.execute(text, context)
        assert reply.tone is Tone.ERROR
        assert "Something went wrong" not in reply.title
        assert "/arxiv list" in reply.title
    assert (await app.store.counts()).subscriptions == 1
