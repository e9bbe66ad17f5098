"""The search index of the papers table: writing its documents, reading its matches.

Every paper has one document in the FTS5 table ``paper_index`` (migration 6), under
the paper's ``id``, which is its row number in arXiv's order
(:func:`bot.localsearch.numbering.paper_number`). The store writes a paper's document
in the transaction that writes the paper; a trigger deletes it with the paper.

When the database was made by an older version (no ``index.format`` in ``state``, or
an older one), :meth:`PaperIndexStore.prepare` renumbers the papers and fills the index
at open, in batches that each commit: an interrupted rebuild starts again cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import aiosqlite

from bot.localsearch.numbering import paper_number
from bot.localsearch.terms import COLUMNS, INDEX_FORMAT, index_document
from bot.models import Paper
from bot.store.base import StoreBase, put_state
from bot.store.rows import paper_from_row
from bot.store.values import ID_CHUNK, to_text

logger = logging.getLogger(__name__)

FORMAT_KEY = "index.format"
PROGRESS_KEY = "index.rebuilt_through"
"""``<format>:<arxiv id>``: the last paper an interrupted rebuild indexed."""
REBUILD_BATCH = 2000
THREAD_THRESHOLD = 50
"""Documents written at once beyond which tokenising moves to a worker thread."""

COLUMN_WEIGHTS: Mapping[str, float] = {
    "ti": 10.0,
    "abs": 4.0,
    "co": 1.0,
    "jr": 1.0,
    "au": 3.0,
    "aus": 3.0,
    "cat": 0.0,
    "cats": 0.5,
    "aup": 0.0,
}
"""bm25 weights: a word in the title counts most, then the abstract, then the rest."""

_BM25 = f"bm25(paper_index, {', '.join(str(COLUMN_WEIGHTS[c]) for c in COLUMNS)})"
_INSERT = (
    f"INSERT INTO paper_index (rowid, {', '.join(COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in COLUMNS)})"
)


@dataclass(frozen=True, slots=True)
class IndexHit:
    paper: Paper
    score: float
    """bm25 (lower is better; 0 when the search was not ranked)."""


async def assign_numbers(conn: aiosqlite.Connection, arxiv_ids: Sequence[str]) -> dict[str, int]:
    """Row numbers for papers about to be inserted (see :mod:`bot.localsearch.numbering`)."""
    numbers: dict[str, int] = {}
    odd: list[str] = []
    for arxiv_id in arxiv_ids:
        number = paper_number(arxiv_id)
        if number is None:
            odd.append(arxiv_id)
        else:
            numbers[arxiv_id] = number
    if odd:
        row = await (await conn.execute("SELECT min(min(id), 0) FROM papers")).fetchone()
        lowest = int(row[0]) if row is not None and row[0] is not None else 0
        for offset, arxiv_id in enumerate(odd, start=1):
            numbers[arxiv_id] = lowest - offset
    return numbers


async def write_documents(
    conn: aiosqlite.Connection, papers: Iterable[tuple[int, Paper]], *, replace: bool = True
) -> None:
    """(Re)write the index documents of ``papers``, given as ``(id, paper)``."""
    batch = list(papers)
    if not batch:
        return
    if replace:
        await conn.executemany(
            "DELETE FROM paper_index WHERE rowid = ?", [(row_id,) for row_id, _ in batch]
        )
    if len(batch) > THREAD_THRESHOLD:
        # A page of 2,500 records takes a few hundred milliseconds to tokenise: not on
        # the event loop, which answers chat meanwhile.
        rows = await asyncio.to_thread(_documents, batch)
    else:
        rows = _documents(batch)
    await conn.executemany(_INSERT, rows)


def _documents(batch: Sequence[tuple[int, Paper]]) -> list[tuple[Any, ...]]:
    return [(row_id, *index_document(paper)) for row_id, paper in batch]


class PaperIndexStore(StoreBase):
    """The search-index methods of :class:`~bot.store.store.Store`."""

    async def prepare(self) -> None:
        await super().prepare()
        exists = await self.fetchone("SELECT 1 FROM sqlite_schema WHERE name = 'paper_index'")
        if exists is None:  # opened with fewer migrations (tests of older schemas)
            return
        if await self.get_state(FORMAT_KEY) == str(INDEX_FORMAT):
            return
        await self._rebuild_index()

    async def _rebuild_index(self) -> None:
        """Renumber and index every paper, in batches of ids that each commit with the
        progress made, so that an interrupted rebuild goes on where it stopped."""
        total_row = await self.fetchone("SELECT count(*) FROM papers")
        total = int(total_row[0]) if total_row is not None else 0
        mark = f"{INDEX_FORMAT}:"
        progress = await self.get_state(PROGRESS_KEY)
        after = progress.removeprefix(mark) if progress and progress.startswith(mark) else None
        if total:
            going_on = f", going on after {after}" if after else ""
            logger.warning(
                "Building the search index of %s papers (once, after an upgrade%s)",
                total,
                going_on,
            )
        if after is None:
            async with self.transaction() as conn:
                await conn.execute("DELETE FROM paper_index")
        done = 0
        while True:
            async with self.transaction() as conn:
                where = "" if after is None else "WHERE arxiv_id > ?"
                rows = list(
                    await conn.execute_fetchall(
                        f"SELECT * FROM papers {where} ORDER BY arxiv_id LIMIT ?",
                        (REBUILD_BATCH,) if after is None else (after, REBUILD_BATCH),
                    )
                )
                if not rows:
                    break
                after = str(rows[-1]["arxiv_id"])
                documents = await self._renumber(conn, rows)
                # Replace, not add: another process may be rebuilding at the same time.
                await write_documents(conn, documents)
                await put_state(conn, PROGRESS_KEY, mark + after, self.now_text())
            done += len(rows)
            if total >= 10 * REBUILD_BATCH:
                logger.info("Search index: %s of %s papers", done, total)
        async with self.transaction() as conn:
            await put_state(conn, FORMAT_KEY, str(INDEX_FORMAT), self.now_text())
            await conn.execute("DELETE FROM state WHERE key = ?", (PROGRESS_KEY,))
        if total:
            logger.warning("Search index built: %s papers", total)

    async def _renumber(
        self, conn: aiosqlite.Connection, rows: Sequence[sqlite3.Row]
    ) -> list[tuple[int, Paper]]:
        """Give ``rows`` their row numbers in arXiv's order; papers keep every other value.

        Old row numbers were 1, 2, 3 ...: far below any arXiv-order number, and an id
        that fits no scheme gets a negative one, so no renumbering collides.
        """
        documents: list[tuple[int, Paper]] = []
        for row in rows:
            old = int(row["id"])
            number = paper_number(row["arxiv_id"])
            if number is None:
                number = (
                    old
                    if old < 0
                    else (await assign_numbers(conn, [row["arxiv_id"]]))[row["arxiv_id"]]
                )
            if number != old:
                await conn.execute("UPDATE papers SET id = ? WHERE id = ?", (number, old))
            documents.append((number, paper_from_row(row)))
        return documents

    # -- reading ------------------------------------------------------------------------

    async def index_search(
        self,
        expression: str,
        *,
        ranked: bool,
        limit: int,
        offset: int = 0,
        exclude: str | None = None,
        floor: int | None = None,
        deadline: float | None = None,
    ) -> list[IndexHit]:
        """The papers matching the FTS5 ``expression``: best bm25 first when ``ranked``
        (newest first among equal scores), else newest first (arXiv's order); only
        those with row numbers from ``floor`` on, when given."""
        if limit <= 0:
            return []
        params: dict[str, Any] = {
            "expression": expression,
            "limit": limit,
            "offset": offset,
            "exclude": exclude,
            "floor": floor,
        }
        order = f"{_BM25}, paper_index.rowid DESC" if ranked else "paper_index.rowid DESC"
        score = _BM25 if ranked else "0.0"
        rows = await self.fetchall_until(
            f"""
            SELECT p.*, hit.score AS score FROM (
                SELECT paper_index.rowid AS rowid, {score} AS score FROM paper_index
                WHERE paper_index MATCH :expression
                  AND paper_index.rowid >= coalesce(:floor, -9223372036854775808)
                  AND paper_index.rowid IS NOT (SELECT id FROM papers WHERE arxiv_id = :exclude)
                ORDER BY {order} LIMIT :limit OFFSET :offset
            ) AS hit JOIN papers AS p ON p.id = hit.rowid
            ORDER BY hit.score, hit.rowid DESC
            """,
            params,
            deadline=deadline,
        )
        return [IndexHit(paper_from_row(row), float(row["score"])) for row in rows]

    async def index_newest(
        self, expression: str, limit: int, *, deadline: float | None = None
    ) -> list[int]:
        """The row numbers of the newest ``limit`` papers matching ``expression``: cheap,
        as the index keeps each word's papers in row order."""
        rows = await self.fetchall_until(
            "SELECT rowid FROM paper_index WHERE paper_index MATCH ? ORDER BY rowid DESC LIMIT ?",
            (expression, limit),
            deadline=deadline,
        )
        return [int(row[0]) for row in rows]

    async def index_count(
        self, expression: str, *, cap: int | None = None, deadline: float | None = None
    ) -> int:
        """How many papers match ``expression``; at most ``cap + 1`` when ``cap`` is given
        (counting stops there: "more than ``cap``")."""
        limit = -1 if cap is None else cap + 1
        rows = await self.fetchall_until(
            "SELECT count(*) FROM (SELECT 1 FROM paper_index WHERE paper_index MATCH ? LIMIT ?)",
            (expression, limit),
            deadline=deadline,
        )
        return int(rows[0][0]) if rows else 0

    async def index_scan(
        self, expression: str | None, *, before: int | None, limit: int
    ) -> list[tuple[int, Paper]]:
        """Up to ``limit`` papers matching ``expression`` (None: every paper), newest
        first, with row numbers below ``before``: a page of candidates to check."""
        params: dict[str, Any] = {"limit": limit, "before": before}
        below = "AND p.id < :before" if before is not None else ""
        if expression is None:
            sql = f"SELECT p.* FROM papers AS p WHERE 1 {below} ORDER BY p.id DESC LIMIT :limit"
        else:
            params["expression"] = expression
            sql = (
                "SELECT p.* FROM paper_index JOIN papers AS p ON p.id = paper_index.rowid "
                f"WHERE paper_index MATCH :expression {below} "
                "ORDER BY paper_index.rowid DESC LIMIT :limit"
            )
        rows = await self.fetchall(sql, params)
        return [(int(row["id"]), paper_from_row(row)) for row in rows]

    async def papers_holding(self, words: Sequence[str]) -> dict[str, int]:
        """How many papers hold each index word (``words`` as written in the index)."""
        counts: dict[str, int] = {}
        for start in range(0, len(words), ID_CHUNK):
            chunk = words[start : start + ID_CHUNK]
            rows = await self.fetchall(
                "SELECT term, doc FROM paper_index_words "
                f"WHERE term IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            counts.update((row["term"], int(row["doc"])) for row in rows)
        return counts

    async def indexed_papers(self) -> int:
        row = await self.fetchone("SELECT count(*) FROM paper_index")
        return int(row[0]) if row is not None else 0

    async def recent_matches(
        self,
        expression: str | None,
        *,
        announced_since: date,
        submitted_since: date,
        limit: int | None = None,
    ) -> list[Paper]:
        """Harvested papers matching ``expression`` (None: all), first announced on or
        after ``announced_since`` and first submitted on or after ``submitted_since``,
        newest first. Only index documents from the lowest row number announced in
        the window on are read, however large the index is."""
        source, params = _recent(expression, announced_since, submitted_since)
        params["limit"] = -1 if limit is None else limit
        rows = await self.fetchall(f"SELECT p.* {source} ORDER BY p.id DESC LIMIT :limit", params)
        return [paper_from_row(row) for row in rows]

    async def recent_count(
        self, expression: str | None, *, announced_since: date, submitted_since: date
    ) -> int:
        """How many papers :meth:`recent_matches` would list."""
        source, params = _recent(expression, announced_since, submitted_since)
        row = await self.fetchone(f"SELECT count(*) {source}", params)
        return int(row[0]) if row is not None else 0


def _recent(
    expression: str | None, announced_since: date, submitted_since: date
) -> tuple[str, dict[str, Any]]:
    """The ``FROM ... WHERE ...`` of :meth:`PaperIndexStore.recent_matches`, and its
    parameters."""
    params: dict[str, Any] = {
        "announced": announced_since.isoformat(),
        "submitted": to_text(datetime.combine(submitted_since, time(), UTC)),
    }
    window = "p.announced >= :announced AND p.submitted >= :submitted"
    if expression is None:
        return f"FROM papers AS p WHERE {window}", params
    params["expression"] = expression
    return (
        "FROM paper_index JOIN papers AS p ON p.id = paper_index.rowid "
        "WHERE paper_index MATCH :expression AND paper_index.rowid >= "
        f"(SELECT min(id) FROM papers WHERE announced >= :announced) AND {window}",
        params,
    )
