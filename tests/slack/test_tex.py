"""Slack cards, result lists and snippets show TeX as readable Unicode, still escaped."""

# ruff: noqa: RUF001

from __future__ import annotations

import json

from adapters.slack.render import paper_card, reply_message, snippet_mrkdwn
from bot.localsearch.snippets import snippet
from bot.models import Reply
from bot.render import make_post
from bot.textproc import stem
from tests.fakes.corpus import make_paper
from tests.slack.checks import assert_payload_escaped, check_payload
from tests.test_tex import FRECHET


def _payload_text(payload: dict[str, object]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_card_shows_frechet_and_big_o() -> None:
    card = paper_card(make_post(FRECHET))
    title = card.blocks[0]["text"]["text"]
    assert title == f"*<{FRECHET.abs_url}|Fréchet Means in 𝒪(n²) Time for α-Stable Laws>*"
    assert card.text.startswith("Fréchet Means in 𝒪(n²) Time")
    text = _payload_text(card.to_payload())
    assert "J. Müller, Łukasz Nowak" in text
    assert "ℝᵈ, improving on the best known O(n³) bound by 40%" in text
    assert "\\\\" not in text and "$" not in text  # no TeX left (JSON doubles a backslash)
    check_payload(card.to_payload())
    assert_payload_escaped(card.to_payload())


def test_long_abstract_thread_is_converted_too() -> None:
    paper = make_paper(abstract=(r"Fr\'echet $\mathcal{O}(n^2)$ results. " * 40).strip())
    card = paper_card(make_post(paper))
    assert card.thread, "a long abstract goes whole into a thread reply"
    thread = _payload_text(card.thread[0].to_payload())
    assert thread.count("Fréchet 𝒪(n²) results.") == 40
    snippet_block = _payload_text(card.to_payload())
    assert "Fréchet 𝒪(n²) results." in snippet_block


def test_result_list_and_snippet_show_converted_text_with_marks_on_words() -> None:
    found = snippet(FRECHET.abstract, frozenset({stem("frechet")}))
    line = snippet_mrkdwn(found)
    assert "*Fréchet*" in line
    message = reply_message(Reply(title="Results", papers=(FRECHET,), snippets=(found,)))
    text = _payload_text(message.to_payload())
    assert "Fréchet Means in 𝒪(n²) Time" in text and "J. Müller" in text
    check_payload(message.to_payload())


def test_mentions_in_tex_are_still_escaped_after_conversion() -> None:
    paper = make_paper(
        title=r"\emph{<!channel>} $\alpha$ <@U123> \& <https://evil.example|arxiv.org>",
        authors=(r"\textbf{<!here>} M\"uller",),
        abstract=r"$x^2$ <!everyone> \url{https://evil.example} *bold*",
    )
    card = paper_card(make_post(paper))
    payload = card.to_payload()
    assert_payload_escaped(payload)
    text = _payload_text(payload)
    assert "&lt;!channel&gt; α &lt;@U123&gt; &amp;" in text
    assert "&lt;!here&gt; Müller" in text
    assert "<!channel>" not in text and "<!here>" not in text and "<!everyone>" not in text
