"""The search index of the papers table: writing its documents, reading its matches.

Every paper has one document in ``paper_index`` (migration 6: an FTS5 table on SQLite,
a tsvector with a GIN index on PostgreSQL, see :class:`IndexSql`), under the paper's
``id``, which is its row number in arXiv's order
(:func:`bot.localsearch.numbering.paper_number`). The store writes a paper's document
in the transaction that writes the paper; a trigger deletes it with the paper.

When the database was made by an older version (no ``index.format`` in ``state``, or
an older one), :meth:`PaperIndexStore.prepare` renumbers the papers and fills the index
at open, in batches that each commit: an interrupted rebuild starts again cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from bot.localsearch.expression import Expression, Phrase, to_fts5, to_tsquery, to_tsvector
from bot.localsearch.numbering import paper_number
from bot.localsearch.terms import COLUMNS, INDEX_FORMAT, TITLE_PREFIX, index_document
from bot.models import Paper
from bot.store.base import StoreBase, put_state
from bot.store.rows import paper_from_row
from bot.store.sql import Connection, Dialect, Row, placeholders
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

TSVECTOR_WEIGHTS: Mapping[str, str] = {"ti": "A", "abs": "B", "au": "C", "aus": "C"}
"""PostgreSQL's four weight letters, for the columns of :data:`COLUMN_WEIGHTS`: the
title A, the abstract B, author names C, the rest D."""
TS_RANK_WEIGHTS = "{0.05, 0.3, 0.4, 1.0}"
"""ts_rank's weights of D, C, B and A: close to the bm25 weights' proportions."""


@dataclass(frozen=True, slots=True)
class IndexSql:
    """How one database spells the index: its document key, a match of ``:expression``,
    the score (lower is better), a document's row, the expression's text."""

    key: str
    newest: str
    """The key as ``ORDER BY ... DESC`` sorts by it: on PostgreSQL an expression, so
    the planner finds the (few) matches in the GIN index and sorts them, rather than
    walking the primary key newest first and testing every paper until ``LIMIT`` is
    filled (seconds when a query matches little)."""
    match: str
    score: str
    insert: str
    replace: str
    dialect: Dialect

    def expression(self, expression: Expression) -> str:
        if self.dialect is Dialect.SQLITE:
            return to_fts5(expression)
        return to_tsquery(expression)

    def document(self, row_id: int, paper: Paper) -> tuple[Any, ...]:
        values = index_document(paper)
        if self.dialect is Dialect.SQLITE:
            return (row_id, *values)
        return (row_id, to_tsvector(COLUMNS, values, dict(TSVECTOR_WEIGHTS)))


_FTS5 = IndexSql(
    key="paper_index.rowid",
    newest="paper_index.rowid",
    match="paper_index MATCH :expression",
    score=f"bm25(paper_index, {', '.join(str(COLUMN_WEIGHTS[c]) for c in COLUMNS)})",
    insert=(
        f"INSERT INTO paper_index (rowid, {', '.join(COLUMNS)}) "
        f"VALUES (?, {', '.join('?' for _ in COLUMNS)})"
    ),
    replace="",
    dialect=Dialect.SQLITE,
)
_TSVECTOR = IndexSql(
    key="paper_index.id",
    newest="(paper_index.id + 0)",
    match="paper_index.doc @@ CAST(:expression AS tsquery)",
    score=(f"-ts_rank('{TS_RANK_WEIGHTS}', paper_index.doc, CAST(:expression AS tsquery))"),
    insert="INSERT INTO paper_index (id, doc) VALUES (?, CAST(? AS tsvector))",
    replace=" ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
    dialect=Dialect.POSTGRES,
)


def index_sql(dialect: Dialect) -> IndexSql:
    return _FTS5 if dialect is Dialect.SQLITE else _TSVECTOR


@dataclass(frozen=True, slots=True)
class IndexHit:
    paper: Paper
    score: float
    """bm25 (lower is better; 0 when the search was not ranked)."""


async def assign_numbers(conn: Connection, arxiv_ids: Sequence[str]) -> dict[str, int]:
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
        row = await conn.fetchone("SELECT min(id) FROM papers")
        lowest = min(int(row[0]), 0) if row is not None and row[0] is not None else 0
        for offset, arxiv_id in enumerate(odd, start=1):
            numbers[arxiv_id] = lowest - offset
    return numbers


async def write_documents(
    conn: Connection, papers: Iterable[tuple[int, Paper]], *, replace: bool = True
) -> None:
    """(Re)write the index documents of ``papers``, given as ``(id, paper)``."""
    batch = list(papers)
    if not batch:
        return
    sql = index_sql(conn.dialect)
    if replace and not sql.replace:
        await conn.executemany(
            f"DELETE FROM paper_index WHERE {sql.key} = ?", [(row_id,) for row_id, _ in batch]
        )
    if len(batch) > THREAD_THRESHOLD:
        # A page of 2,500 records takes a few hundred milliseconds to tokenise: not on
        # the event loop, which answers chat meanwhile.
        rows = await asyncio.to_thread(_documents, sql, batch)
    else:
        rows = _documents(sql, batch)
    await conn.executemany(sql.insert + (sql.replace if replace else ""), rows)


def _documents(sql: IndexSql, batch: Sequence[tuple[int, Paper]]) -> list[tuple[Any, ...]]:
    return [sql.document(row_id, paper) for row_id, paper in batch]


class PaperIndexStore(StoreBase):
    """The search-index methods of :class:`~bot.store.store.Store`."""

    async def prepare(self) -> None:
        await super().prepare()
        if not await self._engine.table_exists("paper_index"):  # older schemas (tests)
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
                    await conn.fetchall(
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

    async def _renumber(self, conn: Connection, rows: Sequence[Row]) -> list[tuple[int, Paper]]:
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

    @property
    def _index(self) -> IndexSql:
        return index_sql(self.dialect)

    async def index_search(
        self,
        expression: Expression,
        *,
        ranked: bool,
        limit: int,
        offset: int = 0,
        exclude: str | None = None,
        floor: int | None = None,
        deadline: float | None = None,
    ) -> list[IndexHit]:
        """The papers matching ``expression``: best first (bm25 on SQLite, ts_rank on
        PostgreSQL) when ``ranked`` (newest first among equal scores), else newest
        first (arXiv's order); only those with row numbers from ``floor`` on, when given."""
        if limit <= 0:
            return []
        index = self._index
        params: dict[str, Any] = {
            "expression": index.expression(expression),
            "limit": limit,
            "offset": offset,
            "exclude": exclude,
            "floor": floor,
        }
        key = index.key
        order = f"{index.score}, {index.newest} DESC" if ranked else f"{index.newest} DESC"
        score = index.score if ranked else "0.0"
        rows = await self.fetchall_until(
            f"""
            SELECT p.*, hit.score AS score FROM (
                SELECT {key} AS paper_id, {score} AS score FROM paper_index
                WHERE {index.match}
                  AND {key} >= coalesce(:floor, -9223372036854775808)
                  AND {key} {self.dialect.differs}
                      (SELECT id FROM papers WHERE arxiv_id = :exclude)
                ORDER BY {order} LIMIT :limit OFFSET :offset
            ) AS hit JOIN papers AS p ON p.id = hit.paper_id
            ORDER BY hit.score, hit.paper_id DESC
            """,
            params,
            deadline=deadline,
        )
        return [IndexHit(paper_from_row(row), float(row["score"])) for row in rows]

    async def index_newest(
        self, expression: Expression, limit: int, *, deadline: float | None = None
    ) -> list[int]:
        """The row numbers of the newest ``limit`` papers matching ``expression``: cheap
        on SQLite, as FTS5 keeps each word's papers in row order."""
        index = self._index
        rows = await self.fetchall_until(
            f"SELECT {index.key} FROM paper_index WHERE {index.match}"
            f" ORDER BY {index.newest} DESC LIMIT :limit",
            {"expression": index.expression(expression), "limit": limit},
            deadline=deadline,
        )
        return [int(row[0]) for row in rows]

    async def index_count(
        self, expression: Expression, *, cap: int | None = None, deadline: float | None = None
    ) -> int:
        """How many papers match ``expression``; at most ``cap + 1`` when ``cap`` is given
        (counting stops there: "more than ``cap``")."""
        index = self._index
        rows = await self.fetchall_until(
            f"SELECT count(*) FROM (SELECT 1 FROM paper_index WHERE {index.match}"
            " LIMIT :limit) AS found",
            {
                "expression": index.expression(expression),
                "limit": self.dialect.no_limit if cap is None else cap + 1,
            },
            deadline=deadline,
        )
        return int(rows[0][0]) if rows else 0

    async def index_scan(
        self, expression: Expression | None, *, before: int | None, limit: int
    ) -> list[tuple[int, Paper]]:
        """Up to ``limit`` papers matching ``expression`` (None: every paper), newest
        first, with row numbers below ``before``: a page of candidates to check."""
        index = self._index
        params: dict[str, Any] = {"limit": limit, "before": before}
        below = "AND p.id < :before" if before is not None else ""
        if expression is None:
            sql = f"SELECT p.* FROM papers AS p WHERE TRUE {below} ORDER BY p.id DESC LIMIT :limit"
        else:
            params["expression"] = index.expression(expression)
            sql = (
                f"SELECT p.* FROM paper_index JOIN papers AS p ON p.id = {index.key} "
                f"WHERE {index.match} {below} "
                f"ORDER BY {index.newest} DESC LIMIT :limit"
            )
        rows = await self.fetchall(sql, params)
        return [(int(row["id"]), paper_from_row(row)) for row in rows]

    async def papers_holding(self, words: Sequence[str]) -> dict[str, int]:
        """How many papers hold each index word (``words`` as written in the index)."""
        counts: dict[str, int] = {}
        for start in range(0, len(words), ID_CHUNK):
            chunk = words[start : start + ID_CHUNK]
            if self.dialect is Dialect.SQLITE:
                rows = await self.fetchall(
                    "SELECT term, doc FROM paper_index_words"
                    f" WHERE term IN ({placeholders(len(chunk))})",
                    chunk,
                )
            else:  # one count a word, in one statement
                queries = [(word, to_tsquery(Phrase(_columns_of(word), (word,)))) for word in chunk]
                rows = await self.fetchall(
                    "SELECT w.term, (SELECT count(*) FROM paper_index"
                    " WHERE doc @@ CAST(w.query AS tsquery)) AS doc"
                    f" FROM (VALUES {', '.join('(?, ?)' for _ in queries)}) AS w(term, query)",
                    [value for pair in queries for value in pair],
                )
            counts.update((row["term"], int(row["doc"])) for row in rows if row["doc"])
        return counts

    async def indexed_papers(self) -> int:
        row = await self.fetchone("SELECT count(*) FROM paper_index")
        return int(row[0]) if row is not None else 0

    async def recent_matches(
        self,
        expression: Expression | None,
        *,
        announced_since: date,
        submitted_since: date,
        limit: int | None = None,
    ) -> list[Paper]:
        """Harvested papers matching ``expression`` (None: all), first announced on or
        after ``announced_since`` and first submitted on or after ``submitted_since``,
        newest first. Only index documents from the lowest row number announced in
        the window on are read, however large the index is."""
        source, params = self._recent(expression, announced_since, submitted_since)
        params["limit"] = self.dialect.no_limit if limit is None else limit
        rows = await self.fetchall(f"SELECT p.* {source} ORDER BY p.id DESC LIMIT :limit", params)
        return [paper_from_row(row) for row in rows]

    async def recent_count(
        self, expression: Expression | None, *, announced_since: date, submitted_since: date
    ) -> int:
        """How many papers :meth:`recent_matches` would list."""
        source, params = self._recent(expression, announced_since, submitted_since)
        row = await self.fetchone(f"SELECT count(*) {source}", params)
        return int(row[0]) if row is not None else 0

    def _recent(
        self, expression: Expression | None, announced_since: date, submitted_since: date
    ) -> tuple[str, dict[str, Any]]:
        """The ``FROM ... WHERE ...`` of :meth:`recent_matches`, and its parameters."""
        params: dict[str, Any] = {
            "announced": announced_since.isoformat(),
            "submitted": to_text(datetime.combine(submitted_since, time(), UTC)),
        }
        window = "p.announced >= :announced AND p.submitted >= :submitted"
        if expression is None:
            return f"FROM papers AS p WHERE {window}", params
        index = self._index
        params["expression"] = index.expression(expression)
        return (
            f"FROM paper_index JOIN papers AS p ON p.id = {index.key} "
            f"WHERE {index.match} AND {index.key} >= "
            f"(SELECT min(id) FROM papers WHERE announced >= :announced) AND {window}",
            params,
        )


_WORD_COLUMNS = tuple(column for column in COLUMNS if column != "ti")
"""Where a word other than a title word may be: SQLite's fts5vocab counts a paper that
holds a word in any column, and titles hold title words only."""


def _columns_of(word: str) -> tuple[str, ...]:
    """The columns PostgreSQL counts an index word in (see :data:`_WORD_COLUMNS`)."""
    return ("ti",) if word.startswith(TITLE_PREFIX) else _WORD_COLUMNS
