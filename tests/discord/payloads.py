"""Interactions as Discord sends them, run through the adapter's real command tree."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import discord

from adapters.discord.adapter import DiscordAdapter
from tests.fakes.discord_api import APPLICATION_ID, GUILD_ID, FakeDiscord, PostedMessage

__all__ = [
    "CHANNEL",
    "MANAGER",
    "MEMBER",
    "autocomplete",
    "button_click",
    "dispatch",
    "slash",
    "wait_for",
]

CHANNEL = "1200000000000000001"
USER_ID = "1200000000000000099"
MANAGER = discord.Permissions(
    view_channel=True, send_messages=True, manage_channels=True, use_application_commands=True
).value
MEMBER = discord.Permissions(
    view_channel=True, send_messages=True, use_application_commands=True
).value
_COMMAND_ID = "1200000000000000050"


def _option(name: str, value: Any, *, focused: bool = False) -> dict[str, Any]:
    option: dict[str, Any] = {"name": name, "type": 4 if isinstance(value, int) else 3}
    option["value"] = value
    if focused:
        option["focused"] = True
    return option


def _base(
    fake: FakeDiscord,
    kind: int,
    *,
    channel: str,
    guild: bool,
    permissions: int,
    roles: tuple[str, ...],
    channel_type: int,
) -> dict[str, Any]:
    user = {"id": USER_ID, "username": "ada", "discriminator": "0", "avatar": None}
    token = f"token-{fake.new_id()}"
    fake.expect_interaction(token, channel)
    payload: dict[str, Any] = {
        "id": fake.new_id(),
        "application_id": APPLICATION_ID,
        "type": kind,
        "token": token,
        "version": 1,
        "attachment_size_limit": 8 * 1024 * 1024,
        "locale": "en-US",
        "channel_id": channel,
        "app_permissions": str(discord.Permissions.all().value),
        "entitlements": [],
    }
    if guild:
        payload["guild_id"] = GUILD_ID
        if channel_type != 0:
            fake.set_channel(channel, type=channel_type)
        payload["channel"] = fake.channel_object(channel)
        payload["member"] = {
            "user": user,
            "roles": list(roles),
            "permissions": str(permissions),
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        payload["context"] = 0
    else:
        payload["channel"] = {"id": channel, "type": 1, "recipients": [user]}
        payload["user"] = user
        payload["context"] = 1
    return payload


def slash(
    fake: FakeDiscord,
    subcommand: str,
    *,
    channel: str = CHANNEL,
    guild: bool = True,
    permissions: int = MANAGER,
    roles: tuple[str, ...] = (),
    channel_type: int = 0,
    app_permissions: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """``/arxiv <subcommand> option:value ...`` as an APPLICATION_COMMAND interaction;
    ``app_permissions`` are the bot's own in the channel (default: all)."""
    payload = _base(
        fake,
        2,
        channel=channel,
        guild=guild,
        permissions=permissions,
        roles=roles,
        channel_type=channel_type,
    )
    if app_permissions is not None:
        payload["app_permissions"] = str(app_permissions)
    sub = {"type": 1, "name": subcommand, "options": [_option(k, v) for k, v in options.items()]}
    payload["data"] = {"id": _COMMAND_ID, "name": "arxiv", "type": 1, "options": [sub]}
    return payload


def autocomplete(
    fake: FakeDiscord, subcommand: str, focused: str, typed: str, **options: Any
) -> dict[str, Any]:
    """Typing ``typed`` into option ``focused`` of ``/arxiv <subcommand>``."""
    payload = slash(fake, subcommand, **options)
    payload["type"] = 4
    sub = payload["data"]["options"][0]
    sub["options"].append({"name": focused, "type": 3, "value": typed, "focused": True})
    return payload


def button_click(fake: FakeDiscord, message: PostedMessage, custom_id: str) -> dict[str, Any]:
    """A click on the button ``custom_id`` of ``message`` (a MESSAGE_COMPONENT interaction)."""
    payload = _base(
        fake,
        3,
        channel=message.channel_id,
        guild=True,
        permissions=MEMBER,
        roles=(),
        channel_type=0,
    )
    payload["message"] = fake.message_object(message)
    payload["data"] = {"custom_id": custom_id, "component_type": 2}
    return payload


def dispatch(adapter: DiscordAdapter, payload: dict[str, Any]) -> str:
    """Hand ``payload`` to the client as the gateway would; return its token."""
    adapter.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    return str(payload["token"])


async def wait_for(condition: Callable[[], bool]) -> None:
    """Wait (at most 5 s) for the command's work, which runs in a task of its own."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (state the fake server records)
            await asyncio.sleep(0.005)
