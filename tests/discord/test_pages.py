"""Result pages in Discord: snippets through the real command tree, and the "Next"
button, with a test double of the core that answers with pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.discord import commands
from adapters.discord.adapter import DiscordAdapter
from adapters.discord.commands import NEXT_PREFIX, SHARE_PREFIX
from bot.adapter import CommandContext
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, Reply, Snippet, Subscription, Tone
from tests.discord.conftest import discord_settings
from tests.discord.payloads import CHANNEL, USER_ID, button_click, dispatch, slash, wait_for
from tests.fakes.corpus import sample_papers
from tests.fakes.discord_api import GUILD_ID, FakeDiscord, PostedMessage

FIRST = "search ti:diffusion --sort relevance --limit 2"
SECOND = FIRST + " --page 2"
THIRD = FIRST + " --page 3"
EPHEMERAL = 64
UPDATE_MESSAGE = 7
HOSTILE = "@everyone **diffusion** <@123456789012345678> ~~x~~ `y` diffusion"


def _snippet(text: str, word: str = "diffusion") -> Snippet:
    return Snippet(text, tuple((m.start(), m.end()) for m in re.finditer(word, text)))


class PagedCore:
    """A core whose searches answer pages of results with snippets and a next page."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, CommandContext]] = []
        self.delay = 0.0
        papers = sample_papers()
        self.replies = {
            FIRST: Reply(
                title="Page 1",
                papers=tuple(papers[:2]),
                snippets=(_snippet(HOSTILE), _snippet("a diffusion model")),
                more=SECOND,
            ),
            SECOND: Reply(
                title="Page 2",
                papers=tuple(papers[2:4]),
                snippets=(_snippet("denoising diffusion priors"),),
                more=THIRD,
            ),
            THIRD: Reply(title="No page 3: there are 4 results", tone=Tone.ERROR),
        }

    async def execute(self, text: str, context: CommandContext) -> Reply:
        self.calls.append((text, context))
        await asyncio.sleep(self.delay)
        return self.replies.get(text.strip(), Reply(title="unknown", tone=Tone.ERROR))

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        return []

    async def feedback(self, event: FeedbackEvent) -> bool:
        return False


@pytest.fixture
async def paged(fake_discord: FakeDiscord) -> AsyncIterator[tuple[DiscordAdapter, PagedCore]]:
    core = PagedCore()
    adapter = DiscordAdapter(core, discord_settings(fake_discord), gateway=False)
    await adapter.start()
    try:
        yield adapter, core
    finally:
        await adapter.stop()


def _description(embeds: list[dict[str, Any]]) -> str:
    return "\n".join(embed.get("description", "") for embed in embeds)


def _buttons(components: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {button["label"]: button for row in components for button in row["components"]}


async def _search(adapter: DiscordAdapter, fake: FakeDiscord) -> PostedMessage:
    token = dispatch(adapter, slash(fake, "search", query="ti:diffusion", limit=2))
    await wait_for(lambda: any(m.embeds for m in fake.webhook_messages(token)))
    return next(m for m in fake.webhook_messages(token) if m.embeds)


async def test_results_show_bold_snippets_escaped_and_a_next_button(
    paged: tuple[DiscordAdapter, PagedCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = paged
    answer = await _search(adapter, fake_discord)
    assert core.calls[0][0] == FIRST
    assert answer.ephemeral
    assert answer.allowed_mentions == {"parse": []}
    shown = _description(answer.embeds)
    assert "a **diffusion** model" in shown
    assert "@\u200beveryone \\*\\***diffusion**\\*\\* <\u200b@" in shown
    assert "@everyone" not in shown and "<@1" not in shown
    buttons = _buttons(answer.components)
    assert buttons["Share in channel"]["custom_id"].startswith(SHARE_PREFIX)
    next_id = buttons["Next"]["custom_id"]
    assert next_id.startswith(NEXT_PREFIX) and next_id.endswith(":2")
    assert len(next_id) <= 100


async def test_next_runs_the_more_command_and_edits_the_message(
    paged: tuple[DiscordAdapter, PagedCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = paged
    answer = await _search(adapter, fake_discord)
    next_id = _buttons(answer.components)["Next"]["custom_id"]

    click = dispatch(adapter, button_click(fake_discord, answer, next_id))
    await wait_for(lambda: bool(fake_discord.interaction_responses(click)))
    (edit,) = fake_discord.interaction_responses(click)
    assert edit.type == UPDATE_MESSAGE  # the list clicked is replaced by the next page
    assert edit.data["embeds"][0]["title"] == "Page 2"
    assert "denoising **diffusion** priors" in _description(edit.data["embeds"])
    assert edit.data["allowed_mentions"] == {"parse": []}
    buttons = _buttons(edit.data["components"])
    assert buttons["Next"]["custom_id"].endswith(":3")
    text, context = core.calls[-1]
    assert text == SECOND
    assert context.channel == ChannelRef("discord", GUILD_ID, CHANNEL, "papers")
    assert context.user == USER_ID
    assert context.can_manage_channel is False  # the clicker is a plain member
    assert fake_discord.webhook_messages(click) == []  # no extra message


async def test_a_slow_next_page_comes_as_a_new_private_message(
    paged: tuple[DiscordAdapter, PagedCore],
    fake_discord: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapter, core = paged
    answer = await _search(adapter, fake_discord)
    next_id = _buttons(answer.components)["Next"]["custom_id"]
    monkeypatch.setattr(commands, "EDIT_WITHIN", 0.05)
    core.delay = 0.3

    click = dispatch(adapter, button_click(fake_discord, answer, next_id))
    await wait_for(lambda: any(m.embeds for m in fake_discord.webhook_messages(click)))
    (thinking,) = fake_discord.interaction_responses(click)
    assert thinking.type == 5 and thinking.data["flags"] & EPHEMERAL
    page = next(m for m in fake_discord.webhook_messages(click) if m.embeds)
    assert page.ephemeral
    assert page.embeds[0]["title"] == "Page 2"
    assert "Next" in _buttons(page.components)


async def test_a_failed_next_page_says_why_and_keeps_the_list(
    paged: tuple[DiscordAdapter, PagedCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = paged
    answer = await _search(adapter, fake_discord)
    core.replies[SECOND] = core.replies[THIRD]
    next_id = _buttons(answer.components)["Next"]["custom_id"]
    click = dispatch(adapter, button_click(fake_discord, answer, next_id))
    await wait_for(lambda: any(m.embeds for m in fake_discord.webhook_messages(click)))
    responses = fake_discord.interaction_responses(click)
    assert [r.type for r in responses] == [5]  # no edit of the list
    error = next(m for m in fake_discord.webhook_messages(click) if m.embeds)
    assert error.ephemeral and "No page 3" in error.embeds[0]["title"]


async def test_an_expired_next_button_says_which_page_to_ask_for(
    paged: tuple[DiscordAdapter, PagedCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = paged
    answer = await _search(adapter, fake_discord)
    next_id = _buttons(answer.components)["Next"]["custom_id"]
    adapter.runner._nexts.clear()  # as after a restart, or once newer pages pushed it out
    calls = len(core.calls)
    click = dispatch(adapter, button_click(fake_discord, answer, next_id))
    await wait_for(lambda: bool(fake_discord.interaction_responses(click)))
    (expired,) = fake_discord.interaction_responses(click)
    assert expired.type == 4
    assert expired.data["flags"] & EPHEMERAL
    assert "expired" in expired.data["content"]
    assert "again with page 2" in expired.data["content"]
    assert len(core.calls) == calls  # nothing ran


async def test_the_search_command_has_a_page_option(
    paged: tuple[DiscordAdapter, PagedCore], fake_discord: FakeDiscord
) -> None:
    adapter, core = paged
    token = dispatch(adapter, slash(fake_discord, "search", query="ti:diffusion", limit=2, page=2))
    await wait_for(lambda: any(m.embeds for m in fake_discord.webhook_messages(token)))
    assert core.calls[-1][0] == SECOND
    page = next(m for m in fake_discord.webhook_messages(token) if m.embeds)
    assert page.embeds[0]["title"] == "Page 2"


async def test_the_token_map_is_bounded(
    paged: tuple[DiscordAdapter, PagedCore], monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter, _ = paged
    monkeypatch.setattr(commands, "NEXTS_KEPT", 3)
    runner = adapter.runner
    keys = [runner.remember_next(f"search x --page {n}") for n in range(2, 7)]
    assert len(runner._nexts) == 3
    assert keys[0] not in runner._nexts and keys[-1] in runner._nexts
