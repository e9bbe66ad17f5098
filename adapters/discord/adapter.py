"""The Discord adapter: a discord.py client that answers ``/arxiv`` and posts papers.

Posts go to a channel by id (``PartialMessageable``: no cache or lookup needed), each
paper an embed with link buttons; a long digest starts a thread from its list message.
discord.py waits out rate limits itself. Errors that mean the channel cannot be posted to
until someone acts (deleted, no access, missing permissions) raise
:class:`~bot.errors.ChannelUnavailableError`, which pauses the channel's subscriptions.
Once the first message of a post is accepted the paper counts as delivered: a failed
thread message is logged, not retried, so a retry never posts the card twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.background import BackgroundTasks
from adapters.discord.commands import PLATFORM, ArxivGroup, CommandRunner
from adapters.discord.permissions import missing_permissions, missing_text
from adapters.discord.render import (
    DigestPlan,
    DiscordMessage,
    digest_messages,
    paper_buttons,
    paper_embed,
)
from adapters.discord.settings import DEFAULT_API_URL, DiscordSettings, load_discord_settings
from bot.adapter import AdapterOptions, Core
from bot.errors import ChannelUnavailableError, ConfigError, DeliveryError
from bot.models import ChannelRef, Digest, PaperPost

__all__ = ["DiscordAdapter", "DiscordFactory", "build_client", "classify_error"]

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
THREAD_GRACE_SECONDS = 10.0
"""How long a stop waits for digest threads still being posted."""

UNAVAILABLE_REASONS: dict[int, str] = {
    10003: (
        "The Discord channel no longer exists (Unknown Channel); subscribe again in another channel"
    ),
    10004: "The bot is no longer in this Discord server (Unknown Guild); invite it again",
    50001: (
        "The bot cannot see this Discord channel (Missing Access): it was removed from the "
        "server or lacks View Channel; invite it again or grant View Channel"
    ),
    50013: (
        "The bot lacks permission to post in this Discord channel (Missing Permissions); "
        "grant it Send Messages, Embed Links and, in threads, Send Messages in Threads"
    ),
    50083: "The thread is archived; unarchive it to get posts again",
}
"""Discord error codes after which posting cannot work until someone acts."""


def classify_error(error: Exception) -> Exception:
    """The core's exception for a failed Discord request."""
    if isinstance(error, discord.HTTPException):
        reason = UNAVAILABLE_REASONS.get(error.code)
        if reason is not None:
            return ChannelUnavailableError(reason)
        if error.status == 401:
            return ChannelUnavailableError(
                "Discord rejected the bot's token (401); put the current token in "
                "DISCORD_TOKEN and restart the bot"
            )
        if isinstance(error, discord.NotFound):
            return ChannelUnavailableError(UNAVAILABLE_REASONS[10003])
        if isinstance(error, discord.Forbidden):
            return ChannelUnavailableError(UNAVAILABLE_REASONS[50013])
        return DeliveryError(f"Discord answered HTTP {error.status} ({error.code}): {error.text}")
    return DeliveryError(f"Discord could not be reached: {error or type(error).__name__}")


GATEWAY_REFUSALS: dict[int, str] = {
    4004: (
        "Discord refused DISCORD_TOKEN at the gateway; copy the bot token from the Developer "
        "Portal (your application → Bot → Reset Token) into .env"
    ),
    4013: "Discord refused the bot's gateway intents (invalid intents)",
    4014: "Discord refused the bot's gateway intents (disallowed intents)",
}


def _gateway_failure(error: BaseException | None) -> str:
    """What to tell the user when the gateway connection ended before it was ready."""
    if isinstance(error, discord.ConnectionClosed) and error.code in GATEWAY_REFUSALS:
        return GATEWAY_REFUSALS[error.code]
    if isinstance(error, discord.LoginFailure):
        return GATEWAY_REFUSALS[4004]
    return f"Discord's gateway did not get ready: {error or 'timed out'}"


def build_client(settings: DiscordSettings) -> discord.Client:
    """A client that can never ping: mentions are off for every message it sends."""
    if settings.api_url != DEFAULT_API_URL:
        discord.http.Route.BASE = settings.api_url  # one process, one Discord
    # The bot never joins voice channels: no warnings about voice libraries at start.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    options = {
        "intents": discord.Intents(guilds=True),
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if settings.sharded:
        return discord.AutoShardedClient(**options)  # type: ignore[arg-type]
    return discord.Client(**options)  # type: ignore[arg-type]


Tree = app_commands.CommandTree[discord.Client]


def build_tree(client: discord.Client, runner: CommandRunner) -> Tree:
    """The command tree with ``/arxiv``, and the share button's handler, on ``client``."""
    tree: Tree = app_commands.CommandTree(client)
    tree.add_command(ArxivGroup(runner))

    @tree.error
    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await runner.failed(interaction, error)

    client.add_dynamic_items(runner.share_button)
    return tree


class DiscordAdapter:
    name = PLATFORM

    def __init__(
        self,
        core: Core,
        settings: DiscordSettings,
        *,
        commands: bool = True,
        gateway: bool = True,
    ) -> None:
        self._core = core
        self._settings = settings
        self._commands = commands
        self._gateway = gateway
        self.client = build_client(settings)
        self.runner = CommandRunner(core, settings)
        self.tree = build_tree(self.client, self.runner)
        self._connection: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._failure: ConfigError | None = None
        self._stopping = False
        self._threads = BackgroundTasks("Discord digest thread")

    # -- starting and stopping ---------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.client.login(self._settings.token)
        except discord.LoginFailure:
            await self.client.close()
            raise ConfigError(
                "Discord refused DISCORD_TOKEN; copy the bot token from the Developer "
                "Portal (your application → Bot → Reset Token) into .env"
            ) from None
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            await self.client.close()
            raise ConfigError(
                f"cannot reach Discord at {self._settings.api_url} "
                f"({error or type(error).__name__}); check the network or DISCORD_API_URL"
            ) from None
        user = self.client.user
        log.info("Discord: signed in as %s (%s)", user, user.id if user else "?")
        if self._commands and self._gateway:
            await self._connect()

    async def _connect(self) -> None:
        if self._settings.api_url != DEFAULT_API_URL:
            await self._use_gateway_of_api()
        self._connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._connection, ready}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            error = self._connection.exception() if self._connection in done else None
            await self.stop()
            raise ConfigError(_gateway_failure(error))
        log.info("Discord: connected to %s servers", len(self.client.guilds))
        self._connection.add_done_callback(self._connection_ended)

    def _connection_ended(self, connection: asyncio.Task[None]) -> None:
        """The gateway gave up (a revoked token, say): end the adapter, so the bot exits
        with the reason and its supervisor restarts it, rather than stay up deaf."""
        if connection.cancelled() or self._stopping:
            return
        error = connection.exception()
        self._failure = ConfigError(_gateway_failure(error) if error else "Discord disconnected")
        log.error("Discord: the gateway connection ended: %s", self._failure)
        self._closed.set()

    async def _use_gateway_of_api(self) -> None:
        """Connect to the gateway that DISCORD_API_URL names: ``discord.Client`` goes to
        ``wss://gateway.discord.gg`` whatever the API (``AutoShardedClient`` asks the API)."""
        try:
            _, url, _ = await self.client.http.get_bot_gateway()
        except discord.GatewayNotFound as error:
            raise ConfigError(f"{self._settings.api_url} named no gateway: {error}") from None
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)  # one process, one Discord

    async def sync_commands(self, guild_id: int | None, *, clear: bool = False) -> int:
        """Register ``/arxiv`` with Discord (in one server, or globally); return how many
        top-level commands are now registered there. ``clear`` unregisters them."""
        guild = discord.Object(id=guild_id) if guild_id is not None else None
        if clear:
            self.tree.clear_commands(guild=guild)
        elif guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as error:
            where = f"server {guild_id}" if guild_id is not None else "Discord"
            raise ConfigError(f"{where} refused the commands: {error.text or error}") from None
        return len(synced)

    async def wait_closed(self) -> None:
        await self._closed.wait()
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        self._stopping = True
        try:
            await self._threads.wait(grace=THREAD_GRACE_SECONDS)
            await self.client.close()
            if self._connection is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._connection
        finally:
            self._connection = None
            self._closed.set()

    # -- posting -----------------------------------------------------------------------

    async def send_post(self, channel: ChannelRef, post: PaperPost) -> None:
        message = DiscordMessage(embeds=(paper_embed(post),))
        await self._send(int(channel.channel), message, view=paper_buttons(post))

    async def send_digest(self, channel: ChannelRef, digest: Digest) -> None:
        """The digest's first message; a thread with its cards follows in the background,
        so the digest counts as delivered the moment the first message is accepted."""
        plan = digest_messages(digest)
        channel_id = int(channel.channel)
        head = await self._send(channel_id, plan.head)
        if plan.needs_thread:
            self._threads.start(self._post_thread(channel, head.id, plan))

    async def flush(self) -> None:
        """Wait until every digest thread started so far is posted (tests, shutdown)."""
        await self._threads.wait()

    async def _post_thread(self, channel: ChannelRef, head_id: int, plan: DigestPlan) -> None:
        channel_id = int(channel.channel)
        target = await self._thread_for(channel_id, head_id, plan.thread_name)
        for number, message in enumerate(plan.thread, start=1):
            try:
                await self._send(target, message)
            except Exception as error:
                log.warning(
                    "Discord: digest part %s of %s in %s not posted: %s",
                    number,
                    len(plan.thread),
                    channel.label,
                    error,
                )
                return

    async def _thread_for(self, channel_id: int, message_id: int, name: str) -> int:
        """A thread started from the digest's message; the channel itself where threads
        cannot be started (inside a thread or forum post, or without the permission)."""
        try:
            thread = await self.client.http.start_thread_with_message(
                channel_id, message_id, name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            log.info("Discord: no thread in %s (%s); posting the cards there", channel_id, error)
            return channel_id
        return int(thread["id"])

    def _missing_permissions(self, channel_id: int) -> list[str]:
        """What the bot lacks to post in the channel, as far as the gateway's cache knows
        (nothing is known without the gateway, as in ``run --once``)."""
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return []
        me = channel.guild.me
        if me is None:
            return []
        in_thread = isinstance(channel, discord.Thread)
        return missing_permissions(channel.permissions_for(me), in_thread=in_thread)

    async def _send(
        self, channel_id: int, message: DiscordMessage, *, view: discord.ui.View | None = None
    ) -> discord.Message:
        missing = self._missing_permissions(channel_id)
        if missing:
            raise ChannelUnavailableError(missing_text(missing))
        target = self.client.get_partial_messageable(channel_id)
        try:
            if view is None:
                return await target.send(
                    message.content or None,
                    embeds=list(message.embeds),
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            return await target.send(
                message.content or None,
                embeds=list(message.embeds),
                allowed_mentions=discord.AllowedMentions.none(),
                view=view,
            )
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            raise classify_error(error) from error


class DiscordFactory:
    name = PLATFORM
    interactive = False

    def is_configured(self) -> bool:
        return load_discord_settings().is_configured

    def create(self, core: Core, options: AdapterOptions) -> DiscordAdapter:
        return DiscordAdapter(core, load_discord_settings(), commands=options.commands)
