"""Recognise arXiv identifiers in what users paste: bare ids, ``arXiv:`` prefixes, URLs.

Two identifier schemes exist (https://info.arxiv.org/help/arxiv_identifier.html):

* new style (April 2007 on): ``YYMM.NNNN`` until 2014, ``YYMM.NNNNN`` since 2015;
* old style (before April 2007): ``archive/YYMMNNN``, such as ``hep-th/9901001``,
  sometimes written with a subject class, ``math.GT/0309136``.

Either may carry a version suffix (``v2``). The version-less id is the paper's identity;
for old-style ids it is ``archive/number`` without the subject class, as arXiv's own
``/abs/`` pages and API use it.
"""

from __future__ import annotations

import re

from bot.errors import PaperIdError

__all__ = ["ID_EXAMPLES", "parse_arxiv_id", "strip_version"]

ID_EXAMPLES = "2506.11674, 2506.11674v2, arXiv:2506.11674, hep-th/9901001 or an arxiv.org link"

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
    return host.lower() in _ARXIV_HOSTS or host.lower() in _OTHER_SITES


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
    if candidate.lower().startswith("arxiv:"):
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
