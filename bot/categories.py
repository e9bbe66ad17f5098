"""arXiv's category taxonomy: which codes exist, what they are called, where they live.

The data (``bot/data/categories.json``) lists arXiv's active categories with their
official names, and the archives they belong to. Codes are case-sensitive in arXiv
(``cs.CV``); every lookup here accepts any case and answers with the official one.

Archive and category are arXiv's words: ``cs.CV`` is a category in the archive ``cs``;
``hep-th`` is an archive with no subcategories, so it is its own only category.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from importlib import resources

__all__ = [
    "ALL_ARCHIVES",
    "ALL_CATEGORIES",
    "archive_name",
    "archive_of",
    "categories_in_archive",
    "category_name",
    "has_subcategories",
    "is_known_category",
    "minimal_sets",
    "normalize_archive",
    "normalize_category",
    "oai_set_for",
    "parse_oai_sets",
    "suggest_categories",
]

# The top-level sets of arXiv's OAI-PMH interface; every other archive is a
# sub-archive of physics and is written ``physics:<archive>``.
_OAI_TOP_LEVEL_SETS = frozenset({"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"})


def _load() -> tuple[dict[str, str], dict[str, str]]:
    text = resources.files("bot").joinpath("data/categories.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return dict(data["archives"]), dict(data["categories"])


_ARCHIVES, _CATEGORIES = _load()

ALL_CATEGORIES: tuple[str, ...] = tuple(_CATEGORIES)
ALL_ARCHIVES: tuple[str, ...] = tuple(_ARCHIVES)

_BY_FOLDED: dict[str, str] = {code.lower(): code for code in ALL_CATEGORIES}
_IN_ARCHIVE: dict[str, tuple[str, ...]] = {
    archive: tuple(code for code in ALL_CATEGORIES if code.split(".")[0] == archive)
    for archive in ALL_ARCHIVES
}


def normalize_category(code: str) -> str | None:
    """The official spelling of a known category code in any case, else None."""
    return _BY_FOLDED.get(code.strip().lower())


def is_known_category(code: str) -> bool:
    return normalize_category(code) is not None


def category_name(code: str) -> str | None:
    """``"cs.CV"`` -> ``"Computer Vision and Pattern Recognition"``; None if unknown."""
    official = normalize_category(code)
    return _CATEGORIES[official] if official else None


def archive_of(code: str) -> str:
    """The archive part of a category code: ``"cs.CV"`` -> ``"cs"``, ``"hep-th"`` -> ``"hep-th"``.

    Works on unknown codes too (it only splits), so it is safe on whatever a feed sends.
    """
    return code.strip().split(".", 1)[0].lower()


def normalize_archive(archive: str) -> str | None:
    """The official spelling of a known archive in any case, else None."""
    folded = archive.strip().lower()
    return folded if folded in _ARCHIVES else None


def archive_name(archive: str) -> str | None:
    """``"cs"`` -> ``"Computer Science"``; None if unknown."""
    official = normalize_archive(archive)
    return _ARCHIVES[official] if official else None


def categories_in_archive(archive: str) -> list[str]:
    """Every known category of ``archive`` (``["hep-th"]`` for ``"hep-th"``), else ``[]``."""
    return list(_IN_ARCHIVE.get(archive.strip().lower(), ()))


def has_subcategories(archive: str) -> bool:
    """True for archives such as ``cs`` or ``astro-ph``; False for ``hep-th`` or unknown."""
    return any("." in code for code in _IN_ARCHIVE.get(archive.strip().lower(), ()))


def oai_set_for(code_or_archive: str) -> str:
    """The OAI-PMH set holding a category or archive.

    ``"cs.CV"`` -> ``"cs"``, ``"q-bio.NC"`` -> ``"q-bio"``, ``"astro-ph.GA"`` ->
    ``"physics:astro-ph"``, ``"hep-th"`` -> ``"physics:hep-th"``, ``"physics.optics"`` ->
    ``"physics:physics"``. A ``.*`` suffix (``"cs.*"``) is accepted.
    """
    archive = archive_of(code_or_archive.removesuffix("*").removesuffix("."))
    if archive in _OAI_TOP_LEVEL_SETS:
        return archive
    return f"physics:{archive}"


def suggest_categories(code: str, n: int = 3) -> list[str]:
    """Up to ``n`` known codes the user may have meant by ``code``, best first.

    An archive with subcategories suggests its wildcard first (``"cs"`` -> ``"cs.*"``);
    a bare subject letter pair suggests the categories ending in it (``"CV"`` ->
    ``"cs.CV"``, ``"math.CV"``); otherwise the closest codes by spelling (difflib).
    """
    folded = code.strip().lower()
    suggestions: list[str] = []
    if has_subcategories(folded):
        suggestions.append(f"{folded}.*")
    if "." not in folded:
        suggestions.extend(c for c in ALL_CATEGORIES if c.split(".")[-1].lower() == folded)
    close = difflib.get_close_matches(folded, _BY_FOLDED, n=n, cutoff=0.6)
    suggestions.extend(_BY_FOLDED[match] for match in close)
    unique = list(dict.fromkeys(s for s in suggestions if s.lower() != folded))
    return unique[:n]


def minimal_sets(sets: Iterable[str]) -> tuple[str, ...]:
    """OAI-PMH sets sorted, without those inside another (``physics:hep-th`` inside
    ``physics``), which add nothing to a harvest."""
    given = set(sets)
    return tuple(sorted(s for s in given if not any(s.startswith(t + ":") for t in given)))


def parse_oai_sets(text: str) -> tuple[str, ...] | None:
    """OAI-PMH sets written as ``"cs, eess hep-th"``: ``("cs", "eess", "physics:hep-th")``;
    ``"all"``: None (all of arXiv); ``""``: ``()``. An unknown name raises ValueError."""
    sets: set[str] = set()
    for word in text.replace(",", " ").lower().split():
        if word == "all":
            return None
        name = word.removeprefix("physics:")
        if word == "physics":
            sets.add(word)
        elif normalize_archive(name) is not None and (name == word or oai_set_for(name) == word):
            sets.add(oai_set_for(name))
        else:
            raise ValueError(
                f"unknown arXiv set {word!r}: use archives such as cs, eess, math, stat, "
                "physics or hep-th, or all"
            )
    return minimal_sets(sets)
