"""Recognise arXiv identifiers in what users paste: bare ids, ``arXiv:`` prefixes, URLs.

Two identifier schemes exist (https://info.arxiv.org/help/arxiv_identifier.html):

* new style (April 2007 on): ``YYMM.NNNN`` until 2014, ``YYMM.NNNNN`` since 2015;
* old style (before April 2007): ``archive/YYMMNNN``, such as ``hep-th/9901001``,
  sometimes written with a subject class, ``math.GT/0309136``.

Either may carry a version suffix (``v2``). The version-less id is the paper's identity;
for old-style ids it is ``archive/number`` without the subject class, as arXiv's own
``/abs/`` pages and API use it.

arXiv's DOIs name papers too: ``10.48550/arXiv.2504.02408`` (DataCite, registrant
10.48550), old style ``10.48550/arXiv.hep-th/9901001``, in any case, with or without a
``doi:`` prefix, or as a ``https://doi.org/`` (or ``dx.doi.org``) link. Another
registrant's DOI gets a message of its own, and several words that are no id a
suggestion to search titles (:func:`title_search_hint`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from bot.errors import PaperIdError
from bot.typography import plain

__all__ = [
    "ARXIV_DOI_PREFIX",
    "ID_EXAMPLES",
    "parse_arxiv_id",
    "strip_version",
    "title_search_hint",
]

ID_EXAMPLES = (
    "2506.11674, 2506.11674v2, arXiv:2506.11674, hep-th/9901001, 10.48550/arXiv.2506.11674 "
    "or an arxiv.org link"
)
ARXIV_DOI_PREFIX = "10.48550"
"""arXiv's DataCite prefix: its DOIs are ``10.48550/arXiv.<id>``."""
_DOI_RE = re.compile(r"(?P<prefix>10\.[0-9]{4,9})/(?P<suffix>\S+)")
_DOI_HOSTS = ("doi.org", "dx.doi.org", "www.doi.org")
_ARXIV_DOI_SUFFIX = "arxiv."
TITLE_HINT_CHARS = 200
"""How much of a pasted title the search suggestion quotes (a query is at most 300)."""

# ASCII digits only: ``\d`` would take any script's digits, which arXiv does not.
_NEW_ID = r"(?P<new>(?P<yymm>[0-9]{4})\.(?P<seq>[0-9]{4,5}))"
_OLD_ID = (
    r"(?P<old>(?P<archive>[a-z]+(?:-[a-z]+)*)(?:\.[a-z]{2}(?:-[a-z]{2})?)?/(?P<number>[0-9]{7}))"
)
_VERSION = r"(?:v(?P<version>[0-9]+))?"
MAX_VERSION = 9999
"""No paper has anywhere near this many versions; larger numbers are typos."""
_ID_RE = re.compile(rf"(?:{_NEW_ID}|{_OLD_ID}){_VERSION}", re.IGNORECASE)

# Hosts whose paths name arXiv papers, with the path prefixes that do.
_ARXIV_HOSTS = ("arxiv.org", "www.arxiv.org", "export.arxiv.org", "browse.arxiv.org")
_ARXIV_PATHS = ("abs/", "pdf/", "html/", "format/")
_OTHER_SITES = {
    "huggingface.co": ("papers/",),
    "www.huggingface.co": ("papers/",),
    "alphaxiv.org": ("abs/", "overview/"),
    "www.alphaxiv.org": ("abs/", "overview/"),
}
_URL_RE = re.compile(
    r"^(?P<scheme>https?://)?(?P<host>[a-z0-9.-]+\.[a-z]{2,})/(?P<path>[^?#]*)", re.IGNORECASE
)


def _error(text: str) -> PaperIdError:
    if not text:
        return PaperIdError(
            f"Give an arXiv paper id such as {ID_EXAMPLES} "
            "(for example https://arxiv.org/abs/2506.11674)."
        )
    return PaperIdError(
        f"{_shown(text)!r} is not an arXiv paper id. Use an id such as {ID_EXAMPLES} "
        "(for example https://arxiv.org/abs/2506.11674)."
    )


def _shown(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _match_id(candidate: str) -> tuple[str, int | None] | None:
    match = _ID_RE.fullmatch(candidate)
    if match is None:
        return None
    version_text = match.group("version")
    if version_text is not None and len(version_text.lstrip("0")) > len(str(MAX_VERSION)):
        raise PaperIdError(
            f"v{_shown(version_text)} is not a version arXiv has: versions are small "
            "numbers such as v1 or v2. Leave the version out for the latest one."
        )
    version = int(version_text) if version_text is not None else None
    if version == 0:
        return None
    if match.group("new") is not None:
        yymm = match.group("yymm")
        # New-style ids began in 0704; five-digit sequence numbers in 1501.
        if not 1 <= int(yymm[2:]) <= 12 or yymm < "0704":
            return None
        if len(match.group("seq")) != (5 if yymm >= "1501" else 4):
            return None
        return match.group("new"), version
    return f"{match.group('archive').lower()}/{match.group('number')}", version


def _is_known_host(host: str) -> bool:
    host = host.lower()
    return host in _ARXIV_HOSTS or host in _OTHER_SITES or host in _DOI_HOSTS


def _doi_in(candidate: str) -> str | None:
    """The DOI ``candidate`` gives (``doi:10.…``, a doi.org link, a bare ``10.…/…``), or
    None when it gives none."""
    if candidate[:4].lower() == "doi:":
        return candidate[4:].strip()
    url = _URL_RE.match(candidate)
    if url is not None and url.group("host").lower() in _DOI_HOSTS:
        return unquote(url.group("path")).strip()
    return candidate if _DOI_RE.fullmatch(candidate) else None


def _id_part_of_doi(doi: str, text: str) -> str:
    """The arXiv id part of an arXiv DOI; PaperIdError for any other DOI."""
    match = _DOI_RE.fullmatch(doi)
    if match is None:
        raise _error(text)
    suffix = match.group("suffix")
    if match.group("prefix") != ARXIV_DOI_PREFIX:
        raise PaperIdError(
            f"{_shown(doi)} is not an arXiv DOI: only arXiv DOIs ({ARXIV_DOI_PREFIX}/arXiv.…, "
            f"such as {ARXIV_DOI_PREFIX}/arXiv.2506.11674) are understood. Use the paper's "
            "arXiv id or link instead."
        )
    if not suffix.lower().startswith(_ARXIV_DOI_SUFFIX):
        raise _error(text)
    return suffix[len(_ARXIV_DOI_SUFFIX) :]


def _id_part_of_path(host: str, path: str) -> str | None:
    host = host.lower()
    if host in _ARXIV_HOSTS:
        prefixes: tuple[str, ...] = _ARXIV_PATHS
    elif host in _OTHER_SITES:
        prefixes = _OTHER_SITES[host]
    else:
        return None
    for prefix in prefixes:
        if path.lower().startswith(prefix):
            rest = path[len(prefix) :].rstrip("/")
            return rest.removesuffix(".pdf")
    return None


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """Return ``(version-less id, version or None)`` for an id or link to an arXiv paper.

    Raises :class:`~bot.errors.PaperIdError` with the accepted forms when ``text``
    names no paper.
    """
    candidate = text.strip()
    # Chat platforms wrap links as <url> or <url|label> (Slack).
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1].split("|", 1)[0].strip()
    doi = _doi_in(candidate)
    if doi is not None:
        candidate = _id_part_of_doi(doi, text.strip())
    elif candidate.lower().startswith("arxiv:"):
        candidate = candidate[len("arxiv:") :].strip()
    url = _URL_RE.match(candidate)
    # Without a scheme, "math.GT/0309136" looks like a host and path: only known hosts count.
    if url is not None and (url.group("scheme") or _is_known_host(url.group("host"))):
        id_part = _id_part_of_path(url.group("host"), url.group("path"))
        if id_part is None:
            raise _error(text.strip())
        candidate = id_part
    result = _match_id(candidate)
    if result is None:
        raise _error(text.strip())
    return result


def strip_version(versioned: str) -> tuple[str, int]:
    """Split ``2506.11674v2`` into ``("2506.11674", 2)``; the version is required."""
    arxiv_id, version = parse_arxiv_id(versioned)
    if version is None:
        raise PaperIdError(f"{versioned!r} has no version suffix (such as v1)")
    return arxiv_id, version


def _names_a_paper(word: str) -> bool:
    try:
        parse_arxiv_id(word)
    except PaperIdError:
        return False
    return True


def title_search_hint(text: str) -> str | None:
    """For several words none of which names a paper (a pasted title), a suggestion to
    search titles: ``To find a paper by its title try: /arxiv search ti:"..."``; None
    otherwise. Quotes inside become spaces, as a phrase cannot hold one."""
    words = text.split()
    if len(words) < 2 or any(_names_a_paper(word) for word in words):
        return None
    phrase = " ".join(plain(text).replace('"', " ").split())  # typographic quotes too
    if not phrase:
        return None
    if len(phrase) > TITLE_HINT_CHARS:
        phrase = phrase[:TITLE_HINT_CHARS].rsplit(" ", 1)[0]
    return f'That is not an arXiv id. To find a paper by its title try: /arxiv search ti:"{phrase}"'
