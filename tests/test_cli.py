"""The real command line, run as a subprocess against the fake arXiv."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import cli as cli_module
from bot.adapter import CommandContext
from bot.cli import query_from_argv, search_from_argv
from bot.commands.grammar import SearchCommand
from bot.config import Settings
from bot.errors import CommandError
from bot.models import Reply, Snippet
from tests.conftest import settings_env
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai


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


def test_options_inside_a_quoted_query_are_options(
    settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    result = arxiv_bot("search", 'ti:"medical imaging" --sort date --limit 2', settings=settings)
    assert result.returncode == 0, result.stderr
    [request] = fake_arxiv.requests
    assert request.params["sortBy"] == "submittedDate"
    assert request.params["max_results"] == "2"
    assert "sort" not in request.params["search_query"]
    assert 'match ti:"medical imaging"' in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x --sort date", "--sort", "date"], "Option --sort is given twice; keep one."),
        (
            ["x --order date"],
            "Unknown option --order for search. Options: --sort, --limit, --page.",
        ),
        (["x --limit 99"], "--limit must be a whole number from 1 to 25; '99' is too large."),
    ],
)
def test_bad_options_inside_a_quoted_query_exit_2(
    settings: Settings, fake_arxiv: FakeArxiv, args: list[str], message: str
) -> None:
    result = arxiv_bot("search", *args, settings=settings)
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: {message}"
    assert fake_arxiv.requests == []


def test_piped_search_results_show_each_abstract_url(settings: Settings) -> None:
    result = arxiv_bot("search", "ti:segmentation", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "     https://arxiv.org/abs/2506.11674" in result.stdout.splitlines()


def test_the_default_database_is_in_the_user_data_directory(
    settings: Settings, tmp_path: Path
) -> None:
    """Not in the directory a one-shot command runs from (XDG_DATA_HOME is tmp_path/data)."""
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "search", "mri"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=elsewhere,
        env={**settings_env(settings), "DATABASE_URL": ""},  # empty: the default
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list(elsewhere.iterdir()) == []
    assert (tmp_path / "data" / "arxiv-bot" / "arxiv-bot.db").is_file()


def test_a_piped_run_answers_and_exits_without_waiting_for_a_slow_harvest(
    settings: Settings, fake_oai: FakeOai
) -> None:
    """When the input ends, the start-up harvest still running is stopped (arXiv is slow:
    it would take 30 s); the next start redoes it from the watermark."""
    fake_oai.announce(paper_by_id("2506.11674"))
    fake_oai.delay_next(30)
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**settings_env(settings), "ARXIV_TIMEOUT": "60"},  # the request is not cut
    ) as bot:
        assert bot.stdin is not None
        bot.stdin.write("/arxiv help\n")
        bot.stdin.flush()
        deadline = time.monotonic() + 30
        while fake_oai.max_concurrent == 0:  # until the harvest's request has arrived
            assert time.monotonic() < deadline and bot.poll() is None, bot.stderr
            time.sleep(0.05)
        input_ended = time.monotonic()
        stdout, stderr = bot.communicate(timeout=30)  # closes stdin
        elapsed = time.monotonic() - input_ended
    assert bot.returncode == 0, stderr
    assert "arxiv-bot commands" in stdout
    assert elapsed < 3, f"took {elapsed:.1f} s after the input ended"

    # Nothing was lost: the watermark moves only after a complete harvest.
    assert stored(settings, "SELECT count(*) FROM papers") == 0
    assert stored(settings, "SELECT count(*) FROM state WHERE key = 'harvest.watermark'") == 0
    once = arxiv_bot("run", "--once", settings=settings)
    assert once.returncode == 0, once.stderr
    assert stored(settings, "SELECT count(*) FROM papers") == 1


def stored(settings: Settings, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(settings.database_path)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_search_page_option_is_read_like_the_others() -> None:
    assert search_from_argv(["mri"], {"page": "2"}).page == 2
    assert search_from_argv(["mri --page 3 --limit 5"], {}).page == 3
    assert search_from_argv(["mri"], {}).page == 1
    with pytest.raises(CommandError, match="given twice"):
        search_from_argv(["mri --page 3"], {"page": "2"})


def test_one_shot_search_pages_and_names_the_next_one(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``arxiv-bot search --page 2`` asks the core for page 2, and the output says how to
    get page 3 (a test double of the app: no search engine needed)."""
    asked: list[SearchCommand] = []

    class PagedApp:
        def __init__(self, settings: Settings) -> None:
            pass

        async def __aenter__(self) -> PagedApp:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def handle(self, command: SearchCommand, context: CommandContext) -> Reply:
            asked.append(command)
            return Reply(
                title="Page 2",
                papers=(paper_by_id("2506.11674"),),
                snippets=(Snippet("We train a diffusion model", ((11, 20),)),),
                more='search ti:"diffusion model" --limit 2 --page 3',
            )

    monkeypatch.setattr(cli_module, "BotApp", PagedApp)
    env = settings_env(settings)
    runner = CliRunner()
    args = ["search", "ti:diffusion model", "--limit", "2", "--page", "2"]
    result = runner.invoke(cli_module.cli, args, env=env)
    assert result.exit_code == 0, result.output
    (command,) = asked
    assert (command.page, command.limit) == (2, 2)
    assert "     We train a diffusion model" in result.output.splitlines()
    last = result.output.splitlines()[-1]
    assert last == "More: arxiv-bot search 'ti:\"diffusion model\" --limit 2 --page 3'"

    too_far = runner.invoke(cli_module.cli, ["search", "mri", "--page", "41"], env=env)
    assert too_far.exit_code == 2
    assert "--page" in too_far.output
