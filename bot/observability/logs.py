"""Logging: how much is logged, and as text or as one JSON object per line.

The level: ``LOG_LEVEL`` when set; otherwise INFO for a service (Slack or Discord) and
WARNING in the terminal (the console, one-shot commands), so a prompt or an answer is
not buried. ``-v`` on the command line shows INFO (``-vv`` DEBUG) whatever the setting;
it never makes the log quieter. Secrets are masked in both formats
(:func:`bot.secrets.install_log_filter`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Settings
from bot.secrets import install_log_filter, mask_secrets

__all__ = ["TEXT_FORMAT", "JsonFormatter", "configure_logging", "log_level"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CHATTY_LOGGERS = ("arxiv", "apscheduler", "httpx2", "httpx")
"""They log every page, job or HTTP request at INFO (``httpx2``/``httpx``: the ``openai``
client's, once per TL;DR); held to WARNING unless the level is DEBUG."""

_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
"""What every log record has; anything else on a record came from ``extra=``."""


def log_level(setting: str | None, *, service: bool, verbose: int = 0) -> int:
    """The root level: ``setting`` (``LOG_LEVEL``) when given, else INFO for a service
    and WARNING in the terminal; ``verbose`` (``-v`` count) lowers it to INFO or DEBUG."""
    if setting:
        level = logging.getLevelNamesMapping()[setting.upper()]
    else:
        level = logging.INFO if service else logging.WARNING
    if verbose:
        level = min(level, logging.INFO if verbose == 1 else logging.DEBUG)
    return level


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO-8601 UTC), ``level``, ``logger``,
    ``message``, the fields given with ``extra=`` (``channel``, ``paper``,
    ``subscription``, ``request_id``...), and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry:
                entry[name] = mask_secrets(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=lambda value: mask_secrets(str(value)))


def configure_logging(
    settings: Settings, *, service: bool, verbose: int = 0, stream: TextIO | None = None
) -> None:
    """Send every log record to ``stream`` (standard error) at the level
    :func:`log_level` chooses, in ``LOG_FORMAT``, with secrets masked."""
    level = log_level(settings.log_level, service=service, verbose=verbose)
    handler = logging.StreamHandler(stream or sys.stderr)
    json_lines = settings.log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)  # Python's warnings as log records, in the same format
    install_log_filter()  # no token or URL password in any log line
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if level > logging.DEBUG else level)
