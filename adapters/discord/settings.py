"""The Discord adapter's settings (``DISCORD_*``), read from the environment and ``.env``."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.config import EnvSettings, load

__all__ = [
    "DEFAULT_API_URL",
    "ORDINAL",
    "DiscordSettings",
    "describe_shards",
    "host_name",
    "load_discord_settings",
]

DEFAULT_API_URL = "https://discord.com/api/v10"
ORDINAL = "ordinal"
"""``DISCORD_SHARD_IDS=ordinal``: the shard is the number ending the host name, as a
StatefulSet's pods are named (``arxiv-bot-0``, ``arxiv-bot-1``, ...)."""

_HOST_NAME: ContextVar[str | None] = ContextVar("discord_host_name", default=None)
"""The host name :func:`load_discord_settings` was given (tests); None: this host's."""


def host_name() -> str:
    """This host's name: ``HOSTNAME`` (set in containers, a pod's name on Kubernetes),
    else the system's; the one given to :func:`load_discord_settings` wins over both."""
    given = _HOST_NAME.get()
    if given is not None:
        return given
    return os.environ.get("HOSTNAME", "").strip() or socket.gethostname()


class DiscordSettings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="DISCORD_")

    token: str = ""
    guild_id: int | None = None
    shards: str = ""
    shard_count: int | None = None
    """Shards across every replica (``DISCORD_SHARD_COUNT``); None: one connection, or
    Discord's recommended count with ``DISCORD_SHARDS=auto``."""
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    """The shards this process connects (``DISCORD_SHARD_IDS``, e.g. ``0,2`` or ``0-3``, or
    ``ordinal``: the one numbered like this StatefulSet pod), sorted; None: all of them
    (and with ``ordinal`` but no token: Discord is off, the host name is not asked)."""
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

    @field_validator("shard_count", mode="before")
    @classmethod
    def _shard_count(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            count = int(str(value).strip())
        except ValueError:
            count = 0
        if isinstance(value, bool) or count < 1:
            raise ValueError(
                "must be a whole number, 1 or more: the number of shards across all "
                "replicas (e.g. 4); leave it empty for one connection"
            )
        return count

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object, info: ValidationInfo) -> tuple[int, ...] | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(item) for item in value)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError("use shard ids and ranges separated by commas, such as 0,2 or 0-3")
        if value.strip().lower() == ORDINAL:
            return _ordinal_shard(info)
        ids = _parse_shard_ids(value)
        if "shard_count" not in info.data:
            return ids  # DISCORD_SHARD_COUNT is wrong itself, and says so
        count = info.data["shard_count"]
        if count is None:
            raise ValueError(
                "needs DISCORD_SHARD_COUNT, the number of shards across all replicas: set "
                "it on every replica (e.g. DISCORD_SHARD_COUNT=4, with DISCORD_SHARD_IDS=0,1 "
                "on one replica and 2,3 on the other)"
            )
        outside = [shard for shard in ids if shard >= count]
        if outside:
            raise ValueError(
                f"shard {outside[0]} is out of range for DISCORD_SHARD_COUNT={count}: "
                f"ids run from 0 to {count - 1}; raise DISCORD_SHARD_COUNT (on every replica) "
                "or list only ids below it"
            )
        return ids

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
        """Run ``AutoShardedClient``: with ``DISCORD_SHARDS=auto`` or a shard count."""
        return self.shards == "auto" or self.shard_count is not None


def _ordinal_shard(info: ValidationInfo) -> tuple[int, ...] | None:
    """``DISCORD_SHARD_IDS=ordinal``: the shard numbered like this host (``arxiv-bot-1``:
    1), below ``DISCORD_SHARD_COUNT``; None without a token (Discord is off)."""
    if "shard_count" not in info.data:
        return None  # DISCORD_SHARD_COUNT is wrong itself, and says so
    count = info.data["shard_count"]
    if count is None:
        raise ValueError(
            "ordinal needs DISCORD_SHARD_COUNT, the number of shards across all replicas: "
            "set it to the StatefulSet's replicas (e.g. DISCORD_SHARD_COUNT=2 with replicas: 2)"
        )
    if not info.data.get("token"):
        return None  # no Discord here: the host's name does not matter
    host = host_name()
    match = _ORDINAL_HOST.fullmatch(host.split(".", 1)[0])
    if match is None:
        raise ValueError(
            "ordinal needs a host name ending in -N, as a StatefulSet's pods have "
            f"(arxiv-bot-0, arxiv-bot-1, ...); this host is {host!r}: run the bot in a "
            "StatefulSet, or list this replica's shards instead (e.g. 0,2)"
        )
    shard = int(match["ordinal"])
    if shard >= count:
        raise ValueError(
            f"ordinal gives this host ({host!r}) shard {shard}, but DISCORD_SHARD_COUNT={count} "
            f"has shards 0 to {count - 1}: set DISCORD_SHARD_COUNT to the StatefulSet's "
            "replicas (raise both together)"
        )
    return (shard,)


_ORDINAL_HOST = re.compile(r".*-(?P<ordinal>[0-9]+)")


def _parse_shard_ids(text: str) -> tuple[int, ...]:
    """``"0,2"``, ``"0-3"``, ``"0-1, 5"``... as sorted shard ids; a ValueError saying what
    is wrong for anything else, and for a shard listed twice."""
    where: dict[int, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue  # "0,2," or "0, ,2": nothing between the commas
        match = _SHARD_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(
                f"{item!r} is not a shard id or a range: use ids from 0 and ranges separated "
                "by commas, such as 0,2 or 0-3"
            )
        first = int(match["first"])
        last = int(match["last"]) if match["last"] is not None else first
        if last < first:
            raise ValueError(f"the range {item} runs backwards: write {last}-{first}")
        for shard in range(first, last + 1):
            if shard in where:
                earlier = where[shard]
                places = f" (in {earlier} and in {item})" if earlier != item else ""
                raise ValueError(f"shard {shard} is listed twice{places}: list each shard once")
            where[shard] = item
    if not where:
        raise ValueError("lists no shard: use ids and ranges such as 0,2 or 0-3, or leave it empty")
    return tuple(sorted(where))


_SHARD_ITEM = re.compile(r"(?P<first>[0-9]+)(?:\s*-\s*(?P<last>[0-9]+))?")


def describe_shards(ids: Iterable[int], count: int | None) -> str:
    """``0,2 of 4``; runs of three or more as ranges (``0-3,8 of 16``)."""
    runs: list[list[int]] = []
    for shard in sorted(ids):
        if runs and shard == runs[-1][-1] + 1:
            runs[-1].append(shard)
        else:
            runs.append([shard])
    parts = [
        f"{run[0]}-{run[-1]}" if len(run) >= 3 else ",".join(str(shard) for shard in run)
        for run in runs
    ]
    return f"{','.join(parts)} of {count if count is not None else '?'}"


def load_discord_settings(*, hostname: str | None = None, **overrides: object) -> DiscordSettings:
    """Read ``DISCORD_*`` settings; a bad value is a one-line :class:`ConfigError`.

    ``hostname`` stands in for this host's name (:func:`host_name`), which
    ``DISCORD_SHARD_IDS=ordinal`` reads its shard from."""
    given = _HOST_NAME.set(hostname)
    try:
        return load(DiscordSettings, **overrides)
    finally:
        _HOST_NAME.reset(given)
