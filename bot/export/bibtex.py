"""BibTeX as arXiv itself formats it (the abstract page's "Export BibTeX Citation")::

    @misc{lecun2025boundary,
          title={Boundary ...},
          author={Yann LeCun and Ada Lovelace},
          year={2025},
          eprint={2506.11674},
          archivePrefix={arXiv},
          primaryClass={cs.CV},
          url={https://arxiv.org/abs/2506.11674},
    }

with ``journal`` and ``doi`` when the paper has them. The key is the first author's
surname, the year and the title's first significant word, lower-case ASCII; the year
is that of the latest version, as arXiv's own export has it.

Text stays valid (La)TeX: math (``$...$``) is kept as written; outside it ``&``, ``%``,
``#``, ``_`` and a stray ``$`` are escaped; braces are balanced (an unmatched one is
dropped, since BibTeX counts braces even after a backslash). Accented letters stay as
Unicode (BibTeX files are UTF-8 today), and TeX accents (``Fr\\'echet``) stay as TeX.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bot.models import Paper

INDENT = " " * 6
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "of",
        "on",
        "or",
        "the",
        "to",
        "towards",
        "toward",
        "via",
        "with",
    ]
)
_SPECIAL = re.compile(r"(?<!\\)([&%#_])")
_CARET = re.compile(r"(?<!\\)\^")
_MATH = re.compile(r"(?<!\\)(\$\$?)(.+?)(?<!\\)\1", re.DOTALL)
_COMMAND = re.compile(r"\\(?:[A-Za-z]+|.)")
_WORD = re.compile(r"[A-Za-z]+")


def balance_braces(text: str) -> str:
    """``text`` with every unmatched ``{`` or ``}`` dropped (escaped ones count too)."""
    keep = [True] * len(text)
    opened: list[int] = []
    for index, char in enumerate(text):
        if char == "{":
            opened.append(index)
        elif char == "}":
            if opened:
                opened.pop()
            else:
                keep[index] = False
    for index in opened:
        keep[index] = False
    return "".join(char for char, kept in zip(text, keep, strict=True) if kept)


def _escape_text(text: str) -> str:
    text = _SPECIAL.sub(r"\\\1", text)
    text = _CARET.sub(r"\\^{}", text)
    return re.sub(r"(?<!\\)\$", r"\\$", text)  # a $ that opens no math


def latex_text(text: str) -> str:
    """``text`` as a BibTeX field value: math kept, specials escaped outside it,
    braces balanced, whitespace on one line."""
    flat = " ".join(text.split())
    if flat.endswith("\\") and not flat.endswith("\\\\"):
        flat = flat[:-1]  # a lone final backslash would escape the closing brace
    parts: list[str] = []
    last = 0
    for math in _MATH.finditer(flat):
        parts.append(_escape_text(flat[last : math.start()]))
        parts.append(math.group(0))
        last = math.end()
    parts.append(_escape_text(flat[last:]))
    return " ".join(balance_braces("".join(parts)).split())


def _ascii(text: str) -> str:
    """Lower-case ASCII letters of ``text``: accents folded, TeX commands dropped."""
    text = _COMMAND.sub("", text)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(_WORD.findall(folded)).lower()


def surname(author: str) -> str:
    """The family name of ``Ada Lovelace`` or ``Lovelace, Ada``."""
    name = author.strip()
    if "," in name:
        return name.split(",", 1)[0].strip()
    words = name.split()
    return words[-1] if words else ""


def first_word(title: str) -> str:
    """The title's first word that is not a stopword, outside math, as ASCII
    (``Boundary-Aware`` gives ``boundary``)."""
    text = _COMMAND.sub("", _MATH.sub(" ", title))
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words: list[str] = _WORD.findall(folded)
    return next((word.lower() for word in words if word.lower() not in STOPWORDS), "")


def bibtex_key(paper: Paper) -> str:
    """``lecun2025boundary``: surname, year, first significant title word."""
    name = _ascii(surname(paper.authors[0])) if paper.authors else ""
    return f"{name or 'arxiv'}{paper.updated.year}{first_word(paper.title)}"


def bibtex_entry(paper: Paper, key: str | None = None) -> str:
    """One ``@misc`` entry for ``paper``."""
    fields = [
        ("title", latex_text(paper.title)),
        ("author", " and ".join(latex_text(author) for author in paper.authors)),
        ("year", str(paper.updated.year)),
        ("eprint", paper.arxiv_id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", paper.primary_category),
        ("url", paper.abs_url),
    ]
    if paper.journal_ref:
        fields.append(("journal", latex_text(paper.journal_ref)))
    if paper.doi:
        fields.append(("doi", balance_braces(" ".join(paper.doi.split()))))
    body = "".join(f"{INDENT}{name}={{{value}}},\n" for name, value in fields if value)
    return f"@misc{{{key or bibtex_key(paper)},\n{body}}}\n"


def render_bibtex(papers: Iterable[Paper]) -> str:
    """Entries for ``papers``, keys made unique (``...a``, ``...b`` after the first)."""
    used: set[str] = set()
    entries: list[str] = []
    for paper in papers:
        base = key = bibtex_key(paper)
        suffix = 0
        while key in used:
            key = base + _suffix(suffix)
            suffix += 1
        used.add(key)
        entries.append(bibtex_entry(paper, key))
    return "\n".join(entries)


def _suffix(number: int) -> str:
    """a, b, ..., z, aa, ab, ..."""
    letters = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
