"""Slack's HTTP endpoint (HTTP mode): a thin guard in front of bolt.

bolt trusts the shape of what reaches it: a non-numeric ``X-Slack-Request-Timestamp``,
a JSON content type with a body that is not JSON, or a body that is not UTF-8 each end
in HTTP 500 and a logged traceback. The guard answers every malformed or unsigned
request itself, with 400 (malformed) or 401 (not signed by Slack) and one log line, and
checks the signature before bolt sees anything.

Slack signs ``v0:timestamp:body``, so a request captured in transit could be sent again
within the five minutes the signature is accepted. The guard remembers the (timestamp,
signature) pairs it has let through for that long and acknowledges a repeat with 200
without running it again.
"""

from __future__ import annotations

import collections
import logging
import re
import time
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

__all__ = ["MAX_BODY_BYTES", "SIGNATURE_WINDOW", "RecentRequests", "SlackEndpoint"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Slack's payloads are a few kilobytes; a button click carries its message, still far
below this."""
SIGNATURE_WINDOW = 5 * 60
"""Slack's rule: a request whose timestamp is further than this from now is refused."""
MAX_REMEMBERED = 10_000
"""Signed requests remembered against replays: the busiest five minutes of a large
workspace. Beyond it the oldest are forgotten early."""

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_MALFORMED_PAYLOAD = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)
"""What bolt's body parser raises on a signed body it cannot read (``json.loads`` on
text that is not JSON, a JSON array where an object belongs, nesting too deep)."""


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class RecentRequests:
    """The (timestamp, signature) pairs of signed requests seen within the window."""

    def __init__(
        self,
        *,
        window: float = SIGNATURE_WINDOW,
        capacity: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._window = window
        self._capacity = capacity
        self._clock = clock
        self._expiry: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()

    def first_time(self, timestamp: str, signature: str) -> bool:
        """Record the pair; False when it was seen already (a replay)."""
        now = self._clock()
        while self._expiry and next(iter(self._expiry.values())) <= now:
            self._expiry.popitem(last=False)
        key = (timestamp, signature)
        if key in self._expiry:
            return False
        if len(self._expiry) >= self._capacity:
            self._expiry.popitem(last=False)
        # The pair stays valid until its timestamp leaves the window (it may lie ahead).
        self._expiry[key] = max(float(timestamp), now) + self._window
        return True

    def __len__(self) -> int:
        return len(self._expiry)


class SlackEndpoint:
    """The aiohttp application Slack posts to: the guarded events path, plus bolt's own
    install and redirect pages when OAuth installs are on."""

    def __init__(
        self,
        app: AsyncApp,
        *,
        path: str,
        signing_secret: str,
        recent: RecentRequests | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app = app
        self._path = path
        self._verifier = SignatureVerifier(signing_secret)
        self._recent = recent or RecentRequests(clock=clock)
        self._clock = clock

    def web_app(self) -> web.Application:
        web_app = web.Application(client_max_size=MAX_BODY_BYTES)
        web_app.router.add_post(self._path, self.handle)
        flow = self._app.oauth_flow
        if flow is not None:
            pages = AsyncSlackAppServer(port=0, path=self._path, app=self._app)
            web_app.router.add_get(flow.install_path, pages.handle_get_requests)
            web_app.router.add_get(flow.redirect_uri_path, pages.handle_get_requests)
        return web_app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            bolt_request = await self._checked(request)
        except _Refused as refused:
            log.warning(
                "Slack: refused a request from %s: %s (HTTP %s)",
                request.remote,
                refused.reason,
                refused.status,
            )
            return web.json_response({"error": refused.reason}, status=refused.status)
        timestamp = request.headers["X-Slack-Request-Timestamp"]
        if not self._recent.first_time(timestamp, request.headers["X-Slack-Signature"]):
            log.info(
                "Slack: a request from %s repeats one already run (timestamp %s); "
                "acknowledged, not run again",
                request.remote,
                timestamp,
            )
            return web.Response(status=200)
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_request))

    async def _checked(self, request: web.Request) -> AsyncBoltRequest:
        """The request for bolt, once it is well-formed and signed by Slack."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            raise _Refused(
                401, "not signed: X-Slack-Request-Timestamp or X-Slack-Signature missing"
            )
        if not _TIMESTAMP.fullmatch(timestamp):
            raise _Refused(400, "X-Slack-Request-Timestamp is not a Unix time in seconds")
        if not _SIGNATURE.fullmatch(signature):
            raise _Refused(401, "X-Slack-Signature is not a v0 signature")
        body = await self._body(request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused(400, "the body is not UTF-8") from None
        if abs(self._clock() - int(timestamp)) > SIGNATURE_WINDOW:
            raise _Refused(
                401, "the timestamp is more than 5 minutes from now (replayed, or a clock is off)"
            )
        if not self._verifier.is_valid(text, timestamp, signature):
            raise _Refused(401, "the signature does not match SLACK_SIGNING_SECRET")
        try:
            bolt_request = AsyncBoltRequest(
                body=text,
                query=request.query_string,
                headers={name: request.headers.getall(name) for name in request.headers},
            )
        except _MALFORMED_PAYLOAD:
            raise _Refused(400, "the body is not a Slack payload") from None
        if not isinstance(bolt_request.body, dict):
            raise _Refused(400, "the body is not a Slack payload")
        return bolt_request

    async def _body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise _Refused(400, f"the body is larger than {MAX_BODY_BYTES:,} bytes")
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:  # no Content-Length, too long all the same
            raise _Refused(400, f"the body is larger than {MAX_BODY_BYTES:,} bytes") from None
