"""Link previews: arXiv links pasted in Slack unfurl as a compact paper card.

Slack sends a ``link_shared`` event for links to the manifest's ``unfurl_domains``
(scope ``links:read``); the bot asks the core for the papers they name
(:meth:`bot.adapter.PreviewsLinks.link_previews`: from the index when it holds them,
else from arXiv through the ``/arxiv paper`` queue) and answers with ``chat.unfurl``
(scope ``links:write``), one card per arXiv link, keyed by the URL exactly as Slack sent
it. Other links get no answer, so Slack shows them as usual. Nothing an event carries
can make the listener raise; a failed ``chat.unfurl`` is logged.

The card: the title (linked to the abstract), the first authors, the primary category
and the submission date, and the abstract's first sentence, all untrusted text escaped
as every other card's (:mod:`adapters.slack.render`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import error_code
from adapters.slack.render import LOOKALIKE_ASTERISK, BlockDict, escape, plain
from bot.adapter import Core, PreviewsLinks
from bot.link_previews import LinkPreview, first_sentence
from bot.models import ChannelRef, PaperPost
from bot.render import author_line, clean, cut_at_word, format_date, shown_abstract, shown_title

__all__ = ["AUTHORS_SHOWN", "link_card", "unfurl_links", "unfurls_for"]

log = logging.getLogger(__name__)

AUTHORS_SHOWN = 3
TITLE_CHARS = 250
LINE_CHARS = 300
SENTENCE_CHARS = 400


def _mrkdwn(text: str) -> BlockDict:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _safe(text: str, limit: int) -> str:
    return plain(cut_at_word(clean(text), limit))


def link_card(post: PaperPost) -> list[BlockDict]:
    """The compact card's blocks: title link, one line of details, first sentence."""
    paper = post.paper
    title = _safe(shown_title(paper), TITLE_CHARS).replace("*", LOOKALIKE_ASTERISK)
    title = title or escape(paper.versioned_id)
    details = [f"`{escape(paper.versioned_id)}`"]
    if paper.authors:
        details.append(_safe(author_line(paper.authors, AUTHORS_SHOWN), LINE_CHARS))
    if paper.primary_category:
        details.append(_safe(paper.primary_category, LINE_CHARS))
    details.append(f"submitted {format_date(paper.submitted)}")
    blocks: list[BlockDict] = [
        {"type": "section", "text": _mrkdwn(f"*<{paper.abs_url}|{title}>*")},
        {"type": "context", "elements": [_mrkdwn(" · ".join(details))]},
    ]
    if sentence := first_sentence(shown_abstract(paper), SENTENCE_CHARS):
        blocks.append({"type": "section", "text": _mrkdwn(plain(sentence))})
    return blocks


def unfurls_for(previews: Sequence[LinkPreview]) -> dict[str, dict[str, Any]]:
    """``chat.unfurl``'s ``unfurls``: each URL with its card's blocks."""
    return {preview.url: {"blocks": link_card(preview.post)} for preview in previews}


def _urls(event: dict[str, Any]) -> list[str]:
    links = event.get("links")
    if not isinstance(links, list):
        return []
    return [str(link["url"]) for link in links if isinstance(link, dict) and link.get("url")]


@dataclass(frozen=True, slots=True)
class _Target:
    """Where the unfurls go: the message (``channel`` + ``ts``), or links still being
    typed in the composer (``unfurl_id`` + ``source``)."""

    channel: str | None = None
    ts: str | None = None
    unfurl_id: str | None = None
    source: str | None = None


def _target(event: dict[str, Any]) -> _Target | None:
    """The event's :class:`_Target`; None when it names neither."""
    if event.get("source") == "composer" and event.get("unfurl_id"):
        return _Target(unfurl_id=str(event["unfurl_id"]), source="composer")
    channel, ts = event.get("channel"), event.get("message_ts")
    if channel and ts:
        return _Target(channel=str(channel), ts=str(ts))
    return None


async def unfurl_links(core: Core, client: AsyncWebClient, body: dict[str, Any]) -> None:
    """Answer one ``link_shared`` event body with the cards of its arXiv links."""
    event = body.get("event") or {}
    target = _target(event)
    urls = _urls(event)
    if target is None or not urls or not isinstance(core, PreviewsLinks):
        return
    team = body.get("team_id") or event.get("team") or ""
    channel = ChannelRef(
        platform="slack", workspace=str(team), channel=str(event.get("channel") or "")
    )
    previews = await core.link_previews(urls, channel)
    if not previews:
        return
    try:
        await client.chat_unfurl(
            channel=target.channel,
            ts=target.ts,
            unfurl_id=target.unfurl_id,
            source=target.source,
            unfurls=unfurls_for(previews),
        )
    except SlackApiError as error:
        log.warning("Slack: could not unfurl %s link(s): %s", len(previews), error_code(error))
