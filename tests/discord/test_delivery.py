"""Automatic posts to Discord: subscribe through an interaction, harvest the fake arXiv,
and check what reaches the fake REST API."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord.adapter import UNAVAILABLE_REASONS, DiscordAdapter
from adapters.discord.render import MAX_CONTENT, MAX_EMBEDS, MAX_TOTAL
from bot.app import BotApp
from bot.models import Paper
from tests.discord.payloads import CHANNEL, dispatch, slash, wait_for
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.discord_api import FakeDiscord, PostedMessage
from tests.fakes.oai import FakeOai

OTHER = "1200000000000000002"
HOSTILE_TITLE = (
    "@everyone @here <@123456789012345678> <@&123456789012345678> **bold** __under__ "
    "||spoiler|| `code` [arxiv.org](https://evil.example) " + "long title words " * 20
)


async def subscribe(
    bot: DiscordAdapter, fake: FakeDiscord, channel: str, query: str, mode: str | None = None
) -> None:
    options: dict[str, Any] = {"query": query}
    if mode:
        options["mode"] = mode
    token = dispatch(bot, slash(fake, "subscribe", channel=channel, **options))
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 3)
    assert "Subscribed this channel" in str(fake.webhook_messages(token)[-1].embeds)


async def status_text(bot: DiscordAdapter, fake: FakeDiscord, channel: str) -> str:
    token = dispatch(bot, slash(fake, "status", channel=channel))
    await wait_for(lambda: len(fake.webhook_messages(token)) >= 2)
    return str(fake.webhook_messages(token)[-1].embeds)


def embed_chars(embed: dict[str, Any]) -> int:
    """Characters as Discord counts them towards the 6,000 of a message."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    return total


def check_message(message: PostedMessage) -> None:
    """Within every Discord limit, and unable to ping anyone."""
    assert message.allowed_mentions == {"parse": []}
    assert len(message.content or "") <= MAX_CONTENT
    assert len(message.embeds) <= MAX_EMBEDS
    assert sum(embed_chars(e) for e in message.embeds) <= MAX_TOTAL
    for embed in message.embeds:
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert len(embed.get("fields", [])) <= 25
        for field in embed.get("fields", []):
            assert len(field["name"]) <= 256 and len(field["value"]) <= 1024
        assert len(embed.get("footer", {}).get("text", "")) <= 2048


def footer_ids(messages: list[PostedMessage]) -> list[str]:
    """The arXiv ids of the paper embeds (their footers start ``arXiv:<id>v<n>``)."""
    ids = []
    for message in messages:
        for embed in message.embeds:
            footer = embed.get("footer", {}).get("text", "")
            if footer.startswith("arXiv:"):
                ids.append(footer.removeprefix("arXiv:").split("v")[0])
    return ids


def in_listed_order(listing: str, papers: list[Paper]) -> list[str]:
    """The ids of ``papers`` in the order a digest's list links them (the core orders a
    digest by its ranking, so the cards follow that order, not the announcement's)."""
    return sorted((p.arxiv_id for p in papers), key=lambda i: listing.index(f"/abs/{i})"))


async def test_whole_cycle_posts_embeds_within_limits_that_cannot_ping(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:eess.IV")
    hostile = make_paper(
        "2506.20001",
        title=HOSTILE_TITLE,
        authors=tuple(f"@everyone Author {n}" for n in range(300)),
        abstract=("An abstract with <@123456789012345678> and **markdown**. " * 60)[:3000],
        comment="@here 12 pages",
        categories=("eess.IV",),
    )
    fake_oai.announce(paper_by_id("2506.11674"), hostile, paper_by_id("2506.09876"))

    await app.run_cycle()

    posts = fake_discord.channel_messages(CHANNEL)
    assert sorted(footer_ids(posts)) == ["2506.11674", "2506.20001"]
    for message in posts:
        check_message(message)
        labels = [b["label"] for row in message.components for b in row["components"]]
        assert labels[:2] == ["Abstract", "PDF"]
    (card,) = [m.embeds[0] for m in posts if "2506.20001" in m.embeds[0]["footer"]["text"]]
    assert card["url"] == "https://arxiv.org/abs/2506.20001"
    shown = str(card)
    assert "@everyone" not in shown.replace("@\u200beveryone", "")
    assert "<@123456789012345678>" not in shown
    assert "\\*\\*bold\\*\\*" in card["title"]

    fake_discord.clear()
    await app.run_cycle()
    assert fake_discord.channel_messages() == []  # nothing new, nothing twice


async def test_a_small_digest_is_one_message_of_embeds(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:eess.IV", mode="digest")
    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.10231"))

    await app.run_cycle()

    (digest,) = fake_discord.channel_messages(CHANNEL)
    check_message(digest)
    assert sorted(footer_ids([digest])) == ["2506.10231", "2506.11674"]
    assert fake_discord.threads(CHANNEL) == []


async def test_a_large_digest_starts_a_thread_with_the_cards(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:cs.LG", mode="digest")
    papers = [make_paper(f"2507.{n:05d}", categories=("cs.LG",)) for n in range(1, 16)]
    fake_oai.announce(*papers)

    await app.run_cycle()

    (head,) = fake_discord.channel_messages(CHANNEL)
    check_message(head)
    assert "15 new papers" in (head.content or "") + str(head.embeds)
    listed = head.embeds[0]["description"]
    assert all(p.abs_url in listed for p in papers), "the list names every paper"
    (thread,) = fake_discord.threads(CHANNEL)
    cards = fake_discord.messages(thread["id"])
    cards_wanted = app.settings.digest_cards
    assert footer_ids(cards) == in_listed_order(listed, papers)[:cards_wanted]
    for message in cards:
        check_message(message)


async def test_a_large_digest_inside_a_thread_posts_the_cards_in_order_there(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    thread = "1200000000000000003"
    fake_discord.set_channel(thread, type=11, parent_id=CHANNEL)
    await subscribe(discord_bot, fake_discord, thread, "cat:cs.LG", mode="digest")
    papers = [make_paper(f"2507.{n:05d}", categories=("cs.LG",)) for n in range(1, 13)]
    fake_oai.announce(*papers)

    await app.run_cycle()

    posted = fake_discord.channel_messages(thread)
    assert len(posted) >= 2  # the list, then the cards after it
    assert footer_ids(posted[:1]) == []
    assert all(p.abs_url in posted[0].embeds[0]["description"] for p in papers)
    cards_wanted = app.settings.digest_cards
    listed = in_listed_order(posted[0].embeds[0]["description"], papers)
    assert footer_ids(posted[1:]) == listed[:cards_wanted], "in the list's order"
    assert fake_discord.threads(thread) == []


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, 10003), (403, 50013), (403, 50001)],
    ids=["deleted", "no-permission", "removed"],
)
async def test_an_unavailable_channel_is_paused_with_the_reason_and_others_go_on(
    app: BotApp,
    discord_bot: DiscordAdapter,
    fake_discord: FakeDiscord,
    fake_oai: FakeOai,
    status: int,
    code: int,
) -> None:
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:eess.IV")
    await subscribe(discord_bot, fake_discord, OTHER, "cat:eess.IV")
    fake_discord.fail_next(f"POST /channels/{CHANNEL}/messages", status=status, code=code, times=5)
    fake_oai.announce(paper_by_id("2506.11674"))

    await app.run_cycle()

    assert footer_ids(fake_discord.channel_messages(OTHER)) == ["2506.11674"]
    assert fake_discord.channel_messages(CHANNEL) == []
    reason = UNAVAILABLE_REASONS[code].split(";")[0].split("(")[0].strip()
    assert reason in await status_text(discord_bot, fake_discord, CHANNEL)

    fake_discord.clear_scripts()
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:cs.CV")  # resumes the channel
    await app.dispatcher.deliver_due()
    assert footer_ids(fake_discord.channel_messages(CHANNEL)) == ["2506.11674"]


async def test_rate_limits_are_waited_out_by_discord_py(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    await subscribe(discord_bot, fake_discord, CHANNEL, "cat:cs.LG")
    papers = [make_paper(f"2507.{n:05d}", categories=("cs.LG",)) for n in range(1, 6)]
    fake_discord.rate_limit_next(f"POST /channels/{CHANNEL}/messages", retry_after=0.01, times=3)
    fake_oai.announce(*papers)

    await app.run_cycle()

    limited = [c for c in fake_discord.calls() if c.status == 429]
    assert len(limited) == 3
    ids = footer_ids(fake_discord.channel_messages(CHANNEL))
    assert sorted(ids) == sorted(p.arxiv_id for p in papers)
    assert await app.dispatcher.pending_count() == 0


async def test_a_subscription_in_a_forum_post_gets_its_papers_there(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord, fake_oai: FakeOai
) -> None:
    forum, post = "1200000000000000010", "1200000000000000011"
    fake_discord.set_channel(forum, type=15, name="papers-forum")
    fake_discord.set_channel(post, type=11, parent_id=forum, name="Diffusion papers")
    await subscribe(discord_bot, fake_discord, post, "cat:eess.IV")
    fake_oai.announce(paper_by_id("2506.11674"))

    await app.run_cycle()

    assert footer_ids(fake_discord.channel_messages(post)) == ["2506.11674"]
    assert fake_discord.channel_messages(forum) == []
