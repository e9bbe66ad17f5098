"""Ranking and Hugging Face signals in Slack: TL;DRs, the Hugging Face line, top picks and
upvotes on cards, digests and result lists, valid Block Kit and escaped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.slack.render import (
    LOOKALIKE_ASTERISK,
    MAX_SECTION,
    BlockDict,
    digest_parts,
    paper_card,
    post_parts,
    reply_message,
)
from bot.models import CommunitySignals, Digest, PaperPost, Reply, Snippet, Subscription
from bot.render import make_post
from tests.fakes.corpus import make_paper, paper_by_id, sample_papers
from tests.slack.checks import EVIL
from tests.slack.test_render import _text, assert_escaped, check, check_parts
from tests.test_console_signals import HOSTILE_URLS, HUGE_SIGNALS, REPO, SIGNALS, TLDR, full

HF_LINE = (
    "🤗 1.2k upvotes · code: <https://github.com/owner/repo|owner/repo> ★ 4.5k"
    " · in the daily papers"
)
PICK_LINE = "⭐ Top pick · like <https://arxiv.org/abs/2410.22454|2410.22454> that you liked"


def _texts(blocks: tuple[BlockDict, ...] | list[BlockDict]) -> list[str]:
    """The text of each section and context block, in order (context elements joined)."""
    texts = []
    for block in blocks:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.append(" | ".join(element["text"] for element in block["elements"]))
    return texts


def test_a_card_shows_every_signal() -> None:
    paper = paper_by_id("2506.11674")
    card = paper_card(full(make_post(paper)))
    check(card)
    assert_escaped(card)
    plain = _texts(paper_card(make_post(paper)).blocks)
    texts = _texts(card.blocks)
    assert texts[0] == PICK_LINE
    assert texts[1] == plain[0]  # the title
    assert texts[2] == f"_TL;DR: {TLDR}_"
    assert texts[3] == plain[1]  # authors, id, categories, dates
    assert texts[4] == HF_LINE
    assert texts[5:] == plain[2:]


def test_without_signals_a_card_renders_exactly_as_before() -> None:
    paper = paper_by_id("2506.11674")
    before = paper_card(make_post(paper))
    for post in (
        replace(make_post(paper), community=CommunitySignals()),
        replace(make_post(paper), like="2410.22454"),  # not a top pick
        replace(make_post(paper), tldr=" \u200b\u202e "),
    ):
        assert paper_card(post) == before
    assert reply_message(Reply("R", papers=(paper,), signals=(None,))) == reply_message(
        Reply("R", papers=(paper,))
    )


def test_parts_of_the_hugging_face_line_are_left_out_when_unknown() -> None:
    post = make_post(paper_by_id("2506.11674"))
    cases = {
        CommunitySignals(upvotes=1): "🤗 1 upvote",
        CommunitySignals(upvotes=999_999): "🤗 999k upvotes",
        CommunitySignals(daily=True): "🤗 in the daily papers",
        CommunitySignals(github_repo=REPO, github_stars=0): (
            "🤗 code: <https://github.com/owner/repo|owner/repo> ★ 0"
        ),
    }
    for signals, line in cases.items():
        assert line in _texts(paper_card(replace(post, community=signals)).blocks)


@pytest.mark.parametrize("repo", HOSTILE_URLS)
def test_hostile_tldr_and_repositories_are_escaped(repo: str) -> None:
    signals = CommunitySignals(upvotes=3, github_repo=repo, github_stars=5)
    tldr = f"{EVIL} *bold* _it_ ~strike~ `code` ```block```"
    post = replace(
        make_post(paper_by_id("2506.11674")),
        tldr=tldr,
        community=signals,
        top_pick=True,
        like=EVIL,
    )
    card = paper_card(post)
    for message in (
        card,
        reply_message(Reply("Trending", papers=(post.paper,), signals=(signals,))),
        reply_message(Reply("Card", posts=(post,))),
    ):
        check(message)
        assert_escaped(message)
        assert "code:" not in _text(message)
    tldr_line = _texts(card.blocks)[2]
    assert tldr_line.startswith("_TL;DR: &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;")
    assert "*bold*" not in tldr_line and "`" not in tldr_line
    assert f"{LOOKALIKE_ASTERISK}bold{LOOKALIKE_ASTERISK}" in tldr_line
    assert tldr_line.count("_") == 2  # only the italics' own
    assert _texts(card.blocks)[0] == "⭐ Top pick"  # not a liked paper's id
    check_parts(post_parts(post))
    check_parts(digest_parts(Digest((post, make_post(paper_by_id("2506.10231")))), cards=2))


def test_huge_signals_stay_within_every_limit() -> None:
    signals = HUGE_SIGNALS
    paper = make_paper(title="&" * 1000, authors=tuple("<" * 300 for _ in range(300)))
    subs = tuple(Subscription(n, 1, ">" * 500, paper.submitted) for n in range(100))
    post = PaperPost(
        paper, matched=subs, tldr="&" * 100_000, community=signals, top_pick=True, like="2410.22454"
    )
    card = paper_card(post)
    check(card)
    assert_escaped(card)
    texts = _texts(card.blocks)
    assert texts[2].startswith("_TL;DR: &amp;") and len(texts[2]) < MAX_SECTION
    assert texts[4].startswith("🤗 999T+ upvotes · code: <https://github.com/")
    assert "★ 999T+" in texts[4]
    posts = tuple(replace(post, paper=p) for p in sample_papers()[:10])
    for cards in (0, 3, 10):
        check_parts(digest_parts(Digest(posts), cards=cards))
    check(reply_message(Reply("Cards", posts=posts)))  # 10 cards of 8 blocks: cut at 50


def test_digests_mark_top_picks_in_the_list_and_on_the_cards() -> None:
    papers = [make_paper(f"2507.{n:05d}", title=f"Paper {n}") for n in range(1, 6)]
    posts = [replace(make_post(p), top_pick=n < 2, like="2410.22454") for n, p in enumerate(papers)]
    parts = digest_parts(Digest(tuple(posts)), cards=3)
    check_parts(parts)
    listing = _texts(parts[0].message.blocks)[0].split("\n")
    assert listing[0] == "1. ⭐ <https://arxiv.org/abs/2507.00001|Paper 1> `2507.00001v1`"
    assert listing[1].startswith("2. ⭐ <")
    assert listing[2] == "3. <https://arxiv.org/abs/2507.00003|Paper 3> `2507.00003v1`"
    cards = [part.message for part in parts[1:]]
    assert [_texts(card.blocks)[0] for card in cards[:2]] == [PICK_LINE, PICK_LINE]
    assert _texts(cards[2].blocks)[0].startswith("*<https://arxiv.org/abs/2507.00003|")


def test_result_lists_show_upvotes_first_and_code_last() -> None:
    papers = sample_papers()[:3]
    signals = (SIGNALS, None, CommunitySignals(upvotes=7))
    reply = Reply("Trending on Hugging Face", papers=tuple(papers), signals=signals)
    message = reply_message(reply)
    check(message)
    assert_escaped(message)
    lines = _texts(message.blocks)[1].split("\n")
    plain = _texts(reply_message(replace(reply, signals=())).blocks)[1].split("\n")
    assert lines[0].startswith(f"1. *▲ 1.2k* <{papers[0].abs_url}|")
    assert lines[0].endswith(" · code: <https://github.com/owner/repo|owner/repo> ★ 4.5k")
    assert lines[1] == plain[1]
    assert lines[2] == plain[2].replace("3. <", "3. *▲ 7* <", 1)


def test_25_results_with_signals_and_snippets_stay_within_limits() -> None:
    papers = tuple(make_paper(f"2507.{n:05d}", title="&" * 300) for n in range(25))
    signals = (HUGE_SIGNALS,) * 25
    snippets = (Snippet("<diffusion> " * 100, ((1, 10),)),) * 25
    message = reply_message(Reply("Trending", papers=papers, signals=signals, snippets=snippets))
    check(message)
    assert_escaped(message)
    assert "*▲ 999T+*" in _text(message)
