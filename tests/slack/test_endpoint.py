"""The HTTP endpoint's guard, over real HTTP against a running adapter in HTTP mode:
malformed and unsigned requests get 400 or 401 and one log line, a replay runs once."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
from adapters.slack.endpoint import MAX_BODY_BYTES, RecentRequests
from bot.app import BotApp
from tests.fakes.slack_api import FakeSlack
from tests.slack.payloads import command_body, signed_headers, wait_for

FORM = "application/x-www-form-urlencoded"


def _signed(body: str, **headers: str) -> dict[str, str]:
    """Valid signature headers for ``body``, with ``headers`` changed or added."""
    return {**signed_headers(body), **headers}


def _now() -> str:
    return str(int(time.time()))


_ZEROS = "v0=" + "0" * 64
_CASES: dict[str, tuple[bytes, dict[str, str], int, str]] = {
    "no signature headers": (b"text=help", {"content-type": FORM}, 401, "not signed"),
    "no signature": (
        b"text=help",
        {"content-type": FORM, "x-slack-request-timestamp": _now()},
        401,
        "not signed",
    ),
    "a timestamp that is not a number": (
        b"text=help",
        _signed("text=help", **{"x-slack-request-timestamp": "yesterday"}),
        400,
        "not a Unix time",
    ),
    "a timestamp far too large": (
        b"text=help",
        _signed("text=help", **{"x-slack-request-timestamp": "9" * 40}),
        400,
        "not a Unix time",
    ),
    "a signature in another scheme": (
        b"text=help",
        {"content-type": FORM, "x-slack-request-timestamp": _now(), "x-slack-signature": "v1=ab"},
        401,
        "not a v0 signature",
    ),
    "a stale timestamp": (
        b"text=help",
        {
            "content-type": FORM,
            "x-slack-request-timestamp": str(int(time.time()) - 600),
            "x-slack-signature": _ZEROS,
        },
        401,
        "more than 5 minutes",
    ),
    "a wrong signature": (
        b"text=help",
        {"content-type": FORM, "x-slack-request-timestamp": _now(), "x-slack-signature": _ZEROS},
        401,
        "does not match",
    ),
    "a JSON content type, unsigned, with a body that is not JSON": (
        b"{not json",
        {"content-type": "application/json"},
        401,
        "not signed",
    ),
    "a JSON content type, signed, with a body that is not JSON": (
        b"{not json",
        _signed("{not json", **{"content-type": "application/json"}),
        400,
        "not a Slack payload",
    ),
    "signed JSON that is not an object": (
        b"[1, 2]",
        _signed("[1, 2]", **{"content-type": "application/json"}),
        400,
        "not a Slack payload",
    ),
    "signed JSON nested 100,000 deep": (
        b"[" * 100_000,
        _signed("[" * 100_000, **{"content-type": "application/json"}),
        400,
        "not a Slack payload",
    ),
    "a signed form whose payload is not JSON": (
        b"payload=%7Bbroken",
        _signed("payload=%7Bbroken"),
        400,
        "not a Slack payload",
    ),
    "a form body that is not UTF-8": (
        b"command=/arxiv&text=\xff\xfe",
        {"content-type": FORM, "x-slack-request-timestamp": _now(), "x-slack-signature": _ZEROS},
        400,
        "not UTF-8",
    ),
    "a body over the size limit": (
        b"text=" + b"a" * MAX_BODY_BYTES,
        {"content-type": FORM, "x-slack-request-timestamp": _now(), "x-slack-signature": _ZEROS},
        400,
        "larger than",
    ),
}


@pytest.mark.parametrize("case", list(_CASES))
async def test_a_malformed_request_gets_a_client_error_and_one_log_line(
    slack: SlackAdapter, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, headers, status, reason = _CASES[case]
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        assert response.status == status
        assert reason in (await response.json())["error"]
    ours = [r for r in caplog.records if not r.name.startswith(("aiohttp.access", "asyncio"))]
    assert [r.levelno for r in ours] == [logging.WARNING], [r.getMessage() for r in ours]
    (record,) = ours
    assert reason in record.getMessage()
    assert f"HTTP {status}" in record.getMessage()
    assert record.exc_info is None
    assert "Traceback" not in caplog.text
    assert fake_slack.responses() == []  # nothing ran


async def test_a_chunked_body_over_the_limit_is_refused_too(
    slack: SlackAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536

    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    headers = {
        "content-type": FORM,
        "x-slack-request-timestamp": _now(),
        "x-slack-signature": _ZEROS,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=chunks(), headers=headers) as response,
    ):
        assert response.status == 400
    assert "larger than" in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_replayed_request_is_acknowledged_but_runs_once(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = command_body(fake_slack, "subscribe cat:cs.CV", token="replay")
    headers = signed_headers(body)
    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as first:
            assert first.status == 200
            assert "Working on" in await first.text()
        async with session.post(url, data=body, headers=headers) as again:
            assert again.status == 200
            assert await again.text() == ""
        await wait_for(lambda: bool(fake_slack.responses("replay")))
        # The same command freshly signed (a new timestamp) is a new request and runs.
        fresh = signed_headers(body, timestamp=int(time.time()) + 1)
        async with session.post(url, data=body, headers=fresh) as retried:
            assert retried.status == 200
    await wait_for(lambda: len(fake_slack.responses("replay")) == 2)

    first_answer, second_answer = fake_slack.responses("replay")
    assert "Subscribed this channel" in str(first_answer)
    assert "already subscribed" in str(second_answer)
    assert (await app.store.counts()).subscriptions == 1
    replays = [r for r in caplog.records if "repeats one already run" in r.getMessage()]
    assert len(replays) == 1


async def test_a_form_with_invalid_utf8_escapes_is_read_not_refused(
    slack: SlackAdapter, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Percent-escaped bytes that are not UTF-8 are valid form encoding: bolt reads them
    as U+FFFD and the command gets a specific answer."""
    payload = fake_slack.slash_command_payload("search BYTES", response_token="bytes")
    body = urlencode(payload).replace("BYTES", "%FF%FE")
    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=signed_headers(body)) as response,
    ):
        assert response.status == 200
    await wait_for(lambda: bool(fake_slack.responses("bytes")))
    assert "no letters or digits" in str(fake_slack.responses("bytes")[0])
    assert "Traceback" not in caplog.text


def test_recent_requests_forget_pairs_once_the_window_has_passed() -> None:
    now = [1_000_000.0]
    recent = RecentRequests(window=300, capacity=3, clock=lambda: now[0])
    assert recent.first_time("1000000", "v0=a")
    assert not recent.first_time("1000000", "v0=a")
    assert recent.first_time("1000000", "v0=b")  # another signature: another request
    now[0] += 301
    assert recent.first_time("1000000", "v0=a")  # expired (Slack refuses it by now anyway)
    assert len(recent) == 1


def test_recent_requests_stay_within_their_capacity() -> None:
    recent = RecentRequests(window=300, capacity=3, clock=lambda: 1_000_000.0)
    for number in range(10):
        assert recent.first_time("1000000", f"v0={number}")
    assert len(recent) == 3
    assert not recent.first_time("1000000", "v0=9")
    assert recent.first_time("1000000", "v0=0")  # the oldest were forgotten first
