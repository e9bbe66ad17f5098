"""Secrets kept out of what people and logs see: tokens, signing secrets, URL credentials.

Settings read through :func:`bot.config.load` hand their values to
:func:`remember_settings`, which keeps the values of secret fields (names with *token*,
*secret*, *password* or *key*) and the credentials found inside URLs. :func:`mask_secrets`
hides those known values and anything shaped like a secret (Slack and Discord tokens,
``user:password@`` in a URL, ``?token=`` query parameters, bearer headers), and
:class:`SecretsFilter`, installed on the log handlers by the command line, applies it to
every log line, tracebacks included.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "MASK",
    "SecretsFilter",
    "install_log_filter",
    "is_secret_name",
    "mask_secrets",
    "mask_token",
    "mask_url",
    "remember_secret",
    "remember_settings",
]

MASK = "***"
MIN_SECRET_LENGTH = 8
"""Shorter values are not masked wherever they appear: they would hide ordinary words.
(Inside a URL, credentials of any length are masked by their place.)"""

_SECRET_NAME = re.compile(r"token|secret|passw(or)?d|api_?key|credential", re.IGNORECASE)
_SECRET_PARAMETERS = (
    "token|access_token|refresh_token|api_?key|apikey|key|password|passwd|pwd|"
    "secret|client_secret|sig|signature|auth"
)
_TOKEN_PREFIX = re.compile(r"^(xox[a-z]|xapp)-")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#]*@")
_URL_PARAMETER = re.compile(rf"(?i)([?&;](?:{_SECRET_PARAMETERS})=)[^&#\s'\"<>]*")
_AUTHORIZATION = re.compile(
    r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*['\"]?)(?:bot\s+|bearer\s+)?[^\s'\",}]+"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_URL_USERINFO, rf"\1{MASK}@"),
    (_URL_PARAMETER, rf"\1{MASK}"),
    # Slack tokens: bot (xoxb-), user (xoxp-), app-level (xapp-) and the rest of the family.
    (re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+"), rf"\1-{MASK}"),
    # Discord bot tokens (three base64url parts; JSON web tokens look the same).
    (re.compile(r"(?<![\w.-])[\w-]{20,}\.[\w-]{5,8}\.[\w-]{20,}"), MASK),
    (re.compile(r"(?i)\b(bearer\s+)[\w.~+/=-]{8,}"), rf"\1{MASK}"),
    (_AUTHORIZATION, rf"\1{MASK}"),
)

_known: frozenset[str] = frozenset()


def is_secret_name(name: str) -> bool:
    """Whether a setting called ``name`` (``SLACK_BOT_TOKEN``, ``client_secret``) holds a
    secret."""
    return _SECRET_NAME.search(name) is not None


def remember_secret(value: str) -> None:
    """Mask ``value`` wherever it appears from now on (values too short are ignored)."""
    global _known
    if len(value) >= MIN_SECRET_LENGTH and value not in _known:
        _known = _known | {value}


def remember_settings(values: Mapping[str, object]) -> None:
    """Remember the secrets among a settings object's ``values``: secret fields, and the
    credentials inside any URL."""
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if is_secret_name(name):
            remember_secret(value)
        for secret in _url_secrets(value):
            remember_secret(secret)


def _url_secrets(value: str) -> Iterable[str]:
    if "://" not in value:
        return ()
    try:
        parts = urlsplit(value.strip())
        password, user = parts.password, parts.username
    except ValueError:  # not a URL after all
        return ()
    found = [text for key, text in parse_qsl(parts.query) if _is_secret_parameter(key)]
    if password:
        found.append(password)
    elif user and parts.scheme not in _USER_NAME_SCHEMES:
        found.append(user)  # https://TOKEN@host/ carries a token as the user name
    return found


_USER_NAME_SCHEMES = frozenset({"postgresql", "postgres"})
"""Schemes whose user part is a user name (postgresql://arxiv@db/bot), not a token."""


def _is_secret_parameter(key: str) -> bool:
    return re.fullmatch(_SECRET_PARAMETERS, key, flags=re.IGNORECASE) is not None


def mask_token(value: str) -> str:
    """``value`` reduced to its harmless prefix: ``xoxp-1234-…`` becomes ``xoxp-***``,
    anything else ``***``. The prefix tells which kind of token it was."""
    prefix = _TOKEN_PREFIX.match(value)
    return f"{prefix.group(0)}{MASK}" if prefix else MASK


def mask_url(url: str) -> str:
    """``url`` without its credentials: ``https://ada:pw@host/x?token=t&q=1`` becomes
    ``https://***@host/x?token=***&q=1``."""
    return _URL_PARAMETER.sub(rf"\1{MASK}", _URL_USERINFO.sub(rf"\1{MASK}@", url))


def mask_secrets(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every known secret (remembered, or in ``known``, whatever its length)
    and everything shaped like a token or a URL credential masked."""
    values = _known.union(value for value in known if value)
    for value in sorted(values, key=len, reverse=True):  # longest first: one may hold another
        if value in text:
            text = text.replace(value, mask_token(value))
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretsFilter(logging.Filter):
    """Masks secrets in a record's final message and in its traceback, so no handler ever
    writes one out."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put a :class:`SecretsFilter` on every handler of ``logger`` (the root logger by
    default); a filter on the handler sees records propagated from every logger."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, SecretsFilter) for f in handler.filters):
            handler.addFilter(SecretsFilter())
