"""deploy/slack-manifest.yml: what a pasted manifest must hold for the bot to work.

The length limits and allowed keys are those of Slack's manifest schema, version 1
(github.com/slackapi/manifest-schema, schemas/manifest.schema.1.0.0.json).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.slack.settings import BOT_SCOPES

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "deploy" / "slack-manifest.yml"

# Keys the schema allows (it sets additionalProperties: false), limited to the parts we use.
ALLOWED_KEYS = {
    (): {"_metadata", "display_information", "features", "oauth_config", "settings"},
    ("_metadata",): {"major_version", "minor_version"},
    ("display_information",): {"name", "description", "background_color", "long_description"},
    ("features",): {"app_home", "bot_user", "shortcuts", "slash_commands", "unfurl_domains"},
    ("features", "bot_user"): {"display_name", "always_online"},
    ("features", "app_home"): {
        "home_tab_enabled",
        "messages_tab_enabled",
        "messages_tab_read_only_enabled",
    },
    ("oauth_config",): {"redirect_urls", "scopes", "token_management_enabled"},
    ("oauth_config", "scopes"): {"bot", "user", "bot_optional", "user_optional"},
    ("settings",): {
        "allowed_ip_address_ranges",
        "event_subscriptions",
        "incoming_webhooks",
        "interactivity",
        "org_deploy_enabled",
        "socket_mode_enabled",
        "token_rotation_enabled",
    },
    ("settings", "interactivity"): {"is_enabled", "request_url", "message_menu_options_url"},
}
SLASH_COMMAND_KEYS = {"command", "url", "description", "usage_hint", "should_escape"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_declares_the_arxiv_slash_command(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [command["command"] for command in commands] == ["/arxiv"]
    (command,) = commands
    assert command["should_escape"] is False
    assert "url" not in command  # Socket Mode: Slack delivers commands over the websocket


def test_bot_scopes_are_the_adapters(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(scopes) == set(BOT_SCOPES)
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_socket_mode_with_interactivity(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert "request_url" not in settings["interactivity"]
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    bot_user = manifest["features"]["bot_user"]
    assert bot_user == {"display_name": "arxiv-bot", "always_online": True}


def test_only_keys_the_schema_allows(manifest: dict[str, Any]) -> None:
    for path, allowed in ALLOWED_KEYS.items():
        node: Any = manifest
        for key in path:
            node = node.get(key, {})
        assert isinstance(node, dict), path
        assert set(node) <= allowed, (path, set(node) - allowed)
    for command in manifest["features"]["slash_commands"]:
        assert set(command) <= SLASH_COMMAND_KEYS, set(command) - SLASH_COMMAND_KEYS


def test_within_slacks_limits(manifest: dict[str, Any]) -> None:
    display = manifest["display_information"]
    assert 1 <= len(display["name"]) <= 35
    assert 1 <= len(display["description"]) <= 140
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", display["background_color"])
    assert 1 <= len(manifest["features"]["bot_user"]["display_name"]) <= 80
    for command in manifest["features"]["slash_commands"]:
        assert 2 <= len(command["command"]) <= 32
        assert command["command"].startswith("/")
        assert 1 <= len(command["description"]) <= 2000
        assert 1 <= len(command["usage_hint"]) <= 1000
    for scope in manifest["oauth_config"]["scopes"]["bot"]:
        assert len(scope) <= 50


def test_http_mode_instructions_name_the_bots_paths() -> None:
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    assert "https://YOUR-HOST/slack/events" in text
    assert "https://YOUR-HOST/slack/oauth_redirect" in text
    assert "connections:write" in text


def test_subscribes_to_reaction_events_with_their_scope(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["reaction_added", "reaction_removed", "link_shared"]
    assert "request_url" not in events  # Socket Mode delivers events over the websocket
    assert "reactions:read" in manifest["oauth_config"]["scopes"]["bot"]
    assert "reactions:read" in BOT_SCOPES  # so OAuth installs ask for it too


def test_unfurls_arxiv_links_with_the_link_scopes(manifest: dict[str, Any]) -> None:
    domains = manifest["features"]["unfurl_domains"]
    assert {"arxiv.org", "alphaxiv.org", "huggingface.co"} <= set(domains)
    assert len(domains) <= 5  # Slack's limit; subdomains (export.arxiv.org) are included
    assert "link_shared" in manifest["settings"]["event_subscriptions"]["bot_events"]
    for scope in ("links:read", "links:write"):
        assert scope in manifest["oauth_config"]["scopes"]["bot"]
        assert scope in BOT_SCOPES
