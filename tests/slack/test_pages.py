"""Result pages in Slack: snippets through the real bolt app, and the "Next" button,
with a test double of the core that answers with pages (no search engine needed)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.render import _LOOKALIKES, NEXT_ACTION, SHARE_ACTION
from bot.adapter import CommandContext
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, Reply, Snippet, Subscription, Tone
from tests.fakes.corpus import sample_papers
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.slack.checks import assert_payload_escaped, check_payload
from tests.slack.payloads import action_body, command_body, dispatch, slack_settings, wait_for

FIRST = "search ti:diffusion --limit 2"
SECOND = "search ti:diffusion --limit 2 --page 2"
THIRD = "search ti:diffusion --limit 2 --page 3"
HOSTILE = "<!channel> *diffusion* & <@U123> `x` ~y~ _z_ diffusion"


def _snippet(text: str, word: str = "diffusion") -> Snippet:
    marks = tuple((m.start(), m.end()) for m in re.finditer(word, text))
    return Snippet(text, marks)


class PagedCore:
    """A core whose searches answer pages of results with snippets and a next page."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, CommandContext]] = []
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
        return self.replies.get(text.strip(), Reply(title="unknown", tone=Tone.ERROR))

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        return []

    async def feedback(self, event: FeedbackEvent) -> bool:
        return False


@pytest.fixture
async def paged(
    fake_slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[tuple[SlackAdapter, PagedCore]]:
    core = PagedCore()
    adapter = SlackAdapter(core, slack_settings(fake_slack), database=tmp_path / "s.db")
    await adapter.start()
    try:
        yield adapter, core
    finally:
        await adapter.stop()


def _texts(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False)


def _buttons(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in payload.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    }


async def _search(adapter: SlackAdapter, fake: FakeSlack) -> dict[str, Any]:
    await dispatch(adapter, command_body(fake, FIRST, token="first"))
    await wait_for(lambda: bool(fake.responses("first")))
    return fake.responses("first")[-1]


async def test_results_show_bold_snippets_escaped_and_a_next_button(
    paged: tuple[SlackAdapter, PagedCore], fake_slack: FakeSlack
) -> None:
    adapter, _ = paged
    answer = await _search(adapter, fake_slack)
    check_payload(answer)
    assert_payload_escaped(answer)
    shown = _texts(answer)
    assert "a *diffusion* model" in shown
    star, tick, tilde, low = (_LOOKALIKES[c] for c in "*`~_")
    assert (
        f"&lt;!channel&gt; {star}*diffusion*{star} &amp; &lt;@U123&gt; "
        f"{tick}x{tick} {tilde}y{tilde} {low}z{low} *diffusion*"
    ) in shown
    buttons = _buttons(answer)
    assert buttons[NEXT_ACTION]["value"] == SECOND
    assert buttons[SHARE_ACTION]["value"] == FIRST


async def test_next_runs_the_more_command_for_the_clicker_and_replaces_the_list(
    paged: tuple[SlackAdapter, PagedCore], fake_slack: FakeSlack
) -> None:
    adapter, core = paged
    await _search(adapter, fake_slack)
    response = await dispatch(
        adapter, action_body(fake_slack, NEXT_ACTION, value=SECOND, token="next")
    )
    assert response.status == 200  # acknowledged (bolt answers 404 to unhandled actions)
    await wait_for(lambda: bool(fake_slack.responses("next")))
    (page,) = fake_slack.responses("next")
    assert page["replace_original"] is True
    assert page["response_type"] == "ephemeral"
    assert "Page 2" in _texts(page)
    assert "denoising *diffusion* priors" in _texts(page)
    check_payload(page)
    buttons = _buttons(page)
    assert buttons[NEXT_ACTION]["value"] == THIRD
    assert buttons[SHARE_ACTION]["value"] == SECOND  # sharing shares the page shown
    text, context = core.calls[-1]
    assert text == SECOND
    assert context.channel == ChannelRef("slack", TEAM_ID, "C0LAB", "papers")
    assert context.user == "U0ADA"


async def test_a_failed_next_page_leaves_the_list_and_says_why(
    paged: tuple[SlackAdapter, PagedCore], fake_slack: FakeSlack
) -> None:
    adapter, core = paged
    await dispatch(adapter, action_body(fake_slack, NEXT_ACTION, value=THIRD, token="past"))
    await wait_for(lambda: bool(fake_slack.responses("past")))
    (answer,) = fake_slack.responses("past")
    assert answer["replace_original"] is False
    assert "No page 3" in _texts(answer)
    assert NEXT_ACTION not in _buttons(answer)
    assert core.calls[-1][0] == THIRD


async def test_the_command_line_shows_no_next_button_without_a_next_page(
    paged: tuple[SlackAdapter, PagedCore], fake_slack: FakeSlack
) -> None:
    adapter, core = paged
    core.replies[FIRST] = Reply(title="Page 1", papers=tuple(sample_papers()[:1]))
    answer = await _search(adapter, fake_slack)
    assert NEXT_ACTION not in _buttons(answer)
    assert SHARE_ACTION in _buttons(answer)
