"""Feedback on posted papers: reactions and buttons through the core, and ``/arxiv top``.

Papers are posted by a real cycle (fake OAI-PMH, console adapter as the sender), so each
message has the ``sent_ref`` the adapter returned; reactions then name those messages
as a platform would.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.commands.grammar import TopCommand, parse_command
from bot.config import Settings
from bot.errors import CommandError
from bot.feedback import FeedbackEvent, normalize_emoji, parse_emoji_names
from bot.models import ChannelRef, Reply, Tone
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper
from tests.fakes.oai import FakeOai
from tests.fakes.oai_corpus import harvested

LAB = ChannelRef("console", "local", "lab", "lab")
DIGESTS = ChannelRef("console", "local", "digests", "digests")
HERE = CommandContext(LAB)
START = datetime.now(UTC).replace(microsecond=0)

PAPERS = {
    # id: days before START it was submitted (the bigger, the older)
    "2611.00001": 3,
    "2611.00002": 1,
    "2611.00003": 2,
    "2611.00004": 4,
}


def today() -> date:
    return datetime.now(UTC).date()


def announce_papers(fake_oai: FakeOai) -> None:
    for arxiv_id, days in PAPERS.items():
        at = START - timedelta(days=days)
        paper = make_paper(
            arxiv_id,
            title=f"Segmentation study number {arxiv_id[-1]}",
            abstract="We do segmentation.",
            categories=("eess.IV",),
            submitted=at,
            updated=at,
        )
        fake_oai.add_records(harvested(paper, today()))


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
async def posted(
    settings: Settings, fake_oai: FakeOai, clock: SettableClock
) -> AsyncIterator[BotApp]:
    """A bot that has posted the four papers one by one to #lab, and as one digest to
    #digests."""
    async with BotApp(settings, clock=clock) as app:
        await subscribe_and_post(app, fake_oai)
        yield app


async def subscribe_and_post(app: BotApp, fake_oai: FakeOai) -> None:
    assert (await app.execute("/arxiv subscribe cat:eess.IV", HERE)).tone is Tone.SUCCESS
    digest = CommandContext(DIGESTS)
    reply = await app.execute("/arxiv subscribe cat:eess.IV --mode digest", digest)
    assert reply.tone is Tone.SUCCESS
    announce_papers(fake_oai)
    output = io.StringIO()
    app.senders["console"] = ConsoleAdapter(app, stdin=io.StringIO(""), stdout=output)
    report = await app.run_cycle()
    assert report.delivered.delivered == 8, output.getvalue()


async def message_of(app: BotApp, channel: ChannelRef, arxiv_id: str) -> str:
    """The platform reference of the message that showed ``arxiv_id`` in ``channel``."""
    row = await app.store.fetchone(
        "SELECT m.sent_ref FROM outbox AS m JOIN deliveries AS d ON d.message_id = m.id"
        " JOIN channels AS c ON c.id = m.channel_id"
        " WHERE c.channel = ? AND d.arxiv_id = ? AND m.status = 'sent'",
        (channel.channel, arxiv_id),
    )
    assert row is not None and row[0], (channel, arxiv_id)
    return str(row[0])


async def react(
    app: BotApp,
    arxiv_id: str,
    emoji: str,
    *,
    user: str = "U1",
    added: bool = True,
    source: Any = "reaction",
    channel: ChannelRef = LAB,
) -> bool:
    ref = await message_of(app, channel, arxiv_id)
    return await app.feedback(FeedbackEvent(channel, ref, user, emoji, added, source))


async def rows(app: BotApp) -> list[tuple[str, str, str, str, int]]:
    found = await app.store.fetchall(
        "SELECT arxiv_id, user, source, emoji, signal FROM feedback ORDER BY arxiv_id, user, emoji"
    )
    return [(row[0], row[1], row[2], row[3], int(row[4])) for row in found]


def top_ids(reply: Reply) -> list[str]:
    return [paper.arxiv_id for paper in reply.papers]


def counts(reply: Reply) -> list[str]:
    return [snippet.text if snippet else "" for snippet in reply.snippets]


# -- recording ----------------------------------------------------------------------------


async def test_a_reaction_on_a_paper_post_counts_once_and_removal_undoes_it(
    posted: BotApp,
) -> None:
    assert await react(posted, "2611.00001", "+1")
    assert await react(posted, "2611.00001", "+1")  # the platform repeats itself
    assert await rows(posted) == [("2611.00001", "U1", "reaction", "+1", 1)]
    top = await posted.execute("/arxiv top", HERE)
    assert top_ids(top) == ["2611.00001"]
    assert counts(top) == ["+1 (1 liked)"]

    assert await react(posted, "2611.00001", "+1", added=False)
    assert await rows(posted) == []
    empty = await posted.execute("/arxiv top", HERE)
    assert empty.papers == ()
    assert empty.title == "No feedback on this channel's papers in the past week yet."
    assert "React with 👍" in empty.lines[0]


async def test_skin_tones_and_variation_selectors_count_as_the_plain_emoji(
    posted: BotApp,
) -> None:
    assert await react(posted, "2611.00001", "\U0001f44d\U0001f3fd", user="discord-a")  # 👍🏽
    assert await react(posted, "2611.00001", "+1::skin-tone-2", user="slack-b")
    assert await react(posted, "2611.00001", "thumbsup", user="slack-c")
    assert await react(posted, "2611.00001", "\u2764\ufe0f", user="discord-d")  # ❤️
    assert await react(posted, "2611.00001", "\u2764", user="discord-e")  # ❤ bare
    assert await react(posted, "2611.00002", "\U0001f44e\U0001f3ff", user="discord-a")  # 👎🏿
    assert await rows(posted) == [
        ("2611.00001", "discord-a", "reaction", "+1", 1),
        ("2611.00001", "discord-d", "reaction", "heart", 1),
        ("2611.00001", "discord-e", "reaction", "heart", 1),
        ("2611.00001", "slack-b", "reaction", "+1", 1),
        ("2611.00001", "slack-c", "reaction", "+1", 1),
        ("2611.00002", "discord-a", "reaction", "-1", -1),
    ]
    # Removing with another skin tone than was added still finds the row.
    assert await react(posted, "2611.00001", "\U0001f44d\U0001f3fb", user="discord-a", added=False)
    assert len(await rows(posted)) == 5


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("+1", "+1"),
        (":+1:", "+1"),
        ("thumbsup", "+1"),
        ("THUMBSUP", "+1"),
        ("+1::skin-tone-6", "+1"),
        ("\U0001f44d", "+1"),
        ("\U0001f44d\ufe0f", "+1"),
        ("\U0001f44d\U0001f3fe", "+1"),
        ("-1", "-1"),
        ("thumbsdown", "-1"),
        ("\U0001f44e", "-1"),
        ("\u2764\ufe0f", "heart"),
        ("\U0001f525", "fire"),
        ("\u2b50", "star"),
        ("\U0001f389", "tada"),
        ("\U0001f440", "eyes"),
        ("\U0001f9ea", "\U0001f9ea"),  # 🧪 not in the table: itself
        ("grinning", "grinning"),
        ("", None),
        ("   ", None),
        ("a b", None),
        ("x" * 65, None),
        ("\x00", None),
        ("+1" * 200, None),
    ],
)
def test_emoji_spellings_normalise_to_one_name(raw: str, name: str | None) -> None:
    assert normalize_emoji(raw) == name


async def test_emoji_that_are_not_feedback_are_ignored(posted: BotApp) -> None:
    assert not await react(posted, "2611.00001", "grinning")
    assert not await react(posted, "2611.00001", "\U0001f9ea")  # 🧪
    assert not await react(posted, "2611.00001", "heart", source="button")  # buttons: ±1 only
    assert await rows(posted) == []


async def test_unknown_messages_and_channels_are_ignored(posted: BotApp) -> None:
    ref = await message_of(posted, LAB, "2611.00001")
    elsewhere = ChannelRef("console", "local", "nowhere")
    other_workspace = ChannelRef("console", "other", "lab")
    slack = ChannelRef("slack", "local", "lab")
    for event in (
        FeedbackEvent(LAB, "no-such-message", "U1", "+1"),
        FeedbackEvent(elsewhere, ref, "U1", "+1"),
        FeedbackEvent(other_workspace, ref, "U1", "+1"),
        FeedbackEvent(slack, ref, "U1", "+1"),
        FeedbackEvent(DIGESTS, ref, "U1", "+1"),
    ):
        assert not await posted.feedback(event), event
    assert await rows(posted) == []
    assert await posted.feedback(FeedbackEvent(LAB, ref, "U1", "+1"))


async def test_a_digest_list_showing_several_papers_is_ignored(posted: BotApp) -> None:
    ref = await message_of(posted, DIGESTS, "2611.00001")
    assert ref == await message_of(posted, DIGESTS, "2611.00004")  # one list, four papers
    assert not await posted.feedback(FeedbackEvent(DIGESTS, ref, "U1", "+1"))
    assert await rows(posted) == []
    assert (await posted.execute("/arxiv top", CommandContext(DIGESTS))).papers == ()


async def test_buttons_count_whatever_the_settings_and_the_last_press_wins(
    settings: Settings, fake_oai: FakeOai, clock: SettableClock
) -> None:
    quiet = settings.model_copy(update={"feedback_positive": "", "feedback_negative": ""})
    async with BotApp(quiet, clock=clock) as app:
        await subscribe_and_post(app, fake_oai)
        assert not await react(app, "2611.00001", "+1")  # no reaction counts
        assert await react(app, "2611.00001", "+1", source="button")
        assert await react(app, "2611.00001", "-1", source="button")
        assert await rows(app) == [("2611.00001", "U1", "button", "-1", -1)]
        assert await react(app, "2611.00002", "+1", source="button", user="U2")
        top = await app.execute("/arxiv top", HERE)
        assert top_ids(top) == ["2611.00002"]


async def test_configured_emoji_replace_the_defaults(
    settings: Settings, fake_oai: FakeOai, clock: SettableClock
) -> None:
    custom = settings.model_copy(
        update={
            "feedback_positive": ",".join(parse_emoji_names(":brain:, \U0001f9e0, rocket")),
            "feedback_negative": ",".join(parse_emoji_names("sleeping")),
        }
    )
    async with BotApp(custom, clock=clock) as app:
        await subscribe_and_post(app, fake_oai)
        assert not await react(app, "2611.00001", "+1")
        assert await react(app, "2611.00001", "\U0001f9e0")  # 🧠 from Discord
        assert await react(app, "2611.00001", "brain", user="U2")  # from Slack
        assert await react(app, "2611.00001", "\U0001f634", user="U3")  # 😴
        assert await rows(app) == [
            ("2611.00001", "U1", "reaction", "brain", 1),
            ("2611.00001", "U2", "reaction", "brain", 1),
            ("2611.00001", "U3", "reaction", "sleeping", -1),
        ]
        assert counts(await app.execute("/arxiv top", HERE)) == ["+1 (2 liked, 1 not for us)"]


async def test_a_deleted_channel_takes_its_feedback_with_it(posted: BotApp) -> None:
    assert await react(posted, "2611.00001", "+1")
    await posted.store.execute("DELETE FROM channels WHERE channel = 'lab'")
    assert await rows(posted) == []


async def test_feedback_on_the_original_post_counts_after_a_later_message_shows_it(
    posted: BotApp,
) -> None:
    """A revised note re-points the delivery at a new message; the first post still
    resolves to its paper (``outbox_papers`` keeps the link)."""
    first = await message_of(posted, LAB, "2611.00001")
    await posted.store.execute(
        "INSERT INTO outbox (channel_id, payload, status, sent_ref, created_at)"
        " SELECT id, '{}', 'sent', 'revised-note', '2026-01-01' FROM channels"
        " WHERE channel = 'lab'"
    )
    await posted.store.execute(
        "UPDATE deliveries SET message_id = (SELECT id FROM outbox WHERE sent_ref ="
        " 'revised-note') WHERE arxiv_id = '2611.00001' AND channel_id ="
        " (SELECT id FROM channels WHERE channel = 'lab')"
    )
    assert await posted.feedback(FeedbackEvent(LAB, first, "U1", "+1"))
    assert await posted.feedback(FeedbackEvent(LAB, "revised-note", "U2", "+1"))
    assert counts(await posted.execute("/arxiv top", HERE)) == ["+2 (2 liked)"]


# -- /arxiv top ---------------------------------------------------------------------------


async def test_top_orders_by_net_likes_then_newest_each_person_once(posted: BotApp) -> None:
    # 00001 (3 days old): two people like it.
    assert await react(posted, "2611.00001", "+1", user="a")
    assert await react(posted, "2611.00001", "fire", user="b")
    # 00002 (1 day old, the newest): two people like it, one adds three emoji.
    for emoji in ("+1", "heart", "tada"):
        assert await react(posted, "2611.00002", emoji, user="a")
    assert await react(posted, "2611.00002", "star", user="c")
    # 00003: one like, one dislike, net 0: not listed.
    assert await react(posted, "2611.00003", "+1", user="a")
    assert await react(posted, "2611.00003", "-1", user="b")
    # 00004 (the oldest): four like, one does not: net 3, the top.
    for user in ("a", "b", "c", "e"):
        assert await react(posted, "2611.00004", "eyes", user=user)
    assert await react(posted, "2611.00004", "-1", user="d")

    top = await posted.execute("/arxiv top week", HERE)
    assert top.title == "This channel's most-liked papers of the past week"
    assert top_ids(top) == ["2611.00004", "2611.00002", "2611.00001"]
    assert counts(top) == ["+3 (4 liked, 1 not for us)", "+2 (2 liked)", "+2 (2 liked)"]
    assert top.tone is Tone.INFO
    # Another channel sees none of it.
    assert (await posted.execute("/arxiv top", CommandContext(DIGESTS))).papers == ()


async def test_top_looks_back_a_week_or_a_month(posted: BotApp, clock: SettableClock) -> None:
    assert await react(posted, "2611.00001", "+1", user="a")  # at START
    clock.advance(days=10)
    assert await react(posted, "2611.00002", "+1", user="a")  # START + 10 days
    assert top_ids(await posted.execute("/arxiv top", HERE)) == ["2611.00002"]
    assert top_ids(await posted.execute("/arxiv top month", HERE)) == [
        "2611.00002",
        "2611.00001",
    ]
    clock.advance(days=25)  # START + 35 days: the first is out of the month
    assert top_ids(await posted.execute("/arxiv top month", HERE)) == ["2611.00002"]
    week = await posted.execute("/arxiv top week", HERE)
    assert week.papers == ()
    assert week.title == "No feedback on this channel's papers in the past week yet."


async def test_top_says_when_nothing_got_more_likes_than_dislikes(posted: BotApp) -> None:
    assert await react(posted, "2611.00001", "-1")
    reply = await posted.execute("/arxiv top", HERE)
    assert reply.papers == ()
    assert reply.title == "No paper got more likes than dislikes here in the past week."


async def test_top_lists_at_most_ten(posted: BotApp) -> None:
    channel_id = await posted.store.find_channel(LAB)
    assert channel_id is not None
    for number in range(100, 131):  # papers never stored here (posted elsewhere, pruned)
        await posted.store.add_feedback(
            channel_id, f"2611.{number:05d}", user="u", source="reaction", emoji="+1", signal=1
        )
    reply = await posted.execute("/arxiv top", HERE)
    assert reply.papers == ()  # none of them is stored...
    assert len(reply.lines) == 1 + 10  # ...so each is a line, ten at most
    assert reply.lines[1] == "arXiv:2611.00130: +1 (1 liked; no longer stored)"


def test_top_grammar() -> None:
    assert parse_command("/arxiv top") == TopCommand("week")
    assert parse_command("/arxiv top Month") == TopCommand("month")
    with pytest.raises(CommandError, match="takes week or month, not 'year'"):
        parse_command("/arxiv top year")
    with pytest.raises(CommandError, match="Unknown option --limit"):
        parse_command("/arxiv top --limit 3")


async def test_help_lists_top(app: BotApp) -> None:
    reply = await app.execute("/arxiv help", HERE)
    assert any(line.startswith("/arxiv top [week|month]") for line in reply.lines)
    details = await app.execute("/arxiv help top", HERE)
    assert details.code == ("/arxiv top month",)


# -- hostile input ------------------------------------------------------------------------


async def test_hostile_and_huge_events_never_raise(posted: BotApp) -> None:
    ref = await message_of(posted, LAB, "2611.00001")
    huge = "x" * 1_000_000
    events: list[Any] = [
        FeedbackEvent(LAB, ref, "U1", huge),
        FeedbackEvent(LAB, ref, huge, "+1"),
        FeedbackEvent(LAB, huge, "U1", "+1"),
        FeedbackEvent(ChannelRef("console", "local", huge), ref, "U1", "+1"),
        FeedbackEvent(LAB, ref, "", "+1"),
        FeedbackEvent(LAB, "", "U1", "+1"),
        FeedbackEvent(LAB, ref, "U1", "+1", source="webhook"),  # type: ignore[arg-type]
        FeedbackEvent(LAB, ref, "U1", None),  # type: ignore[arg-type]
        FeedbackEvent(LAB, ref, None, "+1"),  # type: ignore[arg-type]
        FeedbackEvent(LAB, 12345, "U1", "+1"),  # type: ignore[arg-type]
        FeedbackEvent(None, ref, "U1", "+1"),  # type: ignore[arg-type]
        FeedbackEvent(LAB, ref, "U1", "+1", added="yes"),  # type: ignore[arg-type]
        FeedbackEvent(LAB, "' OR 1=1 --", "U1", "+1"),
        FeedbackEvent(LAB, ref, "U1", "\u202e\u200b\ufe0f\U0001f3fb"),
        FeedbackEvent(LAB, ref, "U1", "::skin-tone-2"),
        FeedbackEvent(LAB, ref, "U1", "\ud800"),  # a lone surrogate
        {"channel": LAB, "message_ref": ref, "user": "U1", "emoji": "+1"},
        None,
    ]
    for event in events:
        assert await posted.feedback(event) is False, repr(event)[:200]
    assert await rows(posted) == []
    # Odd but valid ids are stored as given (bounded), and the bot still answers.
    assert await posted.feedback(FeedbackEvent(LAB, ref, "<@U1> 'x'; DROP TABLE", "+1"))
    assert (await posted.execute("/arxiv top", HERE)).papers[0].arxiv_id == "2611.00001"


async def test_feedback_after_the_app_closed_is_refused(settings: Settings) -> None:
    app = BotApp(settings)
    async with app:
        pass
    assert await app.feedback(FeedbackEvent(LAB, "1", "U1", "+1")) is False


def test_settings_normalise_and_refuse_overlaps() -> None:
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert default.feedback_names(1) == ("+1", "heart", "fire", "star", "tada", "eyes")
    assert default.feedback_names(-1) == ("-1",)
    typed = Settings(_env_file=None, feedback_positive=" :ThumbsUp:, \u2764\ufe0f,,")  # type: ignore[call-arg]
    assert typed.feedback_positive == "+1,heart"
    with pytest.raises(ValueError, match="both list \\+1"):
        Settings(_env_file=None, feedback_negative="\U0001f44d")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="not an emoji name"):
        Settings(_env_file=None, feedback_negative="not for us")  # type: ignore[call-arg]
