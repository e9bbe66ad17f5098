"""Readable TeX (bot/tex.py): real arXiv titles, abstracts and author names, malformed
TeX, speed, and where cards, lists and snippets show the converted text."""

# The expected strings are full of look-alike characters (superscripts, Greek, primes).
# ruff: noqa: RUF001

from __future__ import annotations

import json
import re
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import tex
from bot.localsearch.snippets import snippet
from bot.models import Reply
from bot.render import (
    author_line,
    make_post,
    paper_summary,
    post_text,
    reply_text,
    shown_abstract,
    shown_title,
    snippet_runs,
)
from bot.tex import readable
from bot.textproc import stem
from tests.fakes.corpus import make_paper
from tests.hostile import HOSTILE_LINES

FIXTURES = json.loads((Path(__file__).parent / "data" / "abstracts.json").read_text())["papers"]

CASES = [
    # Accents of every kind, in the spellings arXiv metadata uses.
    (r"Fr\'echet", "Fréchet"),
    (r"Schr\"odinger", "Schrödinger"),
    (r"\"o \'e \`a \^o \~n \c{c} \v{s} {\o} \ss{}", "ö é à ô ñ ç š ø ß"),
    (r"M{\"u}ller and G\"{o}del", "Müller and Gödel"),
    (r"Erd\H{o}s", "Erdős"),
    (r"Koll\'ar's injectivity theorem", "Kollár's injectivity theorem"),
    (r"P\v{r}\'{\i}hoda", "Příhoda"),
    (r"\L{}ukasz {\AA}berg Stra\ss{}e", "Łukasz Åberg Straße"),
    (r"\AA ngstr\"om", "Ångström"),
    (r"Ca\~{n}ete {Garc\'ia}", "Cañete García"),
    # Math: Greek, alphabets, scripts, operators.
    (r"$\mathcal{O}(n^2)$", "𝒪(n²)"),
    (r"$\alpha$-stable processes", "α-stable processes"),
    (r"$x^2$", "x²"),
    (r"$\mathbb{R}^n$", "ℝⁿ"),
    (r"$\mathbb{R}^{d\times d}$", "ℝ^{d× d}"),
    (r"$O(\log n)$", "O(log n)"),
    (r"$\tilde{O}(\sqrt{T})$ regret", "Õ(√T) regret"),
    (r"$\mathbf{x}$ and $\ell_2$ and $\ell_{\infty}$", "𝐱 and ℓ₂ and ℓ_∞"),
    (r"$10^{-3}$ and $5\times10^{3}$", "10⁻³ and 5×10³"),
    (r"$x_{ij}$, $x_{\max}$, $x_\mathrm{init}$", "xᵢⱼ, xₘₐₓ, x_{init}"),
    (r"$A^\top$, $x^{\prime}$, $90^\circ$", "Aᵀ, x′, 90°"),
    (r"$e^{i\pi}$", "e^{iπ}"),
    (r"H$_2$CO absorption", "H₂CO absorption"),
    (r"1T-TiSe$_{2}$", "1T-TiSe₂"),
    (r"$B\to\pi\pi$ decays", "B→ππ decays"),
    (r"$\eta^{(\prime)}$", "η⁽′⁾"),
    (r"$\Omega_b - \Omega_{DM}$", "Ω_b - Ω_{DM}"),
    (r"$H^{p,q}(R^n)$", "H^{p,q}(Rⁿ)"),
    (r"type $E_n$", "type Eₙ"),
    (r"$\frac{1}{2}$", "1/2"),
    # Text macros, links and escapes.
    (r"\emph{Deep} \textit{learning} \textbf{now}", "Deep learning now"),
    (r"Code at \url{https://github.com/a/b_c}.", "Code at https://github.com/a/b_c."),
    (r"See \href{https://example.org/x_y}{our site}", "See our site (https://example.org/x_y)"),
    (r"costs \$5 \& more", "costs $5 & more"),
    (r"improves by 5\% over", "improves by 5% over"),
    (r"A Note About the {Ki(z)} Functions", "A Note About the Ki(z) Functions"),
    (r"``quoted'' words", "“quoted” words"),
    (r"the \LaTeX\ way", "the LaTeX way"),
    # What authors type as plain text stays as typed.
    (r"Temperley--Lieb algebras, 2003 -- 2004 --- or so", None),
    (r"$\alpha$ gains 5% on https://x.org/a_b%20c~d", "α gains 5% on https://x.org/a_b%20c~d"),
    (r"the host of the z~2.56 Cloverleaf $\gamma$", "the host of the z~2.56 Cloverleaf γ"),
    (r"R&D at $\beta$ #1", "R&D at β #1"),
    (r"snake_case and x^2 in text \emph{ok}", "snake_case and x^2 in text ok"),
    (r"costs $5 and $10", None),
    # Malformed: sensible text, falling back to the input.
    (r"unbalanced $x^2", None),
    (r"$a$ and $b", None),
    (r"unbalanced {brace", "unbalanced brace"),
    (r"Elativistic treatment in}$D$ - Dimensions", "Elativistic treatment inD - Dimensions"),
    ("$", None),
    ("{", None),
    ("\\", None),
    ("}", None),
    ("$$", None),
    (r"\unknownmacro{x} over $\Q(\sqrt{5})$", r"\unknownmacrox over \Q(√5)"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_readable(raw: str, expected: str | None) -> None:
    assert readable(raw) == (raw if expected is None else expected)


@pytest.mark.parametrize(
    "title",
    [
        "Boundary-Aware Diffusion Models for Medical Image Segmentation",
        "Attention Is All You Need",
        "GPT-4 Technical Report: 100% of what's fit to print & more",
        "<!channel> @everyone *bold* _it_ `code` ~strike~",
        "",
    ],
)
def test_text_without_tex_is_returned_as_it_is(title: str) -> None:
    assert readable(title) is title


def test_chat_control_text_survives_conversion_for_the_adapters_to_escape() -> None:
    """Conversion adds no markup of its own and keeps what the adapters escape."""
    assert readable(r"\emph{<!channel>} @everyone $\alpha$") == "<!channel> @everyone α"
    assert readable(r"<@U123> \& <https://evil.example|arxiv.org>") == (
        "<@U123> & <https://evil.example|arxiv.org>"
    )


def test_every_fixture_converts_without_leftovers() -> None:
    """Real arXiv metadata (tests/data/abstracts.json): no placeholder, no accent macro,
    no dollar pair left, nothing control-like added, and never longer by much."""
    accent = re.compile(r"\\['\"`^~=.]\{?[A-Za-z]|\\[Hcvu]\{[A-Za-z]\}")
    for paper in FIXTURES:
        for raw in (paper["title"], paper["abstract"]):
            shown = readable(raw)
            assert not re.search("[\ue000-\uf8ff]", shown), raw
            assert not accent.search(shown), raw
            assert not any(unicodedata.category(char) == "Cc" and char != "\n" for char in shown)
            assert len(shown) <= len(raw) + 10, raw


def test_fixture_titles_read_well() -> None:
    by_id = {paper["id"]: paper for paper in FIXTURES}
    titles = {readable(paper["title"]) for paper in by_id.values()}
    assert "A transcendental approach to Kollár's injectivity theorem" in titles
    assert any("CeAg₂Ge₂" in title for title in titles)
    assert any("B→ππ and New Physics" in title for title in titles)


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_hostile_input_never_raises(line: str) -> None:
    assert isinstance(readable(line), str)
    assert isinstance(readable("$" + line + "$ \\emph{" + line), str)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\${}^_%&~#'\"`ab ecmathl2\n-<>@*")), max_size=60))
def test_any_tex_soup_gives_text(raw: str) -> None:
    shown = readable(raw)
    assert isinstance(shown, str)
    assert not re.search("[\ue000-\uf8ff]", shown)


def test_parser_failure_falls_back_to_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(tex, "_convert", broken)
    tex._converted.cache_clear()
    try:
        assert readable(r"$\alpha$ and \emph{x}") == r"$\alpha$ and \emph{x}"
        assert readable(r"Fr\'echet") == "Fréchet"  # accents alone never reach the parser
    finally:
        tex._converted.cache_clear()


def test_fast_enough_for_a_harvest() -> None:
    """A harvest renders thousands of titles: they cost well under 50 µs each on average
    (measured ~10 µs uncached on the fixtures, ~0.4 µs cached); the bound is loose so a
    busy machine does not fail it."""
    titles = [paper["title"] for paper in FIXTURES]
    tex._converted.cache_clear()
    start = time.perf_counter()
    for title in titles:
        readable(title)
    uncached = (time.perf_counter() - start) / len(titles)
    start = time.perf_counter()
    for _ in range(10):
        for title in titles:
            readable(title)
    cached = (time.perf_counter() - start) / len(titles) / 10
    assert cached < 50e-6
    assert uncached < 500e-6
    assert tex._converted.cache_info().hits >= len([t for t in titles if tex._TEX.search(t)])


# -- where it is applied: the core's plain text

FRECHET = make_paper(
    title=r"Fr\'echet Means in $\mathcal{O}(n^2)$ Time for $\alpha$-Stable Laws",
    authors=(r"J. M\"uller", r"{\L}ukasz Nowak", "Plain Name"),
    abstract=(
        r"We compute Fr\'echet means of $\alpha$-stable laws in $\mathcal{O}(n^2)$ time "
        r"on $\mathbb{R}^d$, improving on the \emph{best} known $O(n^3)$ bound by 40\%. "
        r"Code: \url{https://github.com/example/frechet_means}."
    ),
)


def test_shown_title_abstract_and_names() -> None:
    assert shown_title(FRECHET) == "Fréchet Means in 𝒪(n²) Time for α-Stable Laws"
    assert shown_abstract(FRECHET).startswith("We compute Fréchet means of α-stable laws")
    assert "on ℝᵈ, improving on the best known O(n³) bound by 40%." in shown_abstract(FRECHET)
    assert "https://github.com/example/frechet_means" in shown_abstract(FRECHET)
    assert author_line(FRECHET.authors) == "J. Müller, Łukasz Nowak, Plain Name"


def test_console_card_and_lists_show_readable_tex() -> None:
    text = post_text(make_post(FRECHET))
    assert "Fréchet Means in 𝒪(n²) Time for α-Stable Laws" in text
    assert "Authors: J. Müller, Łukasz Nowak, Plain Name" in text
    assert "\\" not in text and "$" not in text
    assert paper_summary(FRECHET).startswith(
        "Fréchet Means in 𝒪(n²) Time for α-Stable Laws — J. Müller"
    )
    listing = reply_text(Reply(title="Results", papers=(FRECHET,)))
    assert "Fréchet Means in 𝒪(n²)" in listing


def test_code_links_are_still_found_in_the_raw_abstract() -> None:
    assert make_post(FRECHET).code_links == ("https://github.com/example/frechet_means",)


def test_snippet_marks_land_on_the_converted_words() -> None:
    """Snippets are cut from the converted abstract, so marks are offsets into what is
    shown: "Fréchet" is marked whole, and the TeX never shows."""
    found = snippet(FRECHET.abstract, frozenset({stem("frechet"), stem("bound")}))
    marked = [found.text[start:end] for start, end in found.marks]
    assert marked == ["Fréchet", "bound"]
    runs = snippet_runs(found, 200)
    assert [text for text, highlighted in runs if highlighted] == ["Fréchet", "bound"]
    assert "\\" not in found.text and "$" not in found.text
