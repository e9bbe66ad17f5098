"""A fake Discord REST API: a real aiohttp server on 127.0.0.1, in the test's event loop.

Point discord.py's real HTTP client at it by patching the route base::

    async with running_fake_discord() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
        http = discord.http.HTTPClient(asyncio.get_running_loop())
        await http.static_login(fake.token)
        params = discord.http.handle_message_parameters(content="hi", embeds=[embed])
        await http.send_message(CHANNEL_ID, params=params)
        assert fake.messages(CHANNEL_ID)[0].embeds == [embed.to_dict()]

It answers the way Discord does, as far as discord.py looks: ``Content-Type:
application/json`` exactly (discord.py decodes nothing else), a ``Via`` header (without
it a 429 is taken for a Cloudflare ban), ``X-RateLimit-*`` headers, errors as
``{"code": ..., "message": ...}``, JSON or multipart bodies (``payload_json`` plus files).
Routes under ``/api/v10`` (``Authorization: Bot <token>`` needed, except on the webhook
and interaction routes, whose token is in the path):

* ``GET /users/@me``, ``GET /oauth2/applications/@me``, ``GET /gateway/bot`` (login);
* ``GET /channels/{id}``; ``POST /channels/{id}/messages`` (recorded, see
  :meth:`FakeDiscord.messages`), ``PATCH``/``GET`` ``/channels/{id}/messages/{id}``;
* ``GET /channels/{id}/messages`` (``limit`` 1-100, default 50; ``before``, ``after``
  or ``around``): the channel's (or thread's) messages, newest first, as full message
  objects; ephemeral interaction answers are not there. Without Read Message History
  (:meth:`FakeDiscord.set_channel` ``can_read_history=False``) the list is empty, as
  Discord documents;
* ``POST /channels/{id}/messages/{id}/threads`` and ``POST /channels/{id}/threads``
  (threads from a message, without one, and forum posts with their first message); a
  second thread from the same message answers 400, code 160004, as on Discord;
* ``POST /interactions/{id}/{token}/callback`` (``?with_response=1`` answers the callback
  object), followups ``POST /webhooks/{app_id}/{token}`` and ``GET``/``PATCH``/``DELETE``
  ``/webhooks/{app_id}/{token}/messages/{id or @original}``;
* ``GET``/``PUT /applications/{app_id}/commands`` and
  ``/applications/{app_id}/guilds/{guild_id}/commands`` (bulk overwrite).

The gateway: ``GET /gateway/bot`` names ``ws://127.0.0.1:PORT`` (with
:attr:`FakeDiscord.gateway_shards` shards), where a websocket speaks Discord's gateway
protocol to the real ``discord.Client`` / ``AutoShardedClient``: HELLO, IDENTIFY answered
by READY then a GUILD_CREATE per guild of the shard, heartbeats ACKed, RESUME answered by
RESUMED. Frames are zlib-stream compressed when the URL asks for it (as discord.py does),
text otherwise. A wrong token in IDENTIFY closes the socket with 4004, as Discord does;
:meth:`FakeDiscord.close_next_identify` scripts other closes. Tests drive it with
:meth:`FakeDiscord.wait_gateway_ready`, :meth:`FakeDiscord.send_dispatch`,
:meth:`FakeDiscord.send_interaction` and :meth:`FakeDiscord.close_gateway`, and read
:attr:`FakeDiscord.identifies` and :attr:`FakeDiscord.gateway_sessions`.

Nonces. A message create may carry ``nonce`` (a string or integer of at most 25
characters; 400/50035 otherwise), echoed in the create answer only (a later ``GET``
does not return it, as on Discord). With ``enforce_nonce: true`` (in the JSON body or a
multipart ``payload_json``; discord.py 2.4+ sends both whenever ``send`` has a nonce, and
``send`` makes a random one if not given) a create whose nonce the bot already used in
that channel within :attr:`FakeDiscord.nonce_window` seconds (300 by default) creates
nothing and answers the existing message (200). The window runs on
:attr:`FakeDiscord.clock`, which :meth:`FakeDiscord.advance_clock` moves on.

Channels the fake was not told about are guild text channels the bot can post to.
:meth:`FakeDiscord.set_channel` describes others: deleted (404, code 10003), not visible
(403, 50001) or without Send Messages (403, 50013); :meth:`FakeDiscord.set_dm` a direct
message with the bot (no threads there: 400, 50024), closed ones answering 403, 50007.

Scripted trouble per route, consumed one request at a time in the order scripted:
:meth:`FakeDiscord.fail_next`, :meth:`FakeDiscord.rate_limit_next` and
:meth:`FakeDiscord.drop_response_next` (the request takes effect, the message *is*
created, then the connection is closed without an answer or a 5xx is answered: the
crash window between "Discord created it" and "the bot knows"). A route is named
``"METHOD /template"`` (``"POST /channels/{channel_id}/messages"``, every channel) or
``"METHOD /concrete/path"`` (``"POST /channels/42/messages"``). Every request is recorded
(:class:`DiscordCall`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.aiohttp_server import serving

__all__ = [
    "API_PREFIX",
    "APPLICATION_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "GUILD_ID",
    "DiscordCall",
    "FakeDiscord",
    "GatewaySession",
    "InteractionResponse",
    "PostedMessage",
    "running_fake_discord",
]

BOT_TOKEN = "fake-bot-token"
APPLICATION_ID = "1100000000000000001"
BOT_USER_ID = APPLICATION_ID
GUILD_ID = "1100000000000000002"
OWNER_ID = "1100000000000000003"
API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
GUILD_NAME = "arXiv reading group"
EVERYONE_PERMISSIONS = (
    (1 << 6)  # Add Reactions
    | (1 << 10)  # View Channel
    | (1 << 11)  # Send Messages
    | (1 << 14)  # Embed Links
    | (1 << 15)  # Attach Files
    | (1 << 16)  # Read Message History
    | (1 << 31)  # Use Application Commands
    | (1 << 38)  # Send Messages in Threads
)

ERRORS = {
    10003: "Unknown Channel",
    10008: "Unknown Message",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    50001: "Missing Access",
    50013: "Missing Permissions",
    50007: "Cannot send messages to this user",
    50024: "Cannot execute action on this channel type",
    50035: "Invalid Form Body",
    40060: "Interaction has already been acknowledged.",
    160004: "A thread has already been created for this message",
}
NONCE_MAX_LENGTH = 25
READ_MESSAGE_HISTORY = 1 << 16


@dataclass(frozen=True, slots=True)
class DiscordCall:
    """One request the fake received."""

    method: str
    path: str
    """The path after ``/api/v10`` (``/channels/42/messages``)."""
    route: str
    """``METHOD /template`` (``POST /channels/{channel_id}/messages``); ``?`` if unknown."""
    query: dict[str, str]
    json: Any
    """The JSON body, or the decoded ``payload_json`` of a multipart body; None if empty."""
    files: tuple[str, ...]
    """File names of multipart file parts."""
    headers: dict[str, str]
    status: int
    time: float
    """``time.monotonic()`` when the request arrived."""

    def header(self, name: str) -> str | None:
        """A request header, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def multipart(self) -> bool:
        return (self.header("Content-Type") or "").startswith("multipart/")

    @property
    def file_contents(self) -> dict[str, bytes]:
        """The multipart file parts' bytes, by file name."""
        return dict(_UPLOADED.get(id(self), ()))


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """A message the fake accepted: to a channel, or as an interaction response or followup."""

    id: str
    channel_id: str
    content: str | None
    embeds: list[dict[str, Any]]
    allowed_mentions: dict[str, Any] | None
    components: list[dict[str, Any]]
    flags: int
    payload: dict[str, Any]
    """Everything that was sent."""
    webhook: tuple[str, str] | None = None
    """``(application_id, token)`` for interaction responses and followups."""

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass(frozen=True, slots=True)
class InteractionResponse:
    """A callback to ``/interactions/{id}/{token}/callback``."""

    interaction_id: str
    token: str
    type: int
    """4 message, 5 deferred message, 6 deferred update, 7 update, 8 autocomplete, ..."""
    data: dict[str, Any]
    with_response: bool


@dataclass(slots=True)
class _Channel:
    id: str
    type: int = 0
    guild_id: str | None = GUILD_ID
    name: str = "papers"
    parent_id: str | None = None
    deleted: bool = False
    visible: bool = True
    can_send: bool = True
    can_read_history: bool = True
    closed_dm: bool = False
    """A DM whose person no longer takes the bot's messages (403, 50007)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Script:
    route: str
    times: int
    status: int
    code: int = 0
    message: str = ""
    retry_after: float = 0.0
    is_global: bool = False
    drop: bool = False
    """Let the handler act, then drop the answer: close the connection (``status`` 0)
    or answer ``status`` (5xx)."""


@dataclass(slots=True)
class GatewaySession:
    """One websocket connection to the fake gateway."""

    query: dict[str, str]
    """The URL's query: discord.py asks ``v=10&encoding=json&compress=zlib-stream``."""
    session_id: str
    identify: dict[str, Any] | None = None
    """The IDENTIFY payload's ``d`` (token, intents, shard, properties...)."""
    resume: dict[str, Any] | None = None
    """The RESUME payload's ``d``, if the client resumed a session instead."""
    shard: tuple[int, int] = (0, 1)
    ready: bool = False
    """READY (or RESUMED) was sent: dispatches reach the client now."""
    closed: bool = False
    close_code: int | None = None
    """The code of the side that closed first: the fake's, or the client's."""
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every payload the client sent, in order (heartbeats included)."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Every payload the fake sent, in order."""
    sequence: int = 0
    socket: web.WebSocketResponse | None = field(default=None, repr=False)
    compressor: Any = field(default=None, repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def open(self) -> bool:
        return not self.closed and self.socket is not None and not self.socket.closed

    def ops(self) -> list[int]:
        """The opcodes the client sent (1 heartbeat, 2 identify, 6 resume...)."""
        return [int(p.get("op", -1)) for p in self.received]


Handler = Any  # an async method taking (request, body) and returning (status, JSON)


class FakeDiscord:
    """The fake's state; serve it with :func:`running_fake_discord`."""

    def __init__(
        self,
        *,
        token: str = BOT_TOKEN,
        application_id: str = APPLICATION_ID,
        guild_id: str = GUILD_ID,
        nonce_window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.guild_id = guild_id
        self._calls: list[DiscordCall] = []
        self._messages: list[PostedMessage] = []
        self._interactions: list[InteractionResponse] = []
        self._interaction_channels: dict[str, str] = {}
        self._channels: dict[str, _Channel] = {}
        self._commands: dict[str | None, list[dict[str, Any]]] = {}
        self._scripts: list[_Script] = []
        self._ids = itertools.count(1)
        self._base_url = ""
        self.nonce_window = nonce_window
        self.post_delay = 0.0
        """Seconds each message create's answer takes after the message exists (a slow
        round trip: the window in which a crash leaves a message posted but unrecorded)."""
        """How many seconds ``enforce_nonce`` deduplicates a nonce for."""
        self.clock = clock
        """Seconds, for the nonce window only; :meth:`advance_clock` adds to it."""
        self._clock_offset = 0.0
        self._nonces: dict[tuple[str, str], tuple[str, float]] = {}
        """(channel id, nonce) to (message id, when it was created)."""
        self.gateway_shards = 1
        """The shard count ``GET /gateway/bot`` recommends (``AutoShardedClient`` uses it)."""
        self.heartbeat_interval_ms = 45_000
        self.guilds: dict[str, str] = {guild_id: GUILD_NAME}
        """The servers the bot is in (id to name): READY and GUILD_CREATE describe them."""
        self._sessions: list[GatewaySession] = []
        self._identify_closes: list[tuple[int, str]] = []
        self._gateway_changed = asyncio.Condition()

    # -- addresses

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; the REST API is at :attr:`api_url`."""
        if not self._base_url:
            raise RuntimeError("the fake Discord is not running; use running_fake_discord()")
        return self._base_url

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v10``, for ``discord.http.Route.BASE``."""
        return self.url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT``, as ``GET /gateway/bot`` answers it."""
        return "ws" + self.url.removeprefix("http")

    def new_id(self) -> str:
        """A fresh snowflake (its timestamp is now, as discord.py expects)."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((millis << 22) | (next(self._ids) & 0x3FFFFF))

    # -- the server

    def set_channel(
        self,
        channel_id: str | int,
        *,
        type: int = 0,
        guild_id: str | None = GUILD_ID,
        name: str = "papers",
        parent_id: str | int | None = None,
        deleted: bool = False,
        visible: bool = True,
        can_send: bool = True,
        can_read_history: bool = True,
    ) -> None:
        """Describe a channel (type 0 text, 5 news, 11 public thread, 15 forum, 1 DM).

        A ``deleted`` channel answers 404 (10003), one not ``visible`` 403 (50001), one
        the bot cannot ``send`` in answers 403 (50013) to posts but can still be read.
        Without ``can_read_history`` its message list reads empty, and its channel
        object denies Read Message History to @everyone (so discord.py's
        ``permissions_for`` sees it), unless :meth:`channel_overrides` says otherwise.
        """
        self._channels[str(channel_id)] = _Channel(
            id=str(channel_id),
            type=type,
            guild_id=guild_id,
            name=name,
            parent_id=str(parent_id) if parent_id is not None else None,
            deleted=deleted,
            visible=visible,
            can_send=can_send,
            can_read_history=can_read_history,
        )

    def set_dm(self, channel_id: str | int, *, closed: bool = False) -> None:
        """Describe the bot's direct message channel (type 1, no server) with one person;
        a ``closed`` one (they blocked the bot, or share no server with it any more)
        answers posts with 403, code 50007 "Cannot send messages to this user"."""
        self.set_channel(channel_id, type=1, guild_id=None, name="")
        self._channel(str(channel_id)).closed_dm = closed

    def channel_overrides(self, channel_id: str | int, **fields: Any) -> None:
        """Fields to put in the channel's object as given (``permission_overwrites``...)."""
        self._channel(str(channel_id)).extra.update(fields)

    def channel_object(self, channel_id: str | int) -> dict[str, Any]:
        """The channel as Discord's API returns it."""
        channel = self._channel(str(channel_id))
        data: dict[str, Any] = {
            "id": channel.id,
            "type": channel.type,
            "name": channel.name,
            "flags": 0,
            "last_message_id": None,
        }
        if channel.type == 1:
            data.pop("name")
            data["recipients"] = []
            return data
        overwrites: list[dict[str, Any]] = []
        if not channel.can_read_history and channel.guild_id:
            deny = {"id": channel.guild_id, "type": 0, "allow": "0"}
            overwrites.append({**deny, "deny": str(READ_MESSAGE_HISTORY)})
        data.update(
            guild_id=channel.guild_id,
            position=0,
            permission_overwrites=overwrites,
            nsfw=False,
            parent_id=channel.parent_id,
            rate_limit_per_user=0,
            topic=None,
        )
        if channel.type in (10, 11, 12):
            data.update(
                owner_id=BOT_USER_ID,
                message_count=0,
                member_count=1,
                total_message_sent=0,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": _now(),
                    "locked": False,
                },
            )
        data.update(channel.extra)
        return data

    def _channel(self, channel_id: str) -> _Channel:
        return self._channels.setdefault(channel_id, _Channel(id=channel_id))

    def expect_interaction(self, token: str, channel_id: str | int) -> None:
        """Say which channel the interaction with ``token`` came from, so its responses
        and followups are recorded under that channel (``"0"`` otherwise)."""
        self._interaction_channels[token] = str(channel_id)

    # -- scripted trouble

    def fail_next(
        self,
        route: str,
        *,
        status: int = 403,
        code: int = 50013,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests to ``route`` answer ``status`` with Discord's error
        shape ``{"code": code, "message": message}`` (403/50013 Missing Permissions by
        default; 404/10003 is Unknown Channel). A 5xx answers plain text, as Cloudflare
        does; note discord.py retries 500, 502, 504 and 524 after sleeping 1, 3, 5... s."""
        text = message if message is not None else ERRORS.get(code, "Error")
        self._scripts.append(_Script(_route_key(route), times, status, code, text))

    def rate_limit_next(
        self, route: str, retry_after: float = 0.05, *, times: int = 1, is_global: bool = False
    ) -> None:
        """The next ``times`` requests to ``route`` answer 429 with ``retry_after`` seconds
        in the JSON body (which discord.py waits out before retrying)."""
        self._scripts.append(
            _Script(
                _route_key(route),
                times,
                429,
                message="You are being rate limited.",
                retry_after=retry_after,
                is_global=is_global,
            )
        )

    def drop_response_next(self, route: str, *, status: int | None = None, times: int = 1) -> None:
        """The next ``times`` requests to ``route`` take effect (the message is created),
        then the answer is lost: the connection is closed without one (``status`` None;
        discord.py raises ``aiohttp.ServerDisconnectedError``), or ``status`` (5xx) is
        answered in plain text (discord.py retries 500, 502, 504 and 524 by itself,
        after sleeping 1 s, then 3 s...). Recorded with status 0 or ``status``."""
        self._scripts.append(_Script(_route_key(route), times, status or 0, drop=True))

    def advance_clock(self, seconds: float) -> None:
        """Move the nonce window's clock on by ``seconds`` (no waiting in tests)."""
        self._clock_offset += seconds

    def now(self) -> float:
        """The nonce window's clock: :attr:`clock` plus :meth:`advance_clock` offsets."""
        return self.clock() + self._clock_offset

    def clear_scripts(self) -> None:
        self._scripts.clear()

    def _take_script(self, template: str, concrete: str) -> _Script | None:
        for script in self._scripts:
            if script.route in (template, concrete):
                script.times -= 1
                if script.times <= 0:
                    self._scripts.remove(script)
                return script
        return None

    # -- what happened

    @property
    def all_calls(self) -> list[DiscordCall]:
        """Every request received so far, in order of arrival."""
        return list(self._calls)

    def calls(self, route: str | None = None) -> list[DiscordCall]:
        """Requests to ``route`` (template or concrete, as for :meth:`fail_next`)."""
        if route is None:
            return list(self._calls)
        key = _route_key(route)
        return [c for c in self._calls if key in (c.route, f"{c.method} {c.path}")]

    def messages(self, channel_id: str | int | None = None) -> list[PostedMessage]:
        """Messages accepted (in ``channel_id``, if given), in order; interaction
        responses and followups included, with ``webhook`` set."""
        wanted = str(channel_id) if channel_id is not None else None
        return [m for m in self._messages if wanted is None or m.channel_id == wanted]

    def channel_messages(self, channel_id: str | int | None = None) -> list[PostedMessage]:
        """Messages posted through ``POST /channels/{id}/messages`` only."""
        return [m for m in self.messages(channel_id) if m.webhook is None]

    def webhook_messages(self, token: str | None = None) -> list[PostedMessage]:
        """Interaction responses and followups (for ``token``, if given), in order."""
        return [
            m
            for m in self._messages
            if m.webhook is not None and (token is None or m.webhook[1] == token)
        ]

    def interaction_responses(self, token: str | None = None) -> list[InteractionResponse]:
        return [r for r in self._interactions if token is None or r.token == token]

    def threads(self, parent_id: str | int | None = None) -> list[dict[str, Any]]:
        """Threads created (under ``parent_id``, if given), as channel objects."""
        wanted = str(parent_id) if parent_id is not None else None
        return [
            self.channel_object(c.id)
            for c in self._channels.values()
            if c.type in (10, 11, 12) and (wanted is None or c.parent_id == wanted)
        ]

    def commands(self, guild_id: str | int | None = None) -> list[dict[str, Any]]:
        """The application commands last overwritten (global, or for ``guild_id``)."""
        return list(self._commands.get(str(guild_id) if guild_id is not None else None, []))

    def clear(self) -> None:
        """Forget calls, messages, nonces and responses (not channels, commands or
        scripts)."""
        self._calls.clear()
        self._messages.clear()
        self._nonces.clear()
        self._interactions.clear()

    # -- the gateway: what tests use

    @property
    def gateway_sessions(self) -> list[GatewaySession]:
        """Every gateway connection so far, in order of arrival (closed ones included)."""
        return list(self._sessions)

    @property
    def identifies(self) -> list[dict[str, Any]]:
        """The IDENTIFY payloads (``d``) received, in order."""
        return [s.identify for s in self._sessions if s.identify is not None]

    def shard_of(self, guild_id: str | int, shard_count: int | None = None) -> int:
        """The shard Discord sends a server's events to: ``(guild_id >> 22) % shards``."""
        return (int(guild_id) >> 22) % (shard_count or self.gateway_shards)

    def close_next_identify(
        self, code: int = 4004, reason: str = "Authentication failed.", *, times: int = 1
    ) -> None:
        """Answer the next ``times`` IDENTIFYs by closing the socket with ``code``
        (4004 authentication failed, 4013/4014 invalid or disallowed intents...)."""
        self._identify_closes.extend([(code, reason)] * times)

    async def wait_gateway_ready(
        self,
        connections: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline, by design
    ) -> list[GatewaySession]:
        """Wait until ``connections`` open sockets got READY (or RESUMED); return them."""

        def ready() -> bool:
            return len(self._ready_sessions()) >= connections

        await self._wait_gateway(ready, timeout, f"{connections} ready gateway connection(s)")
        return self._ready_sessions()

    async def wait_gateway_closed(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline, by design
    ) -> None:
        """Wait until every gateway socket is closed."""

        def closed() -> bool:
            return all(s.closed for s in self._sessions)

        await self._wait_gateway(closed, timeout, "every gateway connection to close")

    async def send_dispatch(
        self, event: str, data: dict[str, Any], *, shard: int | None = None
    ) -> int:
        """Send dispatch ``event`` (``INTERACTION_CREATE``...) to every ready socket, or to
        those of ``shard``; return how many sockets it went to."""
        targets = [s for s in self._ready_sessions() if shard is None or s.shard[0] == shard]
        for session in targets:
            await self._dispatch(session, event, data)
        return len(targets)

    def reaction_payload(
        self,
        message: PostedMessage,
        emoji: str,
        *,
        user_id: str,
        emoji_id: str | None = None,
        guild_id: str | None = GUILD_ID,
    ) -> dict[str, Any]:
        """The ``d`` of a MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE for ``emoji`` (a
        Unicode emoji, or a custom emoji's name with ``emoji_id``) on ``message``."""
        payload: dict[str, Any] = {
            "user_id": user_id,
            "channel_id": message.channel_id,
            "message_id": message.id,
            "emoji": {"id": emoji_id, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if guild_id is not None:
            payload["guild_id"] = guild_id
        return payload

    async def send_reaction(self, payload: dict[str, Any], *, added: bool = True) -> None:
        """Dispatch a reaction (:meth:`reaction_payload`) to every ready gateway socket."""
        event = "MESSAGE_REACTION_ADD" if added else "MESSAGE_REACTION_REMOVE"
        if not await self.send_dispatch(event, payload):
            raise RuntimeError("no ready gateway connection")

    async def send_interaction(self, payload: dict[str, Any]) -> str:
        """Send an INTERACTION_CREATE to the shard of its server (shard 0 for DMs), as
        Discord does; return its token."""
        guild_id = payload.get("guild_id")
        shard = None
        if guild_id is not None and self._ready_sessions():
            shard = self.shard_of(guild_id, self._ready_sessions()[0].shard[1])
        elif guild_id is None:
            shard = 0
        if not await self.send_dispatch("INTERACTION_CREATE", payload, shard=shard):
            raise RuntimeError(f"no ready gateway connection for shard {shard}")
        return str(payload["token"])

    async def close_gateway(
        self, code: int = 1000, reason: str = "", *, shard: int | None = None
    ) -> None:
        """Close every open socket (or those of ``shard``) with ``code``. discord.py
        reconnects and RESUMEs after most codes (1000 and 4000 included), but gives up on
        4004 and 4010-4014."""
        for session in list(self._sessions):  # a resumed session may join meanwhile
            if session.open and (shard is None or session.shard[0] == shard):
                await self._close(session, code, reason)

    def guild_object(self, guild_id: str | int | None = None) -> dict[str, Any]:
        """The server as GUILD_CREATE describes it: the @everyone role, the channels and
        threads the fake knows in it, and the bot as its only member."""
        gid = str(guild_id) if guild_id is not None else self.guild_id
        known = [
            c for c in self._channels.values() if c.guild_id == gid and c.visible and not c.deleted
        ]
        everyone = {
            "id": gid,
            "name": "@everyone",
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": 0,
            "permissions": str(EVERYONE_PERMISSIONS),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        me = {
            "user": self._user(),
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": gid,
            "name": self.guilds.get(gid, GUILD_NAME),
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": OWNER_ID,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "features": [],
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "joined_at": _now(),
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "members": [me],
            "voice_states": [],
            "presences": [],
            "channels": [self.channel_object(c.id) for c in known if c.type not in (10, 11, 12)],
            "threads": [self.channel_object(c.id) for c in known if c.type in (10, 11, 12)],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # -- the gateway: the server side

    def _ready_sessions(self) -> list[GatewaySession]:
        return [s for s in self._sessions if s.ready and s.open]

    async def _wait_gateway(
        self,
        predicate: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 - a test helper's deadline, by design
        what: str,
    ) -> None:
        try:
            async with asyncio.timeout(timeout), self._gateway_changed:
                await self._gateway_changed.wait_for(predicate)
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout} s for {what}; sessions: {self._sessions!r}"
            ) from None

    async def _changed(self) -> None:
        async with self._gateway_changed:
            self._gateway_changed.notify_all()

    async def _gateway_socket(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        session = GatewaySession(
            query=dict(request.query.items()), session_id=self.new_id(), socket=socket
        )
        if session.query.get("compress") == "zlib-stream":
            session.compressor = zlib.compressobj()
        self._sessions.append(session)
        await self._changed()
        try:
            await self._send(
                session, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for message in socket:
                if message.type is not WSMsgType.TEXT:  # discord.py sends JSON text
                    continue
                payload = json.loads(message.data)
                session.received.append(payload)
                await self._gateway_op(session, payload)
                if socket.closed:
                    break
        finally:
            await self._finish(session)
        return socket

    async def _finish(self, session: GatewaySession) -> None:
        if not session.closed:
            session.closed = True
            session.close_code = session.socket.close_code if session.socket else None
            await self._changed()

    async def _gateway_op(self, session: GatewaySession, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == 1:  # heartbeat
            await self._send(session, {"op": 11})
        elif op == 2 and isinstance(data, dict):
            await self._identify(session, data)
        elif op == 6 and isinstance(data, dict):
            await self._resume(session, data)

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        session.identify = data
        shard_id, shard_count = data.get("shard") or (0, 1)
        session.shard = (int(shard_id), int(shard_count))
        await self._changed()
        if self._identify_closes:
            code, reason = self._identify_closes.pop(0)
            await self._close(session, code, reason)
        elif data.get("token") != self.token:
            await self._close(session, 4004, "Authentication failed.")
        elif not 0 <= session.shard[0] < session.shard[1]:
            await self._close(session, 4010, "Invalid shard.")
        else:
            await self._ready(session)

    async def _ready(self, session: GatewaySession) -> None:
        shard_id, shard_count = session.shard
        guilds = [g for g in self.guilds if self.shard_of(g, shard_count) == shard_id]
        await self._dispatch(
            session,
            "READY",
            {
                "v": 10,
                "user": {**self._user(), "verified": True, "mfa_enabled": False},
                "guilds": [{"id": g, "unavailable": True} for g in guilds],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "shard": [shard_id, shard_count],
                "application": {"id": self.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "_trace": ["fake-discord-gateway"],
            },
        )
        for guild_id in guilds:
            await self._dispatch(session, "GUILD_CREATE", self.guild_object(guild_id))
        session.ready = True
        await self._changed()

    async def _resume(self, session: GatewaySession, data: dict[str, Any]) -> None:
        session.resume = data
        earlier = next((s for s in self._sessions if s.session_id == data.get("session_id")), None)
        if earlier is None or data.get("token") != self.token:
            await self._send(session, {"op": 9, "d": False})  # invalid session: identify
            return
        session.session_id = earlier.session_id
        session.identify = None
        session.shard = earlier.shard
        session.sequence = max(earlier.sequence, int(data.get("seq") or 0))
        await self._dispatch(session, "RESUMED", {"_trace": ["fake-discord-gateway"]})
        session.ready = True
        await self._changed()

    async def _close(self, session: GatewaySession, code: int, reason: str) -> None:
        assert session.socket is not None
        session.closed = True  # the code is the fake's, whatever the client answers
        session.close_code = code
        await session.socket.close(code=code, message=reason.encode())
        await self._changed()

    async def _dispatch(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.sequence += 1
        await self._send(session, {"op": 0, "s": session.sequence, "t": event, "d": data})

    async def _send(self, session: GatewaySession, payload: dict[str, Any]) -> None:
        """One frame: text, or a zlib-stream chunk ending in Z_SYNC_FLUSH's 00 00 ff ff."""
        assert session.socket is not None
        session.sent.append(payload)
        text = json.dumps(payload)
        async with session.lock:  # compressed chunks must arrive in the stream's order
            if session.compressor is None:
                await session.socket.send_str(text)
            else:
                chunk = session.compressor.compress(text.encode())
                chunk += session.compressor.flush(zlib.Z_SYNC_FLUSH)
                await session.socket.send_bytes(chunk)

    # -- serving

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        for method, template, handler in self._routes():
            serve = self._wrap(method, template, handler)
            app.router.add_route(method, API_PREFIX + template, serve)
        app.router.add_route("GET", "/", self._gateway_socket)  # ws://127.0.0.1:PORT/?v=10...
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    def _routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._application_info),
            ("GET", "/gateway/bot", self._gateway_bot),
            ("GET", "/gateway", self._gateway),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/messages", self._post_message),
            ("GET", "/channels/{channel_id}/messages", self._list_messages),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self._thread_from_message,
            ),
            ("POST", "/channels/{channel_id}/threads", self._thread_without_message),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{webhook_id}/{token}", self._followup),
            ("GET", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self._get_webhook),
            ("PATCH", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self._edit_webhook),
            (
                "DELETE",
                "/webhooks/{webhook_id}/{token}/messages/{message_id}",
                self._delete_webhook,
            ),
            ("GET", "/applications/{application_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/commands", self._put_commands),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._get_commands,
            ),
            (
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._put_commands,
            ),
        ]

    def _wrap(self, method: str, template: str, handler: Handler) -> Any:
        route = f"{method} {template}"
        needs_auth = not template.startswith(("/webhooks/", "/interactions/"))

        async def serve(request: web.Request) -> web.StreamResponse:
            arrived = time.monotonic()
            body, files = await _read_body(request)
            path = request.path.removeprefix(API_PREFIX)
            status, answer, headers, drop = self._answer(
                request, route, f"{method} {path}", body, handler, needs_auth
            )
            if status == 0:
                status, answer = await handler(request, body)
                if drop is not None:  # it took effect; now the answer is lost
                    status, answer = drop.status, f"{drop.status} Server Error"
            call = DiscordCall(
                method=method,
                path=path,
                route=route,
                query=dict(request.query.items()),
                json=body,
                files=files,
                headers=dict(request.headers.items()),
                status=status,
                time=arrived,
            )
            _UPLOADED[id(call)] = request.get(_CONTENTS_KEY, ())
            self._calls.append(call)
            if status == 0:  # the client hears nothing
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=204)
            return _response(status, answer, {**_ratelimit_headers(route), **headers})

        return serve

    def _answer(
        self,
        request: web.Request,
        route: str,
        concrete: str,
        body: Any,
        handler: Handler,
        needs_auth: bool,
    ) -> tuple[int, Any, dict[str, str], _Script | None]:
        """Auth and scripted answers; status 0 means "let the handler answer" (and then
        drop its answer, when a drop script is returned)."""
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}, None
        script = self._take_script(route, concrete)
        if script is None or script.drop:
            return 0, None, {}, script
        if script.status == 429:
            retry = script.retry_after
            headers = {
                "Retry-After": str(max(1, round(retry))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                "X-RateLimit-Reset-After": f"{retry:.3f}",
                "X-RateLimit-Scope": "global" if script.is_global else "user",
            }
            if script.is_global:
                headers["X-RateLimit-Global"] = "true"
            answer = {"message": script.message, "retry_after": retry, "global": script.is_global}
            return 429, answer, headers, None
        if script.status >= 500:
            return script.status, f"{script.status} Server Error", {}, None
        return script.status, {"message": script.message, "code": script.code}, {}, None

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body, files = await _read_body(request)
        path = request.path.removeprefix(API_PREFIX)
        self._calls.append(
            DiscordCall(
                request.method,
                path,
                "?",
                dict(request.query.items()),
                body,
                files,
                dict(request.headers.items()),
                404,
                arrived,
            )
        )
        return _response(404, {"message": "404: Not Found", "code": 0}, {})

    # -- objects

    def _user(self) -> dict[str, Any]:
        return {
            "id": BOT_USER_ID,
            "username": "arxiv-bot",
            "global_name": None,
            "discriminator": "0000",
            "avatar": None,
            "bot": True,
            "flags": 0,
            "public_flags": 0,
        }

    def message_object(self, message: PostedMessage) -> dict[str, Any]:
        """The message as Discord describes it (in a component interaction, say)."""
        return self._message_object(
            message.channel_id, message.id, message.payload, message.webhook is not None
        )

    def _message_object(
        self, channel_id: str, message_id: str, payload: dict[str, Any], webhook: bool
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": message_id,
            "channel_id": channel_id,
            "type": 0,
            "content": payload.get("content") or "",
            "author": self._user(),
            "timestamp": _snowflake_time(message_id),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "pinned": False,
            "flags": int(payload.get("flags") or 0),
        }
        guild_id = self._channel(channel_id).guild_id
        if guild_id:
            data["guild_id"] = guild_id
        if webhook:
            data["webhook_id"] = self.application_id
            data["application_id"] = self.application_id
        return data

    def _record(
        self,
        channel_id: str,
        payload: dict[str, Any],
        webhook: tuple[str, str] | None = None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        message_id = message_id or self.new_id()
        self._messages.append(
            PostedMessage(
                id=message_id,
                channel_id=channel_id,
                content=payload.get("content"),
                embeds=list(payload.get("embeds") or []),
                allowed_mentions=payload.get("allowed_mentions"),
                components=list(payload.get("components") or []),
                flags=int(payload.get("flags") or 0),
                payload=payload,
                webhook=webhook,
            )
        )
        return self._message_object(channel_id, message_id, payload, webhook is not None)

    def _channel_error(self, channel_id: str, *, sending: bool) -> tuple[int, Any] | None:
        channel = self._channel(channel_id)
        if channel.deleted:
            return _error(404, 10003)
        if not channel.visible:
            return _error(403, 50001)
        if sending and not channel.can_send:
            return _error(403, 50013)
        if sending and channel.closed_dm:
            return _error(403, 50007)
        return None

    # -- handlers: (request, body) -> (status, JSON)

    async def _get_me(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {**self._user(), "verified": True, "mfa_enabled": False}

    async def _application_info(self, request: web.Request, body: Any) -> tuple[int, Any]:
        owner = {**self._user(), "id": OWNER_ID, "username": "owner", "bot": False}
        return 200, {
            "id": self.application_id,
            "name": "arxiv-bot",
            "description": "arXiv papers in your channels",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "team": None,
            "bot": self._user(),
        }

    async def _gateway_bot(self, request: web.Request, body: Any) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return 200, {
            "url": self.gateway_url,
            "shards": self.gateway_shards,
            "session_start_limit": limit,
        }

    async def _gateway(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _get_channel(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        error = self._channel_error(channel_id, sending=False)
        return error or (200, self.channel_object(channel_id))

    async def _post_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        answer = await self._create_message(request, body)
        if self.post_delay:  # created already: the answer is what takes time
            await asyncio.sleep(self.post_delay)
        return answer

    async def _create_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        error = self._channel_error(channel_id, sending=True)
        if error is not None:
            return error
        payload = body if isinstance(body, dict) else {}
        if not (payload.get("content") or payload.get("embeds") or payload.get("components")):
            return _error(400, 50006, "Cannot send an empty message")
        nonce = payload.get("nonce")
        if nonce is None:
            return 200, self._record(channel_id, payload)
        if isinstance(nonce, bool) or not isinstance(nonce, str | int):
            return _invalid_form(
                "nonce", "NONCE_TYPE_INVALID", "Nonce must be a string or integer."
            )
        if len(str(nonce)) > NONCE_MAX_LENGTH:
            too_long = f"Must be {NONCE_MAX_LENGTH} or fewer in length."
            return _invalid_form("nonce", "BASE_TYPE_MAX_LENGTH", too_long)
        earlier = self._recent_nonce(channel_id, str(nonce))
        if earlier is not None and payload.get("enforce_nonce") is True:
            return 200, {**self.message_object(earlier), "nonce": nonce}
        answer = self._record(channel_id, payload)
        if earlier is None:
            self._nonces[(channel_id, str(nonce))] = (answer["id"], self.now())
        return 200, {**answer, "nonce": nonce}

    def _recent_nonce(self, channel_id: str, nonce: str) -> PostedMessage | None:
        """The bot's message in ``channel_id`` carrying ``nonce``, if created within
        :attr:`nonce_window` seconds (the bot is the only author posting here)."""
        entry = self._nonces.get((channel_id, nonce))
        if entry is None or self.now() - entry[1] > self.nonce_window:
            return None
        return self._find(entry[0])

    async def _list_messages(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        error = self._channel_error(channel_id, sending=False)
        if error is not None:
            return error
        try:
            limit = int(request.query.get("limit", "50"))
            anchors = {
                key: int(request.query[key])
                for key in ("before", "after", "around")
                if key in request.query
            }
        except ValueError:
            return _invalid_form("limit", "NUMBER_TYPE_COERCE", "Value is not int.")
        if not 1 <= limit <= 100:
            return _invalid_form("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 100.")
        if not self._channel(channel_id).can_read_history:
            return 200, []  # "no messages will be returned", says Discord
        current: dict[str, PostedMessage] = {}  # an edit records a newer version
        for message in self._messages:
            if message.channel_id == channel_id and not message.ephemeral:
                current[message.id] = message
        newest_first = sorted(current.values(), key=lambda m: int(m.id), reverse=True)
        page = _page_around(newest_first, limit, anchors)
        return 200, [self.message_object(m) for m in page]

    def _find(self, message_id: str) -> PostedMessage | None:
        return next((m for m in reversed(self._messages) if m.id == message_id), None)

    async def _get_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        message = self._find(request.match_info["message_id"])
        if message is None or message.channel_id != channel_id:
            return _error(404, 10008)
        return 200, self._message_object(channel_id, message.id, message.payload, False)

    async def _edit_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        message = self._find(request.match_info["message_id"])
        if message is None or message.channel_id != channel_id:
            return _error(404, 10008)
        payload = {**message.payload, **(body if isinstance(body, dict) else {})}
        return 200, self._record(channel_id, payload, message_id=message.id)

    def _new_thread(self, parent_id: str, payload: dict[str, Any], type: int) -> _Channel:
        thread_id = self.new_id()
        parent = self._channel(parent_id)
        self._channels[thread_id] = _Channel(
            id=thread_id,
            type=type,
            guild_id=parent.guild_id,
            name=str(payload.get("name") or "thread"),
            parent_id=parent_id,
        )
        duration = payload.get("auto_archive_duration") or 1440
        self._channels[thread_id].extra = {
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": duration,
                "archive_timestamp": _now(),
                "locked": False,
            }
        }
        return self._channels[thread_id]

    async def _thread_from_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        error = self._channel_error(channel_id, sending=True)
        if error is not None:
            return error
        message = self._find(request.match_info["message_id"])
        if message is None or message.channel_id != channel_id:
            return _error(404, 10008)
        payload = body if isinstance(body, dict) else {}
        parent_type = self._channel(channel_id).type
        if parent_type in (1, 3, 10, 11, 12):  # none in a DM, a thread (or a forum post)
            return _error(400, 50024)
        existing = self._channels.get(message.id)
        if existing is not None and existing.type in (10, 11, 12):
            return _error(400, 160004)
        thread = self._new_thread(channel_id, payload, 10 if parent_type == 5 else 11)
        # Discord gives a thread started from a message the message's id.
        self._channels.pop(thread.id)
        thread.id = message.id
        self._channels[thread.id] = thread
        return 201, self.channel_object(thread.id)

    async def _thread_without_message(self, request: web.Request, body: Any) -> tuple[int, Any]:
        channel_id = request.match_info["channel_id"]
        error = self._channel_error(channel_id, sending=True)
        if error is not None:
            return error
        payload = body if isinstance(body, dict) else {}
        if self._channel(channel_id).type in (15, 16):  # forum or media: a post
            first = payload.get("message") or {}
            thread = self._new_thread(channel_id, payload, 11)
            answer = self.channel_object(thread.id)
            answer["message"] = self._record(thread.id, first, message_id=thread.id)
            return 201, answer
        thread = self._new_thread(channel_id, payload, int(payload.get("type") or 11))
        return 201, self.channel_object(thread.id)

    async def _callback(self, request: web.Request, body: Any) -> tuple[int, Any]:
        interaction_id = request.match_info["interaction_id"]
        token = request.match_info["token"]
        payload = body if isinstance(body, dict) else {}
        if any(r.token == token for r in self._interactions):
            return _error(400, 40060)
        kind = int(payload.get("type") or 0)
        data = payload.get("data") or {}
        with_response = request.query.get("with_response") in ("1", "true", "True")
        self._interactions.append(
            InteractionResponse(interaction_id, token, kind, data, with_response)
        )
        channel_id = self._interaction_channels.get(token, "0")
        message: dict[str, Any] | None = None
        message_id: str | None = None
        if kind in (4, 5):  # a message, now or after "thinking"
            message_id = self.new_id()
            message = self._record(
                channel_id,
                data if kind == 4 else {"flags": data.get("flags", 0)},
                webhook=(self.application_id, token),
                message_id=message_id,
            )
        if not with_response:
            return 204, None
        flags = int(data.get("flags") or 0)
        interaction: dict[str, Any] = {
            "id": interaction_id,
            "type": 2,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & 64),
        }
        answer: dict[str, Any] = {"interaction": interaction}
        if message_id is not None:
            interaction["response_message_id"] = message_id
            answer["resource"] = {"type": kind, "message": message}
        return 200, answer

    def _original(self, token: str, message_id: str) -> PostedMessage | None:
        if message_id == "@original":
            return next((m for m in self.webhook_messages(token)), None)
        found = self._find(message_id)
        return found if found is not None and found.webhook is not None else None

    async def _followup(self, request: web.Request, body: Any) -> tuple[int, Any]:
        token = request.match_info["token"]
        if request.match_info["webhook_id"] != self.application_id:
            return _error(404, 10015)
        if not any(r.token == token for r in self._interactions):
            return _error(404, 10015)
        payload = body if isinstance(body, dict) else {}
        channel_id = self._interaction_channels.get(token, "0")
        return 200, self._record(channel_id, payload, webhook=(self.application_id, token))

    async def _get_webhook(self, request: web.Request, body: Any) -> tuple[int, Any]:
        token = request.match_info["token"]
        found = self._original(token, request.match_info["message_id"])
        if found is None:
            return _error(404, 10008)
        return 200, self._message_object(found.channel_id, found.id, found.payload, True)

    async def _edit_webhook(self, request: web.Request, body: Any) -> tuple[int, Any]:
        token = request.match_info["token"]
        found = self._original(token, request.match_info["message_id"])
        if found is None:
            return _error(404, 10008)
        payload = {**found.payload, **(body if isinstance(body, dict) else {})}
        return 200, self._record(
            found.channel_id, payload, webhook=(self.application_id, token), message_id=found.id
        )

    async def _delete_webhook(self, request: web.Request, body: Any) -> tuple[int, Any]:
        token = request.match_info["token"]
        found = self._original(token, request.match_info["message_id"])
        if found is None:
            return _error(404, 10008)
        return 204, None

    async def _get_commands(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, self.commands(request.match_info.get("guild_id"))

    async def _put_commands(self, request: web.Request, body: Any) -> tuple[int, Any]:
        if request.match_info["application_id"] != self.application_id:
            return _error(403, 50001)
        guild_id = request.match_info.get("guild_id")
        commands = []
        for command in body if isinstance(body, list) else []:
            stored = {
                "id": self.new_id(),
                "application_id": self.application_id,
                "version": self.new_id(),
                "type": 1,
                "description": "",
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **command,
            }
            if guild_id is not None:
                stored["guild_id"] = guild_id
            commands.append(stored)
        self._commands[guild_id] = commands
        return 200, commands


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _snowflake_time(snowflake: str) -> str:
    """When a snowflake was made, in ISO 8601 (a message's ``timestamp``)."""
    try:
        millis = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    except ValueError:
        return _now()
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat()


def _page_around(
    newest_first: list[PostedMessage], limit: int, anchors: dict[str, int]
) -> list[PostedMessage]:
    """``limit`` messages, newest first: the newest, or those just ``before``, just
    ``after`` or ``around`` a message id (the first anchor given counts)."""
    if "before" in anchors:
        return [m for m in newest_first if int(m.id) < anchors["before"]][:limit]
    if "after" in anchors:
        return [m for m in newest_first if int(m.id) > anchors["after"]][-limit:]
    if "around" in anchors:
        newer = [m for m in newest_first if int(m.id) > anchors["around"]]
        older = [m for m in newest_first if int(m.id) <= anchors["around"]]
        half = limit // 2
        taken = newer[-half:] if half else []
        return taken + older[: limit - len(taken)]
    return newest_first[:limit]


def _route_key(route: str) -> str:
    """``"post /channels/1/messages/"`` -> ``"POST /channels/1/messages"``."""
    method, _, path = route.strip().partition(" ")
    path = path.strip().removeprefix(API_PREFIX).rstrip("/")
    return f"{method.upper()} {path}"


def _error(status: int, code: int, message: str | None = None) -> tuple[int, Any]:
    return status, {"message": message or ERRORS.get(code, "Error"), "code": code}


def _invalid_form(name: str, code: str, message: str) -> tuple[int, Any]:
    """400, 50035 Invalid Form Body, naming the field at fault as Discord does."""
    status, answer = _error(400, 50035)
    return status, {**answer, "errors": {name: {"_errors": [{"code": code, "message": message}]}}}


def _ratelimit_headers(route: str) -> dict[str, str]:
    """Headers Discord sends on every answer; a bucket never runs dry here."""
    return {
        "Via": "1.1 google",
        "X-RateLimit-Bucket": f"{abs(hash(route)) & 0xFFFFFFFF:08x}",
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }


def _response(status: int, answer: Any, headers: dict[str, str]) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly (no charset), as Discord."""
    if status == 204 or answer is None:
        return web.Response(status=204, headers=headers)
    if isinstance(answer, str):
        return web.Response(status=status, text=answer, content_type="text/plain", headers=headers)
    response = web.Response(status=status, body=json.dumps(answer).encode(), headers=headers)
    response.headers["Content-Type"] = "application/json"
    return response


_CONTENTS_KEY = web.RequestKey("fake_discord_file_contents", tuple)
_UPLOADED: dict[int, tuple[tuple[str, bytes], ...]] = {}
"""Each recorded call's file parts (name, bytes), by the call's ``id``: kept beside the
frozen :class:`DiscordCall` so that its fields stay as they were."""


async def _read_body(request: web.Request) -> tuple[Any, tuple[str, ...]]:
    """The JSON body, or a multipart body's ``payload_json`` and its file names."""
    if not request.can_read_body:
        return None, ()
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[str] = []
        contents: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            raw = await part.read()
            if part.name == "payload_json":
                payload = json.loads(raw.decode())
            elif part.filename:
                files.append(part.filename)
                contents.append((part.filename, bytes(raw)))
        request[_CONTENTS_KEY] = tuple(contents)
        return payload, tuple(files)
    text = await request.text()
    if not text:
        return None, ()
    try:
        return json.loads(text), ()
    except ValueError:
        return text, ()


@contextlib.asynccontextmanager
async def running_fake_discord(
    *, token: str = BOT_TOKEN, application_id: str = APPLICATION_ID
) -> AsyncIterator[FakeDiscord]:
    """Serve a :class:`FakeDiscord` on an ephemeral port for the block's duration."""
    fake = FakeDiscord(token=token, application_id=application_id)
    async with serving(fake.make_app()) as url:
        fake._base_url = url
        try:
            yield fake
        finally:
            # An open websocket's handler would hold up the server's shutdown.
            await fake.close_gateway(1001, "going away")
