"""The subscription index: exactly what checking every subscription would find, faster."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.index import SubscriptionIndex
from bot.matcher import Matcher, PaperText
from bot.models import Paper, Subscription
from bot.query import And, AndNot, Category, Node, Or, Query, Term, parse_query
from bot.textproc import stem
from tests.fakes.corpus import make_paper, sample_papers
from tests.fakes.workload import synthetic_papers, synthetic_queries

_CREATED = datetime(2025, 6, 1, tzinfo=UTC)


def subscriptions(queries: Sequence[str], *, first_id: int = 1) -> list[Subscription]:
    """One subscription per query, five to a channel, ids counting up from ``first_id``."""
    return [
        Subscription(first_id + offset, 1 + offset // 5, query, _CREATED)
        for offset, query in enumerate(queries)
    ]


def brute_force(subs: Sequence[Subscription], paper: PaperText) -> list[Subscription]:
    """Every subscription whose query matches, by running every matcher."""
    return [
        sub
        for sub in sorted(subs, key=lambda sub: sub.id)
        if Matcher(parse_query(sub.query, max_length=None)).matches(paper)
    ]


def check_against_brute_force(subs: Sequence[Subscription], papers: Sequence[Paper]) -> int:
    """Assert the index agrees with brute force on every paper; the number of matches."""
    index = SubscriptionIndex.build(subs)
    matchers = [(sub, Matcher(parse_query(sub.query, max_length=None))) for sub in subs]
    matchers.sort(key=lambda pair: pair[0].id)
    total = 0
    for paper in papers:
        text = PaperText.from_paper(paper)
        expected = [sub for sub, matcher in matchers if matcher.matches(text)]
        assert index.match(text) == expected, paper.arxiv_id
        total += len(expected)
    return total


# -- hand-written queries on the sample corpus ------------------------------------------

CORPUS_QUERIES = [
    'ti:"medical image" AND (cat:cs.CV OR cat:eess.IV)',
    "cat:eess.IV",
    "cat:cs.*",
    "cat:hep-th",
    "au:Müller",
    'au:"Sebastian Muller"',
    'au:"L Muller"',
    'au:"G E"',  # initials only: no anchor, checked against every paper
    "language models",
    'abs:"language models" ANDNOT cat:cs.AI',
    "ti:segmentation OR au:tanaka",
    "ti:(attention OR diffusion OR reconstruction) AND cat:cs.*",
    "co:miccai",
    "jr:med",
    "all:cs.CL",
    "self-supervised",
    "quantum",
    "ti:nothingatall",
    "cat:math.* OR cat:hep-th",
    "(ti:language OR ti:foundation) ANDNOT (cat:cs.AI OR au:kim)",
]


def test_sample_corpus_matches_like_brute_force() -> None:
    subs = subscriptions(CORPUS_QUERIES)
    papers = sample_papers()
    index = SubscriptionIndex.build(subs)
    assert len(index) == len(CORPUS_QUERIES)
    matched = check_against_brute_force(subs, papers)
    assert matched > len(papers)  # the queries do match things, not only nothing


def test_results_on_a_known_paper() -> None:
    paper = PaperText.from_paper(next(p for p in sample_papers() if p.arxiv_id == "2506.11674"))
    subs = subscriptions(CORPUS_QUERIES)
    found = [sub.query for sub in SubscriptionIndex.build(subs).match(paper)]
    assert found == [
        'ti:"medical image" AND (cat:cs.CV OR cat:eess.IV)',
        "cat:eess.IV",
        "cat:cs.*",
        "au:Müller",
        'au:"L Muller"',
        "ti:segmentation OR au:tanaka",
        "ti:(attention OR diffusion OR reconstruction) AND cat:cs.*",
        "co:miccai",
    ]


# -- a realistic synthetic workload -----------------------------------------------------


def test_synthetic_workload_matches_like_brute_force() -> None:
    queries = synthetic_queries(1500, seed=11)
    subs = subscriptions(queries)
    papers = synthetic_papers(150, seed=12)
    matched = check_against_brute_force(subs, papers)
    assert matched > 100


def test_index_checks_only_a_small_share_of_subscriptions() -> None:
    subs = subscriptions(synthetic_queries(3000, seed=5))
    index = SubscriptionIndex.build(subs)
    texts = [PaperText.from_paper(paper) for paper in synthetic_papers(100, seed=6)]
    checked = sum(len(index.candidates(text)) for text in texts) / len(texts)
    assert checked < 0.05 * index.matcher_count


# -- bookkeeping ------------------------------------------------------------------------


def test_empty_index_matches_nothing() -> None:
    index = SubscriptionIndex.build([])
    assert len(index) == 0
    assert index.skipped == ()
    assert index.match(PaperText.from_paper(make_paper())) == []


def test_results_come_in_id_order_whatever_the_input_order() -> None:
    subs = subscriptions(["cat:cs.LG", "ti:placeholder", "au:example", "nothing"], first_id=7)
    index = SubscriptionIndex.build(reversed(subs))
    found = index.match(PaperText.from_paper(make_paper()))
    assert [sub.id for sub in found] == [7, 8, 9, 10]


def test_identical_queries_share_a_matcher_and_all_match() -> None:
    queries = ["ti:placeholder cat:cs.LG", "TI:Placeholder  AND  cat:cs.lg", "ti:placeholder"]
    subs = subscriptions(queries)
    index = SubscriptionIndex.build(subs)
    assert len(index) == 3
    assert index.matcher_count == 2
    assert index.match(PaperText.from_paper(make_paper())) == subs


def test_a_stored_query_that_no_longer_parses_is_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    subs = [
        Subscription(1, 1, "ti:placeholder", _CREATED),
        Subscription(2, 1, "ti:placeholder*", _CREATED),  # wildcards were dropped
        Subscription(3, 2, "cat:cs.LG", _CREATED),
    ]
    with caplog.at_level(logging.WARNING, logger="bot.index"):
        index = SubscriptionIndex.build(subs)
    assert index.skipped == (subs[1],)
    assert len(index) == 2
    assert index.match(PaperText.from_paper(make_paper())) == [subs[0], subs[2]]
    assert "Skipping subscription 2" in caplog.text
    assert "ti:placeholder*" in caplog.text


def test_a_long_stored_query_is_accepted() -> None:
    # Stored queries are re-parsed without the typing limit (a canonical form can be longer).
    long_query = " OR ".join(f"ti:word{number}" for number in range(60)) + " OR ti:placeholder"
    assert len(long_query) > 300
    index = SubscriptionIndex.build(subscriptions([long_query]))
    assert index.skipped == ()
    assert len(index.match(PaperText.from_paper(make_paper()))) == 1


def test_a_query_without_anchors_is_checked_on_every_paper() -> None:
    subs = subscriptions(['au:"B E"', "ti:quantum"])
    index = SubscriptionIndex.build(subs)
    matching = PaperText.from_paper(make_paper(authors=("Bo Example",)))
    other = PaperText.from_paper(make_paper(authors=("Ada Placeholder",)))
    assert index.match(matching) == [subs[0]]
    assert index.match(other) == []


# -- generated queries and papers -------------------------------------------------------

TEXT_WORDS = [
    "diffusion",
    "models",
    "model",
    "image",
    "imaging",
    "segmentation",
    "medical",
    "language",
    "quantum",
    "entanglement",
    "graph",
    "networks",
    "self",
    "supervised",
    "cs",
    "cv",
    "the",
    "of",
]
NAME_WORDS = ["anna", "a", "lee", "l", "muller", "mei", "m", "chen", "c"]
CATEGORIES = ["cs.CV", "cs.LG", "eess.IV", "hep-th", "quant-ph", "math.PR"]
QUERY_CATEGORIES = [*CATEGORIES, "cs.*", "eess.*", "math.*", "astro-ph.*"]

text_terms = st.builds(
    Term,
    st.sampled_from(["ti", "abs", "co", "jr", "all"]),
    st.lists(st.sampled_from(TEXT_WORDS), min_size=1, max_size=3).map(tuple),
)
author_terms = st.builds(
    Term, st.just("au"), st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=2).map(tuple)
)
leaves = st.one_of(text_terms, author_terms, st.builds(Category, st.sampled_from(QUERY_CATEGORIES)))


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return tuple(flat)


trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map(lambda c: And(_flatten(And, c))),
        st.lists(inner, min_size=2, max_size=4).map(lambda c: Or(_flatten(Or, c))),
        st.builds(AndNot, inner, inner),
    ),
    max_leaves=10,
)
sentences = st.lists(st.sampled_from(TEXT_WORDS), max_size=12).map(" ".join)
names = st.lists(
    st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=3).map(" ".join), max_size=3
)
papers = st.builds(
    make_paper,
    arxiv_id=st.just("2506.00001"),
    title=sentences,
    abstract=sentences,
    comment=st.one_of(st.none(), sentences),
    journal_ref=st.one_of(st.none(), sentences),
    authors=names.map(tuple),
    categories=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True).map(
        tuple
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(trees, min_size=1, max_size=8), st.lists(papers, min_size=1, max_size=4))
def test_generated_queries_match_like_brute_force(
    roots: list[Node], generated: list[Paper]
) -> None:
    # Stored queries are text: write each tree in its canonical form, as the bot stores it.
    queries = [Query("", root).canonical() for root in roots]
    subs = subscriptions(queries)
    index = SubscriptionIndex.build(subs)
    assert index.skipped == ()
    for paper in generated:
        text = PaperText.from_paper(paper)
        assert index.match(text) == brute_force(subs, text)


def test_a_rebuild_reuses_the_previous_matchers_and_sees_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = subscriptions(["ti:placeholder", "cat:cs.LG", "au:nobody"])
    previous = SubscriptionIndex.build(first)
    parsed: list[str] = []

    def counting_parse(text: str, *, max_length: int | None = 300) -> Query:
        parsed.append(text)
        return parse_query(text, max_length=max_length)

    monkeypatch.setattr("bot.index.parse_query", counting_parse)
    # One removed, two kept (one now in another channel too), one added.
    second = [*first[:2], Subscription(9, 3, "ti:placeholder", _CREATED)]
    second.append(Subscription(10, 3, "abs:particular", _CREATED))
    index = SubscriptionIndex.build(second, previous=previous)
    assert parsed == ["abs:particular"]  # only the new query was parsed and compiled
    assert index.matcher_count == 3
    text = PaperText.from_paper(make_paper())
    assert [sub.id for sub in index.match(text)] == [1, 2, 9, 10]


def reference(node: Node, paper: PaperText) -> bool:
    """The query semantics written plainly, to check the compiled (grouped, reordered)
    matchers against: no grouping, no short cuts."""
    match node:
        case Term(field="au", words=name):
            return any(_name_in(author, name) for author in paper.authors)
        case Term(field=field, words=found):
            phrase = tuple(stem(word) for word in found)
            tokens = paper.fields[field].tokens
            return any(
                tokens[start : start + len(phrase)] == phrase for start in range(len(tokens))
            )
        case Category(code=code) if node.is_archive:
            return any(
                category.split(".")[0].lower() == node.archive for category in paper.categories
            )
        case Category(code=code):
            return code in paper.categories
        case And(children=children):
            return all(reference(child, paper) for child in children)
        case Or(children=children):
            return any(reference(child, paper) for child in children)
        case AndNot(left=left, right=right):
            return reference(left, paper) and not reference(right, paper)
    raise AssertionError(node)


def _name_in(author: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """``name``'s words in order among ``author``'s; a one-letter word is an initial."""
    position = 0
    for word in name:
        while position < len(author) and not (
            author[position] == word or (len(word) == 1 and author[position].startswith(word))
        ):
            position += 1
        if position == len(author):
            return False
        position += 1
    return True


@settings(max_examples=300, deadline=None)
@given(trees, papers)
def test_compiled_matchers_follow_the_plain_semantics(root: Node, paper: Paper) -> None:
    text = PaperText.from_paper(paper)
    assert Matcher(Query("", root)).matches(text) == reference(root, text)
