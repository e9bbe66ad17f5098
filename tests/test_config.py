import re
from pathlib import Path

import pytest

from adapters.discord.settings import load_discord_settings
from adapters.slack.settings import load_slack_settings
from bot.config import load_settings
from bot.errors import ConfigError


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    # The user's data directory (XDG_DATA_HOME points into tmp_path in every test).
    data = tmp_path / "data" / "arxiv-bot" / "arxiv-bot.db"
    assert settings.database_url == f"sqlite:///{data}"
    assert settings.database_path == data
    assert settings.retention_days == 180
    assert settings.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert settings.arxiv_oai_url == "https://oaipmh.arxiv.org/oai"
    assert settings.arxiv_request_interval == 3
    assert settings.max_subscriptions_per_channel == 25


def test_ranking_hugging_face_and_tldr_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_PAPERS")  # set off for every test by conftest
    defaults = load_settings()
    assert (defaults.hf_papers, defaults.hf_api_url) == (True, "https://huggingface.co")
    assert defaults.ranking_min_likes == 10
    assert defaults.tldr_settings is None  # TL;DRs are off by default
    monkeypatch.setenv("HF_PAPERS", "off")
    monkeypatch.setenv("LLM_API_URL", "http://localhost:11434/v1/chat/completions")
    monkeypatch.setenv("LLM_MODEL", "llama3.2")
    monkeypatch.setenv("LLM_API_KEY", "sk-a-secret-key-of-some-length")
    monkeypatch.setenv("LLM_TLDR_BUDGET", "5")
    settings = load_settings()
    assert settings.hf_papers is False
    tldr = settings.tldr_settings
    assert tldr is not None
    assert (tldr.api_url, tldr.model, tldr.budget) == ("http://localhost:11434/v1", "llama3.2", 5)
    assert "sk-a-secret" not in repr(settings.tldr_settings)


def test_reads_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LOG_LEVEL=debug\nTIMEZONE=Europe/Berlin\n")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////var/lib/arxiv-bot/bot.db")
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.timezone == "Europe/Berlin"
    assert str(settings.database_path) == "/var/lib/arxiv-bot/bot.db"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ARXIV_REQUEST_INTERVAL", "1", "at least 3 seconds"),
        ("ARXIV_REQUEST_INTERVAL", "soon", "ARXIV_REQUEST_INTERVAL"),
        ("TIMEZONE", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
        ("DATABASE_URL", "mysql://db/arxiv", "sqlite:////absolute/path.db or postgresql://"),
        ("DATABASE_URL", "postgresql://db:notaport/arxiv", "port 'notaport' is not a number"),
        ("DATABASE_URL", "postgresql://127.0.0.1:5432", "names no database"),
        ("ARXIV_API_URL", "export.arxiv.org/api/query", "must be an http(s) URL"),
        ("LOG_LEVEL", "loud", "DEBUG, INFO"),
        ("MAX_SUBSCRIPTIONS_PER_CHANNEL", "0", "MAX_SUBSCRIPTIONS_PER_CHANNEL"),
        ("HF_API_URL", "huggingface.co", "must be an http(s) URL"),
        ("HF_PAPERS", "maybe", "valid boolean"),
        ("RANKING_MIN_LIKES", "0", "greater than or equal to 1"),
        ("LLM_TIMEOUT", "60", "less than or equal to 10"),
        ("LLM_MODEL", "llama3.2", "LLM_MODEL is set but LLM_API_URL is not"),
        ("LLM_API_URL", "http://localhost:11434/v1", "LLM_API_URL is set but LLM_MODEL is not"),
    ],
)
def test_invalid_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message
    assert name in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DISCORD_SHARDS", "3", "use auto"),
        ("DISCORD_GUILD_ID", "my-server", "valid integer"),
        ("DISCORD_API_URL", "discord.com/api/v10", "must be an http(s) URL"),
    ],
)
def test_invalid_discord_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_discord_settings(_env_file=None)
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message
    assert name in message


def test_discord_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("DISCORD_GUILD_ID", "123456789012345678")
    monkeypatch.setenv("DISCORD_SHARDS", " Auto ")
    monkeypatch.setenv("DISCORD_API_URL", "http://127.0.0.1:8080/api/v10/")
    discord = load_discord_settings(_env_file=None)
    assert discord.is_configured
    assert discord.guild_id == 123456789012345678
    assert discord.sharded
    assert discord.api_url == "http://127.0.0.1:8080/api/v10"


def test_short_interval_is_allowed_for_a_mirror(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARXIV_API_URL", "http://127.0.0.1:8080/api/query")
    monkeypatch.setenv("ARXIV_OAI_URL", "http://127.0.0.1:8080/oai")
    monkeypatch.setenv("ARXIV_REQUEST_INTERVAL", "0")
    assert load_settings().arxiv_request_interval == 0


def _documented_names() -> set[str]:
    """Every setting of the core and of each adapter with settings, as its variable name."""
    from pydantic_settings import BaseSettings

    from adapters.discord.settings import DiscordSettings
    from adapters.slack.settings import SlackSettings
    from bot.config import Settings

    settings_classes: list[type[BaseSettings]] = [Settings, SlackSettings, DiscordSettings]
    names: set[str] = set()
    for settings_class in settings_classes:
        prefix = settings_class.model_config.get("env_prefix", "") or ""
        names |= {f"{prefix}{field}".upper() for field in settings_class.model_fields}
    return names


def test_env_example_and_configuration_page_document_every_setting() -> None:
    root = Path(__file__).resolve().parents[1]
    example = (root / ".env.example").read_text()
    reference = (root / "docs" / "configuration.md").read_text()
    names = _documented_names()
    assert {"DATABASE_URL", "SLACK_BOT_TOKEN", "DISCORD_TOKEN", "DISCORD_GUILD_ID"} <= names
    assert set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE)) == names
    # The settings tables in docs/configuration.md list every setting, and nothing else.
    assert set(re.findall(r"^\| `([A-Z_]+)` \|", reference, flags=re.MULTILINE)) == names
    for name in names:
        assert f"| `{name}` |" in reference, name
        # Each setting in .env.example has a comment line right above it.
        before = example.split(f"\n{name}=")[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), name


def test_env_example_as_env_loads_and_leaves_the_chat_platforms_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Copying .env.example to .env unchanged gives the defaults, with no chat platform on."""
    monkeypatch.chdir(tmp_path)
    root = Path(__file__).resolve().parents[1]
    (tmp_path / ".env").write_text((root / ".env.example").read_text())
    assert load_settings() == load_settings(_env_file=None)
    slack = load_slack_settings()
    assert slack == load_slack_settings(_env_file=None)
    assert not slack.is_configured
    discord = load_discord_settings()
    assert discord == load_discord_settings(_env_file=None)
    assert not discord.is_configured
    assert discord.guild_id is None  # DISCORD_GUILD_ID= (empty) is no server, not an error
    assert not discord.sharded
