"""``/arxiv export`` in Discord attaches the file to the interaction's answer (multipart,
through discord.py's real HTTP client to the fake); a card's "Cite" button answers with
the paper's BibTeX."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bibtexparser.entrypoint import parse_string

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.render import CITE_PREFIX
from bot.app import BotApp
from bot.models import ChannelRef
from bot.render import make_post
from tests.conftest import send_plan
from tests.discord.payloads import CHANNEL, button_click, dispatch, slash, wait_for
from tests.discord.test_commands import answers, text_of
from tests.export_data import seed_channel, topic_papers
from tests.fakes.corpus import paper_by_id
from tests.fakes.discord_api import GUILD_ID, FakeDiscord

LAB = ChannelRef(platform="discord", workspace=GUILD_ID, channel=CHANNEL)
PAPER = "2506.11674"


async def test_export_is_attached_to_the_answer(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    papers = topic_papers("quantum physics", 5, datetime(2025, 6, 9, tzinfo=UTC), 10000)
    await seed_channel(app.store, LAB, {"cat:quant-ph": papers})
    token = dispatch(discord_bot, slash(fake_discord, "export", format="bibtex"))
    (answer,) = await answers(fake_discord, token)
    assert answer.ephemeral and "Export of 5 papers" in text_of(answer)
    (call,) = [c for c in fake_discord.calls() if c.files and token in c.path]
    assert call.multipart
    (name,) = call.files
    assert name.startswith("arxiv-") and name.endswith(".bib")
    assert [a["filename"] for a in call.json["attachments"]] == [name]
    library = parse_string(call.file_contents[name].decode())
    assert sorted(e["eprint"] for e in library.entries) == sorted(p.arxiv_id for p in papers)


async def test_export_json_with_bad_date_is_refused(
    discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    token = dispatch(discord_bot, slash(fake_discord, "export", format="json", since="June"))
    (answer,) = await answers(fake_discord, token)
    assert "--since must be a day as YYYY-MM-DD" in text_of(answer)
    assert not [c for c in fake_discord.calls() if c.files]


async def test_cite_button_answers_with_the_bibtex(
    app: BotApp, discord_bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    await app.store.upsert_papers([paper_by_id(PAPER)])
    await send_plan(discord_bot, LAB, make_post(paper_by_id(PAPER)))
    (card,) = [m for m in fake_discord.channel_messages(CHANNEL) if m.components]
    ids = [b.get("custom_id") for row in card.components for b in row["components"]]
    assert CITE_PREFIX + PAPER in ids
    token = dispatch(discord_bot, button_click(fake_discord, card, CITE_PREFIX + PAPER))
    await wait_for(
        lambda: any("@misc{" in text_of(m) for m in fake_discord.webhook_messages(token))
    )
    (answer,) = [m for m in fake_discord.webhook_messages(token) if "@misc{" in text_of(m)]
    assert answer.ephemeral
    assert "eprint={2506.11674}" in json.dumps(answer.payload)
