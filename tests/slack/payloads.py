"""Requests as Slack sends them to the bot: signed slash commands and button clicks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from adapters.slack.adapter import SlackAdapter
from adapters.slack.settings import SlackSettings
from bot.app import BotApp
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID, FakeSlack

__all__ = [
    "SIGNING_SECRET",
    "action_body",
    "command_body",
    "dispatch",
    "signed_headers",
    "slack_adapter",
    "slack_settings",
    "wait_for",
]

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    """HTTP-mode settings pointing at ``fake``, on a free port, with no pacing."""
    values: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_url": fake.api_url,
        "host": "127.0.0.1",
        "port": 0,
        "post_interval": 0,
    }
    values.update(overrides)
    return SlackSettings(_env_file=None, **values)  # type: ignore[call-arg]


def slack_adapter(app: BotApp, settings: SlackSettings, **options: Any) -> SlackAdapter:
    """The adapter for ``app``, keeping OAuth installs in the app's database."""
    return SlackAdapter(app, settings, database=app.settings.database_target, **options)


def command_body(
    fake: FakeSlack,
    text: str,
    *,
    token: str = "r1",
    channel: str = "C0LAB",
    channel_name: str = "lab",
    team: str = TEAM_ID,
    user: str = "U0ADA",
) -> str:
    """A ``/arxiv`` slash-command body, form-encoded as Slack posts it; the answer goes
    to ``fake.response_url(token)``."""
    payload = fake.slash_command_payload(
        text, channel_id=channel, team_id=team, user_id=user, response_token=token
    )
    return urlencode({**payload, "channel_name": channel_name})


def action_body(fake: FakeSlack, action_id: str, *, token: str = "r1", value: str = "") -> str:
    """A ``block_actions`` body (a button click in the bot's reply in #lab), form-encoded."""
    payload = fake.block_actions_payload(
        action_id, value, channel_id="C0LAB", user_id="U0ADA", response_token=token
    )
    return urlencode({"payload": json.dumps(payload)})


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's signature headers for ``body`` (HMAC-SHA256 of ``v0:timestamp:body``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }


async def dispatch(adapter: SlackAdapter, body: str) -> BoltResponse:
    """Run a signed request through the adapter's bolt app, as its HTTP server would."""
    assert adapter.app is not None
    headers: dict[str, str | Sequence[str]] = dict(signed_headers(body))
    request = AsyncBoltRequest(body=body, headers=headers)
    return await adapter.app.async_dispatch(request)


async def wait_for(condition: Callable[[], bool]) -> None:
    """Wait (at most 5 s) until ``condition()`` holds: a listener's work goes on after
    the ack."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (state the fake server records)
            await asyncio.sleep(0.005)
