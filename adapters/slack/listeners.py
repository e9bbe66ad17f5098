"""What the bot does when Slack calls it: ``/arxiv`` commands and button clicks.

Every request is acknowledged first (Slack gives up after 3 seconds), then the core
runs the command and the answer goes to the request's ``response_url`` through
``respond()``: visible only to the caller, or to the channel when the core's reply
says so (subscribe, unsubscribe, mode changes).

The "Next" button of a result list runs the command it carries (the next page) for the
person who clicked, in the same channel, and the answer replaces the list it was
clicked in (``replace_original`` through the click's ``response_url``).

Feedback (docs/feedback.md): ``reaction_added`` / ``reaction_removed`` events on a
message, and the "👍 relevant" / "👎 not for us" buttons of a paper card, go to
:meth:`bot.adapter.Core.feedback` with the channel as commands see it and the message's
``ts`` (what ``send`` returned). The bot's own reactions are ignored; nothing a
reaction carries can make the listener raise.

Link previews: ``link_shared`` events go to :mod:`adapters.slack.unfurl`.

Personal feeds: a command typed in a direct message acts on the person's own DM with the
bot in that workspace (:class:`DirectMessages`); they manage it themselves, and its
answers are visible to them alone.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import error_code
from adapters.slack.files import upload_reply_file
from adapters.slack.render import (
    CITE_ACTION,
    FEEDBACK_DOWN_ACTION,
    FEEDBACK_UP_ACTION,
    NEXT_ACTION,
    SHARE_ACTION,
    plain,
    reply_message,
)
from adapters.slack.unfurl import unfurl_links
from bot.adapter import CommandContext, Core
from bot.commands.grammar import (
    Command,
    PaperCommand,
    PreviewCommand,
    SearchCommand,
    SubscribeCommand,
    parse_command,
)
from bot.errors import UserError
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, Reply, Tone, Visibility

__all__ = ["COMMAND", "PLATFORM", "register_listeners"]

log = logging.getLogger(__name__)

PLATFORM = "slack"
COMMAND = "/arxiv"
LINK_ACTIONS = re.compile(r"^arxiv_open_")
"""The Abstract, PDF and Code buttons open a URL; Slack still sends the click, which
must be acknowledged or the user sees a warning."""

PRIVATE_HINT = (
    "If arxiv-bot is not a member of this private channel yet, invite it with "
    "`/invite @arxiv-bot` so it can post the papers here."
)
FEEDBACK_ACTIONS = re.compile(
    f"^(?:{re.escape(FEEDBACK_UP_ACTION)}|{re.escape(FEEDBACK_DOWN_ACTION)})$"
)
FEEDBACK_NOTES = {
    "+1": "Noted: relevant",
    "-1": "Noted: not for us",
}
FEEDBACK_NOT_COUNTED = "This post no longer takes feedback (it may be too old)."
_SLOW = (SearchCommand, PaperCommand, SubscribeCommand, PreviewCommand)
WORKING_CHARS = 200


def register_listeners(app: AsyncApp, core: Core) -> None:
    """Route ``/arxiv``, the share and next buttons and the link buttons to ``core``."""
    direct_messages = DirectMessages()

    @app.command(COMMAND)
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        text = str(command.get("text") or "").strip()
        parsed = _parsed(text)
        if isinstance(parsed, _SLOW):  # may ask arXiv: searches, lookups, previews
            shown = plain(text if len(text) <= WORKING_CHARS else text[:WORKING_CHARS] + "…")
            await ack(response_type="ephemeral", text=f":hourglass: Working on `{shown}`…")
        else:
            await ack()

        async def note(text: str) -> None:  # replaces "Working on …" while a search queues
            await respond(
                response_type="ephemeral", replace_original=True, text=f":hourglass: {plain(text)}"
            )

        context = _context(
            team=command.get("team_id"),
            channel=command.get("channel_id"),
            channel_name=command.get("channel_name"),
            user=command.get("user_id"),
            progress=note if isinstance(parsed, _SLOW) else None,
        )
        personal = _is_direct(command)
        if personal:  # the person's own feed: their DM with the bot in this workspace
            context = await direct_messages.context(client, context)
        reply = await core.execute(text, context)
        if personal:  # nothing about a personal feed is announced to a DM's other member
            reply = dataclasses.replace(reply, visibility=Visibility.PRIVATE)
        await _respond(respond, reply, share=text)
        if reply.file is not None:  # an export: a file upload in the channel
            await upload_reply_file(client, context.channel, reply.file, respond)
        if reply.tone is Tone.SUCCESS and isinstance(parsed, SubscribeCommand):
            await _make_sure_bot_can_post(client, context.channel, respond)

    @app.action(SHARE_ACTION)
    async def on_share(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        text = str(action.get("value") or "")
        user = body.get("user") or {}
        channel = body.get("channel") or {}
        context = _context(
            team=(body.get("team") or {}).get("id") or user.get("team_id"),
            channel=channel.get("id"),
            channel_name=channel.get("name"),
            user=user.get("id"),
        )
        reply = await core.execute(text, context)
        if reply.tone is Tone.ERROR:
            await _respond(respond, reply)
            return
        sharer = str(user.get("name") or user.get("username") or "someone")
        shared = dataclasses.replace(
            reply, visibility=Visibility.CHANNEL, footer=f"Shared by {sharer}"
        )
        await _respond(respond, shared)

    @app.action(NEXT_ACTION)
    async def on_next(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        text = str(action.get("value") or "").strip()
        user = body.get("user") or {}
        channel = body.get("channel") or {}

        noted = False

        async def note(text: str) -> None:  # replaces the list while a search queues
            nonlocal noted
            noted = True
            await respond(
                response_type="ephemeral", replace_original=True, text=f":hourglass: {plain(text)}"
            )

        context = _context(
            team=(body.get("team") or {}).get("id") or user.get("team_id"),
            channel=channel.get("id") or (body.get("container") or {}).get("channel_id"),
            channel_name=channel.get("name"),
            user=user.get("id"),
            progress=note,
        )
        reply = await core.execute(text, context)
        # The next page takes the old one's place; a failure (a page past the end, arXiv
        # busy) comes as a message of its own and the page shown stays, unless a
        # progress note already replaced it.
        private = reply.visibility is Visibility.PRIVATE
        replace = private and (noted or reply.tone is not Tone.ERROR)
        await _respond(respond, reply, share=text, replace=replace)

    async def on_reaction(body: dict[str, Any], context: AsyncBoltContext, added: bool) -> None:
        try:
            event = _reaction_event(body, bot_user=context.bot_user_id, added=added)
            if event is not None:
                await core.feedback(event)
        except Exception:  # an odd event must never reach bolt's error handler
            log.debug("Slack: reaction event not understood", exc_info=True)

    @app.event("reaction_added")
    async def on_reaction_added(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await on_reaction(body, context, True)

    @app.event("reaction_removed")
    async def on_reaction_removed(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await on_reaction(body, context, False)

    @app.event("link_shared")
    async def on_link_shared(body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            await unfurl_links(core, client, body)
        except Exception:  # an odd event must never reach bolt's error handler
            log.warning("Slack: link_shared event not handled", exc_info=True)

    @app.action(FEEDBACK_ACTIONS)
    async def on_feedback_button(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        emoji = "+1" if action.get("action_id") == FEEDBACK_UP_ACTION else "-1"
        user = body.get("user") or {}
        container = body.get("container") or {}
        ts = (body.get("message") or {}).get("ts") or container.get("message_ts")
        context = _context(
            team=(body.get("team") or {}).get("id") or user.get("team_id"),
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
            channel_name="",
            user=user.get("id"),
        )
        event = FeedbackEvent(
            channel=context.channel,
            message_ref=str(ts or ""),
            user=context.user,
            emoji=emoji,
            source="button",
        )
        counted = await core.feedback(event)
        note = FEEDBACK_NOTES[emoji] if counted else FEEDBACK_NOT_COUNTED
        await respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CITE_ACTION)
    async def on_cite(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A card's "Cite" button: the paper's BibTeX, for the clicker only."""
        await ack()
        action = (body.get("actions") or [{}])[0]
        user = body.get("user") or {}
        container = body.get("container") or {}
        context = _context(
            team=(body.get("team") or {}).get("id") or user.get("team_id"),
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
            channel_name="",
            user=user.get("id"),
        )
        reply = await core.execute(f"bib {action.get('value') or ''}".strip(), context)
        await _respond(respond, reply)

    @app.action(LINK_ACTIONS)
    async def on_link(ack: AsyncAck) -> None:
        await ack()

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "Slack request failed (%s): %s",
            body.get("type") or body.get("command") or "unknown",
            error,
            exc_info=error,
        )


def _reaction_event(
    body: dict[str, Any], *, bot_user: str | None, added: bool
) -> FeedbackEvent | None:
    """The feedback a ``reaction_added``/``reaction_removed`` event body gives, or None
    for a reaction on something other than a message, or the bot's own."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    user = event.get("user")
    if item.get("type") != "message" or not isinstance(user, str) or not user:
        return None
    if bot_user and user == bot_user:
        return None
    team = body.get("team_id") or event.get("team") or body.get("team") or ""
    ref = ChannelRef(
        platform=PLATFORM,
        workspace=str(team),
        channel=str(item.get("channel") or ""),
    )
    return FeedbackEvent(
        channel=ref,
        message_ref=str(item.get("ts") or ""),
        user=user,
        emoji=str(event.get("reaction") or ""),
        added=added,
    )


DIRECT_MESSAGE = "directmessage"
"""The ``channel_name`` Slack gives a slash command typed in a direct message."""
IMS_KEPT = 10_000


def _is_direct(command: dict[str, Any]) -> bool:
    """A slash command typed in a direct message (an IM, ``D…``), with the bot or anyone."""
    channel = str(command.get("channel_id") or "")
    return channel.startswith("D") or command.get("channel_name") == DIRECT_MESSAGE


class DirectMessages:
    """Personal feeds: a command typed in any direct message acts on the person's own
    DM with the bot in that workspace (``conversations.open``, scope ``im:write``), so
    papers arrive where the bot can post and the person alone sees them. Two workspaces
    have two IMs, even for the same person; Slack gives each (team, user) one IM."""

    def __init__(self) -> None:
        self._ims: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def context(self, client: AsyncWebClient, context: CommandContext) -> CommandContext:
        """``context`` for the person's own DM with the bot; as it was (the IM the
        command came from) when Slack does not open one."""
        channel = context.channel
        key = (channel.workspace, context.user)
        im = self._ims.get(key)
        if im is None and context.user:
            try:
                opened = await client.conversations_open(users=context.user)
                im = str((opened.get("channel") or {}).get("id") or "") or None
            except SlackApiError as error:
                log.warning(
                    "Slack: could not open a DM with %s in %s (%s); using the conversation "
                    "the command came from (the app needs the im:write scope)",
                    context.user,
                    channel.workspace,
                    error_code(error) or error,
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning("Slack: could not open a DM with %s: %s", context.user, error)
            if im is not None:
                self._ims[key] = im
                while len(self._ims) > IMS_KEPT:
                    self._ims.popitem(last=False)
        ref = dataclasses.replace(
            channel, channel=im or channel.channel, name=f"DM with {context.user}"
        )
        return dataclasses.replace(context, channel=ref, can_manage_channel=True)


def _parsed(text: str) -> Command | None:
    """The command ``text`` names, None when it is invalid (the core explains why)."""
    try:
        return parse_command(text)
    except UserError:
        return None


async def _make_sure_bot_can_post(
    client: AsyncWebClient, channel: ChannelRef, respond: AsyncRespond
) -> None:
    """After a subscribe: join a public channel now; in a private one, say how to invite
    the bot (Slack lets a bot into a private channel only by invitation)."""
    if channel.channel.startswith("D"):  # a direct message: nothing to join
        return
    try:
        await client.conversations_join(channel=channel.channel)
    except SlackApiError as error:
        if error_code(error) in ("method_not_supported_for_channel_type", "channel_not_found"):
            await respond(response_type="ephemeral", replace_original=False, text=PRIVATE_HINT)
        else:
            log.warning("Slack: could not join %s: %s", channel.label, error_code(error) or error)


def _context(
    *,
    team: Any,
    channel: Any,
    channel_name: Any,
    user: Any,
    progress: Callable[[str], Awaitable[None]] | None = None,
) -> CommandContext:
    ref = ChannelRef(
        platform=PLATFORM,
        workspace=str(team or ""),
        channel=str(channel or ""),
        name=str(channel_name or ""),
    )
    return CommandContext(channel=ref, user=str(user or ""), progress=progress)


async def _respond(
    respond: AsyncRespond, reply: Reply, *, share: str | None = None, replace: bool = False
) -> None:
    """Send ``reply`` to the request's response_url; ``replace`` puts it in place of the
    message whose button was clicked."""
    message = reply_message(reply, share=share)
    visibility = "in_channel" if reply.visibility is Visibility.CHANNEL else "ephemeral"
    response = await respond(
        response_type=visibility, replace_original=replace, **message.to_payload()
    )
    if response.status_code != 200:
        log.warning("Slack refused a reply (HTTP %s): %s", response.status_code, response.body)
