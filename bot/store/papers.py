"""Papers: search results and OAI-harvested records, their storage and full-text search."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.models import HarvestedRecord, Paper
from bot.store.base import StoreBase
from bot.store.coverage import Coverage, record_coverage
from bot.store.values import ID_CHUNK, check_versionless, from_text, json_list, to_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HarvestCounts:
    """What :meth:`Store.upsert_harvested` made of a batch of harvested records.

    Counted per record: ``new`` papers the store did not hold (or held only from a
    search, never harvested), ``revised`` ones that brought a new version, ``changed``
    ones with the same version but other metadata (a new cross-list, a journal
    reference), and ``unchanged`` ones (typically the day of overlap re-harvested).
    """

    new: int = 0
    revised: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.revised + self.changed + self.unchanged

    def __add__(self, other: HarvestCounts) -> HarvestCounts:
        return HarvestCounts(
            new=self.new + other.new,
            revised=self.revised + other.revised,
            changed=self.changed + other.changed,
            unchanged=self.unchanged + other.unchanged,
        )

    def __str__(self) -> str:
        return (
            f"{self.new} new, {self.revised} revised, {self.changed} changed, "
            f"{self.unchanged} unchanged"
        )


class PaperStore(StoreBase):
    """The paper methods of :class:`~bot.store.store.Store`."""

    async def upsert_papers(self, papers: Iterable[Paper]) -> int:
        """Store papers; return how many rows were inserted or changed.

        Kept for local-first search and lookups (storing what arXiv's API returned); no
        production path calls it yet.

        A stored paper is replaced by a newer version, or by the same version with
        different metadata (a journal reference or DOI added later); an older version
        never replaces a newer one. ``first_seen_at`` keeps its first value.

        Papers seen only here (search results) are not harvested announcements, so they
        are stored as already matched; a harvested paper that gets a newer version or
        other categories this way is queued for matching again.
        """
        now = self.now_text()
        params = [(*_paper_params(paper, now), now) for paper in papers]
        if not params:
            return 0
        async with self.transaction() as conn:
            cursor = await conn.executemany(_UPSERT_PAPER, params)
            written = cursor.rowcount
        logger.debug("Upserted %s papers, %s rows written", len(params), written)
        return written

    async def upsert_harvested(
        self,
        records: Iterable[HarvestedRecord],
        *,
        matched_before: date | None = None,
        completes: Coverage | None = None,
    ) -> HarvestCounts:
        """Store a page of OAI-PMH records in one transaction; see :class:`HarvestCounts`.

        Versions: OAI's ``arXiv`` format has none, so a record whose ``updated`` is later
        than the stored paper's is the stored version + 1; otherwise it is the stored
        version (its metadata replacing the stored one). A paper not stored yet keeps the
        record's provisional version (1 without ``<updated>``, else 2).

        ``announced`` is set from the record's datestamp the first time a paper is
        harvested, and never changed after. ``matched_at`` becomes NULL (the paper goes
        through local matching again) for a new paper, a new version, or changed
        categories. Rows whose record brings nothing new are not written at all.

        A backfill passes ``matched_before``: records stamped before that day are stored
        as already matched (old news, never posted); and ``completes``, the coverage this
        page completes, recorded in the same transaction.
        """
        batch = list(records)
        if not batch and completes is None:
            return HarvestCounts()
        now = self.now_text()
        counts = {"new": 0, "revised": 0, "changed": 0, "unchanged": 0}
        async with self.transaction() as conn:
            if completes is not None:
                await record_coverage(conn, completes.set_spec, completes.start, completes.end)
            ids = list(dict.fromkeys(record.paper.arxiv_id for record in batch))
            stored: dict[str, dict[str, Any]] = {}
            for start in range(0, len(ids), ID_CHUNK):
                chunk = ids[start : start + ID_CHUNK]
                rows = await conn.execute_fetchall(
                    f"SELECT * FROM papers WHERE arxiv_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
                stored.update((row["arxiv_id"], dict(row)) for row in rows)
            inserts: dict[str, dict[str, Any]] = {}
            updates: dict[str, dict[str, Any]] = {}
            for record in batch:
                arxiv_id = record.paper.arxiv_id
                old = inserts.get(arxiv_id) or updates.get(arxiv_id) or stored.get(arxiv_id)
                kind, row = _harvested_row(record, old, now)
                counts[kind] += 1
                if row is None:
                    continue
                if matched_before is not None and record.datestamp < matched_before:
                    row["matched_at"] = row["matched_at"] or now
                if arxiv_id in stored:
                    updates[arxiv_id] = row
                else:
                    inserts[arxiv_id] = row
            if inserts:
                params = [tuple(row[c] for c in _HARVEST_INSERT) for row in inserts.values()]
                await conn.executemany(_INSERT_HARVESTED, params)
            if updates:
                params = [
                    (*(row[c] for c in _HARVEST_UPDATE), row["arxiv_id"])
                    for row in updates.values()
                ]
                await conn.executemany(_UPDATE_HARVESTED, params)
        result = HarvestCounts(**counts)
        logger.debug("Stored %s harvested records: %s", len(batch), result)
        return result

    async def recent_papers(self, since: date, *, limit: int | None = None) -> list[Paper]:
        """Harvested papers announced on or after ``since``, newest announcement first."""
        rows = await self.fetchall(
            "SELECT * FROM papers WHERE announced >= ?"
            " ORDER BY announced DESC, submitted DESC, arxiv_id DESC LIMIT ?",
            (since.isoformat(), -1 if limit is None else max(limit, 0)),
        )
        return [paper_from_row(row) for row in rows]

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """The stored paper, or None. Kept for local-first ``/arxiv paper`` lookups."""
        row = await self.fetchone("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
        return paper_from_row(row) if row is not None else None

    async def search_papers(self, text: str, *, limit: int = 10) -> list[Paper]:
        """Full-text search of the local store (the FTS5 index), best match first.

        Kept for local-first ``/arxiv search``, which will read this index; no production
        path calls it yet.

        Every word of ``text`` must appear (stemmed, accents folded). FTS5 operators in
        ``text`` are taken literally, so no user input can make the query fail.
        """
        match = fts_query(text)
        if match is None or limit <= 0:
            return []
        rows = await self.fetchall(
            """
            SELECT p.* FROM (
                SELECT rowid, rank FROM papers_fts WHERE papers_fts MATCH ?
                ORDER BY rank LIMIT ?
            ) AS hit JOIN papers AS p ON p.id = hit.rowid
            ORDER BY hit.rank, p.updated DESC
            """,
            (match, limit),
        )
        return [paper_from_row(row) for row in rows]


_PAPER_COLUMNS = (
    "arxiv_id",
    "version",
    "title",
    "authors",
    "abstract",
    "categories",
    "primary_category",
    "submitted",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "first_seen_at",
)
_REPLACED = [c for c in _PAPER_COLUMNS if c not in ("arxiv_id", "first_seen_at")]
_UPSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(_PAPER_COLUMNS)}, matched_at) "
    f"VALUES ({', '.join('?' for _ in _PAPER_COLUMNS)}, ?) "
    "ON CONFLICT (arxiv_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _REPLACED)
    + ", matched_at = CASE WHEN papers.announced IS NOT NULL AND ("
    "excluded.version > papers.version OR excluded.categories IS NOT papers.categories"
    ") THEN NULL ELSE papers.matched_at END"
    + " WHERE excluded.version > papers.version OR (excluded.version = papers.version AND ("
    + " OR ".join(f"excluded.{c} IS NOT papers.{c}" for c in _REPLACED if c != "version")
    + "))"
)


_HARVEST_INSERT = (*_PAPER_COLUMNS, "announced", "matched_at")
_HARVEST_UPDATE = (
    *(c for c in _REPLACED if c != "submitted"),  # the first submission never changes
    "announced",
    "matched_at",
)
_INSERT_HARVESTED = (
    f"INSERT INTO papers ({', '.join(_HARVEST_INSERT)}) "
    f"VALUES ({', '.join('?' for _ in _HARVEST_INSERT)})"
)
_UPDATE_HARVESTED = (
    "UPDATE papers SET " + ", ".join(f"{c} = ?" for c in _HARVEST_UPDATE) + " WHERE arxiv_id = ?"
)
# Same-version metadata that a harvested record may correct.
_HARVEST_METADATA = ("title", "authors", "abstract", "categories", "comment", "journal_ref", "doi")


def _harvested_row(
    record: HarvestedRecord, old: dict[str, Any] | None, now: str
) -> tuple[str, dict[str, Any] | None]:
    """``(kind, row to write or None)`` for one record against the stored row ``old``."""
    paper = record.paper
    check_versionless(paper.arxiv_id)
    fresh = dict(zip(_PAPER_COLUMNS, _paper_params(paper, now), strict=True))
    if old is None:
        return "new", {**fresh, "announced": record.datestamp.isoformat(), "matched_at": None}
    row = dict(old)
    newly_announced = row.get("announced") is None
    if newly_announced:
        row["announced"] = record.datestamp.isoformat()
    revised = paper.updated > from_text(row["updated"])
    if revised:
        row.update({c: fresh[c] for c in (*_HARVEST_METADATA, "primary_category", "updated")})
        row["version"] = int(row["version"]) + 1
    changed = {c for c in _HARVEST_METADATA if fresh[c] != row[c]}
    row.update({c: fresh[c] for c in changed})
    if "categories" in changed:
        row["primary_category"] = fresh["primary_category"]
    if newly_announced or revised or "categories" in changed:
        row["matched_at"] = None
    if newly_announced:
        return "new", row
    if revised:
        return "revised", row
    return ("changed", row) if changed else ("unchanged", None)


def fts_query(text: str) -> str | None:
    """Turn free text into a safe FTS5 query: every word quoted, all required.

    Quoting makes FTS5 syntax (``AND``, ``NEAR(``, ``*``, ``col:``, parentheses) plain
    words. Pieces with no letter or digit are dropped: they index to nothing, and an
    empty phrase would make the whole query match nothing. Returns None if no word is
    left.
    """
    words = [word for word in text.replace("\x00", " ").split() if _has_token(word)]
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _has_token(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def _paper_params(paper: Paper, first_seen_at: str) -> tuple[Any, ...]:
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


def paper_from_row(row: sqlite3.Row) -> Paper:
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
