"""The README and the docs/ pages link only to files and headings that exist.

Every relative link (``[text](docs/storage.md)``, ``[text](#logs)``,
``[text](slack.md#http-mode)``) must lead to an existing file or folder inside the
repository, and an ``#anchor`` into a markdown file must name one of its headings, with
the anchors GitHub gives headings. Links to other sites are not checked (the tests stay
offline), and neither is anything inside code.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

_INLINE_CODE = re.compile(r"(`+).*?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks (fenced code lines become empty)."""
    lines, fence = [], ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            lines.append("")
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            lines.append("")
        else:
            lines.append(line)
    return lines


def _prose(text: str) -> str:
    """The page without code: fenced blocks and inline code spans removed."""
    return _INLINE_CODE.sub("", "\n".join(_prose_lines(text)))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a link may name in ``page``: its headings' and explicit HTML anchors."""
    text = page.read_text()
    found: set[str] = set(_HTML_ANCHOR.findall(_prose(text)))
    seen: dict[str, int] = {}
    for line in _prose_lines(text):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")  # GitHub numbers repeats
    return found


def links(page: Path) -> list[str]:
    """The link targets written in ``page``, outside code."""
    prose = _prose(page.read_text())
    return _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the relative links of ``page``, one line per bad link."""
    problems = []
    for target in links(page):
        if _SCHEME.match(target):
            continue  # another site (https:, mailto:): not checked offline
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part)
        if path_part.startswith("/"):
            problems.append(f"{target}: use a path relative to the page")
            continue
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.is_relative_to(root.resolve()):
            problems.append(f"{target}: leads outside the repository")
        elif not destination.exists():
            problems.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and unquote(anchor) not in anchors(destination):
            problems.append(f"{target}: no heading #{anchor} in {destination.name}")
    return problems


def test_there_are_docs_pages() -> None:
    assert (DOCS / "configuration.md").exists()
    assert len(PAGES) > 2


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / unquote(target.partition("#")[0])).resolve() for target in links(README)}
    assert [page.name for page in PAGES[1:] if page.resolve() not in linked] == []


def test_broken_links_and_anchors_are_caught(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(
        "# Other page\n\n## Setting up (Socket Mode)\n\n## Notes\n\n## Notes\n"
    )
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## `LOG_LEVEL` and logs\n\n"
        "[fine](other.md#setting-up-socket-mode) [fine](other.md#notes-1)\n"
        "[fine](#log_level-and-logs)\n"
        "[fine](https://example.org/missing) `[code](missing.md)`\n"
        "```text\n[fenced](missing.md)\n```\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) [bad anchor](#logs)\n"
        "[ref]: nothing.md\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "missing.md: no such file",
        "other.md#nowhere: no heading #nowhere in other.md",
        "#logs: no heading #logs in page.md",
        "nothing.md: no such file",
    ]
