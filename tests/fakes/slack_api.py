"""A fake Slack Web API: a real aiohttp server on 127.0.0.1, in the test's event loop.

Point the real ``AsyncWebClient`` at it::

    async with running_fake_slack() as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        await client.chat_postMessage(channel="C1", text="hi", blocks=[...])
        assert fake.messages("C1")[0].blocks == [...]

What it answers, the way Slack does (``POST /api/<method>``, form, query or JSON
parameters, ``Authorization: Bearer xoxb-...``, JSON answers ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}`` with HTTP 200):

* ``auth.test``: ``team_id``, ``user_id``, ``bot_id`` and friends;
* ``chat.postMessage``: records the message (text, blocks, ``thread_ts``, ``metadata``
  ``{"event_type": ..., "event_payload": {...}}`` given as JSON or as a JSON string;
  ``invalid_metadata_format`` otherwise) and returns its ``ts``, ``channel`` and
  ``message``;
* ``chat.postEphemeral``: records it and returns ``message_ts``;
* ``conversations.history``: the channel's top-level messages, newest first (``limit``
  default 100, at most 999; ``oldest``/``latest``/``inclusive``; ``cursor`` paging with
  ``has_more`` and ``response_metadata.next_cursor``). Thread parents carry
  ``thread_ts``, ``reply_count`` and ``latest_reply``; ``metadata`` is only there with
  ``include_all_metadata``;
* ``conversations.replies``: a thread (``ts`` of its parent or of any reply), parent
  first, then the replies in order (``thread_not_found`` for an unknown ``ts``);
* ``conversations.join``: makes the bot a member of the channel (an IM, ``D...``, cannot
  be joined: ``method_not_supported_for_channel_type``);
* ``conversations.open`` (``users`` = one user id; scope ``im:write``): the bot's direct
  message with that user in the calling token's team, ``D...`` (:meth:`FakeSlack.im_id`),
  the same id each time; ``user_not_found`` without a user. The bot can post to and read
  an IM opened this way (or described with :meth:`FakeSlack.set_im`); any other ``D...``
  (a DM between two people) answers ``channel_not_found``, as Slack does;
* ``files.getUploadURLExternal``, ``POST /upload/v1/<file id>`` and
  ``files.completeUploadExternal``: a ``files_upload_v2`` upload (``files:write``), kept
  as :class:`UploadedFile` (:meth:`FakeSlack.files`);
* ``chat.unfurl``: records the unfurls (:class:`Unfurl`) given for a message's links
  (``channel`` + ``ts``, or ``unfurl_id`` + ``source`` for links in the composer); it
  needs ``links:write``, an ``unfurls`` object (JSON or a JSON string) mapping each
  URL to ``{"blocks": [...]}`` or an attachment (``invalid_unfurls_format``
  otherwise), and blocks that pass slack_sdk's Block Kit validation
  (``invalid_blocks``); :meth:`FakeSlack.link_shared_event_payload` builds the
  ``link_shared`` event that asks for them;
* ``POST /respond/<token>``: a ``response_url`` sink (:meth:`FakeSlack.response_url`)
  recording the JSON posted to it.

Methods are served on ``POST`` and ``GET`` (slack_sdk reads ``conversations.*`` with
``GET`` and query parameters).

Channels the fake was not told about are public channels the bot can post to (as with
the ``chat:write.public`` scope). :meth:`FakeSlack.set_channel` describes others: a
channel the bot is not in answers ``not_in_channel`` until it joins; a private one
cannot be joined (``method_not_supported_for_channel_type``); an archived one answers
``is_archived``.

Scripted trouble, per method (optionally per channel), consumed one request at a time
in the order scripted: :meth:`FakeSlack.fail_next` (``ok: false`` with an error),
:meth:`FakeSlack.rate_limit_next` (HTTP 429 with ``Retry-After`` and
``{"ok": false, "error": "ratelimited"}``) and :meth:`FakeSlack.server_error_next`
(HTTP 5xx with a plain-text body, as Slack's load balancers send). One more,
:meth:`FakeSlack.drop_response_next`, lets the call take effect (the message *is*
posted) and then closes the connection without an answer, or answers 5xx: the crash
window between "Slack posted it" and "the bot knows". Note that slack_sdk's default
retry handler resends a request whose connection was dropped, once. Every request is
recorded (:class:`SlackCall`).

Per-channel pacing (off by default): with :attr:`FakeSlack.channel_pace` set to ``s``
seconds, each channel takes ``chat.postMessage`` (thread replies included) at most once
per ``s`` seconds, in bursts of at most :attr:`FakeSlack.channel_burst` (a token bucket
per channel), as Slack's "1 message per second per channel" does; a post sooner answers
HTTP 429 with ``Retry-After`` (whole seconds, at least 1) and posts nothing.

Scopes. Each bot token has granted scopes: by default :data:`DEFAULT_SCOPES` (what the
bot asks for in ``adapters/slack/settings.py`` plus ``channels:history`` and
``groups:history``); :meth:`FakeSlack.add_bot_token`, :meth:`FakeSlack.add_oauth_code`
and :meth:`FakeSlack.set_scopes` choose others. Every Web API answer to a known token
carries Slack's ``x-oauth-scopes`` header (the token's scopes) and, for methods that
need one, ``x-accepted-oauth-scopes``. ``conversations.history``/``replies`` need
``channels:history`` (public channels), ``groups:history`` (private channels, ``G...``
or :meth:`FakeSlack.set_channel` ``private=True``) or ``im:history`` (``D...``);
without it they answer ``{"ok": false, "error": "missing_scope", "needed": ...,
"provided": ...}``, as Slack does. Reading a channel the bot is not in answers
``not_in_channel``.

Tokens. Bot tokens (``xoxb-``) are mapped to teams: :data:`BOT_TOKEN` belongs to
:data:`TEAM_ID`; :meth:`FakeSlack.add_bot_token` adds others, and so does a successful
``oauth.v2.access``. A bot method called with the app-level token, or
``apps.connections.open`` called with a bot token, answers ``not_allowed_token_type``;
an unknown token answers ``invalid_auth``, no token ``not_authed``.

Socket Mode. ``apps.connections.open`` (app-level token :data:`APP_TOKEN`, ``xapp-``)
answers ``{"ok": true, "url": "ws://127.0.0.1:PORT/socket?ticket=N"}``; the websocket
there greets the client with Slack's ``hello`` message, then the test pushes envelopes
and awaits the client's acknowledgement::

    async with running_fake_slack() as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        app = AsyncApp(client=client)
        ...  # @app.command("/arxiv") etc.
        handler = AsyncSocketModeHandler(app, fake.app_token)
        await handler.connect_async()
        ack = await fake.send_envelope("slash_commands", fake.slash_command_payload("help"))
        assert ack["payload"] == {"text": "..."}
        await handler.close_async()

The handler's Socket Mode client asks for the websocket URL with
``web_client.apps_connections_open(app_token=...)``, where ``web_client`` is the
handler's ``web_client=`` argument or, by default, ``app.client``: so an app whose
client has ``base_url=fake.api_url`` needs nothing more (the app token goes in as the
``Authorization`` header of that one call; the client's own bot token is not used).
The client reads ``HTTPS_PROXY``/``HTTP_PROXY`` from the environment for the websocket
and honours no ``NO_PROXY``: unset them in tests. It reconnects by itself when the
server closes the socket (:meth:`FakeSlack.close_sockets`) or sends a ``disconnect``
message (:meth:`FakeSlack.request_disconnect`), fetching a fresh URL each time;
:meth:`FakeSlack.wait_socket_connected` with ``connections=2`` waits for that.
Tickets stay valid after use, because ``disconnect_async()`` then ``connect_async()``
reuses the URL it has. Build the handler inside the running loop (its client makes an
aiohttp session and a task in ``__init__``), and close it inside the
:func:`running_fake_slack` block. A request no listener matches is not acknowledged
at all (bolt's 404 becomes no ack): :meth:`FakeSlack.send_envelope` then times out.

OAuth. ``oauth.v2.access`` takes the client credentials from HTTP Basic auth (as
``AsyncWebClient.oauth_v2_access`` sends them) or from ``client_id``/``client_secret``
parameters, checks them against :data:`CLIENT_ID`/:data:`CLIENT_SECRET`
(``invalid_client_id``, ``bad_client_secret``), and exchanges a code registered with
:meth:`FakeSlack.add_oauth_code` (once; otherwise ``invalid_code``) for a bot install
of that team: token ``xoxb-installed-<team id>``, accepted from then on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from adapters.slack.settings import BOT_SCOPES as REQUESTED_SCOPES
from tests.fakes.aiohttp_server import serving

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_ID",
    "BOT_SCOPES",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DEFAULT_SCOPES",
    "INSTALLER_USER_ID",
    "TEAM_ID",
    "TEAM_NAME",
    "EphemeralMessage",
    "FakeSlack",
    "PostedMessage",
    "SlackCall",
    "Unfurl",
    "running_fake_slack",
]

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
TEAM_ID = "T0TEST"
TEAM_NAME = "arxiv-bot test"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0TEST"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "test-client-secret"
INSTALLER_USER_ID = "U0INSTALLER"
DEFAULT_SCOPES: tuple[str, ...] = tuple(
    dict.fromkeys((*REQUESTED_SCOPES, "channels:history", "groups:history"))
)
"""The scopes a bot token has unless told otherwise: what the bot asks for, plus the
history scopes read-back needs."""
BOT_SCOPES = ",".join(DEFAULT_SCOPES)
""":data:`DEFAULT_SCOPES` as Slack writes them (``oauth.v2.access``'s ``scope``)."""
APP_TOKEN_SCOPES = ("connections:write",)
HISTORY_LIMIT = 999
"""The most messages ``conversations.history``/``replies`` answer at once."""


@dataclass(frozen=True, slots=True)
class SlackCall:
    """One request the fake received."""

    method: str
    """The API method (``chat.postMessage``), or ``respond`` for the response_url sink."""
    params: dict[str, Any]
    """Query, form and JSON parameters merged; a form field holding JSON (``blocks``)
    is decoded."""
    headers: dict[str, str]
    is_json: bool
    """The body was ``application/json``."""
    status: int
    error: str | None
    """The ``error`` answered, None when ``ok`` was true."""
    time: float
    """``time.monotonic()`` when the request arrived."""

    def header(self, name: str) -> str | None:
        """A request header, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass(slots=True)
class UploadedFile:
    """A file uploaded the way ``files_upload_v2`` does it: ``files.getUploadURLExternal``
    (``filename``, ``length``) hands out ``file_id`` and an upload URL on this fake, the
    bytes are POSTed there (raw, as slack_sdk sends them, or as a multipart ``file``
    field), and ``files.completeUploadExternal`` (``files``, a JSON array of ``{"id",
    "title"}``, with ``channel_id``, ``initial_comment``, ``thread_ts``) shares it."""

    file_id: str
    filename: str
    length: int
    team_id: str
    content: bytes | None = None
    """None until uploaded."""
    title: str | None = None
    channel: str | None = None
    """Where ``files.completeUploadExternal`` shared it (None: not completed, or private)."""
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """A message ``chat.postMessage`` accepted."""

    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    params: dict[str, Any]
    """Everything the call sent (``unfurl_links``, ``mrkdwn``, ...)."""
    team_id: str = TEAM_ID
    """The team of the bot token that posted it."""
    metadata: dict[str, Any] | None = None
    """The message metadata, ``{"event_type": ..., "event_payload": {...}}``."""


@dataclass(frozen=True, slots=True)
class Unfurl:
    """The unfurls one ``chat.unfurl`` call gave, by URL."""

    channel: str | None
    ts: str | None
    unfurls: dict[str, dict[str, Any]]
    params: dict[str, Any]
    source: str | None = None
    unfurl_id: str | None = None


@dataclass(frozen=True, slots=True)
class EphemeralMessage:
    """A message ``chat.postEphemeral`` accepted."""

    channel: str
    user: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    params: dict[str, Any]
    team_id: str = TEAM_ID
    """The team of the bot token that posted it."""


@dataclass(frozen=True, slots=True)
class _Team:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class _Grant:
    """An OAuth code waiting to be exchanged."""

    team: _Team
    redirect_uri: str | None
    scopes: tuple[str, ...]


@dataclass(slots=True)
class _Channel:
    private: bool = False
    member: bool = True
    archived: bool = False


@dataclass(slots=True)
class _Script:
    method: str
    channel: str | None
    times: int
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    in_thread: bool | None = None
    """Only replies in a thread (True), only top-level messages (False), or any (None)."""
    drop: bool = False
    """Let the call take effect, then drop the answer: close the connection (``status``
    0) or answer ``status`` (5xx)."""


_Auth = Literal["bot", "app", "client"]
"""Who may call a method: a bot token, the app-level token, or the OAuth client."""


class FakeSlack:
    """The fake's state; serve it with :func:`running_fake_slack`."""

    def __init__(
        self,
        *,
        token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        self.token = token
        """The bot token of the home team (:data:`TEAM_ID`)."""
        self.app_token = app_token
        """The app-level token ``apps.connections.open`` wants."""
        self.client_id = client_id
        self.client_secret = client_secret
        self._home = _Team(TEAM_ID, TEAM_NAME)
        self._bot_tokens: dict[str, _Team] = {token: self._home}
        self._scopes: dict[str, tuple[str, ...]] = {token: DEFAULT_SCOPES}
        self._grants: dict[str, _Grant] = {}
        self._calls: list[SlackCall] = []
        self._messages: list[PostedMessage] = []
        self._ephemerals: list[EphemeralMessage] = []
        self._uploads: dict[str, UploadedFile] = {}
        self._unfurls: list[Unfurl] = []
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._channels: dict[str, _Channel] = {}
        self._scripts: list[_Script] = []
        self.channel_pace = 0.0
        """Seconds between two posts to one channel (see the module doc); 0: no limit."""
        self.channel_burst = 1
        """Posts one channel may take at once, before :attr:`channel_pace` applies."""
        self._buckets: dict[str, tuple[float, float]] = {}
        """Per channel: posts it may take now (fractional), and when that was counted."""
        self._ts = itertools.count(1)
        self._base_url = ""
        # Socket Mode
        self._tickets: set[str] = set()
        self._ticket_numbers = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connections = 0
        self._socket_changed = asyncio.Condition()
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._acks: list[dict[str, Any]] = []

    # -- addresses

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; the Web API is at :attr:`api_url`."""
        if not self._base_url:
            raise RuntimeError("the fake Slack is not running; use running_fake_slack()")
        return self._base_url

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``, for ``AsyncWebClient(base_url=...)``."""
        return self.url + "/api/"

    def response_url(self, token: str = "r1") -> str:
        """A ``response_url`` whose posts are recorded under ``token``."""
        return f"{self.url}/respond/{token}"

    # -- the workspace

    def set_channel(
        self, channel: str, *, private: bool = False, member: bool = True, archived: bool = False
    ) -> None:
        """Describe a channel; channels not described are public, with the bot able to post."""
        self._channels[channel] = _Channel(private=private, member=member, archived=archived)

    @staticmethod
    def im_id(user: str, team: str = TEAM_ID) -> str:
        """The ``D...`` id of the bot's direct message with ``user`` in ``team``: one per
        (team, user), so the same person has a different IM in each workspace."""
        return f"D{team.removeprefix('T')}{user.removeprefix('U')}"

    def set_im(self, user: str, team: str = TEAM_ID) -> str:
        """Open the bot's IM with ``user`` (as ``conversations.open`` does); its id."""
        channel = self.im_id(user, team)
        self._channels[channel] = _Channel(private=True, member=True)
        return channel

    def is_member(self, channel: str) -> bool:
        return self._channels.get(channel, _Channel()).member

    # -- tokens and installs

    def add_bot_token(
        self,
        token: str,
        *,
        team_id: str = TEAM_ID,
        team_name: str = "",
        scopes: Iterable[str] | None = None,
    ) -> None:
        """Accept ``token`` as a bot token of ``team_id`` (named ``team_name``), granted
        ``scopes`` (:data:`DEFAULT_SCOPES` if None)."""
        name = team_name or (TEAM_NAME if team_id == TEAM_ID else team_id)
        self._bot_tokens[token] = _Team(team_id, name)
        self.set_scopes(token, DEFAULT_SCOPES if scopes is None else scopes)

    def set_scopes(self, token: str, scopes: Iterable[str]) -> None:
        """Grant bot ``token`` exactly ``scopes`` from now on (as a reinstall would)."""
        self._scopes[token] = tuple(dict.fromkeys(scopes))

    def scopes(self, token: str | None = None) -> tuple[str, ...]:
        """The scopes granted to bot ``token`` (the home team's by default)."""
        return self._scopes.get(self.token if token is None else token, ())

    @property
    def bot_tokens(self) -> dict[str, str]:
        """The accepted bot tokens, each with its team id."""
        return {token: team.id for token, team in self._bot_tokens.items()}

    def add_oauth_code(
        self,
        code: str,
        *,
        team_id: str = "T0OTHER",
        team_name: str = "Other lab",
        redirect_uri: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> str:
        """Let ``oauth.v2.access`` exchange ``code`` (once) for a bot install in ``team_id``
        granted ``scopes`` (:data:`DEFAULT_SCOPES` if None).

        With ``redirect_uri``, the exchange must send the same one (``bad_redirect_uri``
        otherwise), as Slack checks it against the authorize request. Returns the bot
        token the exchange will issue, ``xoxb-installed-<team_id>``; it is accepted
        only once the exchange has happened.
        """
        granted = tuple(dict.fromkeys(DEFAULT_SCOPES if scopes is None else scopes))
        self._grants[code] = _Grant(_Team(team_id, team_name), redirect_uri, granted)
        return _installed_token(team_id)

    # -- scripted trouble

    def fail_next(
        self,
        method: str,
        error: str = "channel_not_found",
        *,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``channel``, if given) answer
        ``{"ok": false, "error": error}``."""
        self._scripts.append(_Script(method, channel, times, error=error))

    def rate_limit_next(
        self, method: str, retry_after: int = 1, *, times: int = 1, channel: str | None = None
    ) -> None:
        """The next ``times`` calls answer HTTP 429 with ``Retry-After: retry_after``."""
        self._scripts.append(
            _Script(
                method, channel, times, status=429, error="ratelimited", retry_after=retry_after
            )
        )

    def server_error_next(
        self,
        method: str,
        status: int = 503,
        *,
        times: int = 1,
        channel: str | None = None,
        in_thread: bool | None = None,
    ) -> None:
        """The next ``times`` calls answer HTTP ``status`` with a plain-text body
        (``in_thread``: only calls with, or without, a ``thread_ts``)."""
        self._scripts.append(_Script(method, channel, times, status=status, in_thread=in_thread))

    def drop_response_next(
        self,
        method: str,
        *,
        times: int = 1,
        channel: str | None = None,
        in_thread: bool | None = None,
        status: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` take effect (a message is posted), then
        the answer is lost: the connection is closed without one (``status`` None; the
        client sees ``aiohttp.ServerDisconnectedError``), or HTTP ``status`` is answered
        with a plain-text body. The call is recorded with status 0 or ``status``."""
        self._scripts.append(
            _Script(method, channel, times, status=status or 0, in_thread=in_thread, drop=True)
        )

    def clear_scripts(self) -> None:
        self._scripts.clear()

    # -- what happened

    @property
    def all_calls(self) -> list[SlackCall]:
        """Every request received so far, in order of arrival."""
        return list(self._calls)

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """The requests for ``method`` (all, when None), in order of arrival."""
        return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[PostedMessage]:
        """Messages posted (to ``channel``, if given), in order of acceptance."""
        return [m for m in self._messages if channel is None or m.channel == channel]

    def files(self, channel: str | None = None) -> list[UploadedFile]:
        """Files shared with ``files.completeUploadExternal`` (to ``channel``, if given)."""
        return [
            f
            for f in self._uploads.values()
            if f.completed and (channel is None or f.channel == channel)
        ]

    def ephemerals(self, channel: str | None = None) -> list[EphemeralMessage]:
        return [m for m in self._ephemerals if channel is None or m.channel == channel]

    def unfurls(self, channel: str | None = None) -> list[Unfurl]:
        """The ``chat.unfurl`` calls accepted (for ``channel``, if given), in order."""
        return [u for u in self._unfurls if channel is None or u.channel == channel]

    def responses(self, token: str = "r1") -> list[dict[str, Any]]:
        """The JSON bodies posted to :meth:`response_url` ``(token)``."""
        return list(self._responses.get(token, []))

    def clear(self) -> None:
        """Forget calls, messages, responses and acks (not channels, tokens or scripts)."""
        self._calls.clear()
        self._messages.clear()
        self._ephemerals.clear()
        self._unfurls.clear()
        self._responses.clear()
        self._acks.clear()

    # -- Socket Mode

    @property
    def socket_connections(self) -> int:
        """How many websocket connections were accepted so far (reconnects included)."""
        return self._socket_connections

    @property
    def open_sockets(self) -> int:
        """How many websocket connections are open now."""
        return len(self._sockets)

    @property
    def acks(self) -> list[dict[str, Any]]:
        """Every message the Socket Mode clients sent carrying an ``envelope_id``."""
        return list(self._acks)

    async def wait_socket_connected(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline, by design
        *,
        connections: int = 1,
    ) -> None:
        """Wait until a websocket is open, greeted with ``hello``, and at least
        ``connections`` were accepted in all (2 waits for a reconnect).

        Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout), self._socket_changed:
            await self._socket_changed.wait_for(
                lambda: bool(self._sockets) and self._socket_connections >= connections
            )

    async def send_envelope(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline, by design
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict[str, Any]:
        """Push an envelope to the newest open websocket and return the client's ack.

        ``envelope_type`` is ``slash_commands``, ``interactive`` or ``events_api``; the ack is
        the whole JSON message the client answered, ``{"envelope_id": ...}`` plus
        ``"payload"`` when the listener acknowledged with content.
        ``accepts_response_payload`` defaults to Slack's: false for ``events_api``,
        true otherwise. Waits for a connection first; raises :class:`TimeoutError`
        when none comes or the client does not acknowledge within ``timeout``.
        """
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type != "events_api"
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        acked: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = acked
        try:
            async with asyncio.timeout(timeout):
                async with self._socket_changed:
                    await self._socket_changed.wait_for(lambda: bool(self._sockets))
                    socket = self._sockets[-1]
                await socket.send_json(envelope)
                return await acked
        finally:
            self._pending_acks.pop(envelope_id, None)

    async def close_sockets(self, code: int = 1001, message: str = "") -> None:
        """Close every open websocket from the server's side (the client reconnects).

        Slack closes with 1001 ("going away") when it rotates its servers.
        """
        sockets, self._sockets = self._sockets, []
        for socket in sockets:
            await socket.close(code=code, message=message.encode())
        async with self._socket_changed:
            self._socket_changed.notify_all()

    async def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message to every open websocket: the client
        fetches a new URL, connects there and closes the old socket itself."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        for socket in list(self._sockets):
            await socket.send_json(message)

    def slash_command_payload(
        self,
        text: str = "",
        *,
        command: str = "/arxiv",
        user_id: str = "U0USER",
        channel_id: str = "C0CHANNEL",
        team_id: str = TEAM_ID,
        response_token: str = "r1",
    ) -> dict[str, Any]:
        """A ``slash_commands`` envelope payload, as Slack sends it (all strings);
        its ``response_url`` is :meth:`response_url` ``(response_token)``."""
        return {
            "token": "verification-token-unused",
            "team_id": team_id,
            "team_domain": "arxiv-bot-test",
            "channel_id": channel_id,
            "channel_name": "papers",
            "user_id": user_id,
            "user_name": "tester",
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.response_url(response_token),
            "trigger_id": f"{next(self._ts)}.trigger",
        }

    def block_actions_payload(
        self,
        action_id: str,
        value: str = "",
        *,
        block_id: str = "actions",
        user_id: str = "U0USER",
        channel_id: str = "C0CHANNEL",
        team_id: str = TEAM_ID,
        message_ts: str = "1700000000.000100",
        response_token: str = "r1",
    ) -> dict[str, Any]:
        """An ``interactive`` envelope payload for a button click on a bot message."""
        return {
            "type": "block_actions",
            "user": {"id": user_id, "username": "tester", "name": "tester", "team_id": team_id},
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": f"{next(self._ts)}.trigger",
            "team": {"id": team_id, "domain": "arxiv-bot-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "papers"},
            "message": {"type": "message", "ts": message_ts, "user": BOT_USER_ID, "text": ""},
            "state": {"values": {}},
            "response_url": self.response_url(response_token),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": action_id, "emoji": True},
                    "value": value,
                    "action_ts": f"{int(time.time())}.000001",
                }
            ],
        }

    def reaction_event_payload(
        self,
        reaction: str,
        *,
        message_ts: str,
        added: bool = True,
        user_id: str = "U0USER",
        channel_id: str = "C0CHANNEL",
        team_id: str = TEAM_ID,
        item_type: str = "message",
    ) -> dict[str, Any]:
        """An ``events_api`` envelope payload (the Events API body) for a reaction added
        to (or removed from) the message ``message_ts`` of ``channel_id``."""
        ts = self._next_ts()
        item: dict[str, Any] = {"type": item_type, "channel": channel_id, "ts": message_ts}
        if item_type == "file":
            item = {"type": "file", "file": "F0FILE"}
        return {
            "token": "verification-token-unused",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": {
                "type": "reaction_added" if added else "reaction_removed",
                "user": user_id,
                "reaction": reaction,
                "item_user": BOT_USER_ID,
                "item": item,
                "event_ts": ts,
            },
            "type": "event_callback",
            "event_id": f"Ev{next(self._ts):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
        }

    def link_shared_event_payload(
        self,
        urls: Iterable[str],
        *,
        message_ts: str = "1700000000.000200",
        channel_id: str = "C0CHANNEL",
        user_id: str = "U0USER",
        team_id: str = TEAM_ID,
        source: str = "conversations_history",
    ) -> dict[str, Any]:
        """An ``events_api`` envelope payload (the Events API body) for a message
        posting ``urls`` in ``channel_id``: Slack's ``link_shared`` event, with each
        link's ``domain`` (links typed in the composer: ``source="composer"``,
        ``channel`` ``COMPOSER`` and an ``unfurl_id``)."""
        links = [{"domain": _link_domain(url), "url": url} for url in urls]
        composer = source == "composer"
        event: dict[str, Any] = {
            "type": "link_shared",
            "channel": "COMPOSER" if composer else channel_id,
            "is_bot_user_member": True,
            "user": user_id,
            "message_ts": message_ts,
            "unfurl_id": f"C-{uuid.uuid4()}",
            "source": source,
            "links": links,
            "event_ts": self._next_ts(),
        }
        if not composer:
            event["thread_ts"] = message_ts
        return {
            "token": "verification-token-unused",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ts):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
        }

    # -- serving

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle_api)
        app.router.add_get("/api/{method}", self._handle_api)
        app.router.add_post("/respond/{token}", self._handle_respond)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_get("/socket", self._handle_socket)
        return app

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _take_script(
        self, method: str, channel: str | None, in_thread: bool = False
    ) -> _Script | None:
        for script in self._scripts:
            if script.in_thread is not None and script.in_thread != in_thread:
                continue
            if script.method == method and (script.channel is None or script.channel == channel):
                script.times -= 1
                if script.times <= 0:
                    self._scripts.remove(script)
                return script
        return None

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params, is_json = await _read_params(request)
        headers = dict(request.headers.items())

        status, body, extra_headers = self._answer(method, params, headers)
        error = None if body.get("ok") else str(body.get("error", "unknown"))
        self._calls.append(SlackCall(method, params, headers, is_json, status, error, arrived))
        if status == 0:  # a dropped answer: the call took effect, the client hears nothing
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)
        if status >= 500:
            return web.Response(
                status=status, text="Service Unavailable\n", content_type="text/plain"
            )
        return web.json_response(body, status=status, headers=extra_headers)

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler: _Method | None = None
        auth: _Auth = "bot"  # an unknown method still wants a token first, as on Slack
        if method in _METHODS:
            handler, auth = _METHODS[method]
        team = self._authenticate(auth, params, headers)
        if isinstance(team, str):
            return 200, {"ok": False, "error": team}, {}
        granted = self._granted(auth, _bearer(params, headers))
        needed = self._needed_scope(method, params)
        scope_headers = _scope_headers(granted, needed)
        channel = params.get("channel")
        script = self._take_script(
            method, str(channel) if channel is not None else None, bool(params.get("thread_ts"))
        )
        if script is not None and not script.drop:
            if script.status == 429:
                retry = {"Retry-After": str(script.retry_after or 0), **scope_headers}
                return 429, {"ok": False, "error": "ratelimited"}, retry
            if script.status >= 500:
                return script.status, {"ok": False, "error": "server_error"}, {}
            return 200, {"ok": False, "error": script.error}, scope_headers
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, scope_headers
        if needed is not None and granted is not None and needed not in granted:
            provided = ",".join(granted)
            answer = {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}
            return 200, answer, scope_headers
        if method == "chat.postMessage" and channel is not None:
            wait = self._pace_wait(str(channel))
            if wait > 0:
                retry = {"Retry-After": str(max(1, math.ceil(wait))), **scope_headers}
                return 429, {"ok": False, "error": "ratelimited"}, retry
        return (script.status if script else 200), handler(self, params, team), scope_headers

    def _pace_wait(self, channel: str) -> float:
        """Take one of ``channel``'s posts from its bucket: 0 when one was left, else the
        seconds until one will be (:attr:`channel_pace`; nothing taken)."""
        if self.channel_pace <= 0:
            return 0.0
        now = time.monotonic()
        burst = max(1, self.channel_burst)
        left, then = self._buckets.get(channel, (float(burst), now))
        left = min(float(burst), left + (now - then) / self.channel_pace)
        if left >= 1.0:
            self._buckets[channel] = (left - 1.0, now)
            return 0.0
        self._buckets[channel] = (left, now)
        return (1.0 - left) * self.channel_pace

    def _granted(self, auth: _Auth, token: str) -> tuple[str, ...] | None:
        """The calling token's scopes; None for the OAuth client, which has none."""
        if auth == "client":
            return None
        if auth == "app":
            return APP_TOKEN_SCOPES
        return self._scopes.get(token, ())

    def _needed_scope(self, method: str, params: dict[str, Any]) -> str | None:
        """The scope ``method`` needs on ``params["channel"]``, if it needs one here."""
        if method == "chat.unfurl":
            return "links:write"
        if method.startswith("files."):
            return "files:write"
        if method == "conversations.open":
            return "im:write"
        if method not in _HISTORY_METHODS:
            return None
        channel = str(params.get("channel") or "")
        if channel.startswith("D"):
            return "im:history"
        private = self._channels.get(channel, _Channel()).private or channel.startswith("G")
        return "groups:history" if private else "channels:history"

    def _authenticate(
        self, auth: _Auth, params: dict[str, Any], headers: dict[str, str]
    ) -> _Team | str:
        """The calling token's team, or the error Slack answers."""
        if auth == "client":
            return self._authenticate_client(_header(headers, "Authorization"), params)
        token = _bearer(params, headers)
        if not token:
            return "not_authed"
        team = self._bot_tokens.get(token)
        if auth == "app":
            if token == self.app_token:
                return self._home
            return "not_allowed_token_type" if team is not None else "invalid_auth"
        if team is not None:
            return team
        return "not_allowed_token_type" if token == self.app_token else "invalid_auth"

    def _authenticate_client(self, authorization: str, params: dict[str, Any]) -> _Team | str:
        """OAuth client credentials: HTTP Basic auth first, then form parameters."""
        client_id = str(params.get("client_id", ""))
        client_secret = str(params.get("client_secret", ""))
        if authorization.startswith("Basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                decoded = base64.b64decode(authorization.removeprefix("Basic ").strip()).decode()
                client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id:
            return "invalid_client_id"
        if client_secret != self.client_secret:
            return "bad_client_secret"
        return self._home

    def _channel_error(self, channel: Any) -> str | None:
        if not channel or _unopened_im(self._channels, str(channel)):
            return "channel_not_found"
        state = self._channels.get(str(channel), _Channel())
        if state.archived:
            return "is_archived"
        if not state.member:
            return "not_in_channel"
        return None

    def _read_error(self, channel: str) -> str | None:
        """Why the bot cannot read ``channel``'s history (archived ones can be read)."""
        state = self._channels.get(channel, _Channel())
        if not channel or _unopened_im(self._channels, channel):
            return "channel_not_found"
        if state.private and not state.member:
            return "channel_not_found"  # a private channel the bot is not in is invisible
        return None if state.member else "not_in_channel"

    def _message_objects(
        self, messages: list[PostedMessage], *, metadata: bool
    ) -> list[dict[str, Any]]:
        """``messages`` as Slack's history, replies and ``chat.postMessage`` describe
        them; their ``metadata`` only when asked for."""
        replies: dict[tuple[str, str], list[PostedMessage]] = {}
        for posted in self._messages:
            if posted.thread_ts and posted.thread_ts != posted.ts:
                replies.setdefault((posted.channel, posted.thread_ts), []).append(posted)
        return [
            self._message_object(m, replies.get((m.channel, m.ts), []), metadata=metadata)
            for m in messages
        ]

    @staticmethod
    def _message_object(
        message: PostedMessage, replies: list[PostedMessage], *, metadata: bool
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "text": message.text or "",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": message.team_id,
            "bot_profile": {"id": BOT_ID, "app_id": APP_ID, "name": "arxiv-bot"},
        }
        if message.blocks:
            data["blocks"] = message.blocks
        if message.thread_ts and message.thread_ts != message.ts:
            data.update(thread_ts=message.thread_ts, parent_user_id=BOT_USER_ID)
        if replies:
            data.update(
                thread_ts=message.ts,
                reply_count=len(replies),
                reply_users=[BOT_USER_ID],
                reply_users_count=1,
                latest_reply=replies[-1].ts,
                is_locked=False,
                subscribed=False,
            )
        if metadata and message.metadata is not None:
            data["metadata"] = message.metadata
        return data

    def _thread(self, channel: str, parent_ts: str) -> list[PostedMessage]:
        """The message ``parent_ts`` (if posted) then its replies, in order."""
        posted = self.messages(channel)
        parent = [m for m in posted if m.ts == parent_ts]
        return parent + [m for m in posted if m.thread_ts == parent_ts and m.ts != parent_ts]

    def _page(
        self, found: list[PostedMessage], params: dict[str, Any], *, newest_first: bool
    ) -> dict[str, Any]:
        """One page of ``found`` (in order), as ``conversations.history``/``replies``
        answer it: ``oldest``/``latest``/``inclusive``, ``limit`` and ``cursor``."""
        try:
            start = _cursor_ts(params.get("cursor"))
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        try:
            limit = int(params.get("limit") or 100)
            oldest = _ts_value(params.get("oldest"), Decimal(0))
            latest = _ts_value(params.get("latest"), Decimal("Infinity"))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        limit = min(limit if limit > 0 else 100, HISTORY_LIMIT)
        inclusive = _flag(params.get("inclusive"))
        kept = [m for m in found if _within(Decimal(m.ts), oldest, latest, inclusive)]
        if start is not None:  # the cursor names the first message of this page
            kept = [
                m
                for m in kept
                if (Decimal(m.ts) <= start if newest_first else Decimal(m.ts) >= start)
            ]
        page, rest = kept[:limit], kept[limit:]
        with_metadata = _flag(params.get("include_all_metadata"))
        answer: dict[str, Any] = {
            "ok": True,
            "messages": self._message_objects(page, metadata=with_metadata),
            "has_more": bool(rest),
        }
        if rest:
            cursor = base64.b64encode(f"next_ts:{rest[0].ts}".encode()).decode()
            answer["response_metadata"] = {"next_cursor": cursor}
        return answer

    # -- methods

    def _auth_test(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{_domain(team)}.slack.com/",
            "team": team.name,
            "user": "arxiv-bot",
            "team_id": team.id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        channel = params.get("channel")
        error = self._channel_error(channel)
        if error is not None:
            return {"ok": False, "error": error}
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        try:
            metadata = _metadata(params.get("metadata"))
        except ValueError:
            return {"ok": False, "error": "invalid_metadata_format"}
        ts = self._next_ts()
        thread_ts = params.get("thread_ts")
        message = PostedMessage(
            channel=str(channel),
            ts=ts,
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            params=params,
            team_id=team.id,
            metadata=metadata,
        )
        self._messages.append(message)
        (answer,) = self._message_objects([message], metadata=True)
        return {"ok": True, "channel": message.channel, "ts": ts, "message": answer}

    def _history(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        error = self._read_error(channel)
        if error is not None:
            return {"ok": False, "error": error}
        top_level = [m for m in self.messages(channel) if m.thread_ts in (None, m.ts)]
        return self._page(top_level[::-1], params, newest_first=True)

    def _replies(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        error = self._read_error(channel)
        if error is not None:
            return {"ok": False, "error": error}
        ts = str(params.get("ts") or "")
        message = next((m for m in self.messages(channel) if m.ts == ts), None)
        if message is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = self._thread(channel, message.thread_ts or message.ts)
        return self._page(thread, params, newest_first=False)

    def _post_ephemeral(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        channel, user = params.get("channel"), params.get("user")
        error = self._channel_error(channel)
        if error is not None:
            return {"ok": False, "error": error}
        if not user:
            return {"ok": False, "error": "user_not_in_channel"}
        ts = self._next_ts()
        self._ephemerals.append(
            EphemeralMessage(
                channel=str(channel),
                user=str(user),
                ts=ts,
                text=params.get("text"),
                blocks=params.get("blocks"),
                params=params,
                team_id=team.id,
            )
        )
        return {"ok": True, "message_ts": ts}

    def _unfurl(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        source, unfurl_id = params.get("source"), params.get("unfurl_id")
        if not ((channel and ts) or (source and unfurl_id)):
            return {"ok": False, "error": "cannot_find_message" if channel else "missing_channel"}
        if source is not None and source not in ("composer", "conversations_history"):
            return {"ok": False, "error": "invalid_source"}
        unfurls = _unfurls(params.get("unfurls"))
        if unfurls is None:
            return {"ok": False, "error": "invalid_unfurls_format"}
        if not all(_valid_blocks(u.get("blocks")) for u in unfurls.values()):
            return {"ok": False, "error": "invalid_blocks"}
        self._unfurls.append(
            Unfurl(
                channel=str(channel) if channel else None,
                ts=str(ts) if ts else None,
                unfurls=unfurls,
                params=params,
                source=str(source) if source else None,
                unfurl_id=str(unfurl_id) if unfurl_id else None,
            )
        )
        return {"ok": True}

    def _open(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:  # group DMs (several users) are not faked
            return {"ok": False, "error": "user_not_found" if not users else "not_implemented"}
        channel = self.im_id(users[0], team.id)
        already = channel in self._channels
        self.set_im(users[0], team.id)
        answer: dict[str, Any] = {"ok": True, "channel": {"id": channel}}
        if already:
            answer.update(no_op=True, already_open=True)
        return answer

    def _join(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if str(channel).startswith("D"):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        state = self._channels.setdefault(str(channel), _Channel())
        if state.archived:
            return {"ok": False, "error": "is_archived"}
        if state.private and not state.member:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        already = state.member
        state.member = True
        answer: dict[str, Any] = {
            "ok": True,
            "channel": {"id": str(channel), "is_private": state.private, "is_member": True},
        }
        if already:
            answer["warning"] = "already_in_channel"
        return answer

    def _get_upload_url(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{uuid.uuid4().hex[:10].upper()}"
        self._uploads[file_id] = UploadedFile(file_id, filename, int(length), team.id)
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        try:
            wanted = json.loads(str(params.get("files") or ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(wanted, list) or not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        channel = params.get("channel_id") or None
        if channel is not None and (error := self._channel_error(channel)) is not None:
            return {"ok": False, "error": error}
        found = []
        for item in wanted:
            upload = self._uploads.get(str((item or {}).get("id") or ""))
            if upload is None or upload.content is None or upload.team_id != team.id:
                return {"ok": False, "error": "file_not_found"}
            found.append((upload, item))
        answer = []
        for upload, item in found:
            upload.title = str(item.get("title") or upload.filename)
            upload.channel = str(channel) if channel else None
            upload.initial_comment = params.get("initial_comment") or None
            upload.thread_ts = params.get("thread_ts") or None
            upload.completed = True
            answer.append(
                {
                    "id": upload.file_id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.content or b""),
                    "channels": [upload.channel] if upload.channel else [],
                }
            )
        return {"ok": True, "files": answer}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The upload URL: the file's bytes, raw or as a multipart ``file`` field."""
        upload = self._uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="not found\n", content_type="text/plain")
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            field = form.get("file")
            if isinstance(field, web.FileField):
                data = field.file.read()
            else:
                data = str(field or "").encode()
        else:
            data = await request.read()
        upload.content = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    def _connections_open(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        ticket = str(next(self._ticket_numbers))
        self._tickets.add(ticket)
        return {"ok": True, "url": f"{self.url.replace('http', 'ws', 1)}/socket?ticket={ticket}"}

    def _oauth_v2_access(self, params: dict[str, Any], team: _Team) -> dict[str, Any]:
        code = str(params.get("code", ""))
        grant = self._grants.get(code)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        del self._grants[code]
        token = _installed_token(grant.team.id)
        self._bot_tokens[token] = grant.team
        self.set_scopes(token, grant.scopes)
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": INSTALLER_USER_ID},
            "scope": ",".join(grant.scopes),
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": BOT_USER_ID,
            "team": {"id": grant.team.id, "name": grant.team.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    async def _handle_respond(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        token = request.match_info["token"]
        params, is_json = await _read_params(request)
        self._responses.setdefault(token, []).append(params)
        headers = dict(request.headers.items())
        self._calls.append(SlackCall("respond", params, headers, is_json, 200, None, arrived))
        return web.Response(text="ok", content_type="text/plain")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        """The Socket Mode websocket: ``hello``, then acks until either side closes."""
        if request.query.get("ticket", "") not in self._tickets:
            return web.Response(status=401, text="invalid ticket\n", content_type="text/plain")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        async with self._socket_changed:
            self._sockets.append(socket)
            self._socket_connections += 1
            self._socket_changed.notify_all()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive_ack(message.data)
        finally:
            async with self._socket_changed:
                if socket in self._sockets:
                    self._sockets.remove(socket)
                self._socket_changed.notify_all()
        return socket

    def _receive_ack(self, data: str) -> None:
        with contextlib.suppress(ValueError):
            message = json.loads(data)
            if isinstance(message, dict) and "envelope_id" in message:
                self._acks.append(message)
                acked = self._pending_acks.get(str(message["envelope_id"]))
                if acked is not None and not acked.done():
                    acked.set_result(message)

    async def _shutdown(self) -> None:
        """Close the websockets, so the server's cleanup does not wait on them."""
        await self.close_sockets(code=1001)
        for acked in self._pending_acks.values():
            acked.cancel()


def _unopened_im(channels: dict[str, _Channel], channel: str) -> bool:
    """A direct message the bot is not part of (one between two people)."""
    return channel.startswith("D") and channel not in channels


_Method = Callable[[FakeSlack, dict[str, Any], _Team], dict[str, Any]]

_METHODS: dict[str, tuple[_Method, _Auth]] = {
    "auth.test": (FakeSlack._auth_test, "bot"),
    "chat.postMessage": (FakeSlack._post_message, "bot"),
    "chat.postEphemeral": (FakeSlack._post_ephemeral, "bot"),
    "files.getUploadURLExternal": (FakeSlack._get_upload_url, "bot"),
    "files.completeUploadExternal": (FakeSlack._complete_upload, "bot"),
    "conversations.join": (FakeSlack._join, "bot"),
    "conversations.open": (FakeSlack._open, "bot"),
    "chat.unfurl": (FakeSlack._unfurl, "bot"),
    "conversations.history": (FakeSlack._history, "bot"),
    "conversations.replies": (FakeSlack._replies, "bot"),
    "apps.connections.open": (FakeSlack._connections_open, "app"),
    "oauth.v2.access": (FakeSlack._oauth_v2_access, "client"),
}


def _domain(team: _Team) -> str:
    return "arxiv-bot-test" if team.id == TEAM_ID else team.id.lower()


def _installed_token(team_id: str) -> str:
    return f"xoxb-installed-{team_id}"


_HISTORY_METHODS = frozenset({"conversations.history", "conversations.replies"})


def _header(headers: dict[str, str], name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def _bearer(params: dict[str, Any], headers: dict[str, str]) -> str:
    """The token of a call: the ``Authorization: Bearer`` header, or a ``token`` parameter."""
    authorization = _header(headers, "Authorization")
    return authorization.removeprefix("Bearer ").strip() or str(params.get("token", ""))


def _scope_headers(granted: tuple[str, ...] | None, needed: str | None) -> dict[str, str]:
    """Slack's ``x-oauth-scopes`` (the token's) and ``x-accepted-oauth-scopes`` headers."""
    if granted is None:
        return {}
    headers = {"x-oauth-scopes": ",".join(granted)}
    if needed is not None:
        headers["x-accepted-oauth-scopes"] = needed
    return headers


def _flag(value: Any) -> bool:
    """A boolean parameter: slack_sdk sends ``"1"``/``"0"``, JSON bodies ``true``."""
    return value is True or str(value).strip().lower() in {"1", "true"}


def _metadata(value: Any) -> dict[str, Any] | None:
    """``chat.postMessage``'s ``metadata`` (a JSON object or a JSON string), checked;
    ValueError when it is not ``{"event_type": str, "event_payload": {...}}``."""
    if value is None or value == "":
        return None
    decoded = json.loads(value) if isinstance(value, str) else value
    if not (
        isinstance(decoded, dict)
        and isinstance(decoded.get("event_type"), str)
        and decoded["event_type"]
        and isinstance(decoded.get("event_payload"), dict)
    ):
        raise ValueError(f"not message metadata: {value!r}")
    return decoded


def _unfurls(value: Any) -> dict[str, dict[str, Any]] | None:
    """``chat.unfurl``'s ``unfurls`` (an object, or an object as a JSON string), or None
    when it is not a non-empty mapping of URLs to objects."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or not value:
        return None
    if not all(isinstance(url, str) and isinstance(u, dict) for url, u in value.items()):
        return None
    return value


def _valid_blocks(blocks: Any) -> bool:
    """No blocks (an attachment unfurl), or blocks slack_sdk's models accept."""
    if blocks is None:
        return True
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return False
    try:
        parsed = Block.parse_all(blocks)
        for block in parsed:
            block.validate_json()
    except (SlackObjectFormationError, KeyError, TypeError, ValueError):
        return False
    return all(b is not None and type(b) is not Block for b in parsed)


def _link_domain(url: str) -> str:
    host = urlsplit(url if "//" in url else "https://" + url).hostname or ""
    return host.removeprefix("www.")


def _ts_value(value: Any, default: Decimal) -> Decimal:
    """A timestamp parameter (``oldest``, ``latest``) as a number; ValueError if it is none."""
    if value is None or value == "":
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation as bad:
        raise ValueError(f"not a timestamp: {value!r}") from bad
    if number.is_nan():
        raise ValueError(f"not a timestamp: {value!r}")
    return number


def _within(ts: Decimal, oldest: Decimal, latest: Decimal, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest


def _cursor_ts(cursor: Any) -> Decimal | None:
    """The ``ts`` a ``next_cursor`` names; ValueError for a cursor the fake did not make."""
    if not cursor:
        return None
    try:
        decoded = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as bad:
        raise ValueError(f"invalid cursor {cursor!r}") from bad
    prefix, _, ts = decoded.partition(":")
    if prefix != "next_ts":
        raise ValueError(f"invalid cursor {cursor!r}")
    return _ts_value(ts, Decimal(0))


async def _read_params(request: web.Request) -> tuple[dict[str, Any], bool]:
    """Query, form and JSON parameters, merged; JSON-valued form fields decoded."""
    params: dict[str, Any] = dict(request.query.items())
    is_json = request.content_type == "application/json"
    if is_json:
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            params[key] = _maybe_json(key, str(value))
    return params, is_json


def _maybe_json(key: str, value: str) -> Any:
    if key in {"blocks", "attachments", "metadata"} and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


@contextlib.asynccontextmanager
async def running_fake_slack(
    *,
    token: str = BOT_TOKEN,
    app_token: str = APP_TOKEN,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
) -> AsyncIterator[FakeSlack]:
    """Serve a :class:`FakeSlack` on an ephemeral port for the block's duration.

    Close Socket Mode handlers inside the block: the fake closes its websockets on the
    way out, and a handler still running would reconnect to a server going away.
    """
    fake = FakeSlack(
        token=token, app_token=app_token, client_id=client_id, client_secret=client_secret
    )
    async with serving(fake.make_app()) as url:
        fake._base_url = url
        try:
            yield fake
        finally:
            await fake._shutdown()
