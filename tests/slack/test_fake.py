"""The fake Slack drives the real slack_bolt Socket Mode and OAuth code paths offline, and
the real AsyncWebClient through message metadata, history, scopes and lost answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.settings import BOT_SCOPES as REQUESTED_SCOPES
from tests.fakes.slack_api import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_SCOPES,
    BOT_USER_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    TEAM_ID,
    FakeSlack,
    running_fake_slack,
)

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")

# slack_sdk's oauth_v2_access still builds an aiohttp.BasicAuth, deprecated in aiohttp 3.14.
sdk_basic_auth = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning:slack_sdk"
)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    # The Socket Mode client takes its websocket proxy from these and ignores NO_PROXY.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    async with running_fake_slack() as running:
        yield running


@pytest.fixture
def app(fake: FakeSlack) -> AsyncApp:
    """A bolt app whose client (and so every listener's client) talks to the fake."""
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
    return AsyncApp(client=client, signing_secret="unused-in-socket-mode")


@pytest.fixture
async def handler(app: AsyncApp, fake: FakeSlack) -> AsyncIterator[AsyncSocketModeHandler]:
    """A connected handler; it finds the fake through ``app.client``'s base URL."""
    connected = AsyncSocketModeHandler(app, fake.app_token)
    await connected.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
    try:
        yield connected
    finally:
        await connected.close_async()  # type: ignore[no-untyped-call]


# -- Socket Mode


async def test_slash_command_ack_comes_back_over_the_socket(
    fake: FakeSlack, app: AsyncApp, handler: AsyncSocketModeHandler
) -> None:
    @app.command("/arxiv")
    async def arxiv(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(f"Searching for {command['text']}")

    await fake.wait_socket_connected()
    ack = await fake.send_envelope("slash_commands", fake.slash_command_payload("quantum"))

    assert ack["payload"] == {"text": "Searching for quantum"}
    assert fake.acks == [ack]
    assert fake.socket_connections == 1
    assert fake.open_sockets == 1
    (opened,) = fake.calls("apps.connections.open")
    assert opened.header("Authorization") == f"Bearer {APP_TOKEN}"
    # bolt's single-team authorization learns the bot from auth.test, with the bot token
    assert fake.calls("auth.test")[0].header("Authorization") == f"Bearer {fake.token}"


async def test_block_action_is_acked_and_responds(
    fake: FakeSlack, app: AsyncApp, handler: AsyncSocketModeHandler
) -> None:
    @app.action("x")
    async def clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(f"clicked {body['actions'][0]['value']}")

    ack = await fake.send_envelope("interactive", fake.block_actions_payload("x", "2401.00001"))

    assert set(ack) == {"envelope_id"}  # an empty ack carries no payload
    (response,) = fake.responses("r1")
    assert response["text"] == "clicked 2401.00001"


async def test_unhandled_command_gets_no_ack(
    fake: FakeSlack, handler: AsyncSocketModeHandler
) -> None:
    """bolt answers an unmatched request with 404, and Socket Mode sends no ack for it:
    Slack would show the user a timeout."""
    with pytest.raises(TimeoutError):
        await fake.send_envelope("slash_commands", fake.slash_command_payload(), timeout=0.2)
    assert fake.acks == []


async def test_client_reconnects_when_the_server_closes_the_socket(
    fake: FakeSlack, app: AsyncApp, handler: AsyncSocketModeHandler
) -> None:
    @app.command("/arxiv")
    async def arxiv(ack: AsyncAck) -> None:
        await ack("still here")

    await fake.wait_socket_connected()
    await fake.close_sockets()
    await fake.wait_socket_connected(connections=2)

    ack = await fake.send_envelope("slash_commands", fake.slash_command_payload())
    assert ack["payload"] == {"text": "still here"}
    assert len(fake.calls("apps.connections.open")) == 2


async def test_client_reconnects_on_a_disconnect_message(
    fake: FakeSlack, handler: AsyncSocketModeHandler
) -> None:
    await fake.wait_socket_connected()
    await fake.request_disconnect()
    await fake.wait_socket_connected(connections=2)

    assert len(fake.calls("apps.connections.open")) == 2


async def test_connections_open_wants_the_app_token(fake: FakeSlack) -> None:
    client = AsyncWebClient(base_url=fake.api_url)

    opened = await client.apps_connections_open(app_token=APP_TOKEN)
    assert str(opened["url"]).startswith(fake.url.replace("http://", "ws://") + "/socket?ticket=")
    with pytest.raises(SlackApiError) as bot_token:
        await client.apps_connections_open(app_token=fake.token)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong:
        await client.apps_connections_open(app_token="xapp-wrong")
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token_on_bot_method:
        await AsyncWebClient(token=APP_TOKEN, base_url=fake.api_url).auth_test()
    assert app_token_on_bot_method.value.response["error"] == "not_allowed_token_type"


async def test_socket_without_an_issued_ticket_is_refused(fake: FakeSlack) -> None:
    url = fake.url.replace("http://", "ws://") + "/socket?ticket=999"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
    assert refused.value.status == 401


# -- OAuth


@sdk_basic_auth
async def test_oauth_v2_access_installs_the_bot_in_another_team(fake: FakeSlack) -> None:
    expected_token = fake.add_oauth_code("code-1", team_id="T0OTHER", team_name="Other lab")
    client = AsyncWebClient(base_url=fake.api_url)

    answer = await client.oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="code-1"
    )

    assert answer["access_token"] == expected_token == "xoxb-installed-T0OTHER"
    assert answer["team"] == {"id": "T0OTHER", "name": "Other lab"}
    assert answer["bot_user_id"] == BOT_USER_ID
    assert answer["scope"] == BOT_SCOPES
    assert answer["app_id"] == APP_ID
    authorization = fake.calls("oauth.v2.access")[0].header("Authorization") or ""
    assert authorization.startswith("Basic ")  # the SDK sends the client credentials so

    installed = AsyncWebClient(token=expected_token, base_url=fake.api_url)
    assert (await installed.auth_test())["team_id"] == "T0OTHER"
    await installed.chat_postMessage(channel="C1", text="hello, other lab")
    assert fake.messages("C1")[0].team_id == "T0OTHER"
    assert (await AsyncWebClient(token=fake.token, base_url=fake.api_url).auth_test())[
        "team_id"
    ] == TEAM_ID


@sdk_basic_auth
@pytest.mark.parametrize(
    ("code", "client_secret", "error"),
    [
        ("never-issued", CLIENT_SECRET, "invalid_code"),
        ("code-1", "wrong-secret", "bad_client_secret"),
    ],
)
async def test_oauth_v2_access_refusals(
    fake: FakeSlack, code: str, client_secret: str, error: str
) -> None:
    fake.add_oauth_code("code-1")
    client = AsyncWebClient(base_url=fake.api_url)
    with pytest.raises(SlackApiError) as refused:
        await client.oauth_v2_access(client_id=CLIENT_ID, client_secret=client_secret, code=code)
    assert refused.value.response["error"] == error
    assert "xoxb-installed-T0OTHER" not in fake.bot_tokens


@sdk_basic_auth
async def test_oauth_code_works_once(fake: FakeSlack) -> None:
    fake.add_oauth_code("code-1")
    client = AsyncWebClient(base_url=fake.api_url)
    await client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="code-1")
    with pytest.raises(SlackApiError) as again:
        await client.oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="code-1"
        )
    assert again.value.response["error"] == "invalid_code"


@sdk_basic_auth
async def test_bolt_oauth_flow_builds_the_installation(fake: FakeSlack, tmp_path: Path) -> None:
    """bolt exchanges the code, then calls auth.test with the new token for bot_id."""
    fake.add_oauth_code("code-2", team_id="T0OTHER", team_name="Other lab")
    settings = AsyncOAuthSettings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=BOT_SCOPES.split(","),
        installation_store=FileInstallationStore(base_dir=str(tmp_path / "installations")),
        state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path / "states")),
    )
    flow = AsyncOAuthFlow(client=AsyncWebClient(base_url=fake.api_url), settings=settings)

    installation = await flow.run_installation("code-2")

    assert installation is not None
    assert installation.team_id == "T0OTHER"
    assert installation.bot_token == "xoxb-installed-T0OTHER"
    assert installation.bot_id == BOT_ID
    assert installation.user_id == "U0INSTALLER"
    (auth_test,) = fake.calls("auth.test")
    assert auth_test.header("Authorization") == "Bearer xoxb-installed-T0OTHER"


# -- message metadata, history and scopes


PAPER = {"event_type": "arxiv_paper", "event_payload": {"paper": "2506.11674", "delivery": 7}}
CARD = {"event_type": "arxiv_paper", "event_payload": {"paper": "2506.00001", "delivery": 8}}


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.token, base_url=fake.api_url)


async def test_metadata_is_posted_and_read_back(fake: FakeSlack, client: AsyncWebClient) -> None:
    head = await client.chat_postMessage(channel="C1", text="digest", metadata=PAPER)
    assert head["message"]["metadata"] == PAPER
    reply = await client.chat_postMessage(
        channel="C1", text="card", thread_ts=head["ts"], metadata=CARD
    )
    await client.chat_postMessage(channel="C1", text="plain")
    await client.chat_postMessage(channel="C2", text="elsewhere")
    stored = fake.messages("C1")
    assert [m.metadata for m in stored] == [PAPER, CARD, None]
    assert stored[1].thread_ts == head["ts"]

    history = await client.conversations_history(channel="C1", include_all_metadata=True)
    newest, parent = history["messages"]  # top-level only, newest first
    assert (newest["text"], parent["text"]) == ("plain", "digest")
    assert history["has_more"] is False
    assert parent["metadata"] == PAPER and "metadata" not in newest
    assert (parent["user"], parent["bot_id"], parent["app_id"]) == (BOT_USER_ID, BOT_ID, APP_ID)
    assert parent["thread_ts"] == head["ts"] and parent["reply_count"] == 1
    assert parent["latest_reply"] == reply["ts"] and "thread_ts" not in newest
    plain = await client.conversations_history(channel="C1")
    assert all("metadata" not in m for m in plain["messages"])

    for ts in (head["ts"], reply["ts"]):  # a thread is found from its parent or a reply
        thread = await client.conversations_replies(channel="C1", ts=ts, include_all_metadata=True)
        assert [m["text"] for m in thread["messages"]] == ["digest", "card"]
        assert thread["messages"][1]["metadata"] == CARD
        assert thread["messages"][1]["thread_ts"] == head["ts"]
    with pytest.raises(SlackApiError) as unknown:
        await client.conversations_replies(channel="C1", ts="1.000001")
    assert unknown.value.response["error"] == "thread_not_found"


async def test_metadata_as_a_form_field_and_malformed(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    form = {"channel": "C1", "text": "x", "metadata": json.dumps(PAPER)}
    await client.api_call("chat.postMessage", data=form)
    assert not fake.calls("chat.postMessage")[0].is_json
    assert fake.messages("C1")[0].metadata == PAPER
    malformed: list[Any] = [{"event_type": "arxiv_paper"}, "not json", {"event_payload": {}}]
    for bad in malformed:
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="x", metadata=bad)
        assert refused.value.response["error"] == "invalid_metadata_format"
    assert len(fake.messages("C1")) == 1


async def test_history_pages_with_the_client_cursor(client: AsyncWebClient) -> None:
    for n in range(5):
        await client.chat_postMessage(channel="C1", text=f"m{n}")
    first = await client.conversations_history(channel="C1", limit=2)
    assert first["has_more"] is True
    assert first["response_metadata"]["next_cursor"]
    latest = first["messages"][1]["ts"]
    pages = [[m["text"] for m in page["messages"]] async for page in first]
    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    older = await client.conversations_history(channel="C1", latest=latest, inclusive=True)
    assert [m["text"] for m in older["messages"]] == ["m3", "m2", "m1", "m0"]


async def test_history_needs_its_scope(fake: FakeSlack, client: AsyncWebClient) -> None:
    greeting = await client.auth_test()
    granted = greeting.headers["x-oauth-scopes"].split(",")
    assert granted == list(fake.scopes()) and greeting.headers["x-oauth-scopes"] == BOT_SCOPES
    assert {"channels:history", "groups:history", *REQUESTED_SCOPES} <= set(granted)

    fake.add_bot_token("xoxb-no-history", scopes=["commands", "chat:write"])
    limited = AsyncWebClient(token="xoxb-no-history", base_url=fake.api_url)
    assert (await limited.auth_test()).headers["x-oauth-scopes"] == "commands,chat:write"
    with pytest.raises(SlackApiError) as public:
        await limited.conversations_history(channel="C1")
    assert public.value.response["error"] == "missing_scope"
    assert public.value.response["needed"] == "channels:history"
    assert public.value.response["provided"] == "commands,chat:write"
    assert public.value.response.headers["x-accepted-oauth-scopes"] == "channels:history"

    fake.set_scopes("xoxb-no-history", ["chat:write", "channels:history"])
    assert (await limited.conversations_history(channel="C1"))["messages"] == []
    fake.set_channel("C9", private=True)
    for private in ("G1", "C9"):
        with pytest.raises(SlackApiError) as refused:
            await limited.conversations_replies(channel=private, ts="1.000001")
        assert refused.value.response["needed"] == "groups:history"
    fake.set_channel("C3", member=False)
    with pytest.raises(SlackApiError) as outside:
        await client.conversations_history(channel="C3")
    assert outside.value.response["error"] == "not_in_channel"


@sdk_basic_auth
async def test_an_install_grants_the_scopes_it_asked_for(fake: FakeSlack) -> None:
    token = fake.add_oauth_code("code-3", scopes=["commands", "chat:write"])
    client = AsyncWebClient(base_url=fake.api_url)
    answer = await client.oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="code-3"
    )
    assert answer["scope"] == "commands,chat:write" == ",".join(fake.scopes(token))
    installed = AsyncWebClient(token=token, base_url=fake.api_url)
    assert (await installed.auth_test()).headers["x-oauth-scopes"] == "commands,chat:write"


async def test_a_dropped_answer_loses_the_reply_not_the_post(fake: FakeSlack) -> None:
    no_retry = AsyncWebClient(token=fake.token, base_url=fake.api_url, retry_handlers=[])
    fake.drop_response_next("chat.postMessage", channel="C1")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await no_retry.chat_postMessage(channel="C1", text="landed", metadata=PAPER)
    (stored,) = fake.messages("C1")
    assert stored.text == "landed" and stored.metadata == PAPER
    assert [c.status for c in fake.calls("chat.postMessage")] == [0]

    fake.drop_response_next("chat.postMessage", channel="C1", status=500)
    with pytest.raises(SlackApiError):
        await no_retry.chat_postMessage(channel="C1", text="landed too")
    assert [m.text for m in fake.messages("C1")] == ["landed", "landed too"]
    history = await no_retry.conversations_history(channel="C1", include_all_metadata=True)
    assert history["messages"][1]["metadata"] == PAPER  # what a restarted bot reads back


async def test_the_default_retry_handler_reposts_after_a_dropped_answer(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """slack_sdk's one default retry handler resends on a dropped connection: the
    message lands twice, and the caller sees only the second answer."""
    fake.drop_response_next("chat.postMessage")
    answer = await client.chat_postMessage(channel="C1", text="twice")
    first, second = fake.messages("C1")
    assert answer["ts"] == second.ts != first.ts
