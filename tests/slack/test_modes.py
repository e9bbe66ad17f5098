"""Socket Mode and OAuth installs, against the fake Slack's websocket and OAuth endpoints."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.oauth.installation_store import Installation

from adapters.slack.adapter import NOT_INSTALLED, SlackAdapter
from adapters.slack.oauth import installation_store
from adapters.slack.settings import BOT_SCOPES, SlackMode, SlackSettings, load_slack_settings
from bot.app import BotApp
from bot.errors import ChannelUnavailableError, ConfigError
from bot.models import ChannelRef
from bot.render import make_post
from tests.conftest import running, send_plan
from tests.fakes.corpus import paper_by_id
from tests.fakes.slack_api import (
    APP_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeSlack,
)
from tests.slack.checks import check_payload
from tests.slack.payloads import command_body, dispatch, slack_adapter, slack_settings, wait_for


def test_modes_follow_the_credentials_set() -> None:
    socket = load_slack_settings(bot_token="xoxb-1", app_token="xapp-1")
    http = load_slack_settings(bot_token="xoxb-1", signing_secret="s")
    oauth = load_slack_settings(client_id="1.2", client_secret="c", signing_secret="s")
    assert (socket.mode, http.mode, oauth.mode) == (
        SlackMode.SOCKET,
        SlackMode.HTTP,
        SlackMode.OAUTH,
    )
    assert not load_slack_settings().is_configured
    half_done = load_slack_settings(signing_secret="s")  # counts: the start says what is missing
    assert half_done.is_configured
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        _ = half_done.mode
    with pytest.raises(ConfigError, match=r"SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"):
        _ = load_slack_settings(bot_token="xoxb-1").mode
    with pytest.raises(ConfigError, match="need SLACK_SIGNING_SECRET"):
        _ = load_slack_settings(client_id="1.2", client_secret="c").mode
    with pytest.raises(ConfigError, match="not both"):
        _ = load_slack_settings(bot_token="xoxb-1", client_id="1.2").mode
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN: an app-level token starts with xapp-"):
        load_slack_settings(app_token="xoxb-1")


async def test_socket_mode_answers_commands_over_the_websocket(
    app: BotApp, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(fake_slack, app_token=APP_TOKEN, signing_secret="")
    adapter = slack_adapter(app, settings)
    assert adapter.mode is SlackMode.SOCKET
    await adapter.start()
    try:
        await fake_slack.wait_socket_connected()
        payload = fake_slack.slash_command_payload(
            "search ti:segmentation --limit 2", response_token="socket"
        )
        ack = await fake_slack.send_envelope("slash_commands", payload)
        assert "Working on" in ack["payload"]["text"]
        await wait_for(lambda: bool(fake_slack.responses("socket")))
        (answer,) = fake_slack.responses("socket")
        assert answer["response_type"] == "ephemeral"
        assert "Segmentation" in str(answer["blocks"])
        check_payload(answer)

        click = fake_slack.block_actions_payload("arxiv_open_pdf", response_token="click")
        assert "envelope_id" in await fake_slack.send_envelope("interactive", click)
    finally:
        await adapter.stop()
    assert fake_slack.open_sockets == 0


async def test_socket_mode_with_a_refused_app_token_fails_to_start_clearly(
    app: BotApp, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(fake_slack, app_token="xapp-wrong", signing_secret="")
    adapter = slack_adapter(app, settings)
    with pytest.raises(ConfigError, match=r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)"):
        await adapter.start()
    await adapter.stop()


@pytest.fixture
async def oauth_slack(app: BotApp, fake_slack: FakeSlack) -> AsyncIterator[SlackAdapter]:
    """The adapter for many workspaces (OAuth installs), started and registered."""
    settings = slack_settings(
        fake_slack, bot_token="", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    async with running(app, slack_adapter(app, settings)) as adapter:
        yield adapter


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack_sdk's
async def test_oauth_install_then_commands_and_posts_use_that_workspace(
    oauth_slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    adapter = oauth_slack
    assert adapter.mode is SlackMode.OAUTH
    base = f"http://127.0.0.1:{adapter.http_port}"
    token = fake_slack.add_oauth_code("code-1", team_id="T0OTHER", team_name="Other lab")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/slack/install") as page:
            assert page.status == 200
            html = await page.text()
            # bolt ties the flow to the browser with a Secure cookie, which a client
            # on plain http does not send back by itself.
            cookie = "; ".join(f"{k}={v.value}" for k, v in page.cookies.items())
        assert f"client_id={CLIENT_ID}" in html
        assert f"scope={','.join(BOT_SCOPES)}" in html
        assert "channels:history,groups:history" in html, "read-back after a crash"
        state = re.search(r"state=([\w-]+)", html)
        assert state is not None
        redirect = f"{base}/slack/oauth_redirect?code=code-1&state={state.group(1)}"
        async with session.get(redirect, headers={"Cookie": cookie}) as done:
            assert done.status == 200, await done.text()

    body = command_body(fake_slack, "subscribe cat:cs.CV", token="o", team="T0OTHER")
    assert (await dispatch(adapter, body)).status == 200
    await wait_for(lambda: bool(fake_slack.responses("o")))
    assert "Subscribed this channel" in str(fake_slack.responses("o")[0])

    other = ChannelRef(platform="slack", workspace="T0OTHER", channel="C0LAB")
    await send_plan(adapter, other, make_post(paper_by_id("2506.11674")))
    (posted,) = [m for m in fake_slack.messages("C0LAB") if m.thread_ts is None]
    assert posted.team_id == "T0OTHER"
    assert any(c.header("Authorization") == f"Bearer {token}" for c in fake_slack.calls())

    stranger = ChannelRef(platform="slack", workspace="T0NEVER", channel="C0LAB")
    with pytest.raises(ChannelUnavailableError) as raised:
        await send_plan(adapter, stranger, make_post(paper_by_id("2506.11674")))
    assert raised.value.reason == NOT_INSTALLED
    assert "no longer installed" in raised.value.reason


async def test_oauth_posts_to_a_workspace_of_an_enterprise_grid_org(
    app: BotApp, oauth_slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    adapter = oauth_slack
    # Installed into one workspace of an org: saved under the org's id too.
    fake_slack.add_bot_token("xoxb-grid", team_id="T0GRID")
    store = installation_store(app.settings.database_path, CLIENT_ID)
    grid = Installation(
        app_id="A0TEST",
        enterprise_id="E0ORG",
        team_id="T0GRID",
        bot_token="xoxb-grid",
        bot_id="B0BOT",
        bot_user_id="U0BOT",
        bot_scopes="commands,chat:write",
        user_id="U0INSTALLER",
    )
    await store.async_save(grid)

    channel = ChannelRef(platform="slack", workspace="T0GRID", channel="C0GRID")
    await send_plan(adapter, channel, make_post(paper_by_id("2506.11674")))
    (posted,) = fake_slack.messages("C0GRID")
    assert posted.team_id == "T0GRID"


async def test_an_unreachable_slack_stops_the_start_with_a_message(app: BotApp) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/"
    settings = SlackSettings(  # type: ignore[call-arg]
        _env_file=None, bot_token="xoxb-1", signing_secret="s", api_url=closed
    )
    adapter = slack_adapter(app, settings, retry_interval=FixedValueRetryIntervalCalculator(0.01))
    with pytest.raises(ConfigError, match=r"cannot reach Slack at http://127\.0\.0\.1"):
        await adapter.start()
    await adapter.stop()
