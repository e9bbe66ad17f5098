"""slack_sdk's OAuth tables come from the bot's migrations, exactly as slack_sdk makes them."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from adapters.slack.oauth import STATE_EXPIRY_SECONDS, installation_store
from bot.store import LATEST_VERSION, MIGRATIONS, Store
from tests.fakes.slack_api import CLIENT_ID

OAUTH_TABLES = ("slack_installations", "slack_bots", "oauth_states")
SLACK_TABLES_VERSION = 2
"""The schema version whose migration creates :data:`OAUTH_TABLES`."""

Row = tuple[object, ...]


def installation(team_id: str = "T0LAB") -> Installation:
    return Installation(
        app_id="A0TEST",
        team_id=team_id,
        bot_token=f"xoxb-{team_id}",
        bot_id="B0BOT",
        bot_user_id="U0BOT",
        bot_scopes="commands,chat:write",
        user_id="U0INSTALLER",
    )


def use_slack_stores(path: Path, team_id: str = "T0LAB") -> None:
    """Save and find an install and issue and consume a state, as the OAuth flow does."""
    installs = installation_store(path, CLIENT_ID)
    installs.save(installation(team_id))
    bot = installs.find_bot(enterprise_id=None, team_id=team_id)
    assert bot is not None and bot.bot_token == f"xoxb-{team_id}"
    states = SQLite3OAuthStateStore(database=str(path), expiration_seconds=STATE_EXPIRY_SECONDS)
    assert states.consume(states.issue())


def query(path: Path, sql: str) -> list[Row]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def objects(path: Path) -> set[Row]:
    """Every table, index and trigger in the file, with its SQL."""
    return set(query(path, "SELECT type, name, sql FROM sqlite_master"))


def oauth_schema(path: Path) -> dict[str, list[Row]]:
    """The OAuth tables' columns and indexes, as SQLite reports them."""
    schema: dict[str, list[Row]] = {}
    for table in OAUTH_TABLES:
        schema[table] = query(path, f"PRAGMA table_xinfo({table})")
        for index in query(path, f"PRAGMA index_list({table})"):
            name = str(index[1])
            schema[name] = [index[1:], *query(path, f"PRAGMA index_xinfo({name})")]
    return schema


async def migrated(path: Path) -> None:
    async with await Store.open(path) as store:
        assert store.schema_version == LATEST_VERSION


async def test_the_migration_creates_the_schema_slack_sdk_would(tmp_path: Path) -> None:
    assert MIGRATIONS[SLACK_TABLES_VERSION - 1].name == "slack_sdk OAuth tables"
    ours, theirs = tmp_path / "bot.db", tmp_path / "slack_sdk.db"
    await migrated(ours)
    # Connecting makes each store create its missing tables.
    installation_store(theirs, CLIENT_ID).connect().close()
    SQLite3OAuthStateStore(database=str(theirs), expiration_seconds=1).connect().close()

    expected = oauth_schema(theirs)
    assert set(expected) == {*OAUTH_TABLES, "slack_installations_idx", "slack_bots_idx"}
    assert oauth_schema(ours) == expected


async def test_slack_sdk_stores_work_on_the_migrated_file_and_create_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    await migrated(path)
    before = objects(path)

    use_slack_stores(path)

    assert objects(path) == before


async def test_a_file_where_slack_sdk_made_the_tables_first_still_migrates(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    async with await Store.open(path, migrations=MIGRATIONS[: SLACK_TABLES_VERSION - 1]):
        pass
    use_slack_stores(path, "T0EARLY")  # slack_sdk creates its tables itself
    before = objects(path)

    async with await Store.open(path, migrations=MIGRATIONS[:SLACK_TABLES_VERSION]):
        pass
    assert objects(path) == before, "the step finds the tables made and changes nothing"
    await migrated(path)
    bot = installation_store(path, CLIENT_ID).find_bot(enterprise_id=None, team_id="T0EARLY")
    assert bot is not None and bot.bot_token == "xoxb-T0EARLY"
