"""The Slack adapter: connects bolt (Socket Mode or HTTP), and posts the core's papers.

Posting goes through one ``AsyncWebClient`` per bot token, with slack_sdk's retry
handlers for rate limits and server errors (:mod:`adapters.slack.client`), paced per
channel (:mod:`adapters.slack.pacing`). A paper's card is one message; its full
abstract, or a digest's continued list and cards, follow in the message's thread. The
core keeps each of these messages in its outbox and sends them one by one; each carries
its idempotency key in Slack message metadata, so after a crash :meth:`find_sent` reads
the channel back and the core never posts a message twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import (
    classify_error,
    error_code,
    find_by_metadata,
    make_web_client,
    message_metadata,
    post_with_join,
)
from adapters.slack.endpoint import SlackEndpoint
from adapters.slack.listeners import PLATFORM, register_listeners
from adapters.slack.oauth import (
    InstallStore,
    bot_token_for,
    close_installation_store,
    installation_store,
    oauth_settings,
)
from adapters.slack.pacing import ChannelPacer
from adapters.slack.render import digest_parts, post_parts
from adapters.slack.settings import (
    READ_BACK_SCOPES,
    SlackMode,
    SlackSettings,
    load_slack_settings,
)
from bot.adapter import AdapterOptions, Core
from bot.errors import ChannelUnavailableError, ConfigError
from bot.models import ChannelRef, Digest, OutgoingMessage, PaperPost, SentCandidate
from bot.secrets import mask_url

__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackFactory"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
NOT_INSTALLED = (
    "arxiv-bot is no longer installed in this Slack workspace; reinstall it from the "
    "bot's /slack/install page"
)


class SlackAdapter:
    name = PLATFORM

    def __init__(
        self,
        core: Core,
        settings: SlackSettings,
        *,
        database: Path | str,
        commands: bool = True,
        pacer: ChannelPacer | None = None,
        retry_interval: RetryIntervalCalculator | None = None,
        probe_routes: Sequence[web.RouteDef] = (),
    ) -> None:
        """``probe_routes`` (the core's ``/healthz``, ``/readyz``, ``/metrics``) are
        served on HTTP mode's port too. ``database`` (the bot's SQLite file or
        ``postgresql://`` URL) keeps the OAuth installs."""
        self._core = core
        self._settings = settings
        self._database = database  # where OAuth installs are kept
        self._commands = commands
        self._pacer = pacer or ChannelPacer(settings.post_interval)
        self._retry_interval = retry_interval
        self._probe_routes = probe_routes
        self._clients: dict[str, AsyncWebClient] = {}
        self._installations: InstallStore | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._closed = asyncio.Event()
        self._warned_scopes: set[str] = set()
        self.app: AsyncApp | None = None
        """The bolt app answering commands (None when commands are off)."""
        self.http_port: int | None = None
        """The port the HTTP server listens on (HTTP mode), useful when SLACK_PORT=0."""

    @property
    def mode(self) -> SlackMode:
        return self._settings.mode

    # -- starting and stopping ---------------------------------------------------------

    async def start(self) -> None:
        mode = self._settings.mode
        if mode is SlackMode.OAUTH:
            self._installations = installation_store(self._database, self._settings.client_id)
            client = self._client(None)
        else:
            client = self._client(self._settings.bot_token)
            await self._check_token(client)
        if not self._commands:
            return
        self.app = self._make_app(mode, client)
        register_listeners(self.app, self._core)
        if mode is SlackMode.SOCKET:
            await self._connect_socket(self.app)
        else:
            await self._serve_http(self.app)

    def _make_app(self, mode: SlackMode, client: AsyncWebClient) -> AsyncApp:
        if mode is SlackMode.SOCKET:
            return AsyncApp(client=client, request_verification_enabled=False)
        if mode is SlackMode.HTTP:
            return AsyncApp(client=client, signing_secret=self._settings.signing_secret)
        assert self._installations is not None
        app = AsyncApp(
            client=client,
            signing_secret=self._settings.signing_secret,
            oauth_settings=oauth_settings(self._settings, self._installations),
        )
        app.enable_token_revocation_listeners()
        return app

    async def _check_token(self, client: AsyncWebClient) -> None:
        try:
            identity = await client.auth_test()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._unreachable(error) from None
        except SlackApiError as error:
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN ({error_code(error) or error}); copy the Bot "
                "User OAuth Token from your app's OAuth & Permissions page"
            ) from None
        log.info(
            "Slack: signed in to %s as %s (%s)",
            identity.get("team"),
            identity.get("user"),
            identity.get("team_id"),
        )
        granted = set(str(identity.headers.get("x-oauth-scopes", "")).replace(" ", "").split(","))
        missing = [scope for scope in READ_BACK_SCOPES if scope not in granted]
        if identity.headers.get("x-oauth-scopes") is not None and missing:
            log.warning(
                "Slack: the token lacks %s: after a crash the bot cannot check what it had "
                "already posted, so one message per channel may repeat; add the scopes and "
                "reinstall the app (see deploy/slack-manifest.yml)",
                ", ".join(missing),
            )

    def _unreachable(self, error: BaseException) -> ConfigError:
        return ConfigError(
            f"cannot reach Slack at {mask_url(self._settings.api_url)} "
            f"({error or type(error).__name__}); check the network or SLACK_API_URL"
        )

    async def _connect_socket(self, app: AsyncApp) -> None:
        # The Socket Mode client retries a refused token forever; ask once first so a
        # wrong token stops the start with a message instead.
        try:
            await app.client.apps_connections_open(app_token=self._settings.app_token)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._unreachable(error) from None
        except SlackApiError as error:
            raise ConfigError(
                f"Slack refused SLACK_APP_TOKEN ({error_code(error) or error}); generate an "
                "app-level token with the connections:write scope under Basic Information"
            ) from None
        self._socket = AsyncSocketModeHandler(app, self._settings.app_token)
        await self._socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("Slack: connected in Socket Mode")

    async def _serve_http(self, app: AsyncApp) -> None:
        settings = self._settings
        endpoint = SlackEndpoint(app, path=EVENTS_PATH, signing_secret=settings.signing_secret)
        web_app = endpoint.web_app()
        web_app.router.add_routes(self._probe_routes)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            raise ConfigError(
                f"Slack's HTTP server cannot listen on {settings.host}:{settings.port} "
                f"({error.strerror or error}); set SLACK_PORT to a free port"
            ) from None
        self.http_port = int(self._runner.addresses[0][1])
        log.info(
            "Slack: %s, listening on %s:%s%s",
            self.mode.value,
            settings.host,
            self.http_port,
            EVENTS_PATH,
        )

    async def is_connected(self) -> bool:
        """Socket Mode: the websocket is up; HTTP mode: the server listens."""
        if self._socket is not None:
            return bool(await self._socket.client.is_connected())
        return self._runner is not None or not self._commands

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def stop(self) -> None:
        try:
            if self._socket is not None:
                await self._socket.close_async()  # type: ignore[no-untyped-call]
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            if self._installations is not None:
                # An engine disposed of still works: it connects again if asked.
                close_installation_store(self._installations)
            self._socket = None
            self._runner = None
            self._closed.set()

    # -- posting -----------------------------------------------------------------------

    def plan(self, item: PaperPost | Digest, *, cards: int) -> list[OutgoingMessage]:
        parts = digest_parts(item, cards=cards) if isinstance(item, Digest) else post_parts(item)
        return [
            OutgoingMessage(part.message.to_payload(), part.shows, part.in_thread, part.cards)
            for part in parts
        ]

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        """Post with ``key`` in the message's metadata, where :meth:`find_sent` looks."""
        client = await self._client_for(channel, posting=True)
        payload = {**message.payload, "metadata": message_metadata(key)}
        if thread is not None:
            payload["thread_ts"] = thread
        async with self._pacer.turn(f"{channel.workspace}/{channel.channel}"):
            return await post_with_join(client, channel=channel.channel, **payload)

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> dict[str, str]:
        """Read the channel's (or thread's) latest messages back and match their metadata.

        Needs the ``channels:history`` / ``groups:history`` scopes; without them it finds
        nothing (and says so once per workspace), so a crash may repeat one message.
        """
        client = await self._client_for(channel)
        try:
            return await find_by_metadata(client, channel.channel, candidates)
        except SlackApiError as error:
            if error_code(error) != "missing_scope":
                raise classify_error(error) from error
            if channel.workspace not in self._warned_scopes:
                self._warned_scopes.add(channel.workspace)
                log.warning(
                    "Slack: the app cannot read message history in workspace %s (%s); "
                    "reinstall it with the channels:history, groups:history and im:history "
                    "scopes, or a crash may repeat one message per channel",
                    channel.workspace,
                    error.response.get("needed", "missing scope"),
                )
            return {}

    async def _client_for(self, channel: ChannelRef, *, posting: bool = False) -> AsyncWebClient:
        """The channel's workspace's client; ``posting`` clients never resend a request
        that may have reached Slack (the core looks first, then sends again)."""
        if self._installations is None:
            return self._client(self._settings.bot_token, posting=posting)
        token = await bot_token_for(self._installations, channel.workspace)
        if token is None:
            raise ChannelUnavailableError(NOT_INSTALLED)
        return self._client(token, posting=posting)

    def _client(self, token: str | None, *, posting: bool = False) -> AsyncWebClient:
        key = ("post:" if posting else "") + (token or "")
        if key not in self._clients:
            self._clients[key] = make_web_client(
                token,
                base_url=self._settings.api_url,
                retry_interval=self._retry_interval,
                resend=not posting,
            )
        return self._clients[key]


class SlackFactory:
    name = PLATFORM
    interactive = False

    def is_configured(self) -> bool:
        return load_slack_settings().is_configured

    def create(self, core: Core, options: AdapterOptions) -> SlackAdapter:
        return SlackAdapter(
            core,
            load_slack_settings(),
            database=options.database,
            commands=options.commands,
            probe_routes=options.probe_routes,
        )
