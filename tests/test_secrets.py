"""Secrets never shown: tokens, signing secrets and URL credentials are masked in messages
and log lines, and a start with a secret in a bad place fails with one clear line."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import pytest

from adapters.slack.settings import load_slack_settings
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.models import ChannelRef
from bot.render import reply_text
from bot.secrets import SecretsFilter, mask_secrets, mask_url, remember_settings
from tests.fakes.arxiv_api import FakeArxiv
from tests.test_cli import arxiv_bot

SLACK_USER_TOKEN = "xoxp-2209-8841-Sekr1tUserTokenValue"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.Sekr1tDiscordTokenValueAbcdefghij"
PASSWORD = "hunter2-Sekr1t"


def _with_credentials(url: str, password: str = PASSWORD) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"ada:{password}@{parts.netloc}").geturl()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"token {SLACK_USER_TOKEN} refused", "Sekr1t", "xoxp-***"),
        ("app xapp-1-A0TEST-123-abcdef0123", "abcdef0123", "xapp-***"),
        (f"Bot {DISCORD_TOKEN}", "Sekr1t", "Bot ***"),
        (f"GET https://ada:{PASSWORD}@mirror.example/api?x=1", PASSWORD, "https://***@mirror"),
        ("GET https://mirror.example/api?q=1&token=Sekr1t&x=2", "Sekr1t", "token=***&x=2"),
        ("Authorization: Bearer Sekr1tBearerValue", "Sekr1t", "Authorization: ***"),
    ],
)
def test_secret_shapes_are_masked(text: str, secret: str, kept: str) -> None:
    masked = mask_secrets(text)
    assert secret not in masked
    assert kept in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "mailto:ada@example.org https://arxiv.org/abs/2506.11674 cs.CV/2506.11674 ti:x@y"
    assert mask_secrets(text) == text
    assert mask_url("https://export.arxiv.org/api/query") == "https://export.arxiv.org/api/query"


def test_secrets_of_loaded_settings_are_masked_wherever_they_appear() -> None:
    signing_secret = "0a1b2c3d4e5f-Sekr1tSigning"
    load_slack_settings(bot_token="xoxb-1-2-abc", signing_secret=signing_secret)
    remember_settings({"api_url": "https://Sekr1tTokenAsUser@mirror.example/api"})
    assert "Sekr1t" not in mask_secrets(f"secret {signing_secret} and Sekr1tTokenAsUser alone")


def test_a_wrong_format_token_is_named_by_its_kind_only() -> None:
    with pytest.raises(ConfigError) as raised:
        load_slack_settings(bot_token=SLACK_USER_TOKEN)
    message = str(raised.value)
    assert "SLACK_BOT_TOKEN" in message and "xoxb-" in message
    assert "(got 'xoxp-***')" in message
    assert "Sekr1t" not in message
    with pytest.raises(ConfigError) as short:
        load_slack_settings(app_token="nope")  # short, shaped like nothing: still a secret
    assert "nope" not in str(short.value)


def test_url_credentials_are_masked_in_setting_errors() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(arxiv_api_url=f"ftp://ada:{PASSWORD}@mirror.example/api/query")
    assert PASSWORD not in str(raised.value)
    assert "ftp://***@mirror.example/api/query" in str(raised.value)


def test_the_log_filter_masks_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(SecretsFilter())
    logger = logging.getLogger("tests.secrets")
    url = f"https://ada:{PASSWORD}@mirror.example/api"
    logger.warning("request to %s failed", url)
    try:
        raise ValueError(f"cannot open {url} with {SLACK_USER_TOKEN}")
    except ValueError:
        logger.exception("it failed")
    assert "https://***@mirror.example/api" in caplog.text
    assert "xoxp-***" in caplog.text
    assert PASSWORD not in caplog.text
    assert "Sekr1t" not in caplog.text


def _one_clear_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_wrong_format_token_is_not_echoed_at_start(settings: Settings) -> None:
    result = arxiv_bot("run", settings=settings, env={"SLACK_BOT_TOKEN": SLACK_USER_TOKEN})
    assert result.returncode != 0
    line = _one_clear_line(result.stderr)
    assert "SLACK_BOT_TOKEN" in line and "xoxp-***" in line
    assert "Sekr1t" not in result.stdout + result.stderr


def test_credentials_in_arxiv_api_url_work_and_are_never_shown(
    settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    env = {"ARXIV_API_URL": _with_credentials(fake_arxiv.url), "LOG_LEVEL": "DEBUG"}
    result = arxiv_bot("run", settings=settings, env=env, stdin="/arxiv search mri\n")
    assert result.returncode == 0, result.stderr
    assert "Physics-Informed Unrolled Networks" in result.stdout  # the start works
    assert fake_arxiv.requests[0].header("Authorization") is not None  # sent as basic auth
    assert "https://***@" not in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert "ada:" not in result.stdout + result.stderr


async def test_credentials_in_arxiv_api_url_stay_out_of_error_replies(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(SecretsFilter())  # as the command line's log handlers have
    caplog.set_level(logging.DEBUG)
    closed = _with_credentials(f"http://127.0.0.1:{_closed_port()}/api/query")
    unreachable = settings.model_copy(update={"arxiv_api_url": closed})
    context = CommandContext(ChannelRef("console", "local", "lab", "lab"))
    async with BotApp(unreachable) as app:
        search = await app.execute("search mri", context)
        status = await app.execute("status", context)
    shown = reply_text(search) + reply_text(status)
    assert "could not reach arXiv at 127.0.0.1:" in reply_text(search)
    assert "arXiv: the last request failed just now." in reply_text(status)  # no detail
    assert PASSWORD not in shown + caplog.text
    assert "ada:" not in shown + caplog.text


@pytest.mark.parametrize(
    ("setting", "platform_env"),
    [
        (
            "SLACK_API_URL",
            {"SLACK_BOT_TOKEN": "xoxb-1-2-Sekr1tBot", "SLACK_SIGNING_SECRET": "Sekr1tSigning"},
        ),
        ("DISCORD_API_URL", {"DISCORD_TOKEN": DISCORD_TOKEN}),
    ],
)
def test_credentials_in_a_platform_api_url_stop_the_start_with_one_line(
    settings: Settings, setting: str, platform_env: dict[str, str]
) -> None:
    url = _with_credentials(f"http://127.0.0.1:{_closed_port()}/api/")
    result = arxiv_bot("run", settings=settings, env={**platform_env, setting: url})
    assert result.returncode != 0
    line = _one_clear_line(result.stderr)
    assert setting in line
    assert "user name or password" in line
    assert "http://***@127.0.0.1:" in line
    assert PASSWORD not in result.stdout + result.stderr
    assert "Sekr1t" not in result.stdout + result.stderr
