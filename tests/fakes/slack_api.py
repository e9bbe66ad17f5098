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
* ``chat.postMessage``: records the message (text, blocks, ``thread_ts``) and returns
  its ``ts`` and ``channel``;
* ``chat.postEphemeral``: records it and returns ``message_ts``;
* ``conversations.join``: makes the bot a member of the channel;
* ``POST /respond/<token>``: a ``response_url`` sink (:meth:`FakeSlack.response_url`)
  recording the JSON posted to it.

Channels the fake was not told about are public channels the bot can post to (as with
the ``chat:write.public`` scope). :meth:`FakeSlack.set_channel` describes others: a
channel the bot is not in answers ``not_in_channel`` until it joins; a private one
cannot be joined (``method_not_supported_for_channel_type``); an archived one answers
``is_archived``.

Scripted trouble, per method (optionally per channel), consumed one request at a time
in the order scripted: :meth:`FakeSlack.fail_next` (``ok: false`` with an error),
:meth:`FakeSlack.rate_limit_next` (HTTP 429 with ``Retry-After`` and
``{"ok": false, "error": "ratelimited"}``) and :meth:`FakeSlack.server_error_next`
(HTTP 5xx with a plain-text body, as Slack's load balancers send). Every request is
recorded (:class:`SlackCall`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = [
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "TEAM_ID",
    "EphemeralMessage",
    "FakeSlack",
    "PostedMessage",
    "SlackCall",
    "running_fake_slack",
]

BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0TEST"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"


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


@dataclass(frozen=True, slots=True)
class EphemeralMessage:
    """A message ``chat.postEphemeral`` accepted."""

    channel: str
    user: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    params: dict[str, Any]


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


class FakeSlack:
    """The fake's state; serve it with :func:`running_fake_slack`."""

    def __init__(self, *, token: str = BOT_TOKEN) -> None:
        self.token = token
        self._calls: list[SlackCall] = []
        self._messages: list[PostedMessage] = []
        self._ephemerals: list[EphemeralMessage] = []
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._channels: dict[str, _Channel] = {}
        self._scripts: list[_Script] = []
        self._ts = itertools.count(1)
        self._base_url = ""

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

    def is_member(self, channel: str) -> bool:
        return self._channels.get(channel, _Channel()).member

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
        self, method: str, status: int = 503, *, times: int = 1, channel: str | None = None
    ) -> None:
        """The next ``times`` calls answer HTTP ``status`` with a plain-text body."""
        self._scripts.append(_Script(method, channel, times, status=status))

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

    def ephemerals(self, channel: str | None = None) -> list[EphemeralMessage]:
        return [m for m in self._ephemerals if channel is None or m.channel == channel]

    def responses(self, token: str = "r1") -> list[dict[str, Any]]:
        """The JSON bodies posted to :meth:`response_url` ``(token)``."""
        return list(self._responses.get(token, []))

    def clear(self) -> None:
        """Forget calls, messages and responses (not channels or scripts)."""
        self._calls.clear()
        self._messages.clear()
        self._ephemerals.clear()
        self._responses.clear()

    # -- serving

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle_api)
        app.router.add_post("/respond/{token}", self._handle_respond)
        return app

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _take_script(self, method: str, channel: str | None) -> _Script | None:
        for script in self._scripts:
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
        if status >= 500:
            return web.Response(
                status=status, text="Service Unavailable\n", content_type="text/plain"
            )
        return web.json_response(body, status=status, headers=extra_headers)

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth_error = self._auth_error(params, headers)
        if auth_error is not None:
            return 200, {"ok": False, "error": auth_error}, {}
        channel = params.get("channel")
        script = self._take_script(method, str(channel) if channel is not None else None)
        if script is not None:
            if script.status == 429:
                retry = {"Retry-After": str(script.retry_after or 0)}
                return 429, {"ok": False, "error": "ratelimited"}, retry
            if script.status >= 500:
                return script.status, {"ok": False, "error": "server_error"}, {}
            return 200, {"ok": False, "error": script.error}, {}
        handler = _METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(self, params), {}

    def _auth_error(self, params: dict[str, Any], headers: dict[str, str]) -> str | None:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = authorization.removeprefix("Bearer ").strip() or str(params.get("token", ""))
        if not token:
            return "not_authed"
        if token != self.token:
            return "invalid_auth"
        return None

    def _channel_error(self, channel: Any) -> str | None:
        if not channel:
            return "channel_not_found"
        state = self._channels.get(str(channel), _Channel())
        if state.archived:
            return "is_archived"
        if not state.member:
            return "not_in_channel"
        return None

    # -- methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://arxiv-bot-test.slack.com/",
            "team": "arxiv-bot test",
            "user": "arxiv-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        error = self._channel_error(channel)
        if error is not None:
            return {"ok": False, "error": error}
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        thread_ts = params.get("thread_ts")
        message = PostedMessage(
            channel=str(channel),
            ts=ts,
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            params=params,
        )
        self._messages.append(message)
        answer: dict[str, Any] = {"type": "message", "text": text or "", "ts": ts}
        answer.update(user=BOT_USER_ID, bot_id=BOT_ID)
        if blocks:
            answer["blocks"] = blocks
        if message.thread_ts:
            answer["thread_ts"] = message.thread_ts
        return {"ok": True, "channel": message.channel, "ts": ts, "message": answer}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
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
            )
        )
        return {"ok": True, "message_ts": ts}

    def _join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
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

    async def _handle_respond(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        token = request.match_info["token"]
        params, is_json = await _read_params(request)
        self._responses.setdefault(token, []).append(params)
        headers = dict(request.headers.items())
        self._calls.append(SlackCall("respond", params, headers, is_json, 200, None, arrived))
        return web.Response(text="ok", content_type="text/plain")


_METHODS = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "conversations.join": FakeSlack._join,
}


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
async def running_fake_slack(*, token: str = BOT_TOKEN) -> AsyncIterator[FakeSlack]:
    """Serve a :class:`FakeSlack` on an ephemeral port for the block's duration."""
    fake = FakeSlack(token=token)
    runner = web.AppRunner(fake.make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        fake._base_url = f"http://{host}:{port}"
        yield fake
    finally:
        await runner.cleanup()
