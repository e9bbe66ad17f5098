"""Papers as rows of the ``papers`` table and back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.models import Paper
from bot.store.sql import Row
from bot.store.values import check_versionless, from_text, json_list, to_text


def paper_params(paper: Paper, first_seen_at: str) -> tuple[Any, ...]:
    check_versionless(paper.arxiv_id)
    return (
        paper.arxiv_id,
        paper.version,
        paper.title,
        json_list(paper.authors),
        paper.abstract,
        json_list(paper.categories),
        paper.primary_category,
        to_text(paper.submitted),
        to_text(paper.updated),
        paper.comment,
        paper.journal_ref,
        paper.doi,
        first_seen_at,
    )


def paper_from_row(row: Row | Mapping[str, Any]) -> Paper:
    return Paper(
        arxiv_id=row["arxiv_id"],
        version=int(row["version"]),
        title=row["title"],
        authors=tuple(json.loads(row["authors"])),
        abstract=row["abstract"],
        categories=tuple(json.loads(row["categories"])),
        submitted=from_text(row["submitted"]),
        updated=from_text(row["updated"]),
        comment=row["comment"],
        journal_ref=row["journal_ref"],
        doi=row["doi"],
    )
