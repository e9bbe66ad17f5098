"""Local matching with arXiv's semantics, on realistic papers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matcher import FieldIndex, Matcher, PaperText, compile_matcher
from bot.models import Paper
from bot.query import And, AndNot, Category, Node, Or, Query, Term, parse_query
from bot.textproc import fold, stem, stems, words

_WHEN = datetime(2025, 6, 13, 17, 59, tzinfo=UTC)

SEGMENTATION = Paper(
    arxiv_id="2506.11674",
    version=1,
    title="Boundary-Aware Diffusion Models for Medical Image Segmentation",
    authors=("Lena Müller", "Rahul Iyer", "Geoffrey E. Hinton", "Sofia Del Maestro"),
    abstract=(
        "Accurate delineation of organ boundaries remains a bottleneck for medical imaging "
        "pipelines. We propose a boundary-aware denoising diffusion model that conditions "
        "each reverse step on a signed distance map, and a self-supervised pretraining "
        "objective on unlabeled CT volumes. On three public benchmarks our method improves "
        "the Dice score by 2.1 points over nnU-Net."
    ),
    categories=("eess.IV", "cs.CV", "cs.LG"),
    submitted=_WHEN,
    updated=_WHEN,
    comment="12 pages, 5 figures; accepted at MICCAI 2025",
    journal_ref=None,
)

STRINGS = Paper(
    arxiv_id="2506.10001",
    version=2,
    title="Holographic Entanglement Entropy in Higher-Derivative Gravity",
    authors=("Juan Pérez-García", "Łukasz Nowak", "M. Shapiro"),
    abstract=(
        "We compute holographic entanglement entropy for theories dual to Gauss-Bonnet "
        "gravity and show that the Ryu-Takayanagi prescription receives universal "
        "corrections. Our results apply to strongly coupled conformal field theories."
    ),
    categories=("hep-th", "gr-qc"),
    submitted=_WHEN,
    updated=_WHEN,
    comment=None,
    journal_ref="Phys. Rev. D 111, 086012 (2025)",
)

GALAXIES = Paper(
    arxiv_id="2506.10450",
    version=1,
    title="A JWST Census of Quenched Galaxies at z > 3",
    authors=("Amara Okafor", "Hiroshi Tanaka"),
    abstract=(
        "Using deep NIRSpec spectroscopy we identify forty quiescent galaxies at redshift "
        "above three. Their star formation histories imply rapid quenching within a few "
        "hundred million years. We discuss implications for feedback models."
    ),
    categories=("astro-ph.GA", "astro-ph.CO"),
    submitted=_WHEN,
    updated=_WHEN,
)

LANGUAGE = Paper(
    arxiv_id="2506.12345",
    version=1,
    title="Self-Supervised Speech Representations Improve Low-Resource Translation",
    authors=("Yann LeCun", "Priya Natarajan"),
    abstract=(
        "Large language models struggle with languages that lack parallel corpora. We show "
        "that self supervised speech encoders transfer to speech translation, and release "
        "a benchmark of twelve low-resource languages."
    ),
    categories=("cs.CL", "eess.AS"),
    submitted=_WHEN,
    updated=_WHEN,
)

PAPERS = {
    paper.arxiv_id: PaperText.from_paper(paper)
    for paper in (SEGMENTATION, STRINGS, GALAXIES, LANGUAGE)
}


def matching(query: str) -> set[str]:
    """The ids of the papers ``query`` matches, checking on the way that an index
    prefiltering on anchors would not have dropped any of them."""
    matcher = compile_matcher(parse_query(query))
    found = {arxiv_id for arxiv_id, text in PAPERS.items() if matcher.matches(text)}
    for arxiv_id in found:
        assert matcher.anchors is None or matcher.anchors & PAPERS[arxiv_id].anchors
    return found


# -- text processing -----------------------------------------------------------------


def test_fold_lowercases_and_strips_accents() -> None:
    assert fold("Müller") == "muller"
    assert fold("Pérez-García") == "perez-garcia"
    assert fold("Łukasz Søren") == "lukasz soren"
    assert fold("ASCII Only") == "ascii only"


def test_words_split_on_anything_not_a_letter_or_digit() -> None:
    assert words("Self-Supervised (SSL) pre_training, v2!") == [
        "self",
        "supervised",
        "ssl",
        "pre",
        "training",
        "v2",
    ]
    assert words("--- %% ---") == []


def test_stems_use_porter() -> None:
    assert stems("medical imaging networks") == ["medic", "imag", "network"]
    assert stem("image") == stem("imaging")
    assert stem("s") == "s"  # Porter would erase it; keep the word instead


# -- text fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('ti:"medical imaging"', {"2506.11674"}),  # title says "Medical Image Segmentation"
        ('abs:"medical images"', {"2506.11674"}),
        ("ti:segment", {"2506.11674"}),
        ("ti:SEGMENTATIONS", {"2506.11674"}),
        ('ti:"image medical"', set()),  # a phrase keeps its order
        ('ti:"diffusion segmentation"', set()),  # and its words adjacent
        ("ti:galaxy", {"2506.10450"}),  # stemmed: "Galaxies"
        ("quenching", {"2506.10450"}),
        ("abs:self-supervised", {"2506.11674", "2506.12345"}),  # hyphen or space
        ('ti:"self supervised"', {"2506.12345"}),
        ("ti:supervised ti:translation", {"2506.12345"}),
        ("co:miccai", {"2506.11674"}),
        ("co:figures", {"2506.11674"}),
        ('jr:"Phys. Rev. D"', {"2506.10001"}),
        ("jr:physical", set()),
        ("all:miccai", {"2506.11674"}),
        ("all:maestro", {"2506.11674"}),  # authors are part of all
        ("all:cs.CV", {"2506.11674"}),  # and so are category codes
        ("dice", {"2506.11674"}),
        ("gauss-bonnet", {"2506.10001"}),
        ("ryu takayanagi", {"2506.10001"}),
        ("ti:entanglement abs:corrections", {"2506.10001"}),
    ],
)
def test_text_terms(query: str, expected: set[str]) -> None:
    assert matching(query) == expected


def test_phrase_does_not_run_across_fields() -> None:
    # The title ends in "Segmentation" and the abstract starts with "Accurate".
    assert matching('"segmentation accurate"') == set()
    assert matching("segmentation accurate") == {"2506.11674"}


def test_field_restriction_is_respected() -> None:
    assert matching("abs:boundary") == {"2506.11674"}
    assert matching("ti:bottleneck") == set()
    assert matching("abs:bottleneck") == {"2506.11674"}


# -- authors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("au:hinton", {"2506.11674"}),
        ('au:"Geoffrey Hinton"', {"2506.11674"}),  # the middle initial may be skipped
        ('au:"G Hinton"', {"2506.11674"}),  # an initial matches a first name
        ("au:G_Hinton", {"2506.11674"}),
        ('au:"Hinton Geoffrey"', set()),  # order matters
        ('au:"Rahul Hinton"', set()),  # within ONE author
        ("au:Muller", {"2506.11674"}),
        ("au:müller", {"2506.11674"}),
        ("au:del_maestro", {"2506.11674"}),
        ('au:"perez garcia"', {"2506.10001"}),
        ("au:lukasz", {"2506.10001"}),
        ("au:Shapiro", {"2506.10001"}),
        ('au:"Mark Shapiro"', set()),  # only a one-letter query word matches an initial
        ("au:lecun", {"2506.12345"}),
        ("au:hint", set()),  # names are not prefixes
        ("au:natarajans", set()),  # and are not stemmed
        ("au:image", set()),
    ],
)
def test_author_terms(query: str, expected: set[str]) -> None:
    assert matching(query) == expected


# -- categories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cat:eess.IV", {"2506.11674"}),  # primary
        ("cat:cs.CV", {"2506.11674"}),  # cross-list
        ("cat:cs.*", {"2506.11674", "2506.12345"}),
        ("cat:eess.*", {"2506.11674", "2506.12345"}),
        ("cat:astro-ph.*", {"2506.10450"}),
        ("cat:hep-th", {"2506.10001"}),
        ("cat:hep-ph", set()),
        ("cat:gr-qc", {"2506.10001"}),
        ("cat:math.*", set()),
    ],
)
def test_category_terms(query: str, expected: set[str]) -> None:
    assert matching(query) == expected


def test_paper_categories_in_odd_case_still_match() -> None:
    paper = PaperText.from_paper(
        Paper(
            arxiv_id="2506.00001",
            version=1,
            title="t",
            authors=(),
            abstract="a",
            categories=("CS.lg",),
            submitted=_WHEN,
            updated=_WHEN,
        )
    )
    assert compile_matcher(parse_query("cat:cs.LG")).matches(paper)
    assert compile_matcher(parse_query("cat:cs.*")).matches(paper)


# -- boolean structure ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("diffusion cat:cs.CV", {"2506.11674"}),
        ("diffusion AND cat:cs.CL", set()),
        ("galaxies OR gravity", {"2506.10450", "2506.10001"}),
        ("cat:cs.* ANDNOT cat:eess.IV", {"2506.12345"}),
        ("self-supervised ANDNOT ti:segmentation", {"2506.12345"}),
        ("(ti:galaxy OR ti:entanglement) ANDNOT cat:gr-qc", {"2506.10450"}),
        ("ti:galaxy OR ti:entanglement ANDNOT cat:gr-qc", {"2506.10450"}),
        ("ti:(speech OR holographic) au:lecun", {"2506.12345"}),
        ('ti:"medical imaging" AND (cat:cs.CV OR cat:eess.IV)', {"2506.11674"}),
    ],
)
def test_boolean_queries(query: str, expected: set[str]) -> None:
    assert matching(query) == expected


def test_field_index_phrase_search() -> None:
    index = FieldIndex([["a", "b", "c"], ["d", "e"]])
    assert "a" in index
    assert "z" not in index
    assert index.has_phrase(("b", "c"))
    assert not index.has_phrase(("c", "d"))  # spans two segments
    assert index.has_phrase(("d", "e"))


def test_paper_text_is_reusable_across_matchers() -> None:
    text = PAPERS["2506.11674"]
    matchers = [compile_matcher(parse_query(q)) for q in ("ti:diffusion", "cat:cs.CV", "au:iyer")]
    assert all(matcher.matches(text) for matcher in matchers)
    assert all(matcher.matches(text) for matcher in matchers)  # nothing consumed


# -- anchors for an index ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "anchors"),
    [
        ('ti:"medical imaging"', {"ti:medic"}),
        ('au:"G Hinton"', {"au:hinton"}),
        ('au:"G E"', None),  # initials alone cannot be required
        ("cat:cs.CV OR cat:eess.*", {"cat:cs.CV", "cat:eess.*"}),
        ("ti:galaxy OR au:okafor", {"ti:galaxi", "au:okafor"}),
        ('ti:x OR au:"A B"', None),
        ("cat:hep-th ti:entanglement", {"ti:entangl"}),  # the more selective anchor
        ("cat:cs.* abs:diffusion", {"abs:diffus"}),
        ("(abs:graph OR abs:kernel OR abs:tree) AND cat:cs.CV", {"cat:cs.CV"}),
        ("diffusion ANDNOT cat:cs.CV", {"all:diffus"}),
    ],
)
def test_anchors(query: str, anchors: set[str] | None) -> None:
    expected = None if anchors is None else frozenset(anchors)
    assert compile_matcher(parse_query(query)).anchors == expected


def test_anchors_let_an_index_skip_papers_without_changing_results() -> None:
    queries = ["ti:galaxy", "cat:hep-th", 'au:"G Hinton" OR cat:cs.CL', "diffusion", 'au:"A B"']
    matchers = [compile_matcher(parse_query(query)) for query in queries]
    by_anchor: dict[str, list[Matcher]] = {}
    everywhere = [matcher for matcher in matchers if matcher.anchors is None]
    for matcher in matchers:
        for anchor in matcher.anchors or ():
            by_anchor.setdefault(anchor, []).append(matcher)
    for text in PAPERS.values():
        candidates = {id(m): m for a in text.anchors for m in by_anchor.get(a, ())}
        candidates.update((id(m), m) for m in everywhere)
        assert len(candidates) < len(matchers)  # the index does skip work
        indexed = {m.query.source for m in candidates.values() if m.matches(text)}
        brute = {m.query.source for m in matchers if m.matches(text)}
        assert indexed == brute


VOCABULARY = sorted(
    {word for paper in PAPERS.values() for word in paper.fields["all"].tokens if word}
)
AUTHOR_WORDS = sorted(
    {word for paper in PAPERS.values() for name in paper.authors for word in name}
)
leaves = st.one_of(
    st.builds(
        Term,
        st.sampled_from(["ti", "abs", "co", "jr", "all"]),
        st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=2).map(tuple),
    ),
    st.builds(
        Term,
        st.just("au"),
        st.lists(st.sampled_from(AUTHOR_WORDS), min_size=1, max_size=2).map(tuple),
    ),
    st.builds(Category, st.sampled_from(["cs.CV", "cs.*", "hep-th", "astro-ph.*", "eess.AS"])),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda c: And(tuple(c))),
        st.lists(inner, min_size=2, max_size=3).map(lambda c: Or(tuple(c))),
        st.builds(AndNot, inner, inner),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_anchors_never_exclude_a_matching_paper(root: Node) -> None:
    matcher = compile_matcher(Query("", root))
    for text in PAPERS.values():
        if matcher.matches(text):
            assert matcher.anchors is None or matcher.anchors & text.anchors
