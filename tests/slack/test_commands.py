"""``/arxiv`` in Slack: signed requests through the real bolt app, answers to response_url."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from adapters.slack.adapter import SlackAdapter
from adapters.slack.render import SHARE_ACTION
from bot.app import BotApp
from bot.models import ChannelRef
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.slack.checks import assert_payload_escaped, check_payload
from tests.slack.payloads import (
    action_body,
    command_body,
    dispatch,
    signed_headers,
    wait_for,
)

LAB = ChannelRef(platform="slack", workspace=TEAM_ID, channel="C0LAB", name="lab")


async def run_command(
    slack: SlackAdapter, fake: FakeSlack, text: str, *, token: str = "r1", **where: str
) -> tuple[Any, dict[str, Any]]:
    """Dispatch ``/arxiv text``; return the ack's body and the answer sent to response_url."""
    before = len(fake.responses(token))
    body = command_body(fake, text, token=token, **where)
    response = await dispatch(slack, body)
    assert response.status == 200, response.body
    await wait_for(lambda: len(fake.responses(token)) > before)
    ack = json.loads(response.body) if response.body else None
    return ack, fake.responses(token)[-1]


def _texts(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + str(payload.get("text"))


def _buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in payload.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def test_help_is_acked_at_once_and_answered_privately(
    slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    ack, answer = await run_command(slack, fake_slack, "help")
    assert ack is None  # a plain ack: the answer follows at once
    assert answer["response_type"] == "ephemeral"
    assert "subscribe" in _texts(answer)
    check_payload(answer)


async def test_search_shows_a_working_note_then_private_results_to_share(
    slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    ack, answer = await run_command(slack, fake_slack, "search ti:segmentation --limit 3")
    assert ack["response_type"] == "ephemeral"
    assert "Working on `search ti:segmentation --limit 3`" in ack["text"]
    assert answer["response_type"] == "ephemeral"
    assert "Medical Image Segmentation" in _texts(answer)
    check_payload(answer)
    (share,) = [b for b in _buttons(answer) if b["action_id"] == SHARE_ACTION]
    assert share["value"] == "search ti:segmentation --limit 3"


async def test_share_button_posts_the_results_to_the_channel(
    slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    await run_command(slack, fake_slack, "search ti:segmentation --limit 3")
    body = action_body(
        fake_slack, SHARE_ACTION, value="search ti:segmentation --limit 3", token="share"
    )
    response = await dispatch(slack, body)
    assert response.status == 200
    await wait_for(lambda: bool(fake_slack.responses("share")))
    (shared,) = fake_slack.responses("share")
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    assert "Medical Image Segmentation" in _texts(shared)
    assert "Shared by tester" in _texts(shared)
    assert not [b for b in _buttons(shared) if b["action_id"] == SHARE_ACTION]
    check_payload(shared)


async def test_link_buttons_are_acknowledged(slack: SlackAdapter, fake_slack: FakeSlack) -> None:
    for action in ("arxiv_open_abs", "arxiv_open_pdf", "arxiv_open_code_1"):
        body = action_body(fake_slack, action, token="links")
        response = await dispatch(slack, body)
        assert response.status == 200, action  # bolt answers 404 to unhandled actions
    assert fake_slack.responses("links") == []


async def test_subscribe_is_announced_to_the_channel_it_was_typed_in(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    ack, answer = await run_command(slack, fake_slack, 'subscribe ti:"medical imaging"')
    assert "Working on" in ack["text"]
    assert answer["response_type"] == "in_channel"
    assert "Subscribed this channel to #1" in _texts(answer)
    channel_id = await app.store.ensure_channel(LAB)
    (subscription,) = await app.store.list_subscriptions(channel_id)
    assert subscription.query == 'ti:"medical imaging"'

    _, listed = await run_command(slack, fake_slack, "list", channel="C0OTHER")
    assert "no subscriptions" in _texts(listed)  # another channel, its own list

    _, removed = await run_command(slack, fake_slack, "unsubscribe 1")
    assert removed["response_type"] == "in_channel"
    _, mode = await run_command(slack, fake_slack, "mode digest")
    assert mode["response_type"] == "in_channel"


async def test_errors_are_private_specific_and_escaped(
    slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    _, answer = await run_command(slack, fake_slack, "subscribe ti:(<!channel> AND")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(":warning:")
    assert_payload_escaped(answer)
    assert "&lt;!channel&gt;" in _texts(answer)

    _, unknown = await run_command(slack, fake_slack, "frobnicate <@U123>")
    assert unknown["response_type"] == "ephemeral"
    assert "frobnicate" in _texts(unknown)
    assert_payload_escaped(unknown)


async def test_signatures_are_checked_over_http(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    assert slack.http_port
    url = f"http://127.0.0.1:{slack.http_port}/slack/events"
    body = command_body(fake_slack, "subscribe cat:cs.CV", token="http")
    stale = int(time.time()) - 6 * 60
    async with aiohttp.ClientSession() as session:
        forged = signed_headers(body, secret="not-the-secret")
        async with session.post(url, data=body, headers=forged) as response:
            assert response.status == 401
        old = signed_headers(body, timestamp=stale)
        async with session.post(url, data=body, headers=old) as response:
            assert response.status == 401
        unsigned = {"content-type": "application/x-www-form-urlencoded"}
        async with session.post(url, data=body, headers=unsigned) as response:
            assert response.status == 401
        assert await app.store.all_subscriptions() == []  # nothing ran

        async with session.post(url, data=body, headers=signed_headers(body)) as response:
            assert response.status == 200
            assert "Working on" in (await response.json())["text"]
    await wait_for(lambda: bool(fake_slack.responses("http")))
    assert "Subscribed this channel" in _texts(fake_slack.responses("http")[0])


async def test_subscribing_joins_a_public_channel_and_explains_a_private_one(
    slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    fake_slack.set_channel("C0PUBLIC", member=False)
    fake_slack.set_channel("C0SECRET", private=True, member=False)
    _, answer = await run_command(slack, fake_slack, "subscribe cat:cs.CV", channel="C0PUBLIC")
    assert answer["response_type"] == "in_channel"
    await wait_for(lambda: fake_slack.is_member("C0PUBLIC"))

    body = command_body(fake_slack, "subscribe cat:cs.CV", token="secret", channel="C0SECRET")
    await dispatch(slack, body)
    await wait_for(lambda: len(fake_slack.responses("secret")) == 2)
    subscribed, hint = fake_slack.responses("secret")
    assert subscribed["response_type"] == "in_channel"
    assert hint["response_type"] == "ephemeral"
    assert "/invite @arxiv-bot" in hint["text"]
    assert not fake_slack.is_member("C0SECRET")


async def test_a_slow_search_is_acknowledged_before_arxiv_answers(
    slack: SlackAdapter, fake_slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.delay_next(0.5)  # arXiv takes its time; Slack allows 3 seconds
    body = command_body(fake_slack, "search ti:segmentation --limit 2", token="slow")
    response = await dispatch(slack, body)
    assert "Working on" in json.loads(response.body)["text"]
    assert fake_slack.responses("slow") == []  # acknowledged first, results still coming
    await wait_for(lambda: bool(fake_slack.responses("slow")))
    assert "Segmentation" in _texts(fake_slack.responses("slow")[0])
