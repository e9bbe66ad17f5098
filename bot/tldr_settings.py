"""The ``LLM_*`` settings of the optional TL;DRs (:mod:`bot.tldr`), read and checked.

Kept apart from :mod:`bot.tldr` so that reading settings (every command does) does not
import the ``openai`` client, which only a bot with TL;DRs on needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.errors import ConfigError
from bot.secrets import mask_url, remember_secret

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
    "TldrConfigError",
    "TldrSettings",
    "load_tldr_settings",
]

DEFAULT_BUDGET = 30
DEFAULT_TIMEOUT = 3.0
MAX_TIMEOUT = 10.0


# -- settings ---------------------------------------------------------------------------


class TldrConfigError(ConfigError):
    """The ``LLM_*`` settings are half set or invalid; the message says which and how."""


@dataclass(frozen=True, slots=True)
class TldrSettings:
    """What :func:`load_tldr_settings` read from ``LLM_*``."""

    api_url: str
    model: str
    api_key: str | None = None
    budget: int = DEFAULT_BUDGET
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:  # never show the key
        return (
            f"TldrSettings(api_url={mask_url(self.api_url)!r}, model={self.model!r}, "
            f"api_key={'***' if self.api_key else None}, budget={self.budget}, "
            f"timeout={self.timeout})"
        )


def load_tldr_settings(values: Mapping[str, str | None]) -> TldrSettings | None:
    """The TL;DR settings among ``values`` (``os.environ`` or alike), None when TL;DRs are
    off (none of ``LLM_API_URL``, ``LLM_MODEL`` and ``LLM_API_KEY`` set).

    ``LLM_API_KEY`` may stay unset for a local server. Raises :class:`TldrConfigError`
    when only some are set or a value is invalid.
    """

    def value(name: str) -> str:
        return (values.get(name) or "").strip()

    url, model, key = value("LLM_API_URL"), value("LLM_MODEL"), value("LLM_API_KEY")
    if not (url or model or key):
        return None
    if key:
        remember_secret(key)  # masked in every log line from now on
    off = "or unset {} to turn TL;DRs off"
    if not url:
        also = "LLM_MODEL" if model else "LLM_API_KEY"
        raise TldrConfigError(
            f"{also} is set but LLM_API_URL is not: set LLM_API_URL to the base URL of an "
            "OpenAI-compatible endpoint (such as http://localhost:11434/v1 for Ollama), "
            + off.format(also)
        )
    if not model:
        raise TldrConfigError(
            "LLM_API_URL is set but LLM_MODEL is not: set LLM_MODEL to the model to ask "
            "(such as llama3.2 for Ollama), " + off.format("LLM_API_URL")
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TldrConfigError(
            "LLM_API_URL must be an http(s) URL such as http://localhost:11434/v1 "
            f"(got {mask_url(url)!r})"
        )
    # The base URL is wanted; people paste the endpoint's full address too.
    url = re.sub(r"/chat/completions/?$", "", url.rstrip("/"))
    budget = _number("LLM_TLDR_BUDGET", value("LLM_TLDR_BUDGET"), DEFAULT_BUDGET, int, 0, 1000)
    timeout = _number("LLM_TIMEOUT", value("LLM_TIMEOUT"), DEFAULT_TIMEOUT, float, 0, MAX_TIMEOUT)
    if timeout <= 0:
        raise TldrConfigError(f"LLM_TIMEOUT must be more than 0 seconds (got {timeout})")
    return TldrSettings(url, model, key or None, int(budget), float(timeout))


def _number(
    name: str,
    text: str,
    default: float,
    kind: Callable[[str], float],
    low: float,
    high: float,
) -> float:
    if not text:
        return default
    what = "a whole number" if kind is int else "a number of seconds"
    try:
        number = kind(text)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise TldrConfigError(f"{name} must be {what} from {low:g} to {high:g} (got {text!r})")
    return number
