"""Fuzzing Slack's signed HTTP endpoint: hostile ``/arxiv`` lines as signed slash commands
over real HTTP, and malformed unsigned requests. Every command gets a specific answer,
every malformed request a 400 or 401, and the log no traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
from tests.fakes.slack_api import FakeSlack
from tests.hostile import HOSTILE_LINES, is_generic_failure, random_lines
from tests.slack.payloads import signed_headers, wait_for

SEED = 7321
GENERATED = 1000
MALFORMED = 1000
PARALLEL = 8


def _signed_command(fake: FakeSlack, text: str, token: str) -> tuple[str, dict[str, str]]:
    """A signed slash-command body; lone surrogates (text that came from undecodable
    bytes) are sent percent-encoded as bytes that are not UTF-8."""
    payload = fake.slash_command_payload(
        text, channel_id="C0FUZZ", user_id="U0ADA", response_token=token
    )
    body = urlencode({**payload, "channel_name": "fuzz"}, errors="surrogatepass")
    return body, signed_headers(body)


def _assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not problems, [r.getMessage()[:200] for r in problems]
    assert "Traceback" not in caplog.text


async def test_hostile_commands_over_signed_http_get_specific_answers(
    slack: SlackAdapter, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    lines = [*HOSTILE_LINES, *random_lines(SEED, GENERATED)]
    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    gate = asyncio.Semaphore(PARALLEL)
    started = time.monotonic()

    async def send(session: aiohttp.ClientSession, number: int, text: str) -> None:
        body, headers = _signed_command(fake_slack, text, f"fuzz{number}")
        async with gate, session.post(url, data=body, headers=headers) as response:
            assert response.status == 200, (text[:80], await response.text())

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(send(session, n, text) for n, text in enumerate(lines)))
    await wait_for(lambda: all(_answers(fake_slack, f"fuzz{n}") for n in range(len(lines))))

    for number, text in enumerate(lines):
        (answer,) = _answers(fake_slack, f"fuzz{number}")
        shown = json.dumps(answer, ensure_ascii=False)
        assert answer["text"].strip(), text[:80]
        assert not is_generic_failure(shown), (text[:200], answer["text"])
        assert len(shown) < 40_000, text[:80]
    _assert_no_traceback(caplog)
    print(f"Slack fuzz: {len(lines)} signed commands in {time.monotonic() - started:.1f} s")


def _malformed_request(rng: random.Random) -> tuple[bytes, dict[str, str]]:
    """Unsigned or wrongly signed requests of every shape: odd headers, odd bodies."""
    stamps = ("", "abc", "-1", "1e9", "9" * 40, str(int(time.time())), " 1", "\u0663")
    signatures = ("", "v0=", "v0=" + "0" * 64, "v1=abc", "v0=" + "G" * 64, "x" * 500)
    types = ("application/json", "application/x-www-form-urlencoded", "text/plain", "", "a/b;c")
    bodies = (
        b"",
        b"{",
        b"[]",
        b"{not json",
        b"payload=%7B",
        b"\xff\xfe\xfd",
        b"\x00" * 64,
        b"[" * 5000,
        b"command=/arxiv&text=help",
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
    )
    headers = {"content-type": rng.choice(types)}
    if rng.random() < 0.8:
        headers["x-slack-request-timestamp"] = rng.choice(stamps)
    if rng.random() < 0.8:
        headers["x-slack-signature"] = rng.choice(signatures)
    return rng.choice(bodies), {k: v for k, v in headers.items() if v.isascii()}


async def test_malformed_requests_are_refused_with_one_line_each(
    slack: SlackAdapter, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(MALFORMED):
            body, headers = _malformed_request(rng)
            async with session.post(url, data=body, headers=headers) as response:
                statuses.append(response.status)
    assert set(statuses) <= {400, 401}
    refusals = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refusals) == MALFORMED
    assert fake_slack.responses() == []
    _assert_no_traceback(caplog)


def _answers(fake_slack: FakeSlack, token: str) -> list[dict[str, Any]]:
    """The answers, without the notes that replace "Working on …" while a search queues."""
    return [body for body in fake_slack.responses(token) if not body.get("replace_original")]
