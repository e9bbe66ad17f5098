"""JSON: the export's sections, each with its papers in full."""

from __future__ import annotations

import json
from typing import Any

from bot.export.sections import Export
from bot.models import Paper


def paper_object(paper: Paper) -> dict[str, Any]:
    return {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "categories": list(paper.categories),
        "submitted": paper.submitted.isoformat(),
        "updated": paper.updated.isoformat(),
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "url": paper.abs_url,
    }


def render_json(export: Export) -> str:
    document = {
        "source": export.source,
        "generated": export.generated.isoformat(),
        "sections": [
            {
                "heading": section.heading,
                "subscription_id": section.subscription_id,
                "total": section.total,
                "papers": [paper_object(paper) for paper in section.papers],
            }
            for section in export.sections
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
