"""Ranking and Hugging Face signals in Discord: TL;DRs, the Hugging Face line, top picks
and upvotes on cards, digests and result lists; ``/arxiv trending`` and ``/arxiv ranking``
through the real command tree."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.render import (
    MAX_TOTAL,
    DiscordMessage,
    DiscordPart,
    digest_parts,
    paper_embed,
    post_parts,
    reply_message,
)
from bot.adapter import CommandContext
from bot.feedback import FeedbackEvent
from bot.models import (
    ChannelRef,
    CommunitySignals,
    Digest,
    PaperPost,
    Reply,
    Snippet,
    Subscription,
)
from bot.render import make_post
from tests.discord.conftest import discord_settings
from tests.discord.payloads import MEMBER, dispatch, slash, wait_for
from tests.discord.test_render import EVIL, _fields, check
from tests.discord.test_render import assert_safe as assert_text_safe
from tests.discord.test_render import check_parts as check_text_parts
from tests.fakes.corpus import make_paper, paper_by_id, sample_papers
from tests.fakes.discord_api import FakeDiscord
from tests.test_console_signals import HOSTILE_URLS, HUGE_SIGNALS, REPO, SIGNALS, TLDR, full

HF_LINE = (
    "🤗 1.2k upvotes · code: [owner/repo](https://github.com/owner/repo) ★ 4.5k"
    " · in the daily papers"
)
LIKE_VALUE = "like [2410.22454](https://arxiv.org/abs/2410.22454) that you liked"


_OWN_MARKUP = re.compile(r"^\*TL;DR:\* |\*\*▲ [0-9.kMBT+]+\*\*", re.MULTILINE)
"""The bot's own markdown: the TL;DR's label in italics and a result's upvotes in bold."""


def _stripped(message: DiscordMessage) -> DiscordMessage:
    """``message`` without the bot's own markup (:data:`_OWN_MARKUP`)."""
    embeds = []
    for embed in message.embeds:
        data = embed.to_dict()
        if "description" in data:
            data["description"] = _OWN_MARKUP.sub("", data["description"])
        embeds.append(discord.Embed.from_dict(data))
    return DiscordMessage(message.content, tuple(embeds))


def assert_safe(message: DiscordMessage) -> None:
    """:func:`tests.discord.test_render.assert_safe`, once the bot's own markup is out."""
    assert_text_safe(_stripped(message))


def check_parts(parts: Sequence[DiscordPart]) -> None:
    """:func:`tests.discord.test_render.check_parts` (limits checked as sent, safety once
    the bot's own markup is out)."""
    for part in parts:
        check(part.message)
    check_text_parts([replace(part, message=_stripped(part.message)) for part in parts])


def test_a_card_shows_every_signal() -> None:
    post = full(make_post(paper_by_id("2506.11674")))
    embed = paper_embed(post)
    check(DiscordMessage("", (embed,)))
    assert_safe(DiscordMessage("", (embed,)))
    assert str(embed.title) == "⭐ Boundary-Aware Diffusion Models for Medical Image Segmentation"
    description = str(embed.description)
    assert description.startswith(f"*TL;DR:* {TLDR}\n\n")
    assert description.split("\n\n", 1)[1] == str(paper_embed(make_post(post.paper)).description)
    fields = _fields(embed)
    assert fields["⭐ Top pick"] == LIKE_VALUE
    assert fields["Hugging Face"] == HF_LINE


def test_without_signals_a_card_renders_exactly_as_before() -> None:
    paper = paper_by_id("2506.11674")
    before = paper_embed(make_post(paper)).to_dict()
    for post in (
        replace(make_post(paper), community=CommunitySignals()),  # nothing known
        replace(make_post(paper), like="2410.22454"),  # not a top pick: no reason shown
        replace(make_post(paper), tldr="  \u200b "),  # nothing left once cleaned
    ):
        assert paper_embed(post).to_dict() == before


def test_parts_of_the_hugging_face_line_are_left_out_when_unknown() -> None:
    post = make_post(paper_by_id("2506.11674"))
    cases = {
        CommunitySignals(upvotes=1): "🤗 1 upvote",
        CommunitySignals(upvotes=0, daily=True): "🤗 0 upvotes · in the daily papers",
        CommunitySignals(github_repo=REPO): "🤗 code: [owner/repo](https://github.com/owner/repo)",
        CommunitySignals(github_stars=9, daily=True): "🤗 in the daily papers",  # no repo
    }
    for signals, line in cases.items():
        assert _fields(paper_embed(replace(post, community=signals)))["Hugging Face"] == line


def test_a_top_pick_without_a_liked_paper_is_marked_in_its_title_only() -> None:
    post = replace(make_post(paper_by_id("2506.11674")), top_pick=True)
    for like in (None, "not an id", "<@123456789012345678>", "2410.22454" * 50):
        embed = paper_embed(replace(post, like=like))
        assert str(embed.title).startswith("⭐ ")
        assert "⭐ Top pick" not in _fields(embed)


@pytest.mark.parametrize("repo", HOSTILE_URLS)
def test_hostile_tldr_and_repositories_neither_ping_nor_format(repo: str) -> None:
    signals = CommunitySignals(upvotes=3, github_repo=repo, github_stars=5)
    post = replace(
        make_post(paper_by_id("2506.11674")),
        tldr=f"{EVIL}\n# heading\n> quote",
        community=signals,
        top_pick=True,
        like=EVIL,
    )
    for message in (
        DiscordMessage("", (paper_embed(post),)),
        reply_message(Reply("Trending", papers=(post.paper,), signals=(signals,))),
        reply_message(Reply("Card", posts=(post,))),
    ):
        check(message)
        assert_safe(message)
        shown = str([embed.to_dict() for embed in message.embeds])
        assert " · code: " not in shown
    assert _fields(paper_embed(post))["Hugging Face"] == "🤗 3 upvotes"
    check_parts(post_parts(post))
    check_parts(digest_parts(Digest((post, make_post(paper_by_id("2506.10231")))), cards=2))


def test_huge_signals_stay_within_every_limit() -> None:
    signals = HUGE_SIGNALS
    paper = make_paper(
        title="*" * 1000, authors=tuple("_" * 300 for _ in range(300)), abstract="|" * 10000
    )
    subs = tuple(Subscription(n, 1, "[" * 500, paper.submitted) for n in range(100))
    post = PaperPost(
        paper,
        matched=subs,
        code_links=tuple(f"https://github.com/{'a' * 400}/{n}" for n in range(10)),
        tldr="`" * 100_000,
        community=signals,
        top_pick=True,
        like="2410.22454",
    )
    embed = paper_embed(post)
    check(DiscordMessage("", (embed,)))
    assert_safe(DiscordMessage("", (embed,)))
    assert len(embed) <= MAX_TOTAL
    assert str(embed.description).startswith("*TL;DR:* \\`")
    assert _fields(embed)["Hugging Face"].startswith("🤗 999T+ upvotes · code: [")
    for budget in (300, 1000, 2000):
        small = paper_embed(post, budget=budget)
        assert str(small.title).startswith("⭐ ")
        check(DiscordMessage("", (small,)))
    posts = tuple(replace(post, paper=p) for p in sample_papers()[:10])
    for cards in (0, 3, 10):
        check_parts(digest_parts(Digest(posts), cards=cards))
    message = reply_message(Reply("Cards", posts=posts[:4]))
    check(message)


def test_digests_mark_top_picks_in_the_list_and_on_the_cards() -> None:
    papers = [make_paper(f"2507.{n:05d}", title=f"Paper {n}") for n in range(1, 21)]
    posts = [replace(make_post(p), top_pick=n < 2, like="2410.22454") for n, p in enumerate(papers)]
    parts = digest_parts(Digest(tuple(posts)), cards=3)
    check_parts(parts)
    listing = str(parts[0].message.embeds[0].description).split("\n")
    assert listing[0].startswith("1. ⭐ [Paper 1](https://arxiv.org/abs/2507.00001)")
    assert listing[1].startswith("2. ⭐ [Paper 2]")
    assert listing[2].startswith("3. [Paper 3]")
    cards = [embed for part in parts[1:] for embed in part.message.embeds]
    assert [str(card.title) for card in cards] == ["⭐ Paper 1", "⭐ Paper 2", "Paper 3"]
    assert _fields(cards[0])["⭐ Top pick"] == LIKE_VALUE
    (single,) = digest_parts(Digest(tuple(posts[:2])), cards=3)  # one message of cards
    assert [str(e.title) for e in single.message.embeds] == ["⭐ Paper 1", "⭐ Paper 2"]


def test_result_lists_show_upvotes_first_and_code_last() -> None:
    papers = sample_papers()[:3]
    signals = (SIGNALS, None, CommunitySignals(upvotes=7))
    reply = Reply("Trending on Hugging Face", papers=tuple(papers), signals=signals)
    message = reply_message(reply)
    check(message)
    assert_safe(message)
    lines = str(message.embeds[0].description).split("\n")
    plain = str(reply_message(replace(reply, signals=())).embeds[0].description).split("\n")
    assert lines[0].startswith(f"1. **▲ 1.2k** [{papers[0].title}]")
    assert lines[0].endswith(" · code: [owner/repo](https://github.com/owner/repo) ★ 4.5k")
    assert lines[1] == plain[1]  # no signals: as before
    assert lines[2] == plain[2].replace("3. [", "3. **▲ 7** [", 1)
    # Fewer signals than papers is fine, as with snippets.
    assert reply_message(replace(reply, signals=(SIGNALS,))).embeds


def test_25_results_with_signals_and_snippets_stay_within_limits() -> None:
    papers = tuple(make_paper(f"2507.{n:05d}", title="word " * 60) for n in range(25))
    signals = (HUGE_SIGNALS,) * 25
    snippets = (Snippet("diffusion " * 100, ((0, 9),)),) * 25
    message = reply_message(Reply("Trending", papers=papers, signals=signals, snippets=snippets))
    check(message)
    assert_safe(message)
    assert "**▲ 999T+**" in str(message.embeds[0].description)


# -- /arxiv trending and /arxiv ranking through the command tree


class RecordingCore:
    """A core that records the command text each interaction builds."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def execute(self, text: str, context: CommandContext) -> Reply:
        self.texts.append(text)
        papers = tuple(sample_papers()[:2])
        return Reply(f"Trending: {text}", papers=papers, signals=(SIGNALS, None))

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        return []

    async def feedback(self, event: FeedbackEvent) -> bool:
        return False


@pytest.fixture
async def recorded(
    fake_discord: FakeDiscord,
) -> AsyncIterator[tuple[DiscordAdapter, RecordingCore]]:
    core = RecordingCore()
    adapter = DiscordAdapter(core, discord_settings(fake_discord), gateway=False)
    await adapter.start()
    try:
        yield adapter, core
    finally:
        await adapter.stop()


@pytest.mark.parametrize(
    ("subcommand", "options", "text"),
    [
        ("trending", {}, "trending today"),
        ("trending", {"period": "week"}, "trending week"),
        (
            "trending",
            {"period": "week", "query": 'ti:"diffusion model"'},
            'trending week ti:"diffusion model"',
        ),
        ("trending", {"query": "diffusion"}, "trending today diffusion"),
        ("ranking", {}, "ranking"),
        ("ranking", {"setting": "off"}, "ranking off"),
        ("ranking", {"setting": "on"}, "ranking on"),
        ("schedule", {}, "schedule"),
        ("schedule", {"when": "daily 09:00 Europe/Berlin"}, "schedule daily 09:00 Europe/Berlin"),
    ],
)
async def test_new_subcommands_build_the_core_grammar(
    recorded: tuple[DiscordAdapter, RecordingCore],
    fake_discord: FakeDiscord,
    subcommand: str,
    options: dict[str, Any],
    text: str,
) -> None:
    adapter, core = recorded
    dispatch(adapter, slash(fake_discord, subcommand, **options))
    await wait_for(lambda: bool(core.texts))
    assert core.texts == [text]


async def test_trending_answers_with_upvotes(
    recorded: tuple[DiscordAdapter, RecordingCore], fake_discord: FakeDiscord
) -> None:
    adapter, _ = recorded
    token = dispatch(adapter, slash(fake_discord, "trending", period="week"))
    await wait_for(lambda: any(m.embeds for m in fake_discord.webhook_messages(token)))
    answer = next(m for m in fake_discord.webhook_messages(token) if m.embeds)
    assert "1. **▲ 1.2k** [" in answer.embeds[0]["description"]
    assert answer.allowed_mentions == {"parse": []}


async def test_setting_the_ranking_needs_manage_channels(
    recorded: tuple[DiscordAdapter, RecordingCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = recorded
    token = dispatch(adapter, slash(fake_discord, "ranking", permissions=MEMBER, setting="off"))
    await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
    (answer,) = fake_discord.interaction_responses(token)
    assert "Manage Channels" in answer.data["content"]
    dispatch(adapter, slash(fake_discord, "ranking", permissions=MEMBER))  # showing is fine
    await wait_for(lambda: bool(core.texts))
    await asyncio.sleep(0)
    assert core.texts == ["ranking"]


async def test_an_option_typed_into_the_trending_query_is_refused(
    recorded: tuple[DiscordAdapter, RecordingCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = recorded
    token = dispatch(adapter, slash(fake_discord, "trending", query="diffusion --limit 3"))
    await wait_for(lambda: bool(fake_discord.interaction_responses(token)))
    (answer,) = fake_discord.interaction_responses(token)
    assert answer.data["content"].startswith("--limit belongs in its own field of /arxiv trending")
    assert core.texts == []
