"""The SQLite store, against real database files in tmp_path."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.errors import (
    ConfigError,
    DuplicateSubscriptionError,
    StoreError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
    UserError,
)
from bot.models import ChannelRef, HarvestedRecord, Paper
from bot.store import (
    DEFAULT_SUBSCRIPTION_LIMIT,
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    MigrationError,
    Store,
    StoreCounts,
)
from bot.store.database import split_statements
from bot.store.deliveries import DeliveryQueue, PaperMatches
from tests import databases
from tests.local_index import found

NOW = datetime(2025, 6, 13, 20, 0, 0, 123456, tzinfo=UTC)
_DAY = date(2025, 6, 14)
SLACK = ChannelRef("slack", "T1", "C1", "ml-papers")
DISCORD = ChannelRef("discord", "G1", "42", "reading-group")


def make_paper(
    arxiv_id: str = "2506.11674",
    version: int = 1,
    *,
    title: str = "Quantum error correction with surface codes",
    authors: tuple[str, ...] = ("Anna Müller", "Bo Li"),
    abstract: str = "We study decoders.",
    categories: tuple[str, ...] = ("quant-ph", "cs.IT"),
    comment: str | None = None,
    journal_ref: str | None = None,
    doi: str | None = None,
) -> Paper:
    submitted = datetime(2025, 6, 12, 17, 30, tzinfo=UTC)
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        authors=authors,
        abstract=abstract,
        categories=categories,
        submitted=submitted,
        updated=submitted + timedelta(days=version - 1),
        comment=comment,
        journal_ref=journal_ref,
        doi=doi,
    )


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for looking under the store."""
    return sqlite3.connect(path)


def pragma(path: Path, name: str) -> object:
    conn = raw(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "arxiv-bot.db"


@pytest.fixture
async def store(database: str | Path) -> AsyncIterator[Store]:
    async with await Store.open(database, clock=lambda: NOW) as opened:
        yield opened


# -- migrations -----------------------------------------------------------------------


async def test_migrates_an_empty_database(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        assert store.schema_version == LATEST_VERSION == len(MIGRATIONS)

    conn = raw(db_path)
    names = {row[0]: row[1] for row in conn.execute("SELECT name, type FROM sqlite_master")}
    conn.close()
    for table in ("papers", "paper_index", "channels", "subscriptions", "deliveries", "state"):
        assert names.get(table) == "table", table
    assert names.get("paper_index_delete") == "trigger"
    assert pragma(db_path, "user_version") == LATEST_VERSION
    assert pragma(db_path, "journal_mode") == "wal"


async def test_reopening_applies_nothing_and_keeps_data(database: str | Path) -> None:
    async with await Store.open(database) as store:
        channel_id = await store.ensure_channel(SLACK)
        await store.add_subscription(channel_id, "cat:cs.LG", limit=25)

    async with await Store.open(database) as store:
        assert store.schema_version == LATEST_VERSION
        assert [s.query for s in await store.list_subscriptions(channel_id)] == ["cat:cs.LG"]
    assert schema_version(database) == LATEST_VERSION


def schema_version(target: str | Path) -> int:
    if isinstance(target, Path):
        return int(str(pragma(target, "user_version")))
    return int(databases.rows(target, "SELECT version FROM schema_version")[0][0])


def set_schema_version(target: str | Path, version: int) -> None:
    if isinstance(target, Path):
        databases.execute(target, f"PRAGMA user_version = {version}")
    else:
        databases.execute(target, "UPDATE schema_version SET version = ?", (version,))


def table_names(target: str | Path) -> set[str]:
    if isinstance(target, Path):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {str(row[0]) for row in databases.rows(target, sql)}


async def test_database_newer_than_the_code_is_refused(database: str | Path) -> None:
    async with await Store.open(database):
        pass
    set_schema_version(database, LATEST_VERSION + 1)

    with pytest.raises(ConfigError, match="newer arxiv-bot") as caught:
        await Store.open(database)
    assert f"schema version {LATEST_VERSION + 1}" in str(caught.value)
    assert schema_version(database) == LATEST_VERSION + 1


async def test_failing_migration_rolls_back_and_keeps_the_version(database: str | Path) -> None:
    async with await Store.open(database) as store:
        await store.ensure_channel(SLACK)
    broken = (
        *MIGRATIONS,
        Migration("broken", "CREATE TABLE extra (a TEXT); INSERT INTO missing VALUES (1);"),
    )

    with pytest.raises(MigrationError, match="broken"):
        await Store.open(database, migrations=broken)

    assert schema_version(database) == LATEST_VERSION
    assert "extra" not in table_names(database)
    async with await Store.open(database) as store:
        assert (await store.counts()).channels == 1


async def test_failing_first_migration_leaves_an_empty_database(db_path: Path) -> None:
    broken = (Migration("broken", "CREATE TABLE extra (a TEXT); SELECT * FROM missing;"),)

    with pytest.raises(MigrationError):
        await Store.open(db_path, migrations=broken)

    assert pragma(db_path, "user_version") == 0
    conn = raw(db_path)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    statements = split_statements(MIGRATIONS[0].sql)
    triggers = [s for s in statements if "CREATE TRIGGER" in s]
    assert len(triggers) == 3
    assert all(s.rstrip().endswith("END;") for s in triggers)
    assert split_statements("SELECT 1; SELECT 2") == ["SELECT 1;", "SELECT 2"]


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        await store.add_subscription(999, "cat:cs.LG", limit=25)


# -- channels and state ---------------------------------------------------------------


async def test_ensure_channel_is_stable_and_tracks_the_name(
    store: Store, database: str | Path
) -> None:
    first = await store.ensure_channel(SLACK)
    assert await store.ensure_channel(SLACK) == first
    assert await store.ensure_channel(replace(SLACK, name="renamed")) == first
    assert await store.ensure_channel(replace(SLACK, name="")) == first
    other = await store.ensure_channel(replace(SLACK, workspace="T2"))
    assert other != first
    assert (await store.counts()).channels == 2

    row = databases.rows(
        database, "SELECT name, mode, paused_reason FROM channels WHERE id = ?", (first,)
    )
    assert row == [("renamed", "each", None)]


async def test_state_round_trips_and_overwrites(store: Store) -> None:
    assert await store.get_state("oai.watermark") is None
    await store.set_state("oai.watermark", "2025-06-12")
    await store.set_state("oai.watermark", "2025-06-13")
    assert await store.get_state("oai.watermark") == "2025-06-13"


# -- deliveries -----------------------------------------------------------------------


async def test_a_paper_is_queued_for_a_channel_at_most_once(store: Store) -> None:
    """The deliveries key is (channel, version-less id): a revision is not a new paper."""
    slack = await store.ensure_channel(SLACK)
    discord = await store.ensure_channel(DISCORD)
    queue = DeliveryQueue(store)
    now = datetime(2025, 6, 14, tzinfo=UTC)
    v1 = make_paper(version=1)
    v2 = replace(v1, version=2, updated=v1.updated + timedelta(days=1))

    async def match(paper: Paper, *channels: int) -> int:
        await store.upsert_harvested([HarvestedRecord(paper, now.date())])
        [pending] = await queue.unmatched()
        found = PaperMatches(pending, {c: (1,) for c in channels}, {})
        return (await queue.record_matches([found], now=now, revision_notes=False)).queued

    assert await match(v1, slack) == 1
    assert await match(v2, slack, discord) == 1, "only the channel without the paper"
    rows = await store.fetchall("SELECT channel_id, version FROM deliveries ORDER BY channel_id")
    assert [tuple(row) for row in rows] == [(slack, 2), (discord, 2)]


async def test_versioned_ids_are_rejected(store: Store) -> None:
    await store.ensure_channel(SLACK)
    with pytest.raises(ValueError, match="version-less"):
        await store.upsert_harvested([HarvestedRecord(make_paper(arxiv_id="2506.11674v2"), _DAY)])
    with pytest.raises(ValueError, match="version-less"):
        await store.upsert_papers([make_paper(arxiv_id="2506.11674v2")])
    assert await store.counts() == StoreCounts(papers=0, channels=1, subscriptions=0, deliveries=0)


# -- subscriptions --------------------------------------------------------------------


async def test_subscriptions_are_listed_in_order_with_timestamps(store: Store) -> None:
    slack = await store.ensure_channel(SLACK)
    discord = await store.ensure_channel(DISCORD)
    a = await store.add_subscription(slack, "cat:cs.LG", limit=25)
    b = await store.add_subscription(discord, "cat:cs.LG", limit=25)
    c = await store.add_subscription(slack, 'ti:"diffusion model"', limit=25)

    assert a.created_at == NOW
    assert a.channel_id == slack and a.query == "cat:cs.LG"
    assert await store.list_subscriptions(slack) == [a, c]
    assert await store.all_subscriptions() == [a, c, b]


async def test_default_limit_is_25_and_the_error_carries_the_figures(store: Store) -> None:
    assert DEFAULT_SUBSCRIPTION_LIMIT == 25
    channel = await store.ensure_channel(SLACK)
    for n in range(25):
        await store.add_subscription(channel, f"all:topic{n}")

    with pytest.raises(SubscriptionLimitError) as caught:
        await store.add_subscription(channel, "all:one-too-many")
    assert (caught.value.count, caught.value.limit) == (25, 25)
    assert not isinstance(caught.value, UserError), "the handlers write the words"
    assert len(await store.list_subscriptions(channel)) == 25


async def test_configured_limit_and_room_after_removal(store: Store) -> None:
    channel = await store.ensure_channel(SLACK)
    first = await store.add_subscription(channel, "cat:cs.LG", limit=2)
    await store.add_subscription(channel, "cat:cs.CV", limit=2)
    with pytest.raises(SubscriptionLimitError):
        await store.add_subscription(channel, "cat:cs.CL", limit=2)

    await store.remove_subscription(channel, first.id)
    added = await store.add_subscription(channel, "cat:cs.CL", limit=2)
    assert added.id > first.id, "subscription numbers are never reused"


async def test_lowered_limit_reports_the_actual_count(store: Store) -> None:
    channel = await store.ensure_channel(SLACK)
    for query in ("cat:cs.LG", "cat:cs.CV", "cat:cs.CL"):
        await store.add_subscription(channel, query, limit=25)
    with pytest.raises(SubscriptionLimitError) as caught:
        await store.add_subscription(channel, "cat:cs.AI", limit=2)
    assert (caught.value.count, caught.value.limit) == (3, 2)


async def test_duplicate_subscription_names_the_existing_id(store: Store) -> None:
    channel = await store.ensure_channel(SLACK)
    existing = await store.add_subscription(channel, "cat:cs.LG", limit=25)

    with pytest.raises(DuplicateSubscriptionError) as caught:
        await store.add_subscription(channel, "cat:cs.LG", limit=25)
    assert isinstance(caught.value, StoreError)
    assert caught.value.existing == existing
    assert len(await store.list_subscriptions(channel)) == 1


async def test_queries_are_kept_as_typed_and_duplicates_found_canonically(store: Store) -> None:
    channel = await store.ensure_channel(SLACK)
    typed = await store.add_subscription(channel, "au:Müller", canonical="au:müller")
    assert typed.query == "au:Müller"
    with pytest.raises(DuplicateSubscriptionError) as caught:
        await store.add_subscription(channel, "AU:MÜLLER", canonical="au:müller")
    assert caught.value.existing == typed


async def test_subscriptions_of_older_versions_keep_their_duplicates_found(
    database: str | Path,
) -> None:
    """Before migration 4 the canonical form was the stored query: it becomes both."""
    async with await Store.open(database, clock=lambda: NOW, migrations=MIGRATIONS[:3]) as old:
        channel = await old.ensure_channel(SLACK)
        await old.execute(
            "INSERT INTO subscriptions (channel_id, query, created_at) VALUES (?, ?, ?)",
            (channel, "au:müller", NOW.isoformat()),
        )
    async with await Store.open(database, clock=lambda: NOW) as store:
        [kept] = await store.list_subscriptions(channel)
        assert kept.query == "au:müller"
        with pytest.raises(DuplicateSubscriptionError):
            await store.add_subscription(channel, "au:Müller", canonical="au:müller")
        added = await store.add_subscription(channel, "au:Li", canonical="au:li")
        assert [s.query for s in await store.list_subscriptions(channel)] == [
            "au:müller",
            "au:Li",
        ]
        assert added.id == 2


async def test_removing_another_channels_subscription_is_not_found(store: Store) -> None:
    slack = await store.ensure_channel(SLACK)
    discord = await store.ensure_channel(DISCORD)
    theirs = await store.add_subscription(discord, "cat:cs.LG", limit=25)

    with pytest.raises(SubscriptionNotFoundError) as caught:
        await store.remove_subscription(slack, theirs.id)
    assert caught.value.subscription_id == theirs.id
    assert await store.list_subscriptions(discord) == [theirs]

    assert await store.remove_subscription(discord, theirs.id) == theirs
    with pytest.raises(SubscriptionNotFoundError):
        await store.remove_subscription(discord, theirs.id)


async def test_concurrent_adds_never_pass_the_limit(store: Store) -> None:
    channel = await store.ensure_channel(SLACK)
    await store.add_subscription(channel, "cat:cs.LG", limit=5)

    results = await asyncio.gather(
        *(store.add_subscription(channel, f"all:topic{n}", limit=5) for n in range(20)),
        return_exceptions=True,
    )

    assert sum(1 for r in results if isinstance(r, SubscriptionLimitError)) == 16
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 4
    assert len(await store.list_subscriptions(channel)) == 5


async def test_cancelled_writes_leave_no_transaction_open(store: Store) -> None:
    channel = await store.ensure_channel(SLACK)
    for steps in range(12):
        task = asyncio.create_task(store.add_subscription(channel, f"all:t{steps}", limit=25))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.set_state("after", str(steps))  # fails if a transaction were left open
        assert await store.get_state("after") == str(steps)
    kept = {s.query for s in await store.list_subscriptions(channel)}
    assert kept <= {f"all:t{n}" for n in range(12)}


async def test_concurrent_adds_from_two_connections_never_pass_the_limit(
    database: str | Path,
) -> None:
    async with await Store.open(database) as one, await Store.open(database) as two:
        channel = await one.ensure_channel(SLACK)
        results = await asyncio.gather(
            *(
                (one if n % 2 else two).add_subscription(channel, f"all:topic{n}", limit=3)
                for n in range(12)
            ),
            return_exceptions=True,
        )
        unexpected = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, SubscriptionLimitError) for r in unexpected), unexpected
        assert len(unexpected) == 9
        assert len(await two.list_subscriptions(channel)) == 3


# -- papers and search ----------------------------------------------------------------


async def test_paper_round_trips(store: Store) -> None:
    paper = make_paper(
        arxiv_id="hep-th/9901001",
        comment="12 pages; v2 fixes Fig. 3",
        journal_ref="Phys. Rev. D 60 (1999)",
        doi="10.1103/PhysRevD.60.000001",
    )
    assert await store.upsert_papers([paper]) == 1
    assert await store.get_paper("hep-th/9901001") == paper
    assert await store.get_paper("2506.00000") is None


async def test_upsert_keeps_the_newest_version_and_the_index_in_sync(
    store: Store, database: str | Path
) -> None:
    v1 = make_paper(version=1, title="Surface codes under biased noise")
    v2 = make_paper(version=2, title="Tailored lattice decoders")
    other = make_paper("2506.00002", title="Galaxy clusters", authors=("Carol Ng",))

    assert await store.upsert_papers([v1, other]) == 2
    assert await store.upsert_papers([v2]) == 1
    assert await store.upsert_papers([v1]) == 0, "an older version never replaces a newer"
    assert await store.upsert_papers([v2]) == 0, "an identical row is not rewritten"
    v2_published = replace(v2, journal_ref="Nature 1 (2025)")
    assert await store.upsert_papers([v2_published]) == 1, "same version, new metadata"

    assert await store.get_paper(v1.arxiv_id) == v2_published
    assert await found(store, "lattice decoders") == [v2.arxiv_id]
    assert await found(store, "biased") == []
    assert await found(store, "galaxy") == ["2506.00002"]
    assert (await store.counts()).papers == 2

    if isinstance(database, Path):  # FTS5's own check of the index against its documents
        databases.execute(
            database, "INSERT INTO paper_index (paper_index, rank) VALUES ('integrity-check', 1)"
        )
    assert databases.rows(database, "SELECT count(*) FROM paper_index") == [(2,)]
    seen = databases.rows(database, "SELECT DISTINCT first_seen_at FROM papers")
    assert seen == [(NOW.isoformat(timespec="microseconds"),)]


async def test_upsert_of_nothing_writes_nothing(store: Store) -> None:
    assert await store.upsert_papers([]) == 0
    assert await store.upsert_papers(iter(())) == 0


async def test_one_batch_with_two_versions_keeps_the_newest(store: Store) -> None:
    v1, v3 = make_paper(version=1), make_paper(version=3, title="Third time")
    await store.upsert_papers([v3, v1])
    stored = await store.get_paper(v1.arxiv_id)
    assert stored is not None and stored.version == 3


async def test_search_folds_accents(store: Store) -> None:
    await store.upsert_papers(
        [make_paper(), make_paper("2506.00003", title="The Schrödinger equation", authors=())]
    )
    assert await found(store, "au:Muller") == ["2506.11674"]
    assert await found(store, "au:müller") == ["2506.11674"]
    assert await found(store, "schrodinger") == ["2506.00003"]


async def test_search_stems_words(store: Store) -> None:
    await store.upsert_papers(
        [
            make_paper("2506.00004", title="Medical image segmentation"),
            make_paper("2506.00005", title="Galaxy surveys", abstract="Counting stars."),
        ]
    )
    assert await found(store, "medical imaging") == ["2506.00004"]
    assert await found(store, "counted star") == ["2506.00005"]


async def test_search_ranks_and_limits(store: Store) -> None:
    await store.upsert_papers(
        [
            make_paper("2506.00006", title="Graphs", abstract="A note on graphs."),
            make_paper("2506.00007", title="Unrelated", abstract="Nothing here."),
            make_paper("2506.00008", title="Notes", abstract="Graphs, again."),
        ]
    )
    assert await found(store, "graph") == ["2506.00006", "2506.00008"]
    assert len(await found(store, "graph", limit=1)) == 1
    assert await found(store, "graph", limit=0) == []


# -- ranking (migration 9) and feedback for training -------------------------------------


async def test_channels_rank_by_default_and_the_switch_is_kept(store: Store) -> None:
    channel_id = await store.ensure_channel(SLACK)
    assert (await store.get_channel(channel_id)).ranking is True
    await store.set_channel_ranking(channel_id, False)
    assert (await store.get_channel(channel_id)).ranking is False
    await store.set_channel_ranking(channel_id, True)
    assert (await store.get_channel(channel_id)).ranking is True


async def test_rated_papers_are_the_newest_events_with_stored_papers(store: Store) -> None:
    channel_id = await store.ensure_channel(SLACK)
    other = await store.ensure_channel(DISCORD)
    papers = [make_paper(f"2506.1{n:04d}", abstract=f"Abstract {n}.") for n in range(5)]
    await store.upsert_papers(papers)
    for n, paper in enumerate(papers):
        signal = -1 if n == 4 else 1
        for user in ("U1", "U2"):
            await store.add_feedback(
                channel_id, paper.arxiv_id, user=user, source="reaction", emoji="+1", signal=signal
            )
    await store.add_feedback(
        channel_id, "2506.99999", user="U1", source="reaction", emoji="+1", signal=1
    )  # no stored paper: nothing to learn from
    await store.add_feedback(
        other, papers[0].arxiv_id, user="U1", source="reaction", emoji="+1", signal=1
    )

    rated = await store.rated_papers(channel_id)
    assert len(rated) == 10
    assert {r.paper.arxiv_id for r in rated} == {p.arxiv_id for p in papers}
    assert all(r.paper.abstract.startswith("Abstract") for r in rated)
    assert await store.liked_papers_count(channel_id) == 4
    assert await store.liked_papers_count(other) == 1
    assert len(await store.rated_papers(channel_id, limit=3)) == 3
