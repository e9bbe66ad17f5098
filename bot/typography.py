"""What users type, read as they meant it.

Phones, Macs and word processors turn ``"`` into “curly quotes”, ``--`` into an em-dash
(—) and some spaces into non-breaking ones; text pasted from elsewhere can carry control
characters, and undecodable bytes arrive as lone surrogates. The command grammar and the
query parser read every command through here, so that ``ti:“medical imaging”`` is a
phrase and ``—limit 2`` is ``--limit 2``.

:func:`sanitize` and :func:`plain` replace one character by one, so an offset into
their result is an offset into what was typed: the parser points at a problem in the
user's own text.
"""

from __future__ import annotations

import re

__all__ = ["CONTROL_CHARS", "clean", "cut_at_word", "option_text", "plain", "sanitize"]

_WHITESPACE_CONTROLS = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85"
_JUNK = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Control characters that are not spaces, bidi overrides (they reorder what is shown),
and lone surrogates (undecodable bytes)."""

# Written as escapes: many of these look like ASCII quotes, dashes and spaces.
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u301d\u301e\u301f\uff02\u2033"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032"
_SPACES = "\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys(_DOUBLE_QUOTES, '"'),
        **dict.fromkeys(_SPACES + _WHITESPACE_CONTROLS, " "),
        **dict.fromkeys(_SINGLE_QUOTES, "'"),
    }
)
_SINGLE_QUOTED = re.compile(r"(?<!\w)\u2018((?:[^\u2018\u2019]|\u2019(?=\w))*)\u2019(?!\w)")
"""A phrase in single curly quotes (U+2018 ... U+2019); a U+2019 followed by a letter inside
is an apostrophe."""

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_OPTION = re.compile(rf"^(?:--(?=.)|[{_DASHES}][{_DASHES}-]?(?=[^\W\d_]))", re.DOTALL)
"""``--name``, or what a keyboard made of it: an em-dash, en-dash or minus sign before
the name, alone or next to a hyphen."""


def sanitize(text: str) -> str:
    """``text`` without what no command means: control characters other than spaces,
    bidi overrides and lone surrogates become U+FFFD, shown where the reply echoes the
    text so the user sees something was there. Keeps the length."""
    return _JUNK.sub("\ufffd", text)


def plain(text: str) -> str:
    """``text`` with typographic quotes and spaces made plain: curly double quotes,
    low-9 quotes, guillemets, and single curly quotes around a phrase become ``"``; other
    single curly quotes (apostrophes) become ``'``; non-breaking, narrow and other wide
    spaces, tabs and line breaks a space. Keeps the length."""
    return _SINGLE_QUOTED.sub(r'"\1"', text).translate(_TYPOGRAPHY)


def option_text(word: str) -> str | None:
    """``name`` or ``name=value`` when ``word`` is an option (``--name``, or the name after
    an em-dash or en-dash), else None."""
    match = _OPTION.match(word)
    return word[match.end() :] if match else None


# -- untrusted text shown to users

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and bidi characters: never shown from untrusted text."""
_SPACE_RUNS = re.compile(r"\s+")


def clean(text: str) -> str:
    """One line of untrusted text: control and bidi characters dropped, spaces collapsed."""
    return _SPACE_RUNS.sub(" ", CONTROL_CHARS.sub("", text)).strip()


def cut_at_word(text: str, limit: int, ellipsis: str = "…") -> str:
    """Shorten ``text`` to at most ``limit`` characters, ending at a word boundary."""
    if len(text) <= limit:
        return text
    room = max(limit - len(ellipsis), 0)
    head = text[:room]
    space = head.rfind(" ")
    if space > room // 2:
        head = head[:space]
    return head.rstrip(" ,;:") + ellipsis
