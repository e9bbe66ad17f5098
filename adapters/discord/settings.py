"""The Discord adapter's settings (``DISCORD_*``), read from the environment and ``.env``."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from bot.config import EnvSettings, load

__all__ = ["DEFAULT_API_URL", "DiscordSettings", "load_discord_settings"]

DEFAULT_API_URL = "https://discord.com/api/v10"


class DiscordSettings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="DISCORD_")

    token: str = ""
    guild_id: int | None = None
    shards: str = ""
    manager_role: str = ""
    api_url: str = DEFAULT_API_URL
    link_previews: bool = False
    """Preview pasted arXiv links; needs the privileged Message Content intent."""

    @field_validator("guild_id", mode="before")
    @classmethod
    def _blank_guild(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("", "auto"):
            raise ValueError("use auto (sharded, for about 1,000 servers or more) or leave empty")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://discord.com/api/v10")
        if "@" in urlsplit(value).netloc:
            raise ValueError(
                "must not hold a user name or password (user:password@): Discord's API "
                "takes only the bot token; use e.g. https://discord.com/api/v10"
            )
        return value.rstrip("/")

    @property
    def is_configured(self) -> bool:
        return bool(self.token)

    @property
    def sharded(self) -> bool:
        return self.shards == "auto"


def load_discord_settings(**overrides: object) -> DiscordSettings:
    """Read ``DISCORD_*`` settings; a bad value is a one-line :class:`ConfigError`."""
    return load(DiscordSettings, **overrides)
