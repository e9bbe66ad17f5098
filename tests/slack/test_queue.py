"""A Slack search queued behind others for arXiv: "Working on …" is replaced by where it
stands, and the answer follows."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slack.adapter import SlackAdapter
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.models import ChannelRef
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.slack_api import FakeSlack
from tests.slack.payloads import command_body, dispatch, wait_for

ELSEWHERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"arxiv_request_interval": 0.2})


async def test_a_queued_search_hears_its_place_then_its_answer(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.delay_next(0.3, times=100)
    ahead = [
        asyncio.ensure_future(app.execute(f"/arxiv search all:a{n}", ELSEWHERE)) for n in range(3)
    ]
    await asyncio.sleep(0.05)
    body = command_body(fake_slack, "search ti:segmentation --limit 2", token="queued")
    await dispatch(slack, body)
    await wait_for(
        lambda: any(r.get("replace_original") is False for r in fake_slack.responses("queued"))
    )

    note, *_, answer = fake_slack.responses("queued")
    assert note["replace_original"] is True and note["response_type"] == "ephemeral"
    assert "3 searches ahead of yours, about" in note["text"]
    assert answer.get("replace_original") is False and "Segmentation" in str(answer)
    await asyncio.gather(*ahead)
