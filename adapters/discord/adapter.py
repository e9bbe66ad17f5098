"""The Discord adapter: a discord.py client that answers ``/arxiv`` and posts papers.

Posts go to a channel by id (``PartialMessageable``: no cache or lookup needed), each
paper an embed with link buttons; a long digest starts a thread from its list message.
discord.py waits out rate limits itself. Errors that mean the channel cannot be posted to
until someone acts (deleted, no access, missing permissions) raise
:class:`~bot.errors.ChannelUnavailableError`, which pauses the channel's subscriptions.
The core keeps every message in its outbox; each goes out with its key as an enforced
nonce, and after a crash :meth:`DiscordAdapter.find_sent` reads the channel back, so a
message is never posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.discord.commands import DM_WORKSPACE, PLATFORM, ArxivGroup, CommandRunner
from adapters.discord.link_previews import PRIVILEGED_INTENT_MISSING, LinkPreviewer, preview_intents
from adapters.discord.permissions import can_read_history, missing_permissions, missing_text
from adapters.discord.render import digest_parts, message_fingerprint, post_parts
from adapters.discord.settings import (
    DEFAULT_API_URL,
    DiscordSettings,
    describe_shards,
    load_discord_settings,
)
from bot.adapter import AdapterOptions, Core
from bot.errors import ChannelUnavailableError, ConfigError, DeliveryError
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, Digest, OutgoingMessage, PaperPost, SentCandidate
from bot.secrets import mask_url

__all__ = ["DiscordAdapter", "DiscordFactory", "build_client", "build_intents", "classify_error"]

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
THREAD_EXISTS = 160004
"""Discord's code for "a thread has already been created for this message"."""
READ_BACK_LIMIT = 50
"""How many of a channel's latest messages a read-back looks at."""

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
    50007: (
        "Discord does not let the bot message this person (Cannot send messages to this "
        "user): they left every server shared with the bot or turned off its direct "
        "messages; /arxiv in the DM again resumes their subscriptions"
    ),
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
    4010: (
        "Discord refused the shard (Invalid shard); check DISCORD_SHARD_COUNT and "
        "DISCORD_SHARD_IDS: every replica needs the same count, and ids below it"
    ),
    4011: (
        "Discord requires more shards for this many servers (Sharding required); raise "
        "DISCORD_SHARD_COUNT on every replica, or leave it empty and set DISCORD_SHARDS=auto"
    ),
    4013: "Discord refused the bot's gateway intents (invalid intents)",
    4014: "Discord refused the bot's gateway intents (disallowed intents)",
}


def _gateway_failure(error: BaseException | None) -> str:
    """What to tell the user when the gateway connection ended before it was ready."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return PRIVILEGED_INTENT_MISSING  # only link previews ask for a privileged intent
    if isinstance(error, discord.ConnectionClosed) and error.code in GATEWAY_REFUSALS:
        return GATEWAY_REFUSALS[error.code]
    if isinstance(error, discord.LoginFailure):
        return GATEWAY_REFUSALS[4004]
    return f"Discord's gateway did not get ready: {error or 'timed out'}"


def build_intents(settings: DiscordSettings) -> discord.Intents:
    """Servers, and reactions (feedback; neither reaction intent is privileged); with
    ``DISCORD_LINK_PREVIEWS=on`` also server messages and the privileged Message Content."""
    intents = discord.Intents(guilds=True, guild_reactions=True, dm_reactions=True)
    if settings.link_previews:
        intents |= preview_intents()
    return intents


def build_client(settings: DiscordSettings) -> discord.Client:
    """A client that can never ping: mentions are off for every message it sends.

    Sharded (``DISCORD_SHARDS=auto`` or ``DISCORD_SHARD_COUNT``), it is an
    ``AutoShardedClient`` that opens only the shards in ``DISCORD_SHARD_IDS`` (all of them
    when unset), so replicas can split the gateway between them."""
    if settings.api_url != DEFAULT_API_URL:
        discord.http.Route.BASE = settings.api_url  # one process, one Discord
    # The bot never joins voice channels: no warnings about voice libraries at start.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    options: dict[str, object] = {
        "intents": build_intents(settings),
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if settings.sharded:
        if settings.shard_ids is not None:  # discord.py wants a list (or tuple) or nothing
            options["shard_ids"] = list(settings.shard_ids)
        return discord.AutoShardedClient(shard_count=settings.shard_count, **options)  # type: ignore[arg-type]
    return discord.Client(**options)  # type: ignore[arg-type]


Tree = app_commands.CommandTree[discord.Client]


def build_tree(client: discord.Client, runner: CommandRunner) -> Tree:
    """The command tree with ``/arxiv``, and the share and next buttons' handlers, on
    ``client``."""
    tree: Tree = app_commands.CommandTree(client)
    tree.add_command(ArxivGroup(runner))

    @tree.error
    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await runner.failed(interaction, error)

    client.add_dynamic_items(
        runner.share_button, runner.next_button, runner.feedback_button, runner.cite_button
    )
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
        self._listen_for_reactions()
        self.previewer = LinkPreviewer(core, self.client)
        if settings.link_previews:
            self.previewer.listen()
        self._connection: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._failure: ConfigError | None = None
        self._stopping = False
        self._warned_history: set[str] = set()
        self._threads: dict[int, int] = {}
        """Digest threads by the message they were started from (the target to post in)."""

    # -- feedback ----------------------------------------------------------------------

    def _listen_for_reactions(self) -> None:
        """Reactions added to or removed from any message go to :meth:`reaction`."""

        async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
            await self.reaction(payload, added=True)

        async def on_raw_reaction_remove(payload: discord.RawReactionActionEvent) -> None:
            await self.reaction(payload, added=False)

        self.client.event(on_raw_reaction_add)
        self.client.event(on_raw_reaction_remove)

    async def reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> bool:
        """Hand a reaction to the core as feedback (docs/feedback.md); the bot's own are
        ignored. True when the core counted it; never raises."""
        try:
            me = self.client.user
            if me is not None and payload.user_id == me.id:
                return False
            emoji = payload.emoji
            name = (emoji.name or "") if emoji.is_custom_emoji() else str(emoji)
            channel = ChannelRef(
                platform=PLATFORM,
                workspace=str(payload.guild_id) if payload.guild_id else DM_WORKSPACE,
                channel=str(payload.channel_id),
            )
            event = FeedbackEvent(
                channel=channel,
                message_ref=str(payload.message_id),
                user=str(payload.user_id),
                emoji=name,
                added=added,
            )
            return await self._core.feedback(event)
        except Exception:  # an odd event must never take the gateway's handler down
            log.debug("Discord: reaction not understood", exc_info=True)
            return False

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
                f"cannot reach Discord at {mask_url(self._settings.api_url)} "
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
        if isinstance(self.client, discord.AutoShardedClient):
            shards = describe_shards(self.client.shards, self.client.shard_count)
            log.info("Discord: shards %s run in this process", shards)
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
        """Connect to the gateway that DISCORD_API_URL names: ``discord.Client``, and
        ``AutoShardedClient`` given DISCORD_SHARD_COUNT, go to ``wss://gateway.discord.gg``
        whatever the API (``AutoShardedClient`` without a count asks the API)."""
        try:
            _, url, _ = await self.client.http.get_bot_gateway()
        except discord.GatewayNotFound as error:
            api = mask_url(self._settings.api_url)
            raise ConfigError(f"{api} named no gateway: {error}") from None
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

    async def is_connected(self) -> bool:
        """Signed in and, when taking commands, connected to the gateway."""
        if self._closed.is_set() or self.client.is_closed():
            return False
        return self.client.is_ready() if self._connection is not None else True

    async def wait_closed(self) -> None:
        await self._closed.wait()
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        self._stopping = True
        try:
            await self.client.close()
            if self._connection is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._connection
        finally:
            self._connection = None
            self._closed.set()

    # -- posting -----------------------------------------------------------------------

    def plan(self, item: PaperPost | Digest, *, cards: int) -> list[OutgoingMessage]:
        parts = digest_parts(item, cards=cards) if isinstance(item, Digest) else post_parts(item)
        return [
            OutgoingMessage(part.to_payload(), part.shows, part.in_thread, part.cards)
            for part in parts
        ]

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        """Post with ``key`` as an enforced nonce: Discord itself returns the message it
        already has instead of posting it twice for a few minutes after a first try."""
        payload = dict(message.payload)
        thread_name = str(payload.pop("thread_name", "") or "arXiv")
        channel_id = int(channel.channel)
        target = channel_id
        if thread is not None and channel.workspace != DM_WORKSPACE:  # no threads in DMs
            target = await self._thread_for(channel_id, int(thread), thread_name)
        missing = self._missing_permissions(target)
        if missing:
            raise ChannelUnavailableError(missing_text(missing))
        route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=target)
        try:
            data = await self.client.http.request(
                route, json={**payload, "nonce": key, "enforce_nonce": True}
            )
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            raise classify_error(error) from error
        return str(data["id"])

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> dict[str, str]:
        """Look through the bot's latest messages in the channel (and in the threads the
        candidates belong in) for ones with the same embeds and text as a candidate."""
        if not self._can_read_history(int(channel.channel)):
            if channel.channel not in self._warned_history:
                self._warned_history.add(channel.channel)
                log.warning(
                    "Discord: the bot lacks Read Message History in %s, so after a crash it "
                    "cannot check what it already posted there and may repeat one message; "
                    "grant it (it is in the invite URL)",
                    channel.label,
                )
            return {}
        me = self.client.user.id if self.client.user is not None else None
        found: dict[str, str] = {}
        places = {int(channel.channel)} | {int(c.thread) for c in candidates if c.thread}
        for place in sorted(places):
            try:
                recent = await self.client.http.logs_from(place, READ_BACK_LIMIT)
            except discord.NotFound:
                continue  # a thread never started: nothing landed there
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
                raise classify_error(error) from error
            landed = {
                message_fingerprint(message): str(message["id"])
                for message in reversed(recent)
                if me is None or int(message.get("author", {}).get("id", 0)) == me
            }
            for candidate in candidates:
                ref = landed.get(message_fingerprint(candidate.message.payload))
                if ref is not None and candidate.key not in found:
                    found[candidate.key] = ref
        return found

    async def _thread_for(self, channel_id: int, message_id: int, name: str) -> int:
        """The thread started from the message ``message_id`` (started now if need be); the
        channel itself where threads cannot be started (inside a thread or forum post, or
        without the permission)."""
        if message_id in self._threads:
            return self._threads[message_id]
        try:
            thread = await self.client.http.start_thread_with_message(
                channel_id, message_id, name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
            target = int(thread["id"])
        except discord.HTTPException as error:
            if error.code != THREAD_EXISTS:
                log.info("Discord: no thread in %s (%s); posting there", channel_id, error)
            target = message_id if error.code == THREAD_EXISTS else channel_id
        except (aiohttp.ClientError, TimeoutError) as error:
            raise classify_error(error) from error
        self._threads[message_id] = target
        return target

    def _can_read_history(self, channel_id: int) -> bool:
        """False when the gateway's cache knows the bot may not read the channel's history
        (True when nothing is known, as in ``run --once``)."""
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return True
        me = channel.guild.me
        return me is None or can_read_history(channel.permissions_for(me))

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


class DiscordFactory:
    name = PLATFORM
    interactive = False

    def is_configured(self) -> bool:
        return load_discord_settings().is_configured

    def create(self, core: Core, options: AdapterOptions) -> DiscordAdapter:
        return DiscordAdapter(core, load_discord_settings(), commands=options.commands)
