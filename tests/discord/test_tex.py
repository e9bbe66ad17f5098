"""Discord embeds and result lists show TeX as readable Unicode, still escaped."""

# ruff: noqa: RUF001

from __future__ import annotations

import json

from adapters.discord.render import paper_embed, reply_message, snippet_markdown
from bot.localsearch.snippets import snippet
from bot.models import Reply
from bot.render import make_post
from bot.textproc import stem
from tests.fakes.corpus import make_paper
from tests.test_tex import FRECHET


def test_embed_shows_frechet_and_big_o() -> None:
    embed = paper_embed(make_post(FRECHET))
    assert embed.title is not None and "Fréchet Means in 𝒪(n²) Time for α" in embed.title
    assert embed.description is not None
    assert "ℝᵈ, improving on the best known O(n³) bound by 40%" in embed.description
    text = json.dumps(embed.to_dict(), ensure_ascii=False)
    assert "J. Müller, Łukasz Nowak" in text
    assert "mathcal" not in text and "\\\\'" not in text and "$" not in text


def test_result_list_and_snippet_show_converted_text() -> None:
    found = snippet(FRECHET.abstract, frozenset({stem("frechet")}))
    assert "**Fréchet**" in snippet_markdown(found)
    message = reply_message(Reply(title="Results", papers=(FRECHET,), snippets=(found,)))
    text = json.dumps([embed.to_dict() for embed in message.embeds], ensure_ascii=False)
    assert "Fréchet Means in 𝒪(n²) Time" in text


def test_mentions_in_tex_are_still_escaped_after_conversion() -> None:
    paper = make_paper(
        title=r"\emph{@everyone} $\alpha$ @here",
        authors=(r"\textbf{@everyone} M\"uller",),
        abstract=r"$x^2$ \emph{@everyone} **bold**",
    )
    embed = paper_embed(make_post(paper))
    text = json.dumps(embed.to_dict(), ensure_ascii=False)
    assert "@everyone" not in text and "@here" not in text
    assert "α" in text and "Müller" in text and "x²" in text
    assert "**bold**" not in text
