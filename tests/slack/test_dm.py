"""Personal subscriptions in Slack: ``/arxiv`` typed in a direct message manages that
person's own feed, kept in their DM with the bot in that workspace; papers arrive there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.oauth.installation_store import Installation

from adapters.slack.adapter import SlackAdapter
from adapters.slack.client import UNAVAILABLE_REASONS
from adapters.slack.oauth import installation_store
from bot.app import BotApp
from bot.models import ChannelRef
from tests.conftest import running
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, CLIENT_ID, CLIENT_SECRET, TEAM_ID, FakeSlack
from tests.slack.payloads import slack_adapter, slack_settings, wait_for
from tests.slack.test_commands import _texts, run_command
from tests.slack.test_delivery import posted_ids, status_text, top_level

ADA = "U0ADA"
DM = {"channel": "D0TYPEDIN", "channel_name": "directmessage"}
"""Where Ada types: a direct message (with the bot, or with a colleague)."""


async def in_dm(
    slack: SlackAdapter, fake: FakeSlack, text: str, *, token: str, **where: str
) -> dict[str, Any]:
    """``/arxiv text`` typed by Ada in a DM; the answer sent to response_url."""
    _, answer = await run_command(slack, fake, text, token=token, **{**DM, **where})
    return answer


async def test_a_dm_subscription_is_the_persons_own_and_its_papers_arrive_in_their_dm(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    answer = await in_dm(slack, fake_slack, "subscribe cat:eess.IV", token="sub")
    assert answer["response_type"] == "ephemeral", "a personal feed is announced to no one"
    assert "Subscribed this channel to #1" in _texts(answer)
    (opened,) = fake_slack.calls("conversations.open")
    assert opened.params["users"] == ADA
    im = fake_slack.im_id(ADA)
    assert not fake_slack.calls("conversations.join")
    personal = ChannelRef(platform="slack", workspace=TEAM_ID, channel=im)
    assert await app.store.find_channel(personal) is not None

    # The lab channel has its own, different subscription: the two never mix.
    await run_command(slack, fake_slack, "subscribe cat:cs.CL", token="lab")
    listed = await in_dm(slack, fake_slack, "list", token="list")
    assert "cat:eess.IV" in _texts(listed) and "cat:cs.CL" not in _texts(listed)
    _, lab_list = await run_command(slack, fake_slack, "list", token="lablist")
    assert "cat:cs.CL" in _texts(lab_list) and "cat:eess.IV" not in _texts(lab_list)

    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.09876"))
    await app.run_cycle()

    assert posted_ids(top_level(fake_slack, im)) == ["2506.11674"]
    assert posted_ids(top_level(fake_slack, "C0LAB")) == ["2506.09876"]
    assert fake_slack.messages("D0TYPEDIN") == [], "never the DM it was typed in"
    assert {m.channel for m in fake_slack.messages()} == {im, "C0LAB"}
    assert fake_slack.calls("conversations.open")[1:] == [], "the IM is remembered"


async def test_mode_unsubscribe_and_export_in_a_dm_act_on_the_persons_feed(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    await in_dm(slack, fake_slack, "subscribe cat:eess.IV", token="sub")
    await in_dm(slack, fake_slack, "subscribe cat:cs.CL", token="sub2")
    mode = await in_dm(slack, fake_slack, "mode digest", token="mode")
    assert mode["response_type"] == "ephemeral" and "digest" in _texts(mode)
    removed = await in_dm(slack, fake_slack, "unsubscribe 2", token="unsub")
    assert "#2" in _texts(removed)
    listed = await in_dm(slack, fake_slack, "list", token="list")
    assert "cat:cs.CL" not in _texts(listed) and "cat:eess.IV" in _texts(listed)
    im = fake_slack.im_id(ADA)
    assert "digest" in await status_text(slack, fake_slack, im)

    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.10231"))
    await app.run_cycle()
    (digest,) = top_level(fake_slack, im)  # one digest message, the cards in its thread
    assert "2 new papers" in (digest.text or "")
    thread = [m for m in fake_slack.messages(im) if m.thread_ts == digest.ts]
    assert sorted(posted_ids(thread)) == ["2506.10231", "2506.11674"]

    exported = await in_dm(slack, fake_slack, "export --format csv", token="exp")
    assert "Export of 2 papers" in _texts(exported)
    await wait_for(lambda: bool(fake_slack.files(im)))
    (upload,) = fake_slack.files(im)
    assert upload.content is not None and b"2506.11674" in upload.content


async def test_a_closed_dm_pauses_only_that_persons_feed(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    await in_dm(slack, fake_slack, "subscribe cat:eess.IV", token="sub")
    await run_command(slack, fake_slack, "subscribe cat:eess.IV", token="lab")
    im = fake_slack.im_id(ADA)
    fake_slack.fail_next("chat.postMessage", "is_archived", channel=im, times=10)
    fake_oai.announce(paper_by_id("2506.11674"))

    await app.run_cycle()

    assert posted_ids(top_level(fake_slack, "C0LAB")) == ["2506.11674"]
    assert fake_slack.messages(im) == []
    reason = UNAVAILABLE_REASONS["is_archived"].split(";")[0]
    assert reason in await status_text(slack, fake_slack, im)
    fake_slack.clear_scripts()
    resumed = await in_dm(slack, fake_slack, "mode each", token="resume")
    assert "it resumes now" in _texts(resumed), "the person's own command resumes it"
    await app.dispatcher.deliver_due()
    assert posted_ids(top_level(fake_slack, im)) == ["2506.11674"]


@pytest.fixture
async def two_workspaces(app: BotApp, fake_slack: FakeSlack) -> AsyncIterator[SlackAdapter]:
    """The bot installed (OAuth) in two workspaces, T0ONE and T0TWO."""
    store = installation_store(app.settings.database_path, CLIENT_ID)
    for team in ("T0ONE", "T0TWO"):
        token = f"xoxb-{team}"
        fake_slack.add_bot_token(token, team_id=team)
        install = Installation(
            app_id="A0TEST",
            team_id=team,
            bot_token=token,
            bot_id=BOT_ID,
            bot_user_id=BOT_USER_ID,
            bot_scopes="commands,chat:write,im:write,im:history",
            user_id=ADA,
        )
        await store.async_save(install)
    settings = slack_settings(
        fake_slack, bot_token="", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    async with running(app, slack_adapter(app, settings)) as adapter:
        yield adapter


async def test_the_same_user_id_in_two_workspaces_has_two_separate_feeds(
    app: BotApp, two_workspaces: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    slack = two_workspaces
    await in_dm(slack, fake_slack, "subscribe cat:eess.IV", token="one", team="T0ONE")
    await in_dm(slack, fake_slack, "subscribe cat:cs.CL", token="two", team="T0TWO")
    listed = await in_dm(slack, fake_slack, "list", token="list", team="T0ONE")
    assert "cat:eess.IV" in _texts(listed) and "cat:cs.CL" not in _texts(listed)

    fake_oai.announce(paper_by_id("2506.11674"), paper_by_id("2506.09876"))
    await app.run_cycle()

    one, two = fake_slack.im_id(ADA, "T0ONE"), fake_slack.im_id(ADA, "T0TWO")
    assert one != two
    (first,) = top_level(fake_slack, one)
    (second,) = top_level(fake_slack, two)
    assert posted_ids([first]) == ["2506.11674"] and first.team_id == "T0ONE"
    assert posted_ids([second]) == ["2506.09876"] and second.team_id == "T0TWO"
