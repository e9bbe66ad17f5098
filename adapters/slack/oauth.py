"""Installing into many workspaces: Slack's OAuth flow with installs kept in the bot's
own SQLite file.

slack_sdk's SQLite stores do the work, in tables ``slack_installations``, ``slack_bots``
and ``oauth_states`` that the bot's own migrations create (schema version 2), so the
stores find them and create nothing themselves. bolt serves the install page at
``/slack/install`` and the redirect at ``/slack/oauth_redirect``, and looks up the
right workspace's token for every request; :func:`bot_token_for` does the same for
automatic posts.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from adapters.slack.settings import BOT_SCOPES, SlackSettings

__all__ = ["STATE_EXPIRY_SECONDS", "bot_token_for", "installation_store", "oauth_settings"]

STATE_EXPIRY_SECONDS = 600
"""How long an install link stays valid."""


def installation_store(database: Path, client_id: str) -> SQLite3InstallationStore:
    return SQLite3InstallationStore(database=str(database), client_id=client_id)


def oauth_settings(
    settings: SlackSettings, store: SQLite3InstallationStore, database: Path
) -> AsyncOAuthSettings:
    return AsyncOAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=SQLite3OAuthStateStore(
            database=str(database), expiration_seconds=STATE_EXPIRY_SECONDS
        ),
    )


async def bot_token_for(store: SQLite3InstallationStore, team_id: str) -> str | None:
    """The bot token of the workspace ``team_id``, None when the app is not installed.

    slack_sdk's SQLite store is synchronous, so the lookup runs in a worker thread.
    """
    return await asyncio.to_thread(_find_bot_token, store, team_id)


def _find_bot_token(store: SQLite3InstallationStore, team_id: str) -> str | None:
    bot = store.find_bot(enterprise_id=None, team_id=team_id)
    if bot is None:
        # A workspace inside an Enterprise Grid org is saved under its org's id, which a
        # channel (workspace id and channel id) does not carry: look it up by workspace.
        with contextlib.closing(store.connect()) as conn:
            row = conn.execute(
                "SELECT enterprise_id FROM slack_bots WHERE client_id = ? AND team_id = ? "
                "ORDER BY installed_at DESC LIMIT 1",
                (store.client_id, team_id),
            ).fetchone()
        if row is not None and row[0]:
            bot = store.find_bot(enterprise_id=row[0], team_id=team_id)
    return bot.bot_token if bot is not None else None
