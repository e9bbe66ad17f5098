"""Opt-in previews of arXiv links pasted in Discord (``DISCORD_LINK_PREVIEWS=on``).

Discord has no link unfurl API for bots: the bot reads each new message (which needs the
privileged Message Content intent and the ``guild_messages`` intent) and, when a person
pasted arXiv links in a server's text channel or thread, replies once with a compact
card per paper (at most 5, one message), from the index when it holds the paper
(:meth:`bot.adapter.PreviewsLinks.link_previews`). Messages from bots (the bot itself
included) and webhooks, direct messages, system messages and edits are ignored. The
reply pings nobody and leaves the user's own message as it is. Nothing a message
carries can make the handler raise; a failed reply is logged.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence

import discord

from adapters.discord.commands import PLATFORM
from adapters.discord.render import link_preview_message
from bot.adapter import Core, PreviewsLinks
from bot.link_previews import arxiv_links
from bot.models import ChannelRef, PaperPost

__all__ = ["PRIVILEGED_INTENT_MISSING", "LinkPreviewer", "message_urls", "preview_intents"]

log = logging.getLogger(__name__)

PRIVILEGED_INTENT_MISSING = (
    "DISCORD_LINK_PREVIEWS=on needs the Message Content intent: enable it at "
    "https://discord.com/developers/applications → Bot → Privileged Gateway Intents, "
    "or set DISCORD_LINK_PREVIEWS=off"
)
"""Why the start failed when Discord refused the intent (close code 4014)."""

REMEMBERED = 1000
"""Messages remembered as answered, so a replayed event gets no second reply."""

_LINK = re.compile(r"https?://[^\s<>()\[\]|`\"']+", re.IGNORECASE)
_TRAILING = ".,:;!?*_~"
_ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def preview_intents() -> discord.Intents:
    """What previews add to the bot's intents: server messages and their content."""
    return discord.Intents(guild_messages=True, message_content=True)


def message_urls(content: str) -> list[str]:
    """The links in a message's text, in order (``<url>``, masked and spoiler links too),
    without trailing punctuation."""
    return [match.group().rstrip(_TRAILING) for match in _LINK.finditer(content)]


def _from_a_person(message: discord.Message, me: discord.ClientUser | None) -> bool:
    author = message.author
    if author.bot or message.webhook_id is not None:
        return False
    return me is None or author.id != me.id


_SERVER_CHANNELS = (discord.TextChannel, discord.Thread, discord.PartialMessageable)
"""Text channels, threads and forum posts; a partial channel is one of a server's that
the cache does not hold (an old thread, say)."""


def _in_server_channel(message: discord.Message) -> bool:
    return message.guild is not None and isinstance(message.channel, _SERVER_CHANNELS)


class LinkPreviewer:
    """Answers new messages that hold arXiv links with one reply of paper cards."""

    def __init__(self, core: Core, client: discord.Client) -> None:
        self._core = core
        self._client = client
        self._answered: OrderedDict[int, None] = OrderedDict()

    def listen(self) -> None:
        """Register the client's ``on_message`` handler (edits are not listened to)."""

        async def on_message(message: discord.Message) -> None:
            await self.handle(message)

        self._client.event(on_message)

    def _wanted(self, message: discord.Message) -> list[str]:
        """The message's links when it should get a preview (some name arXiv papers)."""
        if message.type not in _ANSWERED_TYPES or message.id in self._answered:
            return []
        if not _from_a_person(message, self._client.user) or not _in_server_channel(message):
            return []
        urls = message_urls(message.content)
        return urls if arxiv_links(urls) else []

    def _remember(self, message_id: int) -> None:
        self._answered[message_id] = None
        while len(self._answered) > REMEMBERED:
            self._answered.popitem(last=False)

    async def handle(self, message: discord.Message) -> bool:
        """Reply to ``message`` with the cards of its arXiv links; True when it did.
        Never raises."""
        try:
            urls = self._wanted(message)
            if not urls or not isinstance(self._core, PreviewsLinks):
                return False
            self._remember(message.id)
            channel = ChannelRef(
                platform=PLATFORM,
                workspace=str(message.guild.id if message.guild else ""),
                channel=str(message.channel.id),
            )
            previews = await self._core.link_previews(urls, channel)
            if not previews:
                return False
            posts = {preview.post.paper.arxiv_id: preview.post for preview in previews}
            return await self._reply(message, list(posts.values()))
        except Exception:  # an odd message must never take the gateway's handler down
            log.warning("Discord: link preview failed", exc_info=True)
            return False

    async def _reply(self, message: discord.Message, posts: Sequence[PaperPost]) -> bool:
        reply = link_preview_message(posts)
        try:
            await message.reply(
                embeds=list(reply.embeds),
                allowed_mentions=discord.AllowedMentions.none(),
                mention_author=False,
            )
        except discord.HTTPException as error:
            log.info("Discord: no link preview in %s: %s", message.channel.id, error)
            return False
        return True
