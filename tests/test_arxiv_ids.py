"""Recognising arXiv ids in everything users paste."""

from __future__ import annotations

import pytest

from bot.arxiv_ids import parse_arxiv_id, strip_version
from bot.errors import PaperIdError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2506.11674", ("2506.11674", None)),
        ("2506.11674v2", ("2506.11674", 2)),
        ("2506.11674V2", ("2506.11674", 2)),
        ("1412.9999", ("1412.9999", None)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("cond-mat/0102536v1", ("cond-mat/0102536", 1)),
        ("math.GT/0309136v2", ("math/0309136", 2)),
        ("arXiv:2506.11674", ("2506.11674", None)),
        ("arxiv: 2506.11674v1", ("2506.11674", 1)),
        ("ARXIV:hep-th/9901001", ("hep-th/9901001", None)),
        ("https://arxiv.org/abs/2506.11674v2", ("2506.11674", 2)),
        ("https://arxiv.org/abs/2506.11674/", ("2506.11674", None)),
        ("https://arxiv.org/abs/2506.11674?context=cs", ("2506.11674", None)),
        ("https://arxiv.org/abs/2506.11674#S2", ("2506.11674", None)),
        ("https://arxiv.org/pdf/2506.11674", ("2506.11674", None)),
        ("https://arxiv.org/pdf/2506.11674v1.pdf", ("2506.11674", 1)),
        ("https://arxiv.org/html/2506.11674v1", ("2506.11674", 1)),
        ("https://arxiv.org/abs/hep-th/9901001", ("hep-th/9901001", None)),
        ("https://export.arxiv.org/abs/2506.11674", ("2506.11674", None)),
        ("https://www.arxiv.org/abs/2506.11674", ("2506.11674", None)),
        ("http://arxiv.org/abs/2506.11674", ("2506.11674", None)),
        ("arxiv.org/abs/2506.11674", ("2506.11674", None)),
        ("HTTPS://ARXIV.ORG/ABS/2506.11674", ("2506.11674", None)),
        ("https://huggingface.co/papers/2506.11674", ("2506.11674", None)),
        ("https://alphaxiv.org/abs/2506.11674v2", ("2506.11674", 2)),
        ("https://www.alphaxiv.org/abs/2506.11674", ("2506.11674", None)),
        ("  2506.11674\n", ("2506.11674", None)),
        ("<https://arxiv.org/abs/2506.11674>", ("2506.11674", None)),
        ("<https://arxiv.org/abs/2506.11674|arxiv.org/abs/2506.11674>", ("2506.11674", None)),
    ],
)
def test_accepted_forms(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "2506",
        "2506.116",
        "2506.116745",
        "2513.11674",  # month 13
        "0612.0001",  # before new-style ids existed
        "1501.0001",  # four digits after 2015
        "1412.00001",  # five digits before 2015
        "2506.11674v0",
        "2506.11674v",
        "hep-th/990100",
        "https://example.com/abs/2506.11674",
        "https://arxiv.org/list/cs.CV/new",
        "https://arxiv.org/abs/",
        "https://github.com/papers/2506.11674",
        "doi:10.1000/xyz",
        "2506.11674 2506.11675",
    ],
)
def test_rejected_forms(text: str) -> None:
    with pytest.raises(PaperIdError, match=r"2506\.11674"):
        parse_arxiv_id(text)


def test_error_message_explains_the_accepted_forms() -> None:
    with pytest.raises(PaperIdError) as caught:
        parse_arxiv_id("nonsense")
    message = str(caught.value)
    assert message.startswith("'nonsense' is not an arXiv paper id.")
    assert "hep-th/9901001" in message
    assert "https://arxiv.org/abs/2506.11674" in message


def test_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(PaperIdError) as caught:
        parse_arxiv_id("x" * 500)
    assert len(str(caught.value)) < 300


def test_strip_version() -> None:
    assert strip_version("2506.11674v3") == ("2506.11674", 3)
    assert strip_version("hep-th/9901001v1") == ("hep-th/9901001", 1)
    with pytest.raises(PaperIdError, match="no version"):
        strip_version("2506.11674")
