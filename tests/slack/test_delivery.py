"""Automatic posts to Slack: subscribe through Slack, harvest the fake arXiv, and check
what reaches the fake Web API."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from adapters.slack.adapter import SlackAdapter
from adapters.slack.client import UNAVAILABLE_REASONS
from adapters.slack.pacing import ChannelPacer
from bot.app import BotApp
from bot.config import Settings
from tests.conftest import running
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.oai import FakeOai
from tests.fakes.slack_api import FakeSlack, PostedMessage
from tests.slack.checks import EVIL, assert_payload_escaped, check_payload
from tests.slack.payloads import command_body, dispatch, slack_adapter, slack_settings, wait_for


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # 50 papers at once are posted one by one, not folded into a digest.
    return settings.model_copy(update={"digest_cap": 100})


async def subscribe(
    slack: SlackAdapter, fake: FakeSlack, channel: str, text: str, *, mode: str = ""
) -> None:
    token = f"sub-{channel}-{len(fake.calls('respond'))}"
    command = f"subscribe {text}" + (f" --mode {mode}" if mode else "")
    body = command_body(fake, command, token=token, channel=channel)
    assert (await dispatch(slack, body)).status == 200
    await wait_for(lambda: bool(fake.responses(token)))
    assert "Subscribed this channel" in str(fake.responses(token)[0]), fake.responses(token)


async def status_text(slack: SlackAdapter, fake: FakeSlack, channel: str) -> str:
    token = f"status-{channel}"
    body = command_body(fake, "status", token=token, channel=channel)
    await dispatch(slack, body)
    await wait_for(lambda: bool(fake.responses(token)))
    return str(fake.responses(token)[-1])


def top_level(fake: FakeSlack, channel: str) -> list[PostedMessage]:
    return [m for m in fake.messages(channel) if m.thread_ts is None]


def posted_ids(messages: list[PostedMessage]) -> list[str]:
    """The arXiv ids of the cards (their fallback text ends with ``(id vN)``)."""
    found = (re.search(r"\((\d{4}\.\d{5})v\d+\)$", m.text or "") for m in messages)
    return [match.group(1) for match in found if match]


async def test_whole_cycle_posts_valid_escaped_cards_once(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    await subscribe(slack, fake_slack, "C0LAB", "cat:eess.IV")
    hostile = make_paper(
        "2506.20001",
        title=EVIL + " " + "very long title " * 20,
        authors=tuple(f"<@U{n:03d}> Author {n}" for n in range(300)),
        abstract=("An abstract that goes on & on <!here>. " * 80)[:3000],
        comment="<!everyone> 12 pages",
        categories=("eess.IV",),
    )
    fake_oai.announce(paper_by_id("2506.11674"), hostile, paper_by_id("2506.09876"))

    await app.run_cycle()

    cards = top_level(fake_slack, "C0LAB")
    assert sorted(posted_ids(cards)) == ["2506.11674", "2506.20001"]  # cs.CL one matches no one
    for message in fake_slack.messages("C0LAB"):
        check_payload(message.params)
        assert_payload_escaped(message.params)
    (hostile_card,) = [m for m in cards if "2506.20001" in (m.text or "")]
    full_abstract = [m for m in fake_slack.messages("C0LAB") if m.thread_ts == hostile_card.ts]
    assert len(full_abstract) == 1  # the 3,000-character abstract, whole, in the thread
    assert "&lt;!here&gt;" in str(full_abstract[0].blocks)

    fake_slack.clear()
    await app.run_cycle()
    assert fake_slack.messages() == []  # nothing new, nothing twice


async def test_digest_mode_is_one_message_with_the_cards_in_its_thread(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    await subscribe(slack, fake_slack, "C0DIGEST", "cat:eess.IV", mode="digest")
    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.10231"))

    await app.run_cycle()

    (digest,) = top_level(fake_slack, "C0DIGEST")
    assert "2 new papers" in (digest.text or "")
    thread = [m for m in fake_slack.messages("C0DIGEST") if m.thread_ts == digest.ts]
    assert sorted(posted_ids(thread)) == ["2506.10231", "2506.11674"]
    for message in fake_slack.messages("C0DIGEST"):
        check_payload(message.params)


@pytest.mark.parametrize("error", ["channel_not_found", "is_archived", "account_inactive"])
async def test_an_unavailable_channel_is_paused_with_the_reason_and_others_go_on(
    app: BotApp,
    slack: SlackAdapter,
    fake_slack: FakeSlack,
    fake_oai: FakeOai,
    error: str,
) -> None:
    await subscribe(slack, fake_slack, "C0GONE", "cat:eess.IV")
    await subscribe(slack, fake_slack, "C0LAB", "cat:eess.IV")
    fake_slack.fail_next("chat.postMessage", error, channel="C0GONE", times=10)
    fake_oai.announce(paper_by_id("2506.11674"))

    await app.run_cycle()

    assert posted_ids(top_level(fake_slack, "C0LAB")) == ["2506.11674"]
    assert fake_slack.messages("C0GONE") == []
    reason = UNAVAILABLE_REASONS[error]
    assert reason.split(";")[0] in await status_text(slack, fake_slack, "C0GONE")

    # A manage command in the channel resumes it; the held paper then goes out.
    fake_slack.clear_scripts()
    await subscribe(slack, fake_slack, "C0GONE", "cat:cs.CV")
    await app.dispatcher.deliver_due()
    assert posted_ids(top_level(fake_slack, "C0GONE")) == ["2506.11674"]


async def test_not_in_channel_joins_a_public_channel_and_explains_a_private_one(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    await subscribe(slack, fake_slack, "C0PUBLIC", "cat:eess.IV")
    await subscribe(slack, fake_slack, "G0PRIVATE", "cat:eess.IV")
    # Later, someone removes the bot from both channels.
    fake_slack.set_channel("C0PUBLIC", member=False)
    fake_slack.set_channel("G0PRIVATE", private=True, member=False)
    fake_oai.announce(paper_by_id("2506.11674"))

    await app.run_cycle()

    assert fake_slack.is_member("C0PUBLIC")
    assert posted_ids(top_level(fake_slack, "C0PUBLIC")) == ["2506.11674"]
    assert fake_slack.messages("G0PRIVATE") == []
    assert "/invite @arxiv-bot" in await status_text(slack, fake_slack, "G0PRIVATE")


async def test_a_burst_to_five_channels_under_rate_limits_arrives_exactly_once(
    settings: Settings, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    clock = SettableClock(datetime.now(UTC))
    async with (
        BotApp(settings, clock=clock) as app,
        running(app, slack_adapter(app, slack_settings(fake_slack))) as slack,
    ):
        channels = [f"C0BURST{n}" for n in range(5)]
        for channel in channels:
            await subscribe(slack, fake_slack, channel, "cat:cs.LG")
        papers = [
            make_paper(f"2507.{n:05d}", title=f"Burst paper {n}", categories=("cs.LG",))
            for n in range(1, 51)
        ]
        fake_oai.announce(*papers)
        # HTTP 429 with Retry-After: 0 on posts to every channel; the first channel's
        # run of six outlasts the client's three retries, so one post fails and is
        # queued again.
        for channel in channels:
            fake_slack.rate_limit_next("chat.postMessage", 0, times=2, channel=channel)
        fake_slack.rate_limit_next("chat.postMessage", 0, times=4, channel=channels[0])
        fake_slack.rate_limit_next("chat.postMessage", 0, times=1)

        await app.run_cycle()
        assert await app.dispatcher.pending_count() > 0  # the failed post waits
        clock.advance(hours=1)  # past its backoff
        await app.dispatcher.deliver_due()

        assert await app.dispatcher.pending_count() == 0

    limited = [c for c in fake_slack.calls("chat.postMessage") if c.status == 429]
    assert len(limited) == 15
    expected = sorted(p.arxiv_id for p in papers)
    for channel in channels:
        ids = posted_ids(top_level(fake_slack, channel))
        assert sorted(ids) == expected, channel
        assert Counter(ids).most_common(1)[0][1] == 1


async def test_posts_are_paced_per_channel_and_channels_go_in_parallel(
    app: BotApp, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    async with running(
        app, slack_adapter(app, slack_settings(fake_slack, post_interval=0.2))
    ) as adapter:
        for channel in ("C0ONE", "C0TWO"):
            await subscribe(adapter, fake_slack, channel, "cat:cs.LG")
        fake_oai.announce(*(make_paper(f"2507.{n:05d}", categories=("cs.LG",)) for n in (1, 2, 3)))
        await app.run_cycle()

    posts = fake_slack.calls("chat.postMessage")
    times = {ch: [c.time for c in posts if c.params["channel"] == ch] for ch in ("C0ONE", "C0TWO")}
    for channel_times in times.values():
        assert len(channel_times) == 3
        gaps = [later - earlier for earlier, later in itertools.pairwise(channel_times)]
        assert min(gaps) >= 0.19, gaps
    # The second channel did not wait for the first.
    assert abs(times["C0ONE"][0] - times["C0TWO"][0]) < 0.15


async def test_pacer_spaces_one_channel_and_leaves_others_alone() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = ChannelPacer(1.0, clock=lambda: now[0], sleep=sleep)
    async with pacer.turn("T/C1"):
        now[0] += 0.25  # the post took a quarter of a second
    async with pacer.turn("T/C2"):
        pass
    assert slept == []
    async with pacer.turn("T/C1"):
        pass
    assert slept == [1.0]  # a full interval after the first post finished
    now[0] += 5
    async with pacer.turn("T/C1"):
        pass
    assert slept == [1.0]


async def test_a_failed_thread_reply_never_reposts_the_card(
    app: BotApp, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    async with running(
        app,
        slack_adapter(
            app,
            slack_settings(fake_slack),
            retry_interval=FixedValueRetryIntervalCalculator(0.01),
        ),
    ) as slack:
        await subscribe(slack, fake_slack, "C0LAB", "cat:eess.IV")
        long_abstract = make_paper(
            "2506.20002", abstract="A long abstract. " * 100, categories=("eess.IV",)
        )
        fake_oai.announce(long_abstract)
        # The card goes through; its thread reply (the full abstract) fails past every retry.
        fake_slack.server_error_next("chat.postMessage", 503, times=10, in_thread=True)

        await app.run_cycle()

        assert posted_ids(top_level(fake_slack, "C0LAB")) == ["2506.20002"]
        assert [m for m in fake_slack.messages("C0LAB") if m.thread_ts] == []
        assert await app.dispatcher.pending_count() == 0
        await app.dispatcher.deliver_due()
        assert posted_ids(top_level(fake_slack, "C0LAB")) == ["2506.20002"]  # not again
