"""The query language: parsing, validation messages, compilation, and the taxonomy."""

from __future__ import annotations

import pytest

from bot import categories
from bot.errors import QueryError
from bot.query import (
    FIELDS,
    MAX_QUERY_LENGTH,
    And,
    AndNot,
    Category,
    Or,
    Term,
    parse_query,
)


def error_for(text: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    return caught.value


def t(word: str, field: str = "all") -> Term:
    return Term(field, tuple(word.split()))


# -- parsing -------------------------------------------------------------------------


def test_bare_term_searches_all_fields() -> None:
    assert parse_query("transformer").root == Term("all", ("transformer",))


def test_fielded_phrase_keeps_its_words_in_order() -> None:
    query = parse_query('ti:"Medical  Imaging"')
    assert query.root == Term("ti", ("medical", "imaging"))


def test_unquoted_term_of_several_words_is_a_phrase() -> None:
    assert parse_query("abs:self-supervised").root == Term("abs", ("self", "supervised"))


def test_adjacent_terms_mean_and() -> None:
    assert parse_query("diffusion ti:protein").root == And((t("diffusion"), t("protein", "ti")))


def test_lowercase_and_is_an_ordinary_word() -> None:
    assert parse_query("rock and roll").root == And((t("rock"), t("and"), t("roll")))


def test_and_binds_tighter_than_or() -> None:
    assert parse_query("a OR b AND c").root == Or((t("a"), And((t("b"), t("c")))))


def test_andnot_binds_like_and_and_associates_left() -> None:
    root = parse_query("a ANDNOT b AND c OR d").root
    assert root == Or((And((AndNot(t("a"), t("b")), t("c"))), t("d")))
    assert parse_query("a ANDNOT b ANDNOT c").root == AndNot(AndNot(t("a"), t("b")), t("c"))


def test_parentheses_override_precedence() -> None:
    assert parse_query("(a OR b) c").root == And((Or((t("a"), t("b"))), t("c")))


def test_chains_are_flattened_through_parentheses() -> None:
    assert parse_query("a AND (b AND c)").root == parse_query("a b c").root
    assert parse_query("(a OR b) OR c").root == Or((t("a"), t("b"), t("c")))


def test_field_group_gives_its_field_to_every_term_inside() -> None:
    root = parse_query('ti:(diffusion OR "score matching") au:hinton').root
    inner = Or((t("diffusion", "ti"), t("score matching", "ti")))
    assert root == And((inner, t("hinton", "au")))


def test_field_codes_are_case_insensitive() -> None:
    assert parse_query("TI:graph").root == t("graph", "ti")


def test_author_underscore_is_a_space_and_accents_fold() -> None:
    assert parse_query("au:del_Maestro").root == Term("au", ("del", "maestro"))
    assert parse_query("au:Müller").root == Term("au", ("muller",))


def test_category_is_normalised_to_official_case() -> None:
    assert parse_query("cat:CS.cv").root == Category("cs.CV")
    assert parse_query("cat:cond-mat.STR-EL").root == Category("cond-mat.str-el")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("cat:cs.*", "cs.*"),
        ("cat:astro-ph*", "astro-ph.*"),
        ("cat:hep-th.*", "hep-th"),  # an archive without subcategories is one category
        ("cat:hep-th", "hep-th"),
        ("cat:math.MP", "math.MP"),
        ('cat:"eess.IV"', "eess.IV"),
    ],
)
def test_category_forms(text: str, code: str) -> None:
    assert parse_query(text).root == Category(code)


def test_source_is_stripped() -> None:
    assert parse_query("  ti:x \n").source == "ti:x"


def test_query_of_exactly_the_limit_is_accepted() -> None:
    text = ("a " * MAX_QUERY_LENGTH)[:MAX_QUERY_LENGTH].strip() + "b"
    assert len(text) == MAX_QUERY_LENGTH
    assert isinstance(parse_query(text).root, And)


def test_fields_are_the_documented_ones() -> None:
    assert set(FIELDS) == {"ti", "au", "abs", "co", "cat", "jr", "all"}


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "fragments"),
    [
        ("", 0, ["empty"]),
        ("   ", 0, ["empty"]),
        ("tii:transformer", 0, ["Unknown field tii:", "Did you mean ti: (title)?", "au: (author)"]),
        ("diffusion title:protein", 10, ["Unknown field title:", "Did you mean ti:"]),
        ("abstr:x", 0, ["Did you mean abs: (abstract)?"]),
        ("zzz:x", 0, ["Unknown field zzz:", "Valid fields are ti: (title)"]),
        ("ti:", 0, ["ti: needs a word or a quoted phrase", "ti:transformer"]),
        ("a ti: b", 2, ["ti: needs a word", "no space"]),
        ('ti:"medical imaging', 3, ["quote is never closed", 'closing "']),
        ("(a OR b", 0, ["( is never closed"]),
        ("a OR (b AND (c)", 5, ["( is never closed"]),
        ("ti:(a OR b", 3, ["( is never closed"]),
        ("a OR b)", 6, [") has no matching ("]),
        (") a", 0, [") has no matching ("]),
        ("a () b", 2, ["Empty parentheses"]),
        ("a AND", 2, ["AND at the end", "a AND b"]),
        ("graph ANDNOT", 6, ["ANDNOT at the end"]),
        ("OR b", 0, ["OR needs a term before it"]),
        ("(AND b)", 1, ["AND needs a term before it"]),
        ("a AND OR b", 6, ["OR cannot follow AND"]),
        ("(a OR) b", 3, ["OR needs a term after it, before this )"]),
        ("cat:cs", 4, ["cs is a whole archive (Computer Science)", "cat:cs.*"]),
        ("ti:x cat:astro-ph", 9, ["astro-ph is a whole archive", "cat:astro-ph.*"]),
        ("cat:cs.XX", 4, ["Unknown category cs.XX", "Did you mean", "arxiv.org/category_taxonomy"]),
        ("cat:cs.CVV", 4, ["Unknown category cs.CVV", "cat:cs.CV"]),
        ("cat:CV", 4, ["cat:cs.CV or cat:math.CV"]),
        ("cat:cs.?I", 4, ["only wildcard cat: accepts is a whole archive"]),
        ("cat:foo*", 4, ["only wildcard"]),
        ('cat:"cs.CV cs.LG"', 5, ["exactly one category", "cat:cs.CV OR cat:cs.LG"]),
        ("graph %%", 6, ["%% has no letters or digits"]),
        ('ti:"  "', 0, ["has no letters or digits"]),
        ("neural transform*", 16, ["Wildcards (*) only work in categories", "stemmed"]),
        ("au:sutske???", 9, ["Wildcards (?)"]),
    ],
)
def test_error_message_and_position(text: str, position: int, fragments: list[str]) -> None:
    error = error_for(text)
    assert error.position == position
    assert error.query == text.strip()
    for fragment in fragments:
        assert fragment in error.message


def test_too_long_query_points_at_the_limit() -> None:
    error = error_for("x" * (MAX_QUERY_LENGTH + 5))
    assert error.position == MAX_QUERY_LENGTH
    assert f"{MAX_QUERY_LENGTH + 5} characters long; the limit is {MAX_QUERY_LENGTH}" in (
        error.message
    )


def test_length_limit_can_be_lifted_for_queries_the_bot_wrote() -> None:
    text = " OR ".join(f"cat:{code}" for code in categories.categories_in_archive("math"))
    assert len(text) > MAX_QUERY_LENGTH
    assert isinstance(parse_query(text, max_length=None).root, Or)


def test_absurd_nesting_is_refused_cleanly() -> None:
    text = "(" * 400 + "a" + ")" * 400  # deeper than Python's recursion limit allows
    with pytest.raises(QueryError, match="nests parentheses more than") as caught:
        parse_query(text, max_length=None)
    assert caught.value.position == 100


def test_error_renders_a_pointer_under_the_problem() -> None:
    assert str(error_for("a AND")).endswith("  a AND\n    ^")


# -- compiling to the arXiv API ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "api"),
    [
        ("transformer", "all:transformer"),
        ('ti:"medical imaging" cat:cs.CV', 'ti:"medical imaging" AND cat:cs.CV'),
        ("a OR b c", "all:a OR (all:b AND all:c)"),
        ("(a OR b) c", "(all:a OR all:b) AND all:c"),
        ("a ANDNOT b ANDNOT c", "(all:a ANDNOT all:b) ANDNOT all:c"),
        ("a ANDNOT (b OR c)", "all:a ANDNOT (all:b OR all:c)"),
        ("self-supervised", 'all:"self supervised"'),
        ("au:del_maestro", "au:del_maestro"),
        ('au:"G. Hinton"', "au:g_hinton"),
        ("au:Müller", "au:muller"),
        ("cat:cs.* AND ti:gan", "cat:cs.* AND ti:gan"),
        ("ti:(a OR b)", "ti:a OR ti:b"),
    ],
)
def test_to_api(text: str, api: str) -> None:
    assert parse_query(text).to_api() == api


@pytest.mark.parametrize(
    "text",
    [
        'ti:"medical imaging" AND (cat:cs.CV OR cat:eess.IV) ANDNOT au:"de la cruz"',
        "a b OR c ANDNOT d e",
        "ti:(diffusion OR flow) abs:protein-folding",
        "c AND (a ANDNOT b)",
    ],
)
def test_to_api_reparses_to_the_same_tree(text: str) -> None:
    query = parse_query(text)
    assert parse_query(query.to_api(), max_length=None).root == query.root


# -- canonical form ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variants", "canonical"),
    [
        (["ti:x   cat:cs.cv", "TI:X cat:CS.CV", "(ti:x) (cat:cs.CV)"], "ti:x cat:cs.CV"),
        (["a AND b", "a  AND  b", "all:a AND (b)"], "a AND b"),
        (["(a OR b) OR c", "a OR (b OR c)"], "a OR b OR c"),
        (['ti:"Medical   Imaging"', 'Ti:"medical imaging"'], 'ti:"medical imaging"'),
        (["ti:(a b)", "ti:a ti:b"], "ti:a ti:b"),
    ],
)
def test_canonical_merges_cosmetic_differences(variants: list[str], canonical: str) -> None:
    assert {parse_query(text).canonical() for text in variants} == {canonical}


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("(a AND b) OR c", "a AND b OR c"),
        ("a AND (b OR c)", "a AND (b OR c)"),
        ("c AND (a ANDNOT b)", "c AND (a ANDNOT b)"),
        ("(a ANDNOT b) AND c", "a ANDNOT b AND c"),
        ("a ANDNOT (b AND c)", "a ANDNOT (b AND c)"),
        ("self-supervised Learning", "self-supervised learning"),
        ("all:ti:x", "all:ti:x"),
        ('"ti:x"', '"ti:x"'),
    ],
)
def test_canonical_keeps_only_needed_parentheses(text: str, canonical: str) -> None:
    assert parse_query(text).canonical() == canonical
    assert parse_query(canonical).root == parse_query(text).root


# -- category scope ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("cat:cs.CV", {"cs"}),
        ("cat:eess.IV OR cat:cs.CV", {"eess", "cs"}),
        ("ti:x AND cat:cs.CV", {"cs"}),
        ("ti:x OR cat:cs.CV", None),
        ("ti:x", None),
        ("cat:astro-ph.GA", {"physics:astro-ph"}),
        ("cat:hep-th OR cat:math-ph", {"physics:hep-th", "physics:math-ph"}),
        ("cat:physics.optics", {"physics:physics"}),
        ("cat:q-bio.NC", {"q-bio"}),
        ("cat:math.*", {"math"}),
        ("ti:x ANDNOT cat:cs.CV", None),
        ("cat:cs.LG ANDNOT cat:stat.ML", {"cs"}),
        ("(cat:cs.CV OR cat:eess.IV) AND cat:cs.LG", {"cs"}),
        ("(cat:cs.CV OR ti:x) AND (cat:math.OC OR cat:stat.ML)", {"math", "stat"}),
    ],
)
def test_category_scope(text: str, scope: set[str] | None) -> None:
    expected = None if scope is None else frozenset(scope)
    assert parse_query(text).category_scope() == expected


def test_leaves_lists_terms_and_categories_in_order() -> None:
    query = parse_query("ti:a (cat:cs.CV OR b) ANDNOT au:c")
    assert list(query.leaves()) == [t("a", "ti"), Category("cs.CV"), t("b"), t("c", "au")]


# -- the taxonomy --------------------------------------------------------------------


def test_taxonomy_is_complete() -> None:
    assert len(categories.ALL_CATEGORIES) == 155
    assert len(categories.categories_in_archive("cs")) == 40
    assert len(categories.categories_in_archive("math")) == 32
    assert len(categories.categories_in_archive("physics")) == 22
    for code in ("math.MP", "gr-qc", "nucl-th", "q-fin.TR", "econ.GN", "eess.SY", "stat.ML"):
        assert categories.is_known_category(code)


def test_category_lookups_ignore_case() -> None:
    assert categories.category_name("CS.cv") == "Computer Vision and Pattern Recognition"
    assert categories.category_name("hep-th") == "High Energy Physics - Theory"
    assert categories.category_name("cs.XX") is None
    assert categories.is_known_category("Q-BIO.nc")
    assert not categories.is_known_category("cs")


@pytest.mark.parametrize(
    ("code", "archive", "oai_set"),
    [
        ("cs.CV", "cs", "cs"),
        ("hep-th", "hep-th", "physics:hep-th"),
        ("math-ph", "math-ph", "physics:math-ph"),
        ("math.MP", "math", "math"),
        ("astro-ph.GA", "astro-ph", "physics:astro-ph"),
        ("cond-mat.str-el", "cond-mat", "physics:cond-mat"),
        ("physics.optics", "physics", "physics:physics"),
        ("nlin.CD", "nlin", "physics:nlin"),
        ("q-bio.NC", "q-bio", "q-bio"),
        ("q-fin.ST", "q-fin", "q-fin"),
        ("econ.EM", "econ", "econ"),
        ("eess.IV", "eess", "eess"),
        ("stat.ML", "stat", "stat"),
        ("quant-ph", "quant-ph", "physics:quant-ph"),
    ],
)
def test_archive_and_oai_set(code: str, archive: str, oai_set: str) -> None:
    assert categories.archive_of(code) == archive
    assert categories.oai_set_for(code) == oai_set
    assert categories.oai_set_for(archive) == oai_set


def test_categories_in_archive() -> None:
    assert categories.categories_in_archive("hep-th") == ["hep-th"]
    assert categories.categories_in_archive("astro-ph")[:2] == ["astro-ph.CO", "astro-ph.EP"]
    assert categories.categories_in_archive("nope") == []


def test_suggestions() -> None:
    assert categories.suggest_categories("cs")[0] == "cs.*"
    assert "cs.CV" in categories.suggest_categories("cs.CVV")
    assert categories.suggest_categories("cv", n=5)[:2] == ["cs.CV", "math.CV"]
    assert "hep-th" in categories.suggest_categories("hep-the")
    assert len(categories.suggest_categories("math.C", n=2)) == 2
