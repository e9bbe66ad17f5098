"""OAuth installs and install links kept in PostgreSQL: behind a load balancer, any
replica of the bot finishes an install another one started and answers every workspace.

Each replica is a bot of its own (its own core and Slack adapter, in HTTP mode with
OAuth) on the same PostgreSQL schema, against the fake Slack. Needs ``TEST_DATABASE_URL``
(see :mod:`tests.databases`); skipped without it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import sqlalchemy
from slack_sdk.oauth.installation_store import Installation

from adapters.slack.adapter import NOT_INSTALLED, SlackAdapter
from adapters.slack.oauth import (
    STATE_TABLE,
    bot_token_for,
    close_installation_store,
    engine_url,
    installation_store,
)
from bot.app import BotApp
from bot.config import Settings
from bot.errors import ChannelUnavailableError
from bot.models import ChannelRef
from bot.render import make_post
from bot.store import Store
from tests.conftest import running, send_plan
from tests.databases import fresh_schema, rows
from tests.fakes.corpus import paper_by_id
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET, FakeSlack
from tests.slack.payloads import command_body, dispatch, slack_settings, wait_for

pytestmark = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning"  # slack_sdk's oauth.v2.access call
)

Replicas = tuple[SlackAdapter, SlackAdapter]


def test_the_engine_url_is_psycopgs_with_every_option_of_the_bots_url() -> None:
    bots = (
        "postgres://bot:p%40ss@db.internal:6432/arxiv?options=-csearch_path%3Dlab&sslmode=require"
    )
    url = sqlalchemy.make_url(engine_url(bots))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "bot",
        "p@ss",
        "db.internal",
        6432,
        "arxiv",
    )
    assert dict(url.query) == {"options": "-csearch_path=lab", "sslmode": "require"}


@pytest.fixture
def database_url() -> Iterator[str]:
    """An empty PostgreSQL schema's URL (its search path in the URL's options)."""
    with fresh_schema() as url:
        yield url


@pytest.fixture
async def replicas(
    settings: Settings, database_url: str, fake_slack: FakeSlack
) -> AsyncIterator[Replicas]:
    """Two replicas of the bot on one PostgreSQL database, each started in HTTP mode
    with OAuth on a port of its own, as behind a load balancer."""
    on_postgres = settings.model_copy(update={"database_url": database_url})
    assert on_postgres.uses_postgres
    oauth = slack_settings(
        fake_slack, bot_token="", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    async with BotApp(on_postgres) as first_app, BotApp(on_postgres) as second_app:
        first = SlackAdapter(first_app, oauth, database=on_postgres.database_target)
        second = SlackAdapter(second_app, oauth, database=on_postgres.database_target)
        async with running(first_app, first), running(second_app, second):
            yield first, second


def base_url(adapter: SlackAdapter) -> str:
    return f"http://127.0.0.1:{adapter.http_port}"


async def open_install_page(
    session: aiohttp.ClientSession, adapter: SlackAdapter
) -> tuple[str, str]:
    """The install link's state from ``adapter``'s install page, and the browser's cookie
    (bolt sets it Secure, which a client on plain http does not send back by itself)."""
    async with session.get(f"{base_url(adapter)}/slack/install") as page:
        assert page.status == 200
        html = await page.text()
        cookie = "; ".join(f"{k}={v.value}" for k, v in page.cookies.items())
    found = re.search(r"state=([\w-]+)", html)
    assert found is not None, html
    return found.group(1), cookie


async def finish_install(
    session: aiohttp.ClientSession, adapter: SlackAdapter, code: str, state: str, cookie: str
) -> tuple[int, str]:
    """Slack's redirect back to ``adapter`` after the person allowed the app."""
    redirect = f"{base_url(adapter)}/slack/oauth_redirect?code={code}&state={state}"
    async with session.get(redirect, headers={"Cookie": cookie}) as done:
        return done.status, await done.text()


async def test_an_install_through_one_replica_lets_another_answer_and_post(
    replicas: Replicas, fake_slack: FakeSlack, database_url: str
) -> None:
    first, second = replicas
    token = fake_slack.add_oauth_code("code-1", team_id="T0OTHER", team_name="Other lab")
    async with aiohttp.ClientSession() as session:
        state, cookie = await open_install_page(session, first)
        status, text = await finish_install(session, first, "code-1", state, cookie)
    assert status == 200, text
    # Kept in PostgreSQL, in the tables the bot's migrations made.
    assert rows(database_url, "SELECT team_id, bot_token FROM slack_bots") == [("T0OTHER", token)]
    assert rows(database_url, "SELECT team_id FROM slack_installations") == [("T0OTHER",)]

    # The other replica, which took no part in the install, answers that workspace...
    body = command_body(fake_slack, "subscribe cat:cs.CV", token="other", team="T0OTHER")
    assert (await dispatch(second, body)).status == 200
    await wait_for(lambda: bool(fake_slack.responses("other")))
    assert "Subscribed this channel" in str(fake_slack.responses("other")[0])

    # ...and posts there with the installed bot token.
    channel = ChannelRef(platform="slack", workspace="T0OTHER", channel="C0LAB")
    await send_plan(second, channel, make_post(paper_by_id("2506.11674")))
    (posted,) = [m for m in fake_slack.messages("C0LAB") if m.thread_ts is None]
    assert posted.team_id == "T0OTHER"
    posts = fake_slack.calls("chat.postMessage")
    assert posts and all(c.header("Authorization") == f"Bearer {token}" for c in posts)

    # A workspace installed nowhere is still turned away.
    stranger = command_body(fake_slack, "subscribe cat:cs.CV", token="stranger", team="T0NEVER")
    await dispatch(second, stranger)
    await wait_for(lambda: bool(fake_slack.responses("stranger")))
    (refused,) = fake_slack.responses("stranger")
    assert "reinstall this app" in refused["text"], "bolt's answer to an unknown workspace"
    nowhere = ChannelRef(platform="slack", workspace="T0NEVER", channel="C0LAB")
    with pytest.raises(ChannelUnavailableError) as raised:
        await send_plan(second, nowhere, make_post(paper_by_id("2506.11674")))
    assert raised.value.reason == NOT_INSTALLED


async def test_an_install_link_from_one_replica_completes_on_another(
    replicas: Replicas, fake_slack: FakeSlack, database_url: str
) -> None:
    first, second = replicas
    token = fake_slack.add_oauth_code("code-2", team_id="T0LB", team_name="Balanced lab")
    fake_slack.add_oauth_code("code-3", team_id="T0LATE")
    async with aiohttp.ClientSession() as session:
        state, cookie = await open_install_page(session, first)
        assert rows(database_url, f"SELECT state FROM {STATE_TABLE}") == [(state,)]

        # The load balancer sends Slack's redirect to the other replica.
        status, text = await finish_install(session, second, "code-2", state, cookie)
        assert status == 200, text
        assert rows(database_url, f"SELECT state FROM {STATE_TABLE}") == [], "used up"

        # A link works once, on whichever replica: replayed on the first, it is refused.
        status, _ = await finish_install(session, first, "code-3", state, cookie)
        assert status != 200

    assert rows(database_url, "SELECT team_id FROM slack_bots") == [("T0LB",)]
    # The replica that issued the link posts with the token the other one saved.
    channel = ChannelRef(platform="slack", workspace="T0LB", channel="C0LB")
    await send_plan(first, channel, make_post(paper_by_id("2506.11674")))
    assert [m.team_id for m in fake_slack.messages("C0LB") if m.thread_ts is None] == ["T0LB"]
    posts = fake_slack.calls("chat.postMessage")
    assert posts and all(c.header("Authorization") == f"Bearer {token}" for c in posts)


async def test_a_workspace_of_an_enterprise_grid_org_is_found_by_its_own_id(
    database_url: str,
) -> None:
    async with await Store.open(database_url):
        pass  # the bot's migrations make slack_sdk's tables
    store = installation_store(database_url, CLIENT_ID)
    try:
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
        store.save(grid)
        assert store.find_bot(enterprise_id=None, team_id="T0GRID") is None, "saved under E0ORG"
        assert await bot_token_for(store, "T0GRID") == "xoxb-grid"
        assert await bot_token_for(store, "T0ELSE") is None
        other_app = installation_store(database_url, "9999.0000")
        try:
            assert await bot_token_for(other_app, "T0GRID") is None, "another app's installs"
        finally:
            close_installation_store(other_app)
    finally:
        close_installation_store(store)
