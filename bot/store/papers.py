"""Papers: search results and OAI-harvested records, and their storage."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from bot.models import HarvestedRecord, Paper
from bot.store.coverage import Coverage, record_coverage
from bot.store.paper_index import PaperIndexStore, assign_numbers, write_documents
from bot.store.rows import paper_from_row, paper_params
from bot.store.sql import Connection, Dialect
from bot.store.values import ID_CHUNK, check_versionless, from_text

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


class PaperStore(PaperIndexStore):
    """The paper methods of :class:`~bot.store.store.Store`."""

    async def upsert_papers(self, papers: Iterable[Paper]) -> int:
        """Store papers arXiv's API returned (a lookup, a search); return how many rows
        were inserted or changed.

        A stored paper is replaced by a newer version, or by the same version with
        different metadata (a journal reference or DOI added later); an older version
        never replaces a newer one. ``first_seen_at`` keeps its first value.

        Papers seen only here are not harvested announcements, so they are stored as
        already matched; a harvested paper that gets a newer version or other categories
        this way is queued for matching again.
        """
        batch = list(papers)
        if not batch:
            return 0
        now = self.now_text()
        ids = list(dict.fromkeys(paper.arxiv_id for paper in batch))
        async with self.transaction() as conn:
            numbers = await assign_numbers(conn, ids)
            params = [(numbers[paper.arxiv_id], *paper_params(paper, now), now) for paper in batch]
            changed = await conn.executemany(_upsert_paper(conn.dialect), params)
            written = changed
            await write_documents(conn, await _stored(conn, ids))
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
                rows = await conn.fetchall(
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
                numbers = await assign_numbers(conn, list(inserts))
                for arxiv_id, row in inserts.items():
                    row["id"] = numbers[arxiv_id]
                params = [tuple(row[c] for c in _HARVEST_INSERT) for row in inserts.values()]
                await conn.executemany(_INSERT_HARVESTED, params)
            if updates:
                params = [
                    (*(row[c] for c in _HARVEST_UPDATE), row["arxiv_id"])
                    for row in updates.values()
                ]
                await conn.executemany(_UPDATE_HARVESTED, params)
            new_documents = [(int(row["id"]), paper_from_row(row)) for row in inserts.values()]
            await write_documents(conn, new_documents, replace=False)
            await write_documents(
                conn, [(int(row["id"]), paper_from_row(row)) for row in updates.values()]
            )
        result = HarvestCounts(**counts)
        logger.debug("Stored %s harvested records: %s", len(batch), result)
        return result

    async def recent_papers(self, since: date, *, limit: int | None = None) -> list[Paper]:
        """Harvested papers announced on or after ``since``, newest announcement first."""
        rows = await self.fetchall(
            "SELECT * FROM papers WHERE announced >= ?"
            " ORDER BY announced DESC, submitted DESC, arxiv_id DESC LIMIT ?",
            (since.isoformat(), self.dialect.no_limit if limit is None else max(limit, 0)),
        )
        return [paper_from_row(row) for row in rows]

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """The stored paper, or None."""
        row = await self.fetchone("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
        return paper_from_row(row) if row is not None else None


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


@cache
def _upsert_paper(dialect: Dialect) -> str:
    differs = dialect.differs
    return (
        f"INSERT INTO papers (id, {', '.join(_PAPER_COLUMNS)}, matched_at) "
        f"VALUES (?, {', '.join('?' for _ in _PAPER_COLUMNS)}, ?) "
        "ON CONFLICT (arxiv_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in _REPLACED)
        + ", matched_at = CASE WHEN papers.announced IS NOT NULL AND ("
        f"excluded.version > papers.version OR excluded.categories {differs} papers.categories"
        ") THEN NULL ELSE papers.matched_at END"
        + " WHERE excluded.version > papers.version OR (excluded.version = papers.version AND ("
        + " OR ".join(f"excluded.{c} {differs} papers.{c}" for c in _REPLACED if c != "version")
        + "))"
    )


_HARVEST_INSERT = ("id", *_PAPER_COLUMNS, "announced", "matched_at")
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
    fresh = dict(zip(_PAPER_COLUMNS, paper_params(paper, now), strict=True))
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


async def _stored(conn: Connection, arxiv_ids: list[str]) -> list[tuple[int, Paper]]:
    """The stored rows of ``arxiv_ids`` as ``(id, paper)``."""
    found: list[tuple[int, Paper]] = []
    for start in range(0, len(arxiv_ids), ID_CHUNK):
        chunk = arxiv_ids[start : start + ID_CHUNK]
        rows = await conn.fetchall(
            f"SELECT * FROM papers WHERE arxiv_id IN ({', '.join('?' * len(chunk))})", chunk
        )
        found.extend((int(row["id"]), paper_from_row(row)) for row in rows)
    return found
