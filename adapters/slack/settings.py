"""The Slack adapter's settings (``SLACK_*``), read from the environment and ``.env``.

Three ways to run, chosen by which settings are present:

* **Socket Mode** (``SLACK_BOT_TOKEN`` and ``SLACK_APP_TOKEN``): the bot opens a
  websocket to Slack; no public URL is needed.
* **HTTP mode** (``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET``): Slack posts to
  ``http://HOST:SLACK_PORT/slack/events``; every request's signature is checked.
* **Many workspaces** (``SLACK_CLIENT_ID``, ``SLACK_CLIENT_SECRET`` and
  ``SLACK_SIGNING_SECRET``, no bot token): HTTP mode with Slack's OAuth install flow at
  ``/slack/install``; each workspace's token is kept in the bot's database.
"""

from __future__ import annotations

import enum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from bot.config import EnvSettings, load
from bot.errors import ConfigError

__all__ = ["BOT_SCOPES", "READ_BACK_SCOPES", "SlackMode", "SlackSettings", "load_slack_settings"]

DEFAULT_API_URL = "https://slack.com/api/"

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:join",
    "channels:history",
    "groups:history",
    "reactions:read",
    "files:write",
    "links:read",
    "links:write",
    "im:write",
    "im:history",
)
"""What the bot asks for: the slash command, posting, posting to public channels it has
not joined, joining a public channel when Slack answers ``not_in_channel``, reading
back its own recent messages after a crash (public and private channels) so it never
posts one twice, and the reactions on its paper posts (``reaction_added`` /
``reaction_removed`` events: feedback, docs/feedback.md), uploading exports
(``/arxiv export``: ``files_upload_v2``), and arXiv links pasted in
messages (``link_shared`` events, answered with ``chat.unfurl``: link previews), and
personal feeds in direct messages (``conversations.open`` for the person's DM with the
bot, and reading its own posts there back). The manifest
(``deploy/slack-manifest.yml``) and the OAuth install flow use the same list."""

READ_BACK_SCOPES = ("channels:history", "groups:history")
"""Without these the bot still works, but a crash may repeat one message per channel."""


class SlackMode(enum.Enum):
    SOCKET = "Socket Mode"
    HTTP = "HTTP mode"
    OAUTH = "HTTP mode with OAuth installs"


class SlackSettings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="SLACK_")

    bot_token: str = ""
    app_token: str = ""
    signing_secret: str = ""
    client_id: str = ""
    client_secret: str = ""
    api_url: str = DEFAULT_API_URL
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 3000
    """0 picks a free port (tests)."""
    post_interval: Annotated[float, Field(ge=0, le=60)] = 1.0

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, value: str) -> str:
        if value and not value.startswith("xoxb-"):
            raise ValueError("a bot token starts with xoxb- (OAuth & Permissions page)")
        return value

    @field_validator("app_token")
    @classmethod
    def _app_token(cls, value: str) -> str:
        if value and not value.startswith("xapp-"):
            raise ValueError(
                "an app-level token starts with xapp- (Basic Information → App-Level Tokens)"
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        if "@" in urlsplit(value).netloc:
            raise ValueError(
                "must not hold a user name or password (user:password@): Slack's Web API "
                "takes only the token; use e.g. https://slack.com/api/"
            )
        return value if value.endswith("/") else value + "/"

    @property
    def is_configured(self) -> bool:
        """True when any Slack credential is set: the adapter then starts, or says what
        is missing."""
        return any(
            (
                self.bot_token,
                self.app_token,
                self.signing_secret,
                self.client_id,
                self.client_secret,
            )
        )

    @property
    def mode(self) -> SlackMode:
        """How the adapter connects; raises :class:`ConfigError` for an incomplete set."""
        if self.client_id or self.client_secret:
            if self.bot_token:
                raise ConfigError(
                    "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
                    "SLACK_CLIENT_SECRET (OAuth installs into many workspaces), not both"
                )
            missing = [
                name
                for name, value in (
                    ("SLACK_CLIENT_ID", self.client_id),
                    ("SLACK_CLIENT_SECRET", self.client_secret),
                    ("SLACK_SIGNING_SECRET", self.signing_secret),
                )
                if not value
            ]
            if missing:
                raise ConfigError(
                    f"OAuth installs need {', '.join(missing)} "
                    "(Basic Information → App Credentials)"
                )
            return SlackMode.OAUTH
        if not self.bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from "
                "your app's OAuth & Permissions page into .env"
            )
        if self.app_token:
            return SlackMode.SOCKET
        if not self.signing_secret:
            raise ConfigError(
                "Slack needs SLACK_APP_TOKEN (xapp-..., for Socket Mode) or "
                "SLACK_SIGNING_SECRET (for HTTP mode); see the README's Slack section"
            )
        return SlackMode.HTTP


def load_slack_settings(**overrides: object) -> SlackSettings:
    """Read ``SLACK_*`` settings; a bad value is a one-line :class:`ConfigError`."""
    return load(SlackSettings, **overrides)
