"""The Slack Web API client the adapter posts with, and what its errors mean to the core.

:func:`make_web_client` builds an ``AsyncWebClient`` that retries what is worth
retrying: connection errors (slack_sdk's default), HTTP 429 after the ``Retry-After``
Slack sends, and HTTP 500/503 with a short backoff. bolt copies these retry handlers
into every listener's client when this client is given to ``AsyncApp(client=...)``.

:func:`classify_error` turns a ``SlackApiError`` into the core's vocabulary:
:class:`~bot.errors.ChannelUnavailableError` (with a reason a user can act on; the
channel's subscriptions pause) or :class:`~bot.errors.DeliveryError` (try again later).

:func:`post_with_join` posts a message, joining the channel once when Slack answers
``not_in_channel``. :func:`message_metadata` tags a message with its idempotency key and
:func:`find_by_metadata` reads a channel (or thread) back to find tagged messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ChannelUnavailableError, DeliveryError
from bot.models import SentCandidate

__all__ = [
    "INVITE_HINT",
    "UNAVAILABLE_REASONS",
    "classify_error",
    "error_code",
    "find_by_metadata",
    "make_web_client",
    "message_metadata",
    "post_with_join",
    "unreachable",
]

DEFAULT_BASE_URL = "https://slack.com/api/"

METADATA_EVENT = "arxiv_bot_message"
"""The metadata event type of every message the bot posts; its payload holds the key."""
READ_BACK_LIMIT = 50
"""How many of a channel's (or thread's) latest messages a read-back looks at: a crash's
message in flight is among the newest."""

INVITE_HINT = "The bot is not in this private channel; invite it with /invite @arxiv-bot"

UNAVAILABLE_REASONS: dict[str, str] = {
    "channel_not_found": (
        "Slack cannot find this channel for the bot: it was deleted, or it is private "
        "and the bot is not in it (invite it with /invite @arxiv-bot)"
    ),
    "is_archived": "The channel is archived; unarchive it to get posts again",
    "not_in_channel": INVITE_HINT,
    "invalid_auth": (
        "Slack rejected the bot's token (invalid_auth); check SLACK_BOT_TOKEN or reinstall the app"
    ),
    "not_authed": "No Slack bot token was sent (not_authed); set SLACK_BOT_TOKEN",
    "account_inactive": (
        "The bot's Slack account is inactive (account_inactive): the app was uninstalled "
        "or its user deactivated; reinstall the app"
    ),
    "token_revoked": "The bot's Slack token was revoked; reinstall the app",
    "restricted_action": "This workspace does not let the bot post in this channel",
    "missing_scope": (
        "The Slack app lacks a permission it needs (missing_scope); update it from "
        "deploy/slack-manifest.yml and reinstall it"
    ),
}
"""Slack errors after which posting to a channel cannot work until someone acts."""

_JOIN_IMPOSSIBLE = frozenset({"method_not_supported_for_channel_type", "channel_not_found"})


def make_web_client(
    token: str | None,
    *,
    base_url: str | None = None,
    timeout: int = 30,
    max_retries: int = 3,
    retry_interval: RetryIntervalCalculator | None = None,
    resend: bool = True,
) -> AsyncWebClient:
    """An ``AsyncWebClient`` for ``token`` with retries for connection errors, rate
    limits (waiting ``Retry-After``) and server errors (HTTP 500 and 503).

    Without ``resend``, only rate limits are retried (Slack refused those requests
    outright): a dropped connection or a server error after ``chat.postMessage`` may
    mean the message was posted, and resending it blindly would post it twice. The
    dispatcher retries such posts itself, after reading the channel back.

    ``base_url`` defaults to Slack's (``https://slack.com/api/``); tests point it at a
    fake. ``max_retries`` bounds the retries of one call, all kinds together (slack_sdk
    counts attempts per call, shared between handlers). ``retry_interval`` sets the
    wait between retries after connection and server errors (default: exponential
    backoff from 0.5 s); rate limits wait what Slack's ``Retry-After`` says.
    """
    interval = retry_interval or BackoffRetryIntervalCalculator()
    handlers: list[AsyncRetryHandler] = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries)
    ]
    if resend:
        handlers += [
            AsyncConnectionErrorRetryHandler(
                max_retry_count=max_retries, interval_calculator=interval
            ),
            AsyncServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
        ]
    return AsyncWebClient(
        token=token,
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=timeout,
        retry_handlers=handlers,
    )


def unreachable(error: BaseException) -> DeliveryError:
    """A connection failure or timeout that outlasted slack_sdk's retries."""
    return DeliveryError(f"Slack could not be reached: {error or type(error).__name__}")


def error_code(error: SlackApiError) -> str | None:
    """Slack's ``error`` string (``channel_not_found``), None when the answer had none
    (an HTTP 5xx with a plain-text body, say)."""
    response = error.response
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        code = data.get("error")
        return str(code) if code else None
    return None


def _status(error: SlackApiError) -> int | None:
    status = getattr(error.response, "status_code", None)
    return status if isinstance(status, int) else None


def classify_error(error: SlackApiError) -> Exception:
    """The core's exception for a failed Slack call.

    :class:`ChannelUnavailableError` when the channel cannot be posted to until someone
    acts (see :data:`UNAVAILABLE_REASONS`); :class:`DeliveryError` otherwise (rate
    limits, outages, anything unexpected), which the core retries later.
    """
    code = error_code(error)
    if code in UNAVAILABLE_REASONS:
        return ChannelUnavailableError(UNAVAILABLE_REASONS[code])
    status = _status(error)
    if code:
        return DeliveryError(f"Slack answered {code}" + (f" (HTTP {status})" if status else ""))
    return DeliveryError(f"Slack failed with HTTP {status}" if status else str(error))


async def post_with_join(client: AsyncWebClient, *, channel: str, **message: Any) -> str:
    """Post ``message`` (``text``, ``blocks``, ``thread_ts``, ...) to ``channel`` and
    return its ``ts``.

    When Slack answers ``not_in_channel``, joins the channel once and posts again. A
    channel that cannot be joined (private, or not visible to the bot) raises
    :class:`ChannelUnavailableError` with :data:`INVITE_HINT`. Every other failure is
    raised as :func:`classify_error` maps it.
    """
    try:
        return await _post(client, channel, message)
    except SlackApiError as error:
        if error_code(error) != "not_in_channel":
            raise classify_error(error) from error
    try:
        await client.conversations_join(channel=channel)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise unreachable(error) from error
    except SlackApiError as error:
        if error_code(error) in _JOIN_IMPOSSIBLE:
            raise ChannelUnavailableError(INVITE_HINT) from error
        raise classify_error(error) from error
    try:
        return await _post(client, channel, message)
    except SlackApiError as error:
        raise classify_error(error) from error


async def _post(client: AsyncWebClient, channel: str, message: dict[str, Any]) -> str:
    try:
        response = await client.chat_postMessage(channel=channel, **message)
    except (aiohttp.ClientError, TimeoutError) as error:  # after slack_sdk's own retries
        raise unreachable(error) from error
    ts = response.get("ts")
    if not isinstance(ts, str):
        raise DeliveryError("Slack accepted the message but returned no ts")
    return ts


def message_metadata(key: str) -> dict[str, Any]:
    """Slack message metadata naming the bot's idempotency ``key``."""
    return {"event_type": METADATA_EVENT, "event_payload": {"key": key}}


async def find_by_metadata(
    client: AsyncWebClient, channel: str, candidates: Sequence[SentCandidate]
) -> dict[str, str]:
    """The ``ts`` of each candidate found among the latest messages of the channel, or of
    the thread it belongs in, by the key in its metadata.

    One ``conversations.history`` call for the channel, one ``conversations.replies`` per
    thread. Raises ``SlackApiError`` (``missing_scope`` without the history scopes).
    """
    wanted = {c.key for c in candidates}
    threads = {c.thread for c in candidates}
    found: dict[str, str] = {}
    try:
        for thread in threads:
            if thread is None:
                response = await client.conversations_history(
                    channel=channel, limit=READ_BACK_LIMIT, include_all_metadata=True
                )
            else:
                response = await client.conversations_replies(
                    channel=channel, ts=thread, limit=READ_BACK_LIMIT, include_all_metadata=True
                )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                key = (metadata.get("event_payload") or {}).get("key")
                if metadata.get("event_type") == METADATA_EVENT and key in wanted:
                    found[key] = str(message["ts"])
    except (aiohttp.ClientError, TimeoutError) as error:
        raise unreachable(error) from error
    return found
