"""Feedback from Slack: reactions (Events API, over HTTP and Socket Mode) and the card's
buttons, on paper cards a real cycle posted to the fake Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.adapter import SlackAdapter
from bot.app import BotApp
from bot.config import Settings
from tests.conftest import running
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai
from tests.fakes.slack_api import APP_TOKEN, BOT_USER_ID, FakeSlack, PostedMessage
from tests.slack.payloads import (
    command_body,
    dispatch,
    signed_headers,
    slack_adapter,
    slack_settings,
    wait_for,
)

PAPER = "2506.11674"
OTHER = "2506.10231"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"digest_cap": 100})


async def rows(app: BotApp) -> list[tuple[str, str, str, str, int]]:
    found = await app.store.fetchall(
        "SELECT arxiv_id, user, source, emoji, signal FROM feedback ORDER BY arxiv_id, user, emoji"
    )
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in found]


async def post_cards(
    app: BotApp, slack: SlackAdapter, fake: FakeSlack, fake_oai: FakeOai
) -> dict[str, PostedMessage]:
    """Subscribe #lab (each mode) and post two paper cards; the cards by arXiv id."""
    body = command_body(fake, "subscribe cat:eess.IV", token="sub", channel="C0LAB")
    assert (await dispatch(slack, body)).status == 200
    await wait_for(lambda: bool(fake.responses("sub")))
    fake_oai.announce(paper_by_id(PAPER), paper_by_id(OTHER))
    await app.run_cycle()
    cards = {
        arxiv_id: message
        for message in fake.messages("C0LAB")
        if message.thread_ts is None
        for arxiv_id in (PAPER, OTHER)
        if arxiv_id in (message.text or "")
    }
    assert set(cards) == {PAPER, OTHER}
    return cards


async def send_event(slack: SlackAdapter, payload: dict[str, Any]) -> int:
    """POST an Events API body, signed, through the adapter's bolt app; the HTTP status."""
    assert slack.app is not None
    body = json.dumps(payload)
    headers: dict[str, str | Sequence[str]] = {
        **signed_headers(body),
        "content-type": "application/json",
    }
    response = await slack.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
    return response.status


async def top_text(slack: SlackAdapter, fake: FakeSlack, token: str) -> str:
    body = command_body(fake, "top week", token=token, channel="C0LAB")
    await dispatch(slack, body)
    await wait_for(lambda: bool(fake.responses(token)))
    return str(fake.responses(token)[-1])


async def test_a_reaction_on_a_card_counts_and_its_removal_undoes_it(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    cards = await post_cards(app, slack, fake_slack, fake_oai)
    ts = cards[PAPER].ts
    added = fake_slack.reaction_event_payload(
        "+1::skin-tone-3", message_ts=ts, user_id="U0ADA", channel_id="C0LAB"
    )
    assert await send_event(slack, added) == 200
    await wait_for_rows(app, 1)
    assert await rows(app) == [(PAPER, "U0ADA", "reaction", "+1", 1)]
    assert PAPER in await top_text(slack, fake_slack, "top-1")

    removed = fake_slack.reaction_event_payload(
        "+1::skin-tone-3", message_ts=ts, user_id="U0ADA", channel_id="C0LAB", added=False
    )
    assert await send_event(slack, removed) == 200
    await wait_for_rows(app, 0)
    assert await rows(app) == []
    assert PAPER not in await top_text(slack, fake_slack, "top-2")


async def wait_for_rows(app: BotApp, count: int) -> None:
    """Wait (at most 5 s) until the feedback table has ``count`` rows: event listeners
    run after the ack."""
    async with asyncio.timeout(5):
        while len(await rows(app)) != count:  # noqa: ASYNC110 (rows the listener writes)
            await asyncio.sleep(0.01)


async def test_the_bots_own_reactions_and_odd_events_are_ignored(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    cards = await post_cards(app, slack, fake_slack, fake_oai)
    ts = cards[PAPER].ts
    ignored = [
        fake_slack.reaction_event_payload(
            "+1", message_ts=ts, user_id=BOT_USER_ID, channel_id="C0LAB"
        ),
        fake_slack.reaction_event_payload("+1", message_ts="1.000001", channel_id="C0LAB"),
        fake_slack.reaction_event_payload("+1", message_ts=ts, channel_id="C0ELSEWHERE"),
        fake_slack.reaction_event_payload("+1", message_ts=ts, item_type="file"),
        fake_slack.reaction_event_payload("sleeping", message_ts=ts, channel_id="C0LAB"),
        {
            **fake_slack.reaction_event_payload("+1", message_ts=ts),
            "event": {"type": "reaction_added", "user": ["U0ADA"], "reaction": None, "item": "?"},
        },
    ]
    for payload in ignored:
        assert await send_event(slack, payload) == 200
    # A counted one after them: once it is in, the ignored ones were handled before it.
    counted = fake_slack.reaction_event_payload(
        "heart", message_ts=cards[OTHER].ts, user_id="U0BEA", channel_id="C0LAB"
    )
    assert await send_event(slack, counted) == 200
    await wait_for_rows(app, 1)
    await asyncio.sleep(0.2)  # any listener still running had its chance to write
    assert await rows(app) == [(OTHER, "U0BEA", "reaction", "heart", 1)]


async def test_feedback_buttons_record_and_confirm_privately(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    cards = await post_cards(app, slack, fake_slack, fake_oai)
    card = cards[PAPER]
    assert card.blocks is not None
    actions = card.blocks[-1]["elements"]
    assert [b["action_id"] for b in actions[-3:]] == [
        "arxiv_feedback_up",
        "arxiv_feedback_down",
        "arxiv_cite",
    ]

    async def click(action_id: str, token: str, ts: str) -> dict[str, Any]:
        payload = fake_slack.block_actions_payload(
            action_id,
            channel_id="C0LAB",
            user_id="U0ADA",
            message_ts=ts,
            response_token=token,
        )
        body = "payload=" + quote(json.dumps(payload))
        assert (await dispatch(slack, body)).status == 200
        await wait_for(lambda: bool(fake_slack.responses(token)))
        (answer,) = fake_slack.responses(token)
        return answer

    answer = await click("arxiv_feedback_up", "up", card.ts)
    assert answer["text"] == "Noted: relevant"
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert await rows(app) == [(PAPER, "U0ADA", "button", "+1", 1)]

    answer = await click("arxiv_feedback_down", "down", card.ts)
    assert answer["text"] == "Noted: not for us"
    assert await rows(app) == [(PAPER, "U0ADA", "button", "-1", -1)]  # the last press wins

    answer = await click("arxiv_feedback_up", "unknown", "1.000001")
    assert "no longer takes feedback" in answer["text"]
    assert await rows(app) == [(PAPER, "U0ADA", "button", "-1", -1)]


async def test_socket_mode_acks_reaction_events_and_records_them(
    app: BotApp, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    settings = slack_settings(fake_slack, app_token=APP_TOKEN, signing_secret="")
    async with running(app, slack_adapter(app, settings)):
        await fake_slack.wait_socket_connected()
        payload = fake_slack.slash_command_payload(
            "subscribe cat:eess.IV", channel_id="C0LAB", response_token="sub"
        )
        await fake_slack.send_envelope("slash_commands", payload)
        await wait_for(lambda: bool(fake_slack.responses("sub")))
        fake_oai.announce(paper_by_id(PAPER))
        await app.run_cycle()
        (card,) = [m for m in fake_slack.messages("C0LAB") if m.thread_ts is None]
        event = fake_slack.reaction_event_payload(
            "fire", message_ts=card.ts, user_id="U0ADA", channel_id="C0LAB"
        )
        ack = await fake_slack.send_envelope("events_api", event)
        assert "envelope_id" in ack and "payload" not in ack
        await wait_for_rows(app, 1)
        assert await rows(app) == [(PAPER, "U0ADA", "reaction", "fire", 1)]
