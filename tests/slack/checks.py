"""Checks shared by the Slack tests: Block Kit validity and limits, and escaping."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from slack_sdk.models.blocks import Block

from adapters.slack.render import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_HEADER,
    MAX_SECTION,
)

__all__ = ["EVIL", "assert_payload_escaped", "check_payload"]

EVIL = "<!channel> <!here> <@U123> <https://evil.example|arxiv.org> Tom & Jerry"
"""A title that would ping everyone and disguise a link if it were not escaped."""

_OWN_LINK = re.compile(r"<https://(?:arxiv\.org/(?:abs|pdf)|github\.com)/[^|<>\s]+\|[^<>]*>")
"""Links the bot builds: to arXiv, and to a paper's code repository (Hugging Face's)."""
_NOT_SHOWN = frozenset({"url", "action_id", "type", "value"})
"""Keys whose strings Slack never renders as message text."""


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) pair in a JSON-like value."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, name)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, key)


def _text_objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text"):
            yield value
        for item in value.values():
            yield from _text_objects(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _text_objects(item)


def check_payload(payload: dict[str, Any]) -> None:
    """Slack's own block validation plus explicit limit checks for one message."""
    assert payload["unfurl_links"] in (False, "false", "0")
    assert payload["unfurl_media"] in (False, "false", "0")
    assert payload["text"]
    assert len(payload["text"]) < 3000
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= MAX_BLOCKS
    json.dumps(payload)  # serialisable
    for block in Block.parse_all(blocks):
        block.validate_json()
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION
        elif block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= MAX_CONTEXT_ELEMENTS
            assert all(len(e["text"]) <= MAX_SECTION for e in block["elements"])
        elif block["type"] == "actions":
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= MAX_BUTTON_TEXT
                assert len(button.get("value", "")) <= MAX_BUTTON_VALUE
    for text in _text_objects(blocks):
        if text["type"] == "mrkdwn":
            assert text["verbatim"] is True


def assert_payload_escaped(payload: dict[str, Any]) -> None:
    """No mention, disguised link or bare ``&`` anywhere but in the bot's own links."""
    for key, value in _strings({k: payload[k] for k in ("text", "blocks") if k in payload}):
        if key in _NOT_SHOWN:
            continue
        rest = _OWN_LINK.sub("", value)
        assert "<" not in rest, value
        assert ">" not in rest, value
        assert "<!" not in value and "<@" not in value
        assert "|arxiv.org>" not in value
        assert re.search(r"&(?!amp;|lt;|gt;)", value) is None, value
