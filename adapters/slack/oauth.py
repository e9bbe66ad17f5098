"""Installing into many workspaces: Slack's OAuth flow with installs kept in the bot's
own database, the SQLite file or PostgreSQL.

slack_sdk's stores do the work, in tables ``slack_installations``, ``slack_bots`` and
``oauth_states`` that the bot's own migrations create (schema version 2), so the stores
find them and create nothing themselves: its SQLite stores on an SQLite file, its
SQLAlchemy stores (over psycopg 3) on PostgreSQL. On PostgreSQL every replica of the bot
sees every install and every install link's state, so behind a load balancer any replica
can finish an install another one started and answer any workspace. bolt serves the
install page at ``/slack/install`` and the redirect at ``/slack/oauth_redirect``, and
looks up the right workspace's token for every request; :func:`bot_token_for` does the
same for automatic posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, overload

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from adapters.slack.settings import BOT_SCOPES, SlackSettings
from bot.store.sql import is_postgres_url

if TYPE_CHECKING:
    # Imported where used: only a bot on PostgreSQL pays for SQLAlchemy.
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

__all__ = [
    "STATE_EXPIRY_SECONDS",
    "STATE_TABLE",
    "InstallStore",
    "ThreadedInstallationStore",
    "ThreadedStateStore",
    "bot_token_for",
    "close_installation_store",
    "engine_url",
    "installation_store",
    "oauth_settings",
]

STATE_EXPIRY_SECONDS = 600
"""How long an install link stays valid."""

STATE_TABLE = "oauth_states"
"""The install links' states, under SQLite's store's name on PostgreSQL too (the
SQLAlchemy store's default is ``slack_oauth_states``)."""

InstallStore: TypeAlias = "SQLite3InstallationStore | SQLAlchemyInstallationStore"
"""Where OAuth installs are kept: the SQLite file, or PostgreSQL."""


@overload
def installation_store(database: Path, client_id: str) -> SQLite3InstallationStore: ...
@overload
def installation_store(database: str, client_id: str) -> InstallStore: ...
@overload
def installation_store(database: Path | str, client_id: str) -> InstallStore: ...
def installation_store(database: Path | str, client_id: str) -> InstallStore:
    """The store of the installs in ``database``: an SQLite file, or a ``postgresql://``
    URL (close that one with :func:`close_installation_store`)."""
    if not is_postgres_url(database):
        return SQLite3InstallationStore(database=str(database), client_id=client_id)
    import sqlalchemy
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    # pool_pre_ping: a connection the server or a proxy closed while idle is replaced.
    engine = sqlalchemy.create_engine(engine_url(str(database)), pool_pre_ping=True)
    return SQLAlchemyInstallationStore(client_id=client_id, engine=engine)


def engine_url(url: str) -> str:
    """SQLAlchemy's URL for psycopg 3 from a ``postgresql://`` (or ``postgres://``) URL,
    its user, host, database and query options (``options=-csearch_path=...``,
    ``sslmode``) kept as they are."""
    _, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}"


def close_installation_store(store: InstallStore) -> None:
    """Close the store's connections to PostgreSQL (nothing to do on SQLite)."""
    if not isinstance(store, SQLite3InstallationStore):
        store.engine.dispose()


def oauth_settings(settings: SlackSettings, store: InstallStore) -> AsyncOAuthSettings:
    """bolt's OAuth settings, with installs in ``store`` and the install links' states in
    the same database."""
    installs: AsyncInstallationStore
    states: AsyncOAuthStateStore
    if isinstance(store, SQLite3InstallationStore):
        installs = store
        states = SQLite3OAuthStateStore(
            database=store.database, expiration_seconds=STATE_EXPIRY_SECONDS
        )
    else:
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        # slack_sdk's SQLAlchemy stores are synchronous: bolt awaits them in worker threads.
        installs = ThreadedInstallationStore(store)
        states = ThreadedStateStore(
            SQLAlchemyOAuthStateStore(
                expiration_seconds=STATE_EXPIRY_SECONDS,
                engine=store.engine,
                table_name=STATE_TABLE,
            )
        )
    return AsyncOAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=installs,
        installation_store_bot_only=True,
        state_store=states,
    )


async def bot_token_for(store: InstallStore, team_id: str) -> str | None:
    """The bot token of the workspace ``team_id``, None when the app is not installed.

    slack_sdk's stores are synchronous, so the lookup runs in a worker thread.
    """
    return await asyncio.to_thread(_find_bot_token, store, team_id)


def _find_bot_token(store: InstallStore, team_id: str) -> str | None:
    bot = store.find_bot(enterprise_id=None, team_id=team_id)
    if bot is None:
        # A workspace inside an Enterprise Grid org is saved under its org's id, which a
        # channel (workspace id and channel id) does not carry: look it up by workspace.
        enterprise_id = _enterprise_of(store, team_id)
        if enterprise_id:
            bot = store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
    return bot.bot_token if bot is not None else None


def _enterprise_of(store: InstallStore, team_id: str) -> str | None:
    """The org id of the latest install saved for workspace ``team_id``."""
    if not isinstance(store, SQLite3InstallationStore):
        import sqlalchemy

        bots = store.bots.c
        query = (
            sqlalchemy.select(bots.enterprise_id)
            .where(bots.client_id == store.client_id, bots.team_id == team_id)
            .order_by(bots.installed_at.desc())
            .limit(1)
        )
        with store.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return str(found) if found else None
    with contextlib.closing(store.connect()) as sqlite:
        row = sqlite.execute(
            "SELECT enterprise_id FROM slack_bots WHERE client_id = ? AND team_id = ? "
            "ORDER BY installed_at DESC LIMIT 1",
            (store.client_id, team_id),
        ).fetchone()
    return str(row[0]) if row is not None and row[0] else None


class ThreadedInstallationStore(AsyncInstallationStore):
    """bolt's asynchronous view of a synchronous slack_sdk store, each call in a worker
    thread so a round trip to the database never stalls the event loop."""

    def __init__(self, store: InstallationStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return self.store.logger

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.store.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.store.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await asyncio.to_thread(
            self.store.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.store.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        await asyncio.to_thread(
            self.store.delete_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_all, enterprise_id=enterprise_id, team_id=team_id)


class ThreadedStateStore(AsyncOAuthStateStore):
    """bolt's asynchronous view of a synchronous slack_sdk state store (worker threads)."""

    def __init__(self, store: OAuthStateStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return self.store.logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.store.issue, *args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.store.consume, state)
