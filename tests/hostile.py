"""Hostile command lines for the fuzz tests: a fixed list of known troublemakers, and a
seeded generator of option soup, huge numbers, control characters and random Unicode."""

from __future__ import annotations

import random

from bot.commands.grammar import SPECS

__all__ = ["HOSTILE_LINES", "is_generic_failure", "random_lines"]

GENERIC_FAILURE = "Something went wrong on our side"
"""What the command handler says when a command raised something unexpected."""

_UNDECODABLE = b"search \xff\xfe\xc3( mri".decode("utf-8", "surrogateescape")

HOSTILE_LINES: tuple[str, ...] = (
    "search " + "a" * 100_000,
    "subscribe " + "x " * 50_000,
    "search " + "(" * 10_000 + "mri" + ")" * 10_000,
    "subscribe " + "(" * 10_000,
    "search " + "(" * 150 + "mri" + ")" * 150,
    "search " + '"' * 999,
    "\x00",
    "search mri\x00\x00 --limit 2",
    "\x00" * 1000,
    _UNDECODABLE,
    "paper \udcff\udcfe",
    "subscribe \ud800",
    "search \x1b[31mred\x1b[0m --sort \x1b[2J",
    "\x1b]0;pwned\x07help",
    "search mri\r\x1b[Kfake output",
    "unsubscribe 99999999999999999999",
    "unsubscribe " + "9" * 999,
    "unsubscribe " + "9" * 5000,
    "unsubscribe -0",
    "search mri --limit " + "9" * 999,
    "search mri --limit 1" + "0" * 30,
    "search mri --limit 0x10",
    "paper 2506.11674v" + "9" * 999,
    "paper 2506.11674v99999999999999999999",
    "paper " + "2506.11674" * 100,
    "paper <https://arxiv.org/abs/2506.11674|" + "x" * 900 + ">",
    "search --limit --sort --mode -- --- \u2014limit \u2013 \u2014 --limit=--limit",
    "search --",
    "search ---",
    "search --=",
    "search --limit=",
    "search mri --limit",
    "search mri \u2014limit 2 \u2014limit 3",
    "subscribe mri --mode \u2014mode",
    "mode " + "digest " * 100,
    "help " + "help " * 200,
    "/arxiv /arxiv /arxiv help",
    "/",
    "//arxiv help",
    "/arxiv\u00a0help\u202fsearch",
    "search ti:\u201c\u201d",
    "search \u201c" * 300,
    "search \u202e\u2066\u200b\u200f\ufeff mri",
    "search e\u0301" * 200,
    "search \U0001f4a9 \U0001f9ea cat:\U0001f408",
    "search cat:" + "cs." * 300,
    "search au:" + "_" * 500,
    'search ti:* OR ? AND ANDNOT ( ) "',
)

_COMMANDS = (*SPECS, "/arxiv", "/arxiv ", "", "/", "SEARCH", "Subscribe", "sub", "unsub", "\u2014")
_QUERIES = ("mri", "ti:mri", 'ti:"medical imaging"', "cat:cs.CV", "au:hinton", "2506.11674", "#3")
_OPTIONS = (
    "--limit",
    "--sort",
    "--mode",
    "--page",
    "--",
    "\u2014limit",
    "\u2013sort",
    "\u2014-mode",
)
_VALUES = (
    *("0", "-1", "+1", "007", "99999999999999999999", "9" * 60, "1e9", "0x10", "1_000", "2.5"),
    *("\u00b2", "\u0663", "\uff11", "\u2167", "NaN", "", "date", "digest", "each", "DATE"),
)
_PIECES = (
    *("ti:", "au:", "abs:", "co:", "jr:", "cat:", "all:", "tii:", ":", "cat:cs.*", "cat:cs.CV"),
    *("AND", "OR", "ANDNOT", "and", "(", ")", '"', "*", "?", "mri", "M\u00fcller", "hep-th"),
    *_OPTIONS,
    *_VALUES,
    *("--limit=", "=", "-l", "#", "---", "2506.11674v2", "hep-th/9901001", "arXiv:"),
    *("https://arxiv.org/abs/", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb"),
    *("\x00", "\x1b[31m", "\x1b]0;x\x07", "\r", "\t", "\x7f", "\x85", "\u2028", "\u202e"),
    *("\u200b", "\ufeff", "\u00a0", "\u202f", "\udcff", "\ud800", "\U0001f600"),
)
_LENGTHS = (0, 1, 1, 2, 2, 3, 3, 4, 6, 10, 25)


def _random_char(rng: random.Random) -> str:
    return chr(rng.randrange(0x20, 0x110000))  # surrogates included


def _random_value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(_VALUES)
    if roll < 0.8:
        return str(rng.randrange(-(10 ** rng.randrange(1, 40)), 10 ** rng.randrange(1, 40)))
    return "".join(_random_char(rng) for _ in range(rng.randrange(1, 6)))


def _command_line(rng: random.Random) -> str:
    """A real command with a plausible argument and options given odd values."""
    words = [rng.choice(tuple(SPECS))]
    if rng.random() < 0.7:
        words.append(rng.choice(_QUERIES) if rng.random() < 0.6 else _random_value(rng))
    for _ in range(rng.choice((0, 1, 1, 2))):
        option, value = rng.choice(_OPTIONS), _random_value(rng)
        words.append(f"{option}={value}" if rng.random() < 0.3 else f"{option} {value}")
    return " ".join(words)


def _soup_line(rng: random.Random) -> str:
    """Pieces of syntax, options, numbers and random characters, glued any way."""
    parts = [rng.choice(_COMMANDS)]
    for _ in range(rng.choice(_LENGTHS)):
        roll = rng.random()
        if roll < 0.6:
            parts.append(rng.choice(_PIECES))
        elif roll < 0.85:
            parts.append("".join(_random_char(rng) for _ in range(rng.randrange(1, 8))))
        elif roll < 0.97:
            parts.append(_random_value(rng))
        else:  # one piece repeated into a very long line
            parts.append(rng.choice(_PIECES) * rng.randrange(100, 3000))
    return rng.choice((" ", "", "  ", "\u00a0")).join(parts)


def random_lines(seed: int, count: int) -> list[str]:
    """``count`` generated lines (no line breaks), the same for the same ``seed``."""
    rng = random.Random(seed)
    lines = (_command_line(rng) if rng.random() < 0.4 else _soup_line(rng) for _ in range(count))
    return [line.replace("\n", " ").replace("\r", " ") for line in lines]


def is_generic_failure(text: str) -> bool:
    """Whether an answer is the handler's catch-all (an unexpected exception)."""
    return GENERIC_FAILURE in text
