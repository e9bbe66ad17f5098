"""What the command handlers say when the store refuses a change (the store gives data,
the handlers write the words)."""

from __future__ import annotations

from dataclasses import replace

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.models import ChannelRef, Tone
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai

HERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))
ELSEWHERE = CommandContext(ChannelRef("console", "local", "other", "other"))


async def test_a_duplicate_subscription_names_the_existing_one(app: BotApp) -> None:
    first = await app.execute("/arxiv subscribe cat:eess.IV", HERE)
    assert first.tone is Tone.SUCCESS
    again = await app.execute("/arxiv subscribe cat:eess.IV", HERE)
    assert again.tone is Tone.ERROR
    assert again.title == (
        "This channel is already subscribed to that query as #1. "
        "/arxiv list shows this channel's subscriptions."
    )


async def test_the_subscription_limit_says_what_to_do(settings: Settings) -> None:
    async with BotApp(replace_settings(settings, max_subscriptions_per_channel=2)) as app:
        for query in ("cat:cs.LG", "cat:cs.CV"):
            assert (await app.execute(f"/arxiv subscribe {query}", HERE)).tone is Tone.SUCCESS
        refused = await app.execute("/arxiv subscribe cat:cs.CL", HERE)
        assert refused.tone is Tone.ERROR
        assert refused.title == (
            "This channel already has 2 subscriptions, the most allowed. "
            "Remove one with /arxiv unsubscribe <id> (see /arxiv list), "
            "or combine queries with OR in one subscription."
        )
        assert len(await app.store.list_subscriptions(1)) == 2


async def test_a_lowered_limit_reports_the_actual_count(settings: Settings) -> None:
    async with BotApp(settings) as app:
        for query in ("cat:cs.LG", "cat:cs.CV", "cat:cs.CL"):
            await app.execute(f"/arxiv subscribe {query}", HERE)
    async with BotApp(replace_settings(settings, max_subscriptions_per_channel=2)) as app:
        refused = await app.execute("/arxiv subscribe cat:cs.AI", HERE)
        assert refused.title.startswith(
            "This channel already has 3 subscriptions, and the most allowed is 2."
        )


async def test_another_channels_subscription_is_not_found_here(app: BotApp) -> None:
    await app.execute("/arxiv subscribe cat:eess.IV", ELSEWHERE)
    reply = await app.execute("/arxiv unsubscribe 1", HERE)
    assert reply.tone is Tone.ERROR
    assert reply.title == (
        "No subscription #1 in this channel. /arxiv list shows this channel's subscriptions."
    )
    assert len(await app.channel_subscriptions(ELSEWHERE.channel)) == 1


def replace_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


async def test_a_channel_sets_how_many_full_cards_its_digests_carry(app: BotApp) -> None:
    reply = await app.execute("/arxiv mode digest --cards 3", HERE)
    assert reply.tone is Tone.SUCCESS
    assert reply.title == "This channel's mode is now digest."
    assert "full cards for the first 3 papers" in " ".join(reply.lines)
    channel = await app.store.get_channel(await app.store.ensure_channel(HERE.channel))
    assert channel.digest_cards == 3

    assert "with no full cards" in " ".join(
        (await app.execute("/arxiv mode --cards 0", HERE)).lines
    )
    shown = await app.execute("/arxiv mode", HERE)
    assert shown.title == "This channel's mode is digest."
    for bad in ("--cards 101", "--cards -1", "--cards many"):
        refused = await app.execute(f"/arxiv mode digest {bad}", HERE)
        assert refused.tone is Tone.ERROR and "--cards must be" in refused.title, bad
    assert (await app.store.get_channel(channel.id)).digest_cards == 0


async def test_queries_are_shown_as_typed_and_compared_canonically(
    app: BotApp, fake_oai: FakeOai
) -> None:
    subscribed = await app.execute('/arxiv subscribe au:Müller AND ti:"Medical  Imaging"', HERE)
    assert subscribed.title == 'Subscribed this channel to #1: au:Müller AND ti:"Medical Imaging"'
    listed = await app.execute("/arxiv list", HERE)
    assert listed.lines[0].startswith('#1  au:Müller AND ti:"Medical Imaging"  (since ')
    # The same query in other case and spacing is the same subscription.
    again = await app.execute('/arxiv subscribe AU:müller  AND (ti:"medical imaging")', HERE)
    assert again.tone is Tone.ERROR
    assert "already subscribed to that query as #1" in again.title
    preview = await app.execute("/arxiv preview au:Müller", HERE)
    assert preview.title == "Preview of au:Müller"
    # It still matches as before: the stored text is parsed again for matching.
    fake_oai.announce(
        replace(paper_by_id("2506.11674"), title="Medical imaging at scale", authors=("L. Müller",))
    )
    await app.run_cycle()
    assert await app.store.fetchone("SELECT 1 FROM deliveries WHERE arxiv_id = '2506.11674'")
    removed = await app.execute("/arxiv unsubscribe 1", HERE)
    assert removed.title == 'Removed subscription #1: au:Müller AND ti:"Medical Imaging"'


async def test_search_replies_echo_the_query_as_typed(app: BotApp) -> None:
    reply = await app.execute("/arxiv search TI:Segmentation", HERE)
    assert reply.title.endswith("match TI:Segmentation")
