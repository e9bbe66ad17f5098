"""The Slack adapter: connects bolt (Socket Mode or HTTP), and posts the core's papers.

Posting goes through one ``AsyncWebClient`` per bot token, with slack_sdk's retry
handlers for rate limits and server errors (:mod:`adapters.slack.client`), paced per
channel (:mod:`adapters.slack.pacing`). A paper's card is one message; its full
abstract, or a digest's cards, follow in the message's thread. Once the first message
is accepted the paper counts as delivered: a failed thread reply is logged, not retried,
so a retry never posts the card twice.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.background import BackgroundTasks
from adapters.slack.client import error_code, make_web_client, post_with_join
from adapters.slack.listeners import PLATFORM, register_listeners
from adapters.slack.oauth import bot_token_for, installation_store, oauth_settings
from adapters.slack.pacing import ChannelPacer
from adapters.slack.render import SlackMessage, digest_message, paper_card
from adapters.slack.settings import SlackMode, SlackSettings, load_slack_settings
from bot.adapter import AdapterOptions, Core
from bot.errors import ChannelUnavailableError, ConfigError
from bot.models import ChannelRef, Digest, PaperPost

__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackFactory"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
THREAD_GRACE_SECONDS = 10.0
"""How long a stop waits for threads still being posted."""
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
        database_path: Path,
        commands: bool = True,
        pacer: ChannelPacer | None = None,
        retry_interval: RetryIntervalCalculator | None = None,
    ) -> None:
        self._core = core
        self._settings = settings
        self._database_path = database_path  # where OAuth installs are kept
        self._commands = commands
        self._pacer = pacer or ChannelPacer(settings.post_interval)
        self._retry_interval = retry_interval
        self._clients: dict[str, AsyncWebClient] = {}
        self._installations: SQLite3InstallationStore | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._closed = asyncio.Event()
        self._threads = BackgroundTasks("Slack thread")
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
            self._installations = installation_store(self._database_path, self._settings.client_id)
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
            oauth_settings=oauth_settings(self._settings, self._installations, self._database_path),
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

    def _unreachable(self, error: BaseException) -> ConfigError:
        return ConfigError(
            f"cannot reach Slack at {self._settings.api_url} "
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
        self._runner = web.AppRunner(
            app.web_app(path=EVENTS_PATH, port=settings.port), access_log=None
        )
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

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def stop(self) -> None:
        try:
            await self._threads.wait(grace=THREAD_GRACE_SECONDS)
            if self._socket is not None:
                await self._socket.close_async()  # type: ignore[no-untyped-call]
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            self._socket = None
            self._runner = None
            self._closed.set()

    # -- posting -----------------------------------------------------------------------

    async def send_post(self, channel: ChannelRef, post: PaperPost) -> None:
        await self._send(channel, paper_card(post))

    async def send_digest(self, channel: ChannelRef, digest: Digest) -> None:
        await self._send(channel, digest_message(digest))

    async def _send(self, channel: ChannelRef, message: SlackMessage) -> None:
        """Post ``message``; its thread follows in the background, so the paper counts as
        delivered the moment the first message is accepted."""
        client = await self._client_for(channel)
        ts = await self._post(client, channel, message)
        if message.thread:
            self._threads.start(self._post_thread(client, channel, ts, message.thread))

    async def flush(self) -> None:
        """Wait until every thread started so far is posted (tests, shutdown)."""
        await self._threads.wait()

    async def _post(
        self,
        client: AsyncWebClient,
        channel: ChannelRef,
        message: SlackMessage,
        thread_ts: str | None = None,
    ) -> str:
        payload = message.to_payload()
        if thread_ts is not None:
            payload["thread_ts"] = thread_ts
        async with self._pacer.turn(f"{channel.workspace}/{channel.channel}"):
            return await post_with_join(client, channel=channel.channel, **payload)

    async def _post_thread(
        self,
        client: AsyncWebClient,
        channel: ChannelRef,
        thread_ts: str,
        replies: tuple[SlackMessage, ...],
    ) -> None:
        """Post ``replies`` in the thread; the parent is out, so failures are only logged."""
        for number, reply in enumerate(replies, start=1):
            try:
                await self._post(client, channel, reply, thread_ts)
            except Exception as error:
                log.warning(
                    "Slack: thread reply %s of %s in %s not posted: %s",
                    number,
                    len(replies),
                    channel.label,
                    error,
                )
                return

    async def _client_for(self, channel: ChannelRef) -> AsyncWebClient:
        if self._installations is None:
            return self._client(self._settings.bot_token)
        token = await bot_token_for(self._installations, channel.workspace)
        if token is None:
            raise ChannelUnavailableError(NOT_INSTALLED)
        return self._client(token)

    def _client(self, token: str | None) -> AsyncWebClient:
        key = token or ""
        if key not in self._clients:
            self._clients[key] = make_web_client(
                token,
                base_url=self._settings.api_url,
                retry_interval=self._retry_interval,
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
            database_path=options.database_path,
            commands=options.commands,
        )
