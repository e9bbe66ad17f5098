"""Text normalisation shared by the query parser, the local matcher and any index.

Everything that compares words goes through here so that a query and a paper are
always cut and folded the same way: Unicode accents folded (NFKD, combining marks
dropped), case folded, split on anything that is not a letter or digit, and for
stemmed fields reduced with the Porter stemmer, as arXiv's own search does.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata

import snowballstemmer

__all__ = ["fold", "stem", "stems", "words"]

_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits; "_" counts as a separator
_ASCII_WORD = re.compile(r"[a-z0-9]+")  # the same on lowercased ASCII text, but faster

# Latin letters that NFKD leaves alone because they have no combining-mark form.
_EXTRA_FOLDS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ħ": "h",
        "\u0131": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
    }
)

_STEMMER = snowballstemmer.stemmer("porter")
# snowballstemmer keeps the word being stemmed on the stemmer object, so concurrent
# calls from worker threads must not interleave.
_STEMMER_LOCK = threading.Lock()


def fold(text: str) -> str:
    """Lowercase ``text`` and fold its accents: ``"Müller"`` -> ``"muller"``."""
    if text.isascii():
        return text.lower()
    # Decompose before and after case folding: some compatibility forms (a double-struck
    # S) only get a case once decomposed, and folding can add combining marks ("İ").
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return plain.translate(_EXTRA_FOLDS)


def words(text: str) -> list[str]:
    """Folded alphanumeric tokens: ``"Self-Supervised"`` -> ``["self", "supervised"]``."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return _WORD.findall(fold(text))


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Porter stem of one folded word (the word itself if stemming would erase it)."""
    with _STEMMER_LOCK:
        stemmed: str = _STEMMER.stemWord(word)
    return stemmed or word


def stems(text: str) -> list[str]:
    """The stems of the words of ``text``, in order."""
    return list(map(stem, words(text)))
