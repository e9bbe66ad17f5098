"""Row numbers for papers that follow arXiv's own order, so "newest first" is cheap.

A paper's row number (``papers.id``, also the rowid of its index document) is made from
its arXiv id: the month of the id times 10^7 plus its number within the month. Ids
are handed out in submission order, so descending row numbers are newest submissions
first, and the full-text index, which keeps each word's papers in row order, can give
the newest matches of any query without sorting them.

An id that fits no scheme (only tests make such ids) gets a negative number instead:
it sorts as the oldest paper and can never take a well-formed id's number.
"""

from __future__ import annotations

import re

__all__ = ["paper_number"]

_NEW = re.compile(r"(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})\.(?P<seq>[0-9]{4,5})")
_OLD = re.compile(r"(?P<archive>[a-z-]+)/(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})(?P<seq>[0-9]{3})")

# Every archive that ever had old-style ids (arXiv stopped making them in March 2007).
_OLD_ARCHIVES = [
    "acc-phys",
    "adap-org",
    "alg-geom",
    "ao-sci",
    "astro-ph",
    "atom-ph",
    "bayes-an",
    "chao-dyn",
    "chem-ph",
    "cmp-lg",
    "comp-gas",
    "cond-mat",
    "cs",
    "dg-ga",
    "funct-an",
    "gr-qc",
    "hep-ex",
    "hep-lat",
    "hep-ph",
    "hep-th",
    "math",
    "math-ph",
    "mtrl-th",
    "nlin",
    "nucl-ex",
    "nucl-th",
    "patt-sol",
    "physics",
    "plasm-ph",
    "q-alg",
    "q-bio",
    "quant-ph",
    "solv-int",
    "supr-con",
]
_ARCHIVE_INDEX = {name: index for index, name in enumerate(_OLD_ARCHIVES)}
_MONTH = 10**7
_OLD_STYLE = 5 * 10**6  # old-style numbers of a month come after new-style ones


def _month(year: int, month: int) -> int:
    return (year - 1990) * 12 + month - 1


def paper_number(arxiv_id: str) -> int | None:
    """The row number for a version-less arXiv id, or None if the id fits no scheme."""
    new = _NEW.fullmatch(arxiv_id)
    if new is not None:
        month = int(new["mm"])
        if not 1 <= month <= 12:
            return None
        return _month(2000 + int(new["yy"]), month) * _MONTH + int(new["seq"])
    old = _OLD.fullmatch(arxiv_id)
    if old is not None and old["archive"] in _ARCHIVE_INDEX:
        month, yy = int(old["mm"]), int(old["yy"])
        if not 1 <= month <= 12:
            return None
        year = 1900 + yy if yy >= 91 else 2000 + yy
        number = _OLD_STYLE + _ARCHIVE_INDEX[old["archive"]] * 1000 + int(old["seq"])
        return _month(year, month) * _MONTH + number
    return None
