"""A reply's file (an export) as a Slack file upload in the channel it was asked in.

``files_upload_v2`` (``files.getUploadURLExternal``, the upload itself, then
``files.completeUploadExternal`` sharing it to the channel) needs the ``files:write``
scope; a channel the bot cannot post to gets a private note saying why instead.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import error_code
from bot.models import ChannelRef, ReplyFile

__all__ = ["UPLOAD_FAILED", "upload_reply_file"]

log = logging.getLogger(__name__)

UPLOAD_FAILED = (
    "The file could not be shared here ({reason}). In a private channel, invite the bot "
    "with `/invite @arxiv-bot`; an admin may need to reinstall it with the files:write "
    "scope. `arxiv-bot export` on the bot's host writes the same file."
)


async def upload_reply_file(
    client: AsyncWebClient, channel: ChannelRef, file: ReplyFile, respond: AsyncRespond
) -> bool:
    """Upload ``file`` to ``channel``; on failure tell the asker privately. True if shared."""
    try:
        await client.files_upload_v2(
            channel=channel.channel,
            filename=file.name,
            title=file.name,
            content=file.content,
        )
    except SlackApiError as error:
        reason = error_code(error) or "Slack refused it"
        log.warning("Slack: could not upload %s to %s: %s", file.name, channel.label, reason)
        text = UPLOAD_FAILED.format(reason=reason)
        await respond(response_type="ephemeral", replace_original=False, text=text)
        return False
    return True
