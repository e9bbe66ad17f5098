"""How the store writes Python values as text (in SQLite and PostgreSQL alike), and reads
them back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime

_VERSIONED_ID = re.compile(r"v\d+$")

ID_CHUNK = 500
"""Ids per ``IN (...)`` lookup, well under SQLite's limit on bound parameters."""


def check_versionless(arxiv_id: str) -> None:
    if _VERSIONED_ID.search(arxiv_id):
        raise ValueError(f"arXiv id {arxiv_id!r} carries a version; store the version-less id")


def to_text(moment: datetime) -> str:
    """ISO-8601 UTC with fixed precision, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware UTC")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def json_list(values: Iterable[str]) -> str:
    # ensure_ascii=False: the FTS index must see "Müller", not "M\u00fcller".
    return json.dumps(list(values), ensure_ascii=False)
