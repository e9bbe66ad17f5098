"""Logs: quiet in the terminal, INFO as a service, JSON lines, secrets masked, no reprs."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from adapters.console.prompt import CLEAR_LINE, PromptLine
from bot.app import BotApp
from bot.config import Settings
from bot.observability.logs import configure_logging, log_level
from bot.secrets import remember_secret
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai
from tests.test_cli import arxiv_bot
from tests.test_console import run_console

SECRET = "Sekr1t-log-value-42"
REPR = re.compile(r"\b[A-Z]\w+\(\w+=")
"""A dataclass's repr (``HarvestReport(started_at=...``), which no log line should show."""


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.mark.parametrize(
    ("setting", "service", "verbose", "expected"),
    [
        (None, False, 0, logging.WARNING),  # the console, search, paper
        (None, True, 0, logging.INFO),  # Slack or Discord
        ("ERROR", True, 0, logging.ERROR),  # an explicit LOG_LEVEL wins over the default
        ("DEBUG", False, 0, logging.DEBUG),
        (None, False, 1, logging.INFO),  # -v
        (None, True, 2, logging.DEBUG),  # -vv
        ("ERROR", False, 1, logging.INFO),  # -v on the command line shows more ...
        ("DEBUG", False, 1, logging.DEBUG),  # ... never less
    ],
)
def test_log_level(setting: str | None, service: bool, verbose: int, expected: int) -> None:
    assert log_level(setting, service=service, verbose=verbose) == expected


def test_piped_console_logs_no_info_unless_verbose(settings: Settings) -> None:
    quiet = arxiv_bot("run", settings=settings, stdin="/arxiv help\n")
    assert quiet.returncode == 0, quiet.stderr
    assert "arxiv-bot commands" in quiet.stdout
    assert quiet.stderr == ""
    verbose = arxiv_bot("run", "-v", settings=settings, stdin="/arxiv help\n")
    assert verbose.returncode == 0, verbose.stderr
    assert " INFO bot.app: store ready at " in verbose.stderr
    assert " DEBUG " not in verbose.stderr
    explicit = arxiv_bot("run", settings=settings, stdin="", env={"LOG_LEVEL": "info"})
    assert " INFO bot.app: store ready at " in explicit.stderr


def test_one_shot_search_prints_its_answer_and_no_log_lines(
    settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.fail_next(503, retry_after="0", times=2)  # retried, then answered
    result = arxiv_bot("search", "mri", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "Physics-Informed Unrolled Networks" in result.stdout
    assert result.stderr == ""


def test_one_shot_failure_is_one_line(settings: Settings, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.fail_next(500)
    result = arxiv_bot("paper", "2506.11674", settings=settings)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: ")


def test_json_lines_carry_extra_fields_and_mask_secrets(
    settings: Settings, restore_logging: None
) -> None:
    remember_secret(SECRET)
    stream = io.StringIO()
    configure_logging(
        settings.model_copy(update={"log_format": "json"}), service=True, stream=stream
    )
    log = logging.getLogger("bot.test")
    log.info("posted %s", "2506.11674", extra={"channel": "lab", "paper": "2506.11674"})
    log.debug("not shown at INFO")
    try:
        raise RuntimeError(f"token {SECRET} refused")
    except RuntimeError:
        log.exception("sending failed with %s", SECRET, extra={"request_id": SECRET})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "posted 2506.11674"
    assert first["level"] == "INFO"
    assert first["logger"] == "bot.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (first["channel"], first["paper"]) == ("lab", "2506.11674")
    assert second["message"] == "sending failed with ***"
    assert second["request_id"] == "***"
    assert "RuntimeError: token *** refused" in second["exception"]
    assert SECRET not in stream.getvalue()


def test_text_lines_mask_secrets_too(settings: Settings, restore_logging: None) -> None:
    remember_secret(SECRET)
    stream = io.StringIO()
    configure_logging(settings, service=True, stream=stream)
    logging.getLogger("bot.test").warning("token %s", SECRET)
    assert stream.getvalue().rstrip().endswith(" WARNING bot.test: token ***")


async def test_a_cycle_logs_no_object_reprs(
    app: BotApp, fake_oai: FakeOai, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    await run_console(app, "/arxiv subscribe cat:eess.IV\n", channel="lab")
    fake_oai.announce(paper_by_id("2506.11674"))
    fake_oai.fail_next(500)
    await app.run_cycle()  # a failed harvest
    await app.run_cycle()
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("cycle done: harvest ") for message in messages)
    assert not [message for message in messages if REPR.search(message)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_line_never_lands_in_the_prompt_line(restore_logging: None) -> None:
    screen = Terminal()
    line = PromptLine("arxiv> ", stdout=screen)
    handler = logging.StreamHandler(screen)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("bot.prompt-test")
    logger.handlers[:] = [handler]
    logger.propagate = False
    line.guard_logs(logger)

    logger.warning("before the prompt")
    with line.showing():
        screen.write("arxiv> ")  # what input() shows
        logger.warning("harvest failed")
    line.close()
    logger.warning("after")
    assert screen.getvalue() == (
        "WARNING before the prompt\n"
        f"arxiv> {CLEAR_LINE}WARNING harvest failed\narxiv> "
        "WARNING after\n"
    )
    assert handler.stream is screen  # given back
