"""Fuzzing the console: hostile lines through the console adapter into the whole bot,
then raw bytes through ``arxiv-bot run``. Every answer must be a specific message and the
log must hold no traceback."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import time

import pytest

from adapters.console import ConsoleAdapter
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.models import Reply
from bot.render import reply_text
from tests.conftest import settings_env
from tests.hostile import HOSTILE_LINES, is_generic_failure, random_lines

SEED = 20251
GENERATED = 5000


def record_answers(app: BotApp, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Reply]]:
    """Keep every (line, reply) the bot gives, however an adapter calls it."""
    answers: list[tuple[str, Reply]] = []
    execute = app.execute

    async def recording(text: str, context: CommandContext) -> Reply:
        reply = await execute(text, context)
        answers.append((text, reply))
        return reply

    monkeypatch.setattr(app, "execute", recording)
    return answers


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not problems, [r.getMessage()[:200] for r in problems]
    assert "Traceback" not in caplog.text


async def test_hostile_lines_through_the_console_get_specific_answers(
    app: BotApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    lines = [*HOSTILE_LINES, *random_lines(SEED, GENERATED)]
    answers = record_answers(app, monkeypatch)
    output = io.StringIO()
    script = "".join(line + "\n" for line in lines)
    adapter = ConsoleAdapter(app, channel="fuzz", stdin=io.StringIO(script), stdout=output)
    started = time.monotonic()
    await adapter.start()
    await adapter.wait_closed()
    await adapter.stop()

    asked = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert len(answers) == len(asked)  # every line was answered, none ended the input
    for line, reply in answers:
        assert reply.title.strip(), line[:80]
        assert not is_generic_failure(reply.title), (line[:200], reply.title)
        assert len(reply_text(reply)) < 20_000, line[:80]  # a huge line is not echoed whole
    assert "\x1b" not in output.getvalue()  # no terminal escape reaches the screen
    assert_no_traceback(caplog)
    print(f"console fuzz: {len(answers)} lines in {time.monotonic() - started:.1f} s")


def test_raw_bytes_on_standard_input_are_answered_line_by_line(settings: Settings) -> None:
    lines = [
        b"search \xff\xfe mri",
        b"\xc3\x28 help",
        b"search mri\x00 --limit 1",
        b"paper \x1b[31m2506.11674\x1b[0m",
        b"search " + b"(" * 10_000,
        b"unsubscribe 99999999999999999999",
        b"search " + b"a" * 100_000,
        b"list",
    ]
    env = {**settings_env(settings), "PYTHONIOENCODING": "utf-8"}  # strict, as in a UTF-8 locale
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stdout = result.stdout.decode()
    assert stdout.count("\u2717 ") == len(lines) - 2  # all errors but the search and list
    assert "Showing 1, most relevant first." in stdout  # mri\0 is a search for mri
    assert "This channel has no subscriptions yet." in stdout  # the last line was reached
    assert "Something went wrong" not in stdout
    assert "\x1b" not in stdout
    assert b"Traceback" not in result.stderr
