"""The real slack_sdk client, as the adapter configures it, against the fake Slack Web API."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.client import (
    INVITE_HINT,
    classify_error,
    error_code,
    make_web_client,
    post_with_join,
)
from bot.errors import ChannelUnavailableError, DeliveryError
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack, running_fake_slack

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "A paper"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Abstract* &lt;", "verbatim": True}},
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as running:
        yield running


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return make_web_client(
        fake.token,
        base_url=fake.url + "/api/",
        retry_interval=FixedValueRetryIntervalCalculator(0.01),
    )


async def test_auth_test_and_token(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == (
        TEAM_ID,
        BOT_USER_ID,
        BOT_ID,
    )
    [call] = fake.calls("auth.test")
    assert call.header("Authorization") == f"Bearer {fake.token}"


async def test_default_base_url_is_slack() -> None:
    assert make_web_client("xoxb-x").base_url == "https://slack.com/api/"


async def test_post_message_recorded_with_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = await post_with_join(client, channel="C1", text="A paper", blocks=BLOCKS)
    first = await post_with_join(client, channel="C1", text="reply", thread_ts=ts)

    [message, reply] = fake.messages("C1")
    assert message.ts == ts and first == reply.ts and ts != first
    assert message.blocks == BLOCKS
    assert message.text == "A paper"
    assert reply.thread_ts == ts
    assert fake.messages("C2") == []


async def test_post_ephemeral_and_response_url(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert answer["message_ts"]
    [ephemeral] = fake.ephemerals("C1")
    assert (ephemeral.user, ephemeral.text) == ("U1", "only you")

    webhook = AsyncWebhookClient(fake.response_url("tok"))
    result = await webhook.send(text="done", response_type="in_channel")
    assert result.status_code == 200
    assert fake.responses("tok") == [{"text": "done", "response_type": "in_channel"}]


async def test_wrong_token_is_unavailable(fake: FakeSlack) -> None:
    wrong = make_web_client("xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as caught:
        await wrong.chat_postMessage(channel="C1", text="x")
    assert error_code(caught.value) == "invalid_auth"
    mapped = classify_error(caught.value)
    assert isinstance(mapped, ChannelUnavailableError)
    assert "token" in mapped.reason


async def test_rate_limit_waits_retry_after_and_posts_once(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=1)

    await post_with_join(client, channel="C1", text="hello")

    limited, accepted = fake.calls("chat.postMessage")
    assert (limited.status, limited.error) == (429, "ratelimited")
    assert accepted.ok
    assert accepted.time - limited.time >= 1.0
    assert len(fake.messages("C1")) == 1


async def test_server_error_is_retried(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.server_error_next("chat.postMessage", status=503)
    fake.server_error_next("chat.postMessage", status=500)

    await post_with_join(client, channel="C1", text="hello")

    assert [c.status for c in fake.calls("chat.postMessage")] == [503, 500, 200]
    assert len(fake.messages()) == 1


async def test_persistent_server_error_is_a_delivery_error(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.server_error_next("chat.postMessage", status=503, times=10)

    with pytest.raises(DeliveryError) as caught:
        await post_with_join(client, channel="C1", text="hello")

    assert not isinstance(caught.value, ChannelUnavailableError)
    assert "503" in str(caught.value)
    assert len(fake.calls("chat.postMessage")) == 4  # the first try and 3 retries
    assert fake.messages() == []


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("channel_not_found", "deleted"),
        ("is_archived", "archived"),
        ("invalid_auth", "token"),
        ("account_inactive", "reinstall"),
    ],
)
async def test_unavailable_errors(
    fake: FakeSlack, client: AsyncWebClient, error: str, words: str
) -> None:
    fake.fail_next("chat.postMessage", error)

    with pytest.raises(ChannelUnavailableError) as caught:
        await post_with_join(client, channel="C1", text="hello")

    reason = caught.value.reason
    assert words in reason
    assert "_" not in reason.split("(")[0], "the reason is written for people"
    assert fake.messages() == []
    assert fake.calls("conversations.join") == []


async def test_other_errors_are_delivery_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", "msg_too_long")

    with pytest.raises(DeliveryError) as caught:
        await post_with_join(client, channel="C1", text="hello")

    assert type(caught.value) is DeliveryError
    assert "msg_too_long" in str(caught.value)


async def test_not_in_channel_joins_and_posts(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.set_channel("C1", member=False)

    ts = await post_with_join(client, channel="C1", text="hello")

    assert [c.method for c in fake.all_calls] == [
        "chat.postMessage",
        "conversations.join",
        "chat.postMessage",
    ]
    assert fake.calls("chat.postMessage")[0].error == "not_in_channel"
    assert fake.is_member("C1")
    assert [m.ts for m in fake.messages("C1")] == [ts]


async def test_private_channel_join_failure_gives_invite_hint(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.set_channel("G1", private=True, member=False)

    with pytest.raises(ChannelUnavailableError) as caught:
        await post_with_join(client, channel="G1", text="hello")

    assert caught.value.reason == INVITE_HINT
    assert "/invite @arxiv-bot" in caught.value.reason
    [join] = fake.calls("conversations.join")
    assert join.error == "method_not_supported_for_channel_type"
    assert len(fake.calls("chat.postMessage")) == 1
    assert fake.messages() == []


async def test_scripted_join_failure_channel_not_found(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", "not_in_channel")
    fake.fail_next("conversations.join", "channel_not_found")

    with pytest.raises(ChannelUnavailableError) as caught:
        await post_with_join(client, channel="C9", text="hello")

    assert caught.value.reason == INVITE_HINT


async def test_burst_under_rate_limits_arrives_exactly_once(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channels = ["C1", "C2", "C3"]
    for channel in channels:
        # Slack limits per channel; at most 2 refusals each stays within 3 retries.
        fake.rate_limit_next("chat.postMessage", retry_after=0, times=2, channel=channel)
    texts = [f"paper {i}" for i in range(20)]

    timestamps = await asyncio.gather(
        *(
            post_with_join(client, channel=channels[i % 3], text=text)
            for i, text in enumerate(texts)
        )
    )

    assert len(set(timestamps)) == 20
    assert Counter(m.text for m in fake.messages()) == Counter(texts)
    for i, text in enumerate(texts):
        assert [m.text for m in fake.messages(channels[i % 3])].count(text) == 1
    statuses = Counter(c.status for c in fake.calls("chat.postMessage"))
    assert statuses == {200: 20, 429: 6}
