"""Code links (GitHub, GitLab, Hugging Face) found in a paper's abstract or comment."""

from __future__ import annotations

import re

_CODE_URL = re.compile(
    r"(?<![\w./@-])(?:https?://)?(?:www\.)?"
    r"(?P<host>github\.com|gitlab\.com|huggingface\.co)"
    r"(?P<path>/[A-Za-z0-9._~%/+-]*[A-Za-z0-9_~%+-])",
    re.IGNORECASE,
)


def find_code_links(*texts: str | None) -> tuple[str, ...]:
    """Return the distinct code URLs in ``texts``, in order, normalised to https."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _CODE_URL.finditer(text or ""):
            found.setdefault(f"https://{match['host'].lower()}{match['path']}", None)
    return tuple(found)
