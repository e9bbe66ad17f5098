"""The real command line, run as a subprocess against the fake arXiv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import query_from_argv
from bot.config import Settings
from tests.conftest import settings_env


def arxiv_bot(
    *args: str, settings: Settings, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**settings_env(settings), **(env or {})},
        check=False,
    )


def test_piped_console_answers_then_exits_at_end_of_input(settings: Settings) -> None:
    result = arxiv_bot(
        "run", "--channel", "lab", settings=settings, stdin="/arxiv search mri\n/arxiv list\n"
    )
    assert result.returncode == 0, result.stderr
    assert "Physics-Informed Unrolled Networks for Accelerated MRI Reconstruction" in result.stdout
    assert "This channel has no subscriptions yet." in result.stdout
    assert Path(settings.database_path).exists()


def test_console_script_is_installed(settings: Settings) -> None:
    script = Path(sys.executable).with_name("arxiv-bot")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("arxiv-bot, version ")


def test_one_shot_search_prints_plain_text_when_piped(settings: Settings) -> None:
    result = arxiv_bot("search", "ti:medical image", "--limit", "3", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "Boundary-Aware Diffusion Models for Medical Image Segmentation" in result.stdout
    assert "  1. " in result.stdout


def test_one_shot_paper(settings: Settings) -> None:
    result = arxiv_bot("paper", "arXiv:2506.11674", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "[2506.11674v1] eess.IV" in result.stdout
    assert "Code:     https://github.com/lmueller/bad-seg" in result.stdout


def test_one_shot_bad_query_exits_nonzero_with_a_message(settings: Settings) -> None:
    result = arxiv_bot("search", "ti:(unbalanced", settings=settings)
    assert result.returncode == 2  # the input is wrong
    assert "Traceback" not in result.stderr
    assert "( is never closed" in result.stderr
    assert "    ^" in result.stderr


def test_invalid_setting_stops_the_start_with_one_line(settings: Settings) -> None:
    result = arxiv_bot("run", settings=settings, env={"ARXIV_REQUEST_INTERVAL": "-1"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "ARXIV_REQUEST_INTERVAL" in lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ti:medical imaging"], 'ti:"medical imaging"'),
        (["medical imaging", "AND", "cat:eess.IV"], '"medical imaging" AND cat:eess.IV'),
        (['ti:"medical imaging"'], 'ti:"medical imaging"'),
        (["mri"], "mri"),
    ],
)
def test_shell_words_are_requoted(argv: list[str], expected: str) -> None:
    assert query_from_argv(argv) == expected
