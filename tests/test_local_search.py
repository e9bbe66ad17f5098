"""Local search: the index agrees with the matcher, ranks, pages, finds similar papers,
and /arxiv search, paper, similar and preview decide well between the index and arXiv."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.commands.grammar import SearchCommand, parse_command
from bot.config import Settings
from bot.localsearch import engine
from bot.localsearch.engine import LocalSearch
from bot.localsearch.terms import INDEX_FORMAT
from bot.localsearch.translate import translate
from bot.matcher import PaperText, compile_matcher
from bot.models import ChannelRef, HarvestedRecord, Paper, Tone
from bot.query import parse_query
from bot.store import MIGRATIONS, Store, paper_index, sqlite_engine, upkeep
from tests import databases
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper, paper_by_id
from tests.local_index import found

HERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))
TODAY = datetime.now(UTC).date()


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2025, 6, 20, 12, tzinfo=UTC))


# -- the index agrees with the matcher --------------------------------------------------

VOCABULARY = [
    "graph",
    "neural",
    "network",
    "networks",
    "learning",
    "medical",
    "image",
    "imaging",
    "segmentation",
    "diffusion",
    "model",
    "models",
    "quantum",
    "error",
    "codes",
    "self",
    "supervised",
    "über",
    "straße",
    "3d",
    "x",
    "müller",
]
AUTHORS = ("Lena Müller", "Geoffrey E. Hinton", "Yann LeCun", "Chen Wei", "Ana María López")
CATEGORIES = ("cs.CV", "cs.LG", "eess.IV", "quant-ph", "math.AG", "stat.ML")


def random_paper(rng: random.Random, number: int) -> Paper:
    def text(low: int, high: int) -> str:
        return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(low, high)))

    return make_paper(
        f"2506.{number:05d}",
        title=text(2, 6).title(),
        abstract=text(5, 30) + ".",
        authors=tuple(rng.sample(AUTHORS, rng.randint(0, 3))),
        categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
        comment=text(1, 4) if rng.random() < 0.3 else None,
        journal_ref=text(1, 3) if rng.random() < 0.1 else None,
    )


def random_query(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.35:
        operator = rng.choice((" AND ", " OR ", " ANDNOT ", " "))
        return f"({random_query(rng, depth + 1)}{operator}{random_query(rng, depth + 1)})"
    kind = rng.random()
    if kind < 0.15:
        return f"cat:{rng.choice((*CATEGORIES, 'cs.*', 'math.*'))}"
    if kind < 0.35:
        name = rng.choice(AUTHORS).split()
        words = rng.choice(
            ([name[-1]], [name[0][0], name[-1]], name[:2], [name[0][0]], name, name[::-1])
        )
        return f'au:"{" ".join(words)}"'
    field = rng.choice(("", "ti:", "abs:", "co:", "jr:", "all:"))
    words = [rng.choice(VOCABULARY) for _ in range(rng.choice((1, 1, 2, 3)))]
    return f'{field}"{" ".join(words)}"' if len(words) > 1 else field + words[0]


async def test_local_search_agrees_with_the_matcher_on_random_queries(store: Store) -> None:
    rng = random.Random(12)
    papers = [random_paper(rng, number) for number in range(1, 301)]
    await store.upsert_papers(papers)
    texts = {paper.arxiv_id: PaperText.from_paper(paper) for paper in papers}
    search = LocalSearch(store)
    checked = exact = 0
    for _ in range(300):
        text = random_query(rng)
        query = parse_query(text, max_length=None)
        matcher = compile_matcher(query)
        expected = {arxiv_id for arxiv_id, paper in texts.items() if matcher.matches(paper)}
        results = await search.search(query, newest_first=True, limit=400)
        if results is None:  # an author given by initials only: nothing to narrow by
            assert (
                all(part.startswith("au:") for part in text.replace("(", " ").split())
                or "au:" in text
            )
            continue
        got = [paper.arxiv_id for paper in results.papers]
        assert set(got) == expected, text
        assert len(got) == len(set(got)), text
        assert got == sorted(got, reverse=True), f"newest first: {text}"
        if results.exact_total:
            exact += 1
            assert results.total == len(expected), text
        else:
            assert results.total >= len(expected), text
        checked += 1
    assert checked > 250 and exact > 200  # most queries translate exactly


async def test_two_word_author_names_are_exact_in_order_and_within_one_author(
    store: Store,
) -> None:
    papers = [
        make_paper("2506.00001", authors=("Yuki Lewis", "Ann Smith")),
        make_paper("2506.00002", authors=("Lewis Yuki", "Ann Smith")),
        make_paper("2506.00003", authors=("Yuki Smith", "Ann Lewis")),
        make_paper("2506.00004", authors=("Y. R. Lewis",)),
        make_paper("2506.00005", authors=("Ana María López García",)),
    ]
    await store.upsert_papers(papers)
    search = LocalSearch(store)
    expected = {
        "au:Y_Lewis": ["2506.00004", "2506.00001"],
        'au:"Yuki Lewis"': ["2506.00001"],
        "au:Lewis_Y": ["2506.00002"],
        "au:Ann_Lewis": ["2506.00003"],
        'au:"María García"': ["2506.00005"],
        'au:"López M"': [],
        'au:"A M López"': ["2506.00005"],
        'au:"Y R Lewis"': ["2506.00004"],
    }
    for text, ids in expected.items():
        results = await search.search(parse_query(text), newest_first=True, limit=10)
        assert results is not None, text
        assert [paper.arxiv_id for paper in results.papers] == ids, text
        assert results.total == len(ids), text
        words = text.count(" ") + text.count("_") + 1
        assert translate(parse_query(text)).exact == (words == 2), text


async def test_a_title_match_ranks_above_an_abstract_only_match(store: Store) -> None:
    await store.upsert_papers(
        [
            make_paper("2506.00001", title="Notes on sampling", abstract="About diffusion."),
            make_paper("2506.00002", title="Diffusion models", abstract="About sampling."),
            make_paper("2506.00003", title="Other things", abstract="Nothing at all."),
        ]
    )
    assert await found(store, "diffusion") == ["2506.00002", "2506.00001"]
    assert await found(store, "abs:diffusion") == ["2506.00001"]
    assert await found(store, "diffusion", newest_first=True) == ["2506.00002", "2506.00001"]


async def test_equally_good_papers_come_newest_first(store: Store) -> None:
    same = {"title": "Graph networks", "abstract": "Graph networks."}
    await store.upsert_papers([make_paper(f"250{month}.00001", **same) for month in (1, 6, 3)])
    assert await found(store, "graph") == ["2506.00001", "2503.00001", "2501.00001"]


async def test_ids_fix_the_order_of_papers_and_odd_ids_sort_oldest(store: Store) -> None:
    await store.upsert_papers(
        [
            make_paper("hep-th/9901001", title="Strings"),
            make_paper("2506.00002", title="Strings"),
            make_paper("0704.0001", title="Strings"),
            make_paper("not-an-id", title="Strings"),
        ]
    )
    assert await found(store, "strings", newest_first=True) == [
        "2506.00002",
        "0704.0001",
        "hep-th/9901001",
        "not-an-id",
    ]


# -- /arxiv search: the index or arXiv ----------------------------------------------------


@pytest.fixture
async def bot(settings: Settings, database: str | Path) -> AsyncIterator[BotApp]:
    """The bot on each database (the search index is FTS5 or a tsvector)."""
    update = {"search_index_days": 365, "database_url": databases.database_url(database)}
    async with BotApp(settings.model_copy(update=update)) as app:
        yield app


async def hold(app: BotApp, papers: list[Paper], *, sets: list[str], days: int) -> None:
    """Store ``papers`` as harvested, and the index as holding ``sets`` for ``days`` days."""
    await app.store.upsert_harvested(
        [HarvestedRecord(paper, paper.submitted.date()) for paper in papers],
        matched_before=TODAY + timedelta(days=1),
    )
    await app.store.add_coverage(sets, TODAY - timedelta(days=days), TODAY)


def vid(number: int) -> str:
    """An id of this month, as arXiv would give a paper submitted now."""
    return f"{TODAY:%y%m}.{number:05d}"


def vision_papers(count: int) -> list[Paper]:
    return [
        make_paper(
            vid(number),
            title=f"Segmentation study {number}",
            abstract="We segment medical images with a diffusion model.",
            categories=("cs.CV",),
            submitted=datetime.combine(
                TODAY - timedelta(days=count - number), datetime.min.time(), UTC
            ),
        )
        for number in range(1, count + 1)
    ]


async def test_a_covered_search_is_answered_from_the_index(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    await hold(bot, vision_papers(30), sets=["cs"], days=400)
    reply = await bot.execute("/arxiv search segmentation AND cat:cs.CV --limit 5", HERE)
    assert fake_arxiv.requests == []
    assert reply.title == "30 papers match segmentation AND cat:cs.CV"
    since = (TODAY - timedelta(days=400)).isoformat()
    assert reply.lines == (
        f"Showing 1 to 5, most relevant first. From the local index, papers since {since}.",
    )
    assert len(reply.papers) == 5 and len(reply.snippets) == 5
    assert reply.more == "search segmentation AND cat:cs.CV --sort relevance --limit 5 --page 2"
    # The "Next" command is a valid command for the next five.
    following = parse_command(reply.more)
    assert isinstance(following, SearchCommand) and following.page == 2
    second = await bot.execute(reply.more, HERE)
    assert second.lines[0].startswith("Showing 6 to 10, most relevant first.")
    assert not {p.arxiv_id for p in second.papers} & {p.arxiv_id for p in reply.papers}
    last = await bot.execute(reply.more.replace("--page 2", "--page 6"), HERE)
    assert last.more is None and len(last.papers) == 5
    beyond = await bot.execute(reply.more.replace("--page 2", "--page 7"), HERE)
    assert beyond.title == "No more papers match segmentation AND cat:cs.CV."
    assert fake_arxiv.requests == []


async def test_snippets_mark_the_matched_words(bot: BotApp) -> None:
    await hold(bot, vision_papers(3), sets=["cs"], days=400)
    reply = await bot.execute('/arxiv search abs:"medical imaging" AND cat:cs.CV', HERE)
    snippet = reply.snippets[0]
    assert snippet is not None
    marked = [snippet.text[a:b] for a, b in snippet.marks]
    assert marked == ["medical", "images"]


async def test_an_uncovered_search_asks_arxiv_and_says_so(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    await hold(bot, vision_papers(30), sets=["cs"], days=400)
    reply = await bot.execute("/arxiv search segmentation AND cat:eess.IV", HERE)
    assert len(fake_arxiv.requests) == 1
    assert reply.lines[0].endswith("From arXiv.")
    # A query without categories needs all of arXiv in the index.
    await bot.execute("/arxiv search segmentation", HERE)
    assert len(fake_arxiv.requests) == 2


async def test_a_short_index_answers_newest_first_but_not_relevance(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    await hold(bot, vision_papers(30), sets=["cs"], days=20)
    newest = await bot.execute("/arxiv search cat:cs.CV --sort date --limit 5", HERE)
    assert fake_arxiv.requests == []
    assert [p.arxiv_id for p in newest.papers] == [vid(n) for n in range(30, 25, -1)]
    assert "From the local index" in newest.lines[0]
    relevant = await bot.execute("/arxiv search cat:cs.CV", HERE)
    assert len(fake_arxiv.requests) == 1 and relevant.lines[0].endswith("From arXiv.")
    # More than the index can vouch for (its 20 days hold 21 papers): arXiv.
    await bot.execute("/arxiv search cat:cs.CV --sort date --limit 25", HERE)
    assert len(fake_arxiv.requests) == 2


async def test_when_arxiv_is_down_search_and_paper_answer_from_the_index(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    await hold(bot, vision_papers(3), sets=["cs"], days=20)
    fake_arxiv.serve_next(b"<html>arXiv is down for maintenance</html>", times=50)
    reply = await bot.execute("/arxiv search segmentation", HERE)
    assert reply.tone is not Tone.ERROR
    assert len(reply.papers) == 3
    assert "arXiv is not answering" in reply.lines[0]
    assert "which may miss some" in reply.lines[0]
    # A paper the index holds needs no request at all.
    before = len(fake_arxiv.requests)
    paper = await bot.execute(f"/arxiv paper {vid(2)}", HERE)
    assert paper.posts[0].paper.arxiv_id == vid(2) and paper.lines == ()
    assert len(fake_arxiv.requests) == before
    # One it does not hold is an error that says arXiv is unavailable.
    missing = await bot.execute("/arxiv paper 2506.11674", HERE)
    assert missing.tone is Tone.ERROR


async def test_a_paper_looked_up_once_is_answered_locally_after(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    first = await bot.execute("/arxiv paper 2506.11674", HERE)
    assert first.posts[0].paper == paper_by_id("2506.11674")
    assert len(fake_arxiv.requests) == 1
    await bot.execute("/arxiv paper https://arxiv.org/abs/2506.11674", HERE)
    assert len(fake_arxiv.requests) == 1
    # Another version than the stored one is asked of arXiv.
    await bot.execute("/arxiv paper 2506.11674v2", HERE)
    assert len(fake_arxiv.requests) == 2


# -- /arxiv similar --------------------------------------------------------------------


async def test_similar_finds_the_closest_papers_but_never_the_paper_itself(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    base = datetime(2025, 6, 1, tzinfo=UTC)
    papers = [
        make_paper(
            "2506.00001",
            title="Diffusion models for medical image segmentation",
            abstract="Denoising diffusion segments organs in CT scans.",
            submitted=base,
        ),
        make_paper(
            "2506.00002",
            title="Organ segmentation in CT with diffusion",
            abstract="Denoising diffusion models segment organs.",
            submitted=base,
        ),
        make_paper(
            "2506.00003",
            title="Quantum error correction",
            abstract="Surface codes under biased noise.",
            submitted=base,
        ),
        make_paper(
            "2506.00004", title="Galaxy surveys", abstract="Counting stars.", submitted=base
        ),
    ]
    await bot.store.upsert_papers(papers)
    reply = await bot.execute("/arxiv similar 2506.00001", HERE)
    ids = [p.arxiv_id for p in reply.papers]
    assert ids[0] == "2506.00002"
    assert "2506.00001" not in ids
    assert "2506.00004" not in ids  # shares no telling word
    assert fake_arxiv.requests == []
    assert reply.title.startswith("Papers like arXiv:2506.00001 (Diffusion models")


async def test_similar_fetches_a_paper_the_index_does_not_hold(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    await bot.store.upsert_papers(
        [
            make_paper(
                "2506.00002",
                title="Boundary aware diffusion for lesion segmentation",
                abstract="Signed distance fields guide denoising diffusion.",
            )
        ]
    )
    reply = await bot.execute("/arxiv similar https://arxiv.org/abs/2506.11674", HERE)
    assert len(fake_arxiv.requests) == 1
    assert [p.arxiv_id for p in reply.papers] == ["2506.00002"]
    assert await bot.store.get_paper("2506.11674") is not None
    await bot.execute("/arxiv similar 2506.11674", HERE)
    assert len(fake_arxiv.requests) == 1


# -- /arxiv preview ----------------------------------------------------------------------


async def test_preview_counts_what_a_subscription_would_have_posted(
    bot: BotApp, fake_arxiv: FakeArxiv
) -> None:
    recent = vision_papers(5)
    old_revised = make_paper(
        "2301.00001",
        title="Segmentation of old things",
        categories=("cs.CV",),
        submitted=datetime(2023, 1, 5, tzinfo=UTC),
        updated=datetime.combine(TODAY, datetime.min.time(), UTC),
    )
    await bot.store.upsert_harvested(
        [HarvestedRecord(paper, TODAY - timedelta(days=1)) for paper in [*recent, old_revised]]
    )
    await bot.store.add_coverage(["cs"], TODAY - timedelta(days=30), TODAY)
    reply = await bot.execute("/arxiv preview segmentation AND cat:cs.CV", HERE)
    assert reply.lines == (
        "Over the last 7 days it would have posted 5 papers (of 5 new papers harvested), "
        "the newest:",
    )
    assert [p.arxiv_id for p in reply.papers] == [vid(5), vid(4), vid(3)]
    elsewhere = await bot.execute("/arxiv preview cat:math.AG", HERE)
    assert elsewhere.lines[0].startswith("The bot does not harvest this query's categories yet")
    assert fake_arxiv.requests == []


async def test_preview_says_how_many_days_the_index_holds(bot: BotApp) -> None:
    await bot.store.upsert_harvested([HarvestedRecord(paper, TODAY) for paper in vision_papers(2)])
    await bot.store.add_coverage(["cs"], TODAY - timedelta(days=4), TODAY)
    reply = await bot.execute("/arxiv preview cat:cs.CV", HERE)
    assert reply.lines[0] == (
        "The local index holds this query's categories for only the last 4 days of the 7."
    )


# -- upgrading a database ----------------------------------------------------------------


async def test_an_older_database_is_renumbered_and_indexed_at_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    papers = [
        paper_by_id("2506.11674"),
        make_paper("hep-th/9901001", title="Strings"),
        make_paper("odd", title="Strings"),
    ]
    async with await Store.open(path, migrations=MIGRATIONS[:5]) as old:
        for paper in papers:
            await old.execute(
                "INSERT INTO papers (arxiv_id, version, title, authors, abstract, categories,"
                " submitted, updated, first_seen_at) VALUES (?, 1, ?, '[]', ?, '[\"cs.CV\"]',"
                " '2025-06-13T00:00:00.000000+00:00', '2025-06-13T00:00:00.000000+00:00',"
                " '2025-06-13T00:00:00.000000+00:00')",
                (paper.arxiv_id, paper.title, paper.abstract),
            )
    async with await Store.open(path) as store:
        rows = await store.fetchall("SELECT id, arxiv_id FROM papers ORDER BY id DESC")
        assert [row["arxiv_id"] for row in rows] == ["2506.11674", "hep-th/9901001", "odd"]
        assert rows[-1]["id"] < 0 < rows[0]["id"]
        assert await found(store, "strings") == ["hep-th/9901001", "odd"]
        assert await store.indexed_papers() == 3
    assert upkeep.check(path).ok


async def test_an_index_of_the_first_format_gains_author_pairs_at_open(tmp_path: Path) -> None:
    path = tmp_path / "format1.db"
    async with await Store.open(path, migrations=MIGRATIONS[:7]) as old:
        await old.execute(
            "INSERT INTO papers (id, arxiv_id, version, title, authors, abstract, categories,"
            " submitted, updated, first_seen_at) VALUES (25060011674, '2506.11674', 1,"
            " 'Strings', '[\"Yuki Lewis\"]', 'a', '[\"cs.CV\"]',"
            " '2025-06-13T00:00:00.000000+00:00', '2025-06-13T00:00:00.000000+00:00',"
            " '2025-06-13T00:00:00.000000+00:00')"
        )
        await old.execute(
            "INSERT INTO paper_index (rowid, ti, au) VALUES (25060011674, 'string', 'yuki lewis')"
        )
        await old.execute("UPDATE state SET value = '1' WHERE key = 'index.format'")
    async with await Store.open(path) as store:
        assert await found(store, "au:Y_Lewis") == ["2506.11674"]
        assert await found(store, "ti:strings") == ["2506.11674"]
        assert await store.indexed_papers() == 1
        assert await store.get_state("index.format") == str(INDEX_FORMAT)
    assert upkeep.check(path).ok


async def test_papers_with_odd_ids_are_matched_too(bot: BotApp) -> None:
    await bot.execute("/arxiv subscribe ti:strings", HERE)
    odd = make_paper("odd-id", title="Strings", submitted=datetime.now(UTC))
    await bot.store.upsert_harvested([HarvestedRecord(odd, TODAY)])
    assert await bot.unmatched_papers() == 1
    await bot.run_cycle()
    assert await bot.unmatched_papers() == 0


async def test_a_broad_query_is_ranked_among_its_newest_matches_and_says_so(
    bot: BotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "RANK_POOL", 3)
    monkeypatch.setattr(engine, "COUNT_CAP", 5)
    papers = [
        make_paper(
            vid(n),
            title="Graph" if n == 1 else f"Study {n}",
            abstract="A graph here.",
            submitted=datetime.now(UTC),
        )
        for n in range(1, 9)
    ]
    await hold(bot, papers, sets=["cs"], days=400)
    reply = await bot.execute("/arxiv search graph AND cat:cs.LG", HERE)
    assert reply.title == "More than 5 papers match graph AND cat:cs.LG"
    assert "most relevant first among the newest 3 (add words" in reply.lines[0]
    assert [p.arxiv_id for p in reply.papers] == [vid(8), vid(7), vid(6)]
    assert reply.more is not None
    newest = await bot.execute("/arxiv search graph AND cat:cs.LG --sort date --limit 8", HERE)
    assert [p.arxiv_id for p in newest.papers] == [vid(n) for n in range(8, 0, -1)]


async def test_an_interrupted_upgrade_starts_again_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    async with await Store.open(path, migrations=MIGRATIONS[:5]) as old:
        for number in range(1, 8):
            await old.execute(
                "INSERT INTO papers (arxiv_id, version, title, abstract, submitted, updated,"
                " first_seen_at) VALUES (?, 1, 'Strings', '', ?, ?, ?)",
                (f"2506.{number:05d}", *["2025-06-13T00:00:00.000000+00:00"] * 3),
            )
    monkeypatch.setattr(paper_index, "REBUILD_BATCH", 3)
    real = paper_index.write_documents
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("power cut")
        await real(*args, **kwargs)

    monkeypatch.setattr(paper_index, "write_documents", failing)
    with pytest.raises(RuntimeError):
        await Store.open(path)
    monkeypatch.setattr(paper_index, "write_documents", real)
    async with await Store.open(path) as store:
        assert await store.indexed_papers() == 7
        assert len(await found(store, "strings")) == 7
    assert upkeep.check(path).ok


async def test_a_search_too_costly_for_the_index_goes_to_arxiv(
    bot: BotApp, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch
) -> None:
    await hold(bot, vision_papers(30), sets=["cs"], days=400)
    monkeypatch.setattr(engine, "SEARCH_SECONDS", -1.0)  # every deadline already passed
    monkeypatch.setattr(sqlite_engine, "PROGRESS_STEPS", 1)
    reply = await bot.execute("/arxiv search segmentation AND cat:cs.CV", HERE)
    assert len(fake_arxiv.requests) == 1
    assert reply.lines[0].endswith("From arXiv.")
    # The connection is not left with the deadline: other reads work.
    assert (await bot.store.counts()).papers >= 30
    monkeypatch.setattr(engine, "SIMILAR_SECONDS", -1.0)
    slow = await bot.execute(f"/arxiv similar {vid(1)}", HERE)
    assert slow.tone is Tone.ERROR
    assert slow.title.startswith(f"Finding papers like arXiv:{vid(1)} took too long")
