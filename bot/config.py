"""Settings, read from the environment and ``.env`` (see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.categories import parse_oai_sets
from bot.errors import ConfigError
from bot.feedback import DEFAULT_NEGATIVE, DEFAULT_POSITIVE, parse_emoji_names
from bot.schedule import crontab_trigger
from bot.secrets import is_secret_name, mask_secrets, remember_settings
from bot.store.sql import POSTGRES_SCHEMES, check_postgres_url
from bot.tldr_settings import DEFAULT_BUDGET as DEFAULT_TLDR_BUDGET
from bot.tldr_settings import DEFAULT_TIMEOUT as DEFAULT_TLDR_TIMEOUT
from bot.tldr_settings import MAX_TIMEOUT as MAX_TLDR_TIMEOUT
from bot.tldr_settings import TldrConfigError, TldrSettings, load_tldr_settings

_S = TypeVar("_S", bound=BaseSettings)

DEFAULT_HF_API_URL = "https://huggingface.co"
"""As :data:`bot.sources.huggingface.DEFAULT_HF_API_URL` (not imported: it pulls in
``requests``, which reading settings does not need)."""

ARXIV_MIN_INTERVAL = 3.0
"""arXiv's terms of use: at most one request every three seconds."""

DEFAULT_HTTP_PORT = 8080
"""The health and metrics port of a service (Slack or Discord) when HTTP_PORT is unset."""

DATABASE_FILE = "arxiv-bot.db"


def default_database_url() -> str:
    """``arxiv-bot.db`` in the user's data directory (``~/.local/share/arxiv-bot`` on
    Linux, ``$XDG_DATA_HOME`` when set), not in whatever directory a command runs from."""
    directory = Path(platformdirs.user_data_dir("arxiv-bot", appauthor=False))
    return f"sqlite:///{directory / DATABASE_FILE}"


class EnvSettings(BaseSettings):
    """Settings read from the environment and ``.env``; an adapter's own settings
    (``SLACK_*``, ``DISCORD_*``) subclass it with an ``env_prefix``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )


class Settings(EnvSettings):
    """Every core setting. Adapters read their own settings (``SLACK_*``, ``DISCORD_*``)."""

    database_url: str = Field(default_factory=default_database_url)
    database_busy_timeout: Annotated[float, Field(ge=0, le=3600)] = 5.0
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_request_interval: Annotated[float, Field(ge=0)] = ARXIV_MIN_INTERVAL
    arxiv_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    arxiv_contact: str = ""
    search_cache_seconds: Annotated[float, Field(ge=0)] = 300.0
    max_subscriptions_per_channel: Annotated[int, Field(ge=1, le=1000)] = 25
    timezone: str = "UTC"
    log_level: str | None = None
    """None: WARNING in the terminal (console, one-shot commands), INFO as a service."""
    log_format: Literal["text", "json"] = "text"
    harvest_cron: str = "0 23 * * sun,mon,tue,wed,thu"
    harvest_timezone: str = "America/New_York"
    harvest_retry_minutes: Annotated[int, Field(ge=0, le=720)] = 60
    harvest_lookback_days: Annotated[int, Field(ge=0, le=60)] = 3
    digest_cap: Annotated[int, Field(ge=1, le=1000)] = 30
    digest_cards: Annotated[int, Field(ge=0, le=100)] = 10
    revision_notes: bool = False
    export_rows: Annotated[int, Field(ge=1, le=1000)] = 100
    """Papers per heading of an export at most (``/arxiv export``, ``arxiv-bot export``)."""
    delivery_max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    harvest_lease_seconds: Annotated[float, Field(ge=3, le=600)] = 30.0
    """How long the replica that harvests holds its lease without renewing it: when it
    dies, another replica takes the harvest over within this time (bot/leadership.py)."""
    delivery_lease_seconds: Annotated[float, Field(ge=10, le=86400)] = 300.0
    index_sets: str = ""
    """OAI-PMH sets the harvest keeps besides what subscriptions need: "cs,eess", "all";
    "" only what subscriptions need. Normalised to sorted set names or "all"."""
    search_index_days: Annotated[int, Field(ge=0, le=36500)] = 365
    """Days of a query's categories the local index must hold up to now before it
    answers relevance searches itself (newest-first ones need only the recent days)."""
    retention_days: Annotated[int, Field(ge=0, le=36500)] = 180
    """Days after which old papers and sent messages are pruned; 0 keeps everything."""
    http_host: str = "0.0.0.0"
    http_port: Annotated[int | None, Field(ge=0, le=65535)] = None
    """None: 8080 as a service, off in the terminal; 0: off (see :meth:`health_port`)."""
    feedback_positive: str = DEFAULT_POSITIVE
    """Reactions on a paper post that count as liking it: Slack names, comma-separated
    (Discord's characters for them are read as the same names, see bot/feedback.py)."""
    feedback_negative: str = DEFAULT_NEGATIVE
    """Reactions that count as "not for us"; empty: none."""
    ranking_min_likes: Annotated[int, Field(ge=1, le=1000)] = 10
    """Distinct papers a channel must have liked before its own model orders its papers."""
    hf_papers: bool = True
    """Hugging Face signals (upvotes, code, daily papers) and /arxiv trending."""
    hf_api_url: str = DEFAULT_HF_API_URL
    llm_api_url: str = ""
    """An OpenAI-compatible endpoint's base URL for one-line TL;DRs; empty: no TL;DRs."""
    llm_model: str = ""
    llm_api_key: str = Field(default="", repr=False)
    llm_tldr_budget: Annotated[int, Field(ge=0, le=1000)] = DEFAULT_TLDR_BUDGET
    """TL;DRs asked for at most per harvest (cached ones are free)."""
    llm_timeout: Annotated[float, Field(gt=0, le=MAX_TLDR_TIMEOUT)] = DEFAULT_TLDR_TIMEOUT

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.strip():  # DATABASE_URL= (empty, as in .env.example): the default
            return default_database_url()
        if value.startswith(POSTGRES_SCHEMES):
            return check_postgres_url(value)
        if not value.startswith("sqlite:///"):
            raise ValueError(
                "use sqlite:///relative/path.db, sqlite:////absolute/path.db "
                "or postgresql://user:password@host:5432/database"
            )
        if not value.removeprefix("sqlite:///"):
            raise ValueError("the SQLite URL names no file: use e.g. sqlite:///arxiv-bot.db")
        return value

    @field_validator("arxiv_api_url", "arxiv_oai_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://export.arxiv.org/api/query")
        return value.rstrip("?")

    @field_validator("hf_api_url")
    @classmethod
    def _hf_url(cls, value: str) -> str:
        value = value.strip() or DEFAULT_HF_API_URL
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL such as {DEFAULT_HF_API_URL}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _tldr_settings_complete(self) -> Settings:
        try:
            self.tldr_settings  # noqa: B018
        except TldrConfigError as error:  # its message says what is missing and how
            raise ValueError(str(error)) from None
        return self

    @property
    def tldr_settings(self) -> TldrSettings | None:
        """The ``LLM_*`` settings as :mod:`bot.tldr` reads them; None when TL;DRs are off.
        Half-set ones raise :class:`~bot.tldr.TldrConfigError` with what to set."""
        return load_tldr_settings(
            {
                "LLM_API_URL": self.llm_api_url,
                "LLM_MODEL": self.llm_model,
                "LLM_API_KEY": self.llm_api_key,
                "LLM_TLDR_BUDGET": str(self.llm_tldr_budget),
                "LLM_TIMEOUT": str(self.llm_timeout),
            }
        )

    @field_validator("index_sets")
    @classmethod
    def _known_sets(cls, value: str) -> str:
        sets = parse_oai_sets(value)  # ValueError naming the unknown set
        return "all" if sets is None else ",".join(sets)

    @property
    def index_set_scope(self) -> tuple[str, ...] | None:
        """``INDEX_SETS`` as OAI-PMH sets: None for all of arXiv, () for none."""
        return parse_oai_sets(self.index_sets)

    @field_validator("feedback_positive", "feedback_negative")
    @classmethod
    def _emoji_names(cls, value: str) -> str:
        return ",".join(parse_emoji_names(value))  # ValueError naming the bad one

    @model_validator(mode="after")
    def _feedback_is_one_or_the_other(self) -> Settings:
        both = set(self.feedback_names(1)) & set(self.feedback_names(-1))
        if both:
            raise ValueError(
                "FEEDBACK_POSITIVE and FEEDBACK_NEGATIVE both list " + ", ".join(sorted(both))
            )
        return self

    def feedback_names(self, signal: int) -> tuple[str, ...]:
        """The normalised emoji names that count as ``signal`` (+1 or -1)."""
        return parse_emoji_names(self.feedback_positive if signal > 0 else self.feedback_negative)

    @field_validator("harvest_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        crontab_trigger(value)  # ValueError with the reason
        return value

    @field_validator("timezone", "harvest_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}: use an IANA name such as UTC or America/New_York"
            ) from None
        return value

    @field_validator("log_level", "http_port", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_name(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return level

    @model_validator(mode="after")
    def _respect_arxiv_terms(self) -> Settings:
        hosts = (urlsplit(self.arxiv_api_url).hostname, urlsplit(self.arxiv_oai_url).hostname)
        talks_to_arxiv = any(h and (h == "arxiv.org" or h.endswith(".arxiv.org")) for h in hosts)
        if talks_to_arxiv and self.arxiv_request_interval < ARXIV_MIN_INTERVAL:
            raise ValueError(
                "ARXIV_REQUEST_INTERVAL must be at least 3 seconds when talking to arxiv.org "
                "(arXiv's terms of use); lower values are only allowed for mirrors"
            )
        return self

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(POSTGRES_SCHEMES)

    @property
    def database_target(self) -> Path | str:
        """What :meth:`Store.open` takes: the SQLite file, or the PostgreSQL URL."""
        return self.database_url if self.uses_postgres else self.database_path

    @property
    def database_path(self) -> Path:
        """The SQLite file (only meaningful when :attr:`uses_postgres` is False)."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def health_port(self, *, service: bool) -> int | None:
        """The port of ``/healthz``, ``/readyz`` and ``/metrics``, or None when off:
        ``HTTP_PORT`` when set (0 turns it off), else 8080 for a service (Slack or
        Discord) and off for the console."""
        if self.http_port is not None:
            return self.http_port or None
        return DEFAULT_HTTP_PORT if service else None


def load_settings(**overrides: object) -> Settings:
    """Read the core's settings, turning pydantic's report into one line per bad setting."""
    return load(Settings, **overrides)


def load(settings_class: type[_S], **overrides: object) -> _S:
    """Read ``settings_class``; a bad value is a :class:`ConfigError` naming the variable.

    Its secrets (tokens, passwords in URLs) are remembered, so logs and messages mask them.
    """
    try:
        settings = settings_class(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        prefix = str(settings_class.model_config.get("env_prefix") or "")
        raise ConfigError(describe_validation_error(exc, prefix)) from None
    remember_settings(settings.model_dump())
    return settings


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    problems = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        value = error.get("input")
        # A token in the wrong format is still a token: show only its kind (xoxp-***).
        known = (value,) if is_secret_name(name) and isinstance(value, str) else ()
        message = mask_secrets(error["msg"].removeprefix("Value error, "), known)
        shown = (
            f" (got {mask_secrets(repr(value), known)})"
            if name and not isinstance(value, dict)
            else ""
        )
        label = f" {prefix.upper()}{name}" if name else ""
        problems.append(f"invalid setting{label}: {message}{shown}")
    return "; ".join(problems)
