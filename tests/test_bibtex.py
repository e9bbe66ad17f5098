"""BibTeX as arXiv formats it: key, fields, LaTeX kept valid, accents round-tripping
through a real BibTeX parser; ``/arxiv bib`` from the store, or arXiv."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from bibtexparser.entrypoint import parse_string
from bibtexparser.library import Library
from bibtexparser.middlewares import LatexDecodingMiddleware

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.export.bibtex import balance_braces, bibtex_entry, bibtex_key, latex_text
from bot.models import ChannelRef, Paper, Tone
from tests.fakes.corpus import paper_by_id

HERE = ChannelRef(platform="console", workspace="local", channel="lab", name="lab")
PAPER = Paper(
    arxiv_id="2506.11674",
    version=2,
    title="Boundary-Aware Fréchet Distances for $\\mathcal{O}(n^2)$ Segmentation",
    authors=("Yann LeCun", "Jörg Müller", "Maurice Fréchet"),
    abstract="",
    categories=("cs.CV", "cs.LG"),
    submitted=datetime(2024, 12, 30, tzinfo=UTC),
    updated=datetime(2025, 6, 13, tzinfo=UTC),
)


def parse(text: str) -> Library:
    library = parse_string(text)
    assert not library.failed_blocks
    return library


def test_entry_is_arxivs_misc_format() -> None:
    entry = bibtex_entry(PAPER)
    assert entry.splitlines() == [
        "@misc{lecun2025boundary,",
        "      title={Boundary-Aware Fréchet Distances for $\\mathcal{O}(n^2)$ Segmentation},",
        "      author={Yann LeCun and Jörg Müller and Maurice Fréchet},",
        "      year={2025},",
        "      eprint={2506.11674},",
        "      archivePrefix={arXiv},",
        "      primaryClass={cs.CV},",
        "      url={https://arxiv.org/abs/2506.11674},",
        "}",
    ]
    (parsed,) = parse(entry).entries
    assert parsed.entry_type == "misc" and parsed.key == "lecun2025boundary"
    assert parsed["author"] == "Yann LeCun and Jörg Müller and Maurice Fréchet"


def test_journal_and_doi_when_known() -> None:
    paper = dataclasses.replace(PAPER, journal_ref="Phys. Rev. D 1 & 2 (2025)", doi="10.1/a_b")
    (parsed,) = parse(bibtex_entry(paper)).entries
    assert parsed["journal"] == "Phys. Rev. D 1 \\& 2 (2025)"
    assert parsed["doi"] == "10.1/a_b"


@pytest.mark.parametrize(
    ("author", "title", "key"),
    [
        ("Jörg Müller", "On the Fréchet mean", "muller2025frechet"),
        ('M\\"uller, J.', "A $\\beta$-VAE study", "muller2025vae"),
        ("Ada Lovelace", "The {\\em Analytical} Engine", "lovelace2025analytical"),
        ("", "$x$", "arxiv2025"),
    ],
)
def test_keys_like_arxivs(author: str, title: str, key: str) -> None:
    paper = dataclasses.replace(PAPER, authors=(author,) if author else (), title=title)
    assert bibtex_key(paper) == key


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("R&D at 50% of #1_x", "R\\&D at 50\\% of \\#1\\_x"),
        ("Cost $O(n_1)$ & more", "Cost $O(n_1)$ \\& more"),
        ("Price in $ and {unbalanced", "Price in \\$ and unbalanced"),
        ("Closing } first {ok}", "Closing first {ok}"),
        ("Already \\& escaped", "Already \\& escaped"),
        ("Line\nbreak", "Line break"),
        ("x^2 outside", "x\\^{}2 outside"),
    ],
)
def test_latex_stays_valid(title: str, expected: str) -> None:
    assert latex_text(title) == expected
    assert balance_braces(expected) == expected
    paper = dataclasses.replace(PAPER, title=title)
    (parsed,) = parse(bibtex_entry(paper)).entries
    assert parsed["title"] == expected


def test_accents_round_trip_as_unicode_and_from_tex() -> None:
    tex = dataclasses.replace(PAPER, authors=('J. M{\\"u}ller', "M. Fr\\'echet"))
    for paper in (PAPER, tex):
        library = parse_string(bibtex_entry(paper), append_middleware=[LatexDecodingMiddleware()])
        names = library.entries[0]["author"]
        assert "Müller" in names and "Fréchet" in names


async def test_bib_command_from_the_store_then_arxiv(app: BotApp) -> None:
    await app.store.upsert_papers([PAPER])
    stored = await app.execute(
        "/arxiv bib https://arxiv.org/abs/2506.11674v2", CommandContext(HERE)
    )
    assert stored.title == "BibTeX for arXiv:2506.11674v2"
    assert stored.code[0] == "@misc{lecun2025boundary,"
    fetched = await app.execute("/arxiv bib 2506.10231", CommandContext(HERE))
    expected = paper_by_id("2506.10231")
    assert fetched.tone is not Tone.ERROR
    (parsed,) = parse("\n".join(fetched.code)).entries
    assert parsed["eprint"] == expected.arxiv_id
    bad = await app.execute("/arxiv bib", CommandContext(HERE))
    assert bad.tone is Tone.ERROR and "e.g. /arxiv bib 2506.11674" in bad.title
