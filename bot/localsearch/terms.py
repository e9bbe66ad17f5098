"""The index's documents: a paper's words exactly as the local matcher sees them.

FTS5's own tokenizers fold, split and stem differently from :mod:`bot.textproc` (its
Porter stemmer is not snowball's, its idea of a letter is SQLite's Unicode table), and
any difference would make local search disagree with subscriptions. So the bot writes
the tokens itself and FTS5 only splits on spaces: each column holds
:func:`bot.textproc` stems (or unstemmed author words), each token made safe for FTS5's
``ascii`` tokenizer with ``_`` as a token character:

* a token of ASCII letters and digits is written as is (almost every stem);
* any other token is ``_`` followed by its UTF-8 bytes in hex, so it cannot be
  mistaken for an ASCII one;
* ``_`` alone separates the parts of one column (one author from the next), so that a
  phrase never runs from one part into another, as in the matcher;
* a word of the title is ``_t`` plus its token (:func:`title_token`): the title's own
  vocabulary, so that ``ti:`` reads the short lists of titles holding a word, not the
  long ones of every abstract holding it (a field search of a million papers is several
  times faster);
* a category is ``__`` plus its code in hex, an archive ``___`` plus its name in hex;
* the ``aup`` column makes ``au:`` names of two words exact: for each author, every
  ordered pair of their name's words (earlier, later) as one token ``first_second``,
  each side the whole word or its initial (not both initials), so ``au:"Y Lewis"`` is
  the single token ``y_lewis`` (see :func:`author_pairs`).

Changing anything here changes what the index holds: bump :data:`INDEX_FORMAT`, and
the store rebuilds the index at the next start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.categories import archive_of, normalize_category
from bot.models import Paper
from bot.textproc import stem, stems, words

__all__ = [
    "COLUMNS",
    "INDEX_FORMAT",
    "PAIRED_WORDS",
    "SEPARATOR",
    "TITLE_PREFIX",
    "archive_token",
    "author_pair",
    "category_token",
    "index_document",
    "title_token",
    "token",
]

INDEX_FORMAT = 2
"""The version of what :func:`index_document` writes."""

COLUMNS = ("ti", "abs", "co", "jr", "au", "aus", "cat", "cats", "aup")
"""The index's columns: title, abstract, comment and journal reference stems, author
words (unstemmed, for ``au:``) and stemmed (for ``all:``), category and archive tokens
(for ``cat:``), the stems of category codes (for ``all:``) and author word pairs."""

SEPARATOR = "_"
PAIRED_WORDS = 16
"""Words of one author's name that pairs are made of: names are far shorter (a pair
naming a later word of a longer name is not in the index)."""


def token(word: str) -> str:
    """One folded word or stem as an index token."""
    if word.isascii():
        return word
    return "_" + word.encode().hex()


TITLE_PREFIX = "_t"


def title_token(word: str) -> str:
    """A folded word or stem of a title as an index token: ``t`` is no hex digit, so
    ``_t...`` is neither a non-ASCII token nor a category."""
    return TITLE_PREFIX + token(word)


def category_token(code: str) -> str:
    return "__" + code.lower().encode().hex()


def archive_token(archive: str) -> str:
    return "___" + archive.lower().encode().hex()


def author_pair(first: str, second: str) -> str:
    """The ``aup`` token of two words of one name, ``first`` before ``second``; either
    may be an initial. Unambiguous: an ASCII token holds no ``_`` and a hex one starts
    with it."""
    return f"{token(first)}_{token(second)}"


def author_pairs(name: Sequence[str]) -> set[str]:
    """The ``aup`` tokens of one author's name words: what any two-word ``au:`` name
    that matches this author (in order, gaps allowed, a one-letter word an initial)
    looks for."""
    name = name[:PAIRED_WORDS]
    pairs: set[str] = set()
    for i, first in enumerate(name):
        for second in name[i + 1 :]:
            pairs.add(author_pair(first, second))
            pairs.add(author_pair(first[0], second))
            pairs.add(author_pair(first, second[0]))
    return pairs


def _tokens(stemmed: Iterable[str]) -> str:
    return " ".join(map(token, stemmed))


def _parts(parts: Sequence[Sequence[str]]) -> str:
    return f" {SEPARATOR} ".join(_tokens(part) for part in parts if part)


def index_document(paper: Paper) -> tuple[str, ...]:
    """The values of :data:`COLUMNS` for ``paper``."""
    names = [words(author) for author in paper.authors]
    codes = [normalize_category(code) or code for code in paper.categories]
    archives = dict.fromkeys(archive_of(code) for code in codes)
    return (
        " ".join(map(title_token, stems(paper.title))),
        _tokens(stems(paper.abstract)),
        _tokens(stems(paper.comment)) if paper.comment else "",
        _tokens(stems(paper.journal_ref)) if paper.journal_ref else "",
        _parts(names),
        _parts([[stem(word) for word in name] for name in names]),
        " ".join([*map(category_token, codes), *map(archive_token, archives)]),
        _parts([stems(code) for code in paper.categories]),
        " ".join(sorted(set[str]().union(*map(author_pairs, names)))),
    )
