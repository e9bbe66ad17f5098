"""arXiv DOIs name papers everywhere a paper reference is taken; other DOIs and pasted
titles get specific answers."""

from __future__ import annotations

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.arxiv_ids import parse_arxiv_id, title_search_hint
from bot.commands.grammar import (
    BibCommand,
    PaperCommand,
    SearchCommand,
    SimilarCommand,
    parse_command,
)
from bot.errors import CommandError, PaperIdError
from bot.models import ChannelRef, Tone
from bot.query import parse_query
from tests.fakes.arxiv_api import FakeArxiv

HERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("10.48550/ARXIV.2504.02408", ("2504.02408", None)),
        ("10.48550/arxiv.2504.02408", ("2504.02408", None)),
        ("doi:10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("DOI:10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("doi: 10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("10.48550/arXiv.2504.02408v2", ("2504.02408", 2)),
        ("https://doi.org/10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("http://doi.org/10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("HTTPS://DOI.ORG/10.48550/ARXIV.2504.02408", ("2504.02408", None)),
        ("https://dx.doi.org/10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("https://www.doi.org/10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("doi.org/10.48550/arXiv.2504.02408", ("2504.02408", None)),
        ("https://doi.org/10.48550%2FarXiv.2504.02408", ("2504.02408", None)),
        ("<https://doi.org/10.48550/arXiv.2504.02408>", ("2504.02408", None)),
        ("<https://doi.org/10.48550/arXiv.2504.02408|doi>", ("2504.02408", None)),
        ("10.48550/arXiv.hep-th/9901001", ("hep-th/9901001", None)),
        ("https://doi.org/10.48550/arXiv.hep-th/9901001", ("hep-th/9901001", None)),
        ("doi:10.48550/arXiv.math.GT/0309136", ("math/0309136", None)),
        ("10.48550/arXiv.1412.9999", ("1412.9999", None)),
    ],
)
def test_arxiv_dois_name_the_paper(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "10.1038/nature14539",
        "doi:10.1145/3292500.3330701",
        "https://doi.org/10.1016/j.media.2023.102802",
        "https://dx.doi.org/10.1103/PhysRevLett.116.061102",
    ],
)
def test_other_dois_are_named_as_not_arxivs(text: str) -> None:
    with pytest.raises(PaperIdError) as raised:
        parse_arxiv_id(text)
    message = str(raised.value)
    assert "not an arXiv DOI" in message
    assert "only arXiv DOIs (10.48550" in message


@pytest.mark.parametrize(
    "text",
    [
        "10.48550/arXiv.2504.0240",  # too few digits for 2015 on
        "10.48550/arXiv.1913.00001",  # month 13
        "10.48550/zenodo.1234",  # arXiv's prefix, not an arXiv paper
        "10.48550/arXiv.",
        "doi:",
        "https://doi.org/",
        "https://doi.org/10.48550",
    ],
)
def test_broken_arxiv_dois_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(PaperIdError) as raised:
        parse_arxiv_id(text)
    assert "10.48550/arXiv.2506.11674" in str(raised.value)  # the accepted forms


@pytest.mark.parametrize("name", ["paper", "similar", "bib"])
def test_commands_taking_a_paper_take_a_doi(name: str) -> None:
    command = parse_command(f"/arxiv {name} https://doi.org/10.48550/arXiv.2506.11674")
    assert isinstance(command, PaperCommand | SimilarCommand | BibCommand)
    assert parse_arxiv_id(command.reference) == ("2506.11674", None)


@pytest.mark.parametrize("name", ["paper", "similar", "bib"])
@pytest.mark.parametrize(
    ("typed", "phrase"),
    [
        ("Attention Is All You Need", "Attention Is All You Need"),
        ('"Attention Is All You Need"', "Attention Is All You Need"),
        ("“Attention Is All You Need”", "Attention Is All You Need"),
        ('The "Lottery Ticket" Hypothesis', "The Lottery Ticket Hypothesis"),
        ("Deep learning: AND OR (ANDNOT) ti:x", "Deep learning: AND OR (ANDNOT) ti:x"),
    ],
)
def test_a_pasted_title_gets_a_title_search_to_try(name: str, typed: str, phrase: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(f"/arxiv {name} {typed}")
    message = str(raised.value)
    prefix = "That is not an arXiv id. To find a paper by its title try: /arxiv search "
    assert message == f'{prefix}ti:"{phrase}"'
    suggested = message.removeprefix("That is not an arXiv id. To find a paper by its title try: ")
    assert isinstance(parse_command(suggested), SearchCommand)  # a valid command
    parse_query(f'ti:"{phrase}"')


def test_a_long_title_is_cut_to_a_valid_query() -> None:
    hint = title_search_hint(" ".join(["word"] * 200))
    assert hint is not None
    parse_command(hint.split("try: ", 1)[1])


@pytest.mark.parametrize("text", ["", "2506.11674", "2506.11674 v2", "arXiv: 2506.11674", '" "'])
def test_no_title_hint_for_ids_or_nothing(text: str) -> None:
    assert title_search_hint(text) is None


def test_an_id_with_a_stray_word_still_asks_for_one_id() -> None:
    with pytest.raises(CommandError, match="Give one arXiv id or URL"):
        parse_command("/arxiv paper 2506.11674 please")


async def test_paper_by_doi_and_the_answers_to_bad_ones(app: BotApp, fake_arxiv: FakeArxiv) -> None:
    found = await app.execute("/arxiv paper doi:10.48550/arXiv.2506.11674", HERE)
    assert found.tone is not Tone.ERROR
    assert found.posts[0].paper.arxiv_id == "2506.11674"
    other = await app.execute("/arxiv paper https://doi.org/10.1038/nature14539", HERE)
    assert other.tone is Tone.ERROR
    assert "only arXiv DOIs (10.48550" in other.title
    title = await app.execute("/arxiv similar Segment Anything in Medical Images", HERE)
    assert title.tone is Tone.ERROR
    assert 'search ti:"Segment Anything in Medical Images"' in title.title
    assert fake_arxiv.request_count == 1  # only the DOI that names a paper was looked up
