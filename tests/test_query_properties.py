"""Properties of the query language over generated input (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.categories import ALL_ARCHIVES, ALL_CATEGORIES, has_subcategories
from bot.errors import QueryError
from bot.query import And, AndNot, Category, Node, Or, Query, Term, parse_query
from bot.textproc import fold, words
from bot.typography import sanitize

# Pieces of query syntax, glued together without spaces as often as with them, so the
# parser meets every awkward adjacency: ``ti:"(``, ``AND)``, ``cat:cs.*?`` ...
FRAGMENTS = [
    *("ti:", "au:", "abs:", "co:", "jr:", "cat:", "all:", "tii:", ":", "TI:"),
    *("AND", "OR", "ANDNOT", "and", "(", ")", '"', "*", "?", "_", "-", ".", "%"),
    *("cs.*", "cs.CV", "hep-th", "astro-ph", "cs", "x", "medical", "Müller", "ǅ", "İ", "ﬁ"),
    *(" ", "  ", "\t", "\n", "\u00a0", "\u200b"),
]
query_like = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
any_text = st.one_of(st.text(max_size=350), query_like)


def check_parsed(query: Query) -> None:
    """What must hold for every query the parser accepts."""
    api = query.to_api()
    assert parse_query(api, max_length=None).root == query.root
    canonical = query.canonical()
    again = parse_query(canonical, max_length=None)
    assert again.root == query.root
    assert again.canonical() == canonical


@settings(max_examples=400, deadline=None)
@given(any_text)
def test_parsing_raises_only_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert error.message
        assert error.query == sanitize(text.strip())  # as typed, control characters shown
        assert error.position is not None
        assert 0 <= error.position <= len(error.query)
    else:
        check_parsed(query)


# -- generated valid syntax trees ----------------------------------------------------

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
terms = st.builds(
    Term,
    st.sampled_from(["ti", "au", "abs", "co", "jr", "all"]),
    st.lists(word, min_size=1, max_size=3).map(tuple),
)
category_codes = [*ALL_CATEGORIES, *(f"{a}.*" for a in ALL_ARCHIVES if has_subcategories(a))]
categories = st.builds(Category, st.sampled_from(category_codes))


def flatten(kind: type[And] | type[Or], children: list[Node]) -> list[Node]:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return flat


def extend(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    several = st.lists(inner, min_size=2, max_size=3)
    return st.one_of(
        several.map(lambda children: And(tuple(flatten(And, children)))),
        several.map(lambda children: Or(tuple(flatten(Or, children)))),
        st.builds(AndNot, inner, inner),
    )


trees = st.recursive(st.one_of(terms, categories), extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_generated_trees_survive_the_api_round_trip(root: Node) -> None:
    query = Query("", root)
    assert parse_query(query.to_api(), max_length=None).root == root


@settings(max_examples=300, deadline=None)
@given(trees)
def test_canonical_is_idempotent_and_keeps_the_meaning(root: Node) -> None:
    canonical = Query("", root).canonical()
    again = parse_query(canonical, max_length=None)
    assert again.root == root
    assert again.canonical() == canonical


@settings(max_examples=200, deadline=None)
@given(trees)
def test_scope_is_a_set_of_oai_sets_or_none(root: Node) -> None:
    scope = Query("", root).category_scope()
    has_category = any(isinstance(leaf, Category) for leaf in Query("", root).leaves())
    if not has_category:
        assert scope is None
    if scope is not None:
        assert scope
        top = {"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"}
        assert all(name in top or name.startswith("physics:") for name in scope)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_folding_is_stable(text: str) -> None:
    """Queries are stored folded and folded again when re-parsed: nothing may shift."""
    found = words(text)
    assert words(" ".join(found)) == found
    assert words(text.lower()) == found
    assert fold(fold(text)) == fold(text)
