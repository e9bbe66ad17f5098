"""Slack Block Kit rendering: valid blocks, within limits, untrusted text escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from adapters.slack.render import (
    LOOKALIKE_ASTERISK,
    MAX_BLOCKS,
    NEXT_ACTION,
    SHARE_ACTION,
    SlackMessage,
    SlackPart,
    digest_parts,
    escape,
    paper_card,
    plain,
    post_parts,
    reply_message,
    snippet_mrkdwn,
)
from bot.models import Digest, Paper, PaperPost, Reply, Snippet, Subscription, Tone, Visibility
from bot.render import make_post
from tests.fakes.corpus import make_paper, paper_by_id, sample_papers
from tests.slack.checks import EVIL, assert_payload_escaped, check_payload


def _messages(message: SlackMessage) -> Iterator[SlackMessage]:
    yield message
    for reply in message.thread:
        yield from _messages(reply)


def check(message: SlackMessage) -> None:
    """Slack's own validation plus explicit limit checks, for the message and its thread."""
    for part in _messages(message):
        check_payload(part.to_payload())


def assert_escaped(message: SlackMessage) -> None:
    """No mention, disguised link or bare ``&`` anywhere but in the bot's own links."""
    for part in _messages(message):
        assert_payload_escaped(part.to_payload())


def _all_blocks(message: SlackMessage) -> list[dict[str, Any]]:
    return [block for part in _messages(message) for block in part.blocks]


def _buttons(message: SlackMessage) -> list[dict[str, Any]]:
    return [
        element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def _text(message: SlackMessage) -> str:
    return json.dumps([part.to_payload() for part in _messages(message)], ensure_ascii=False)


def check_parts(parts: Sequence[SlackPart]) -> None:
    """Every part valid, within the limits and escaped; a plan's first part starts the
    thread, the rest reply in it; no part carries thread replies of its own."""
    assert parts
    assert not parts[0].in_thread
    assert all(part.in_thread for part in parts[1:])
    for part in parts:
        assert part.message.thread == ()
        payload = part.message.to_payload()
        check_payload(payload)
        assert_payload_escaped(payload)


def _parts_text(parts: Sequence[SlackPart]) -> str:
    return json.dumps([part.message.to_payload() for part in parts], ensure_ascii=False)


def _shown(parts: Sequence[SlackPart]) -> list[str]:
    return [paper_id for part in parts for paper_id in part.shows]


def _card_parts(parts: Sequence[SlackPart]) -> list[SlackPart]:
    return [part for part in parts if part.in_thread and not part.shows]


def test_slack_sdk_validation_enforces_lengths() -> None:
    """The validation the other tests rely on really rejects over-long text."""
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackObjectFormationError):
        Block.parse_all(too_long)[0].validate_json()
    header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    with pytest.raises(SlackObjectFormationError):
        Block.parse_all(header)[0].validate_json()


def test_escape_order_and_neutralisation() -> None:
    assert escape("a & b") == "a &amp; b"
    assert escape("<!channel>") == "&lt;!channel&gt;"
    assert escape("&lt;") == "&amp;lt;"
    assert escape(EVIL).count("<") == 0


def test_every_sample_paper_renders_valid_and_escaped() -> None:
    for paper in sample_papers():
        card = paper_card(make_post(paper))
        check(card)
        assert_escaped(card)


def test_card_shows_title_link_authors_categories_dates_comment() -> None:
    paper = paper_by_id("2506.11674")
    card = paper_card(make_post(paper))
    first = card.blocks[0]["text"]["text"]
    assert first == f"*<{paper.abs_url}|{paper.title}>*"
    text = _text(card)
    assert "Lena Müller" in text
    assert "eess.IV" in text and "cross-listed in cs.CV" in text
    assert "Submitted 2025-06-13" in text
    assert "accepted at MICCAI 2025" in text
    assert card.text.startswith(paper.title)


def test_hostile_text_is_escaped_everywhere() -> None:
    paper = make_paper(
        title=EVIL,
        authors=(EVIL, "Eve & Trudy"),
        abstract=(EVIL + " ") * 40,
        comment=EVIL,
        journal_ref=EVIL,
        categories=("cs.LG", "stat.ML"),
    )
    sub = Subscription(7, 1, EVIL, datetime(2025, 6, 1, tzinfo=UTC))
    post = PaperPost(paper, matched=(sub,))
    card = paper_card(post)
    check(card)
    assert_escaped(card)
    assert card.thread  # the long abstract went to the thread, escaped too
    assert "&lt;!channel&gt;" in card.blocks[0]["text"]["text"]
    corpus = paper_by_id("2506.05555")
    for message in (
        reply_message(Reply(title=EVIL, lines=(EVIL,), code=(EVIL,), papers=(paper, corpus))),
        reply_message(Reply(title=EVIL, posts=(post, make_post(corpus)), footer=EVIL)),
        paper_card(replace(post, revised=True)),
    ):
        check(message)
        assert_escaped(message)
    for cards in (0, 2):
        check_parts(digest_parts(Digest((post, make_post(corpus))), cards=cards))
    check_parts(post_parts(post))


def test_long_abstract_goes_whole_into_the_thread() -> None:
    words = [f"word{n}" for n in range(600)]
    abstract = " ".join(words)
    assert len(abstract) > 3000
    card = paper_card(make_post(make_paper(abstract=abstract)))
    check(card)
    snippet = card.blocks[2]["text"]["text"]
    assert snippet.endswith("…") and len(snippet) < 600
    assert len(card.thread) == 1
    sections = [b["text"]["text"] for b in card.thread[0].blocks if b["type"] == "section"]
    assert len(sections) >= 2
    assert " ".join(sections).split() == words  # split at words, nothing lost


def test_abstract_of_ampersands_splits_without_breaking_entities() -> None:
    abstract = "&" * 2000 + " " + "& " * 1000
    card = paper_card(make_post(make_paper(abstract=abstract)))
    check(card)
    assert_escaped(card)


def test_short_abstract_has_no_thread() -> None:
    card = paper_card(make_post(paper_by_id("2506.11674")))
    assert card.thread == ()


def test_many_authors_and_long_title_stay_within_limits() -> None:
    authors = tuple(f"Author Number {n}" for n in range(300))
    paper = make_paper(title="Long title word " * 20, authors=authors, abstract="x " * 1500)
    assert len(paper.title) >= 300
    card = paper_card(make_post(paper))
    check(card)
    text = _text(card)
    assert "Author Number 7 et al. (300 authors)" in text
    assert "Author Number 8," not in text
    assert len(card.blocks[0]["text"]["text"]) < 400


def test_code_button_only_with_a_code_link() -> None:
    with_code = paper_card(make_post(paper_by_id("2506.11674")))
    labels = [button["text"]["text"] for button in _buttons(with_code)]
    assert labels == ["Abstract", "PDF", "Code"]
    assert _buttons(with_code)[2]["url"] == "https://github.com/lmueller/bad-seg"
    without = paper_card(make_post(make_paper()))
    assert [button["text"]["text"] for button in _buttons(without)] == ["Abstract", "PDF"]
    paper = make_paper()
    assert _buttons(without)[0]["url"] == paper.abs_url
    assert _buttons(without)[1]["url"] == paper.pdf_url


def test_matched_subscriptions_are_shown() -> None:
    sub = Subscription(3, 1, "cat:eess.IV AND segmentation", datetime(2025, 6, 1, tzinfo=UTC))
    card = paper_card(PaperPost(paper_by_id("2506.11674"), matched=(sub,)))
    assert "Matched #3 cat:eess.IV AND segmentation" in _text(card)


def test_revised_post_is_a_compact_note() -> None:
    paper = replace(paper_by_id("2506.10231"), abstract="word " * 1000)
    note = paper_card(PaperPost(paper, revised=True))
    check(note)
    assert len(note.blocks) == 1
    assert note.thread == ()
    assert "Revised" in _text(note) and "2506.10231v2" in _text(note)
    assert paper.abs_url in _text(note)


def _posts(count: int) -> tuple[PaperPost, ...]:
    return tuple(
        make_post(make_paper(f"2507.{n:05d}", title=f"Paper number {n} & friends"))
        for n in range(1, count + 1)
    )


def test_post_parts_card_shows_the_paper() -> None:
    post = make_post(paper_by_id("2506.11674"))
    (part,) = post_parts(post)
    check_parts([part])
    assert part.shows == ("2506.11674",)
    assert not part.in_thread
    assert part.message.blocks == paper_card(post, feedback=True).blocks
    # The card's actions end with the two feedback buttons; a plain card has none.
    actions = part.message.blocks[-1]["elements"]
    votes = actions[-3:-1]  # then "Cite"
    assert [b["action_id"] for b in votes] == ["arxiv_feedback_up", "arxiv_feedback_down"]
    assert [b["text"]["text"] for b in votes] == ["👍 relevant", "👎 not for us"]
    assert all("url" not in b for b in actions[-3:])
    assert (actions[-1]["action_id"], actions[-1]["value"]) == ("arxiv_cite", "2506.11674")
    plain_actions = paper_card(post).blocks[-1]["elements"]
    assert not any(b["action_id"].startswith("arxiv_feedback") for b in plain_actions)


def test_post_parts_long_abstract_replies_in_the_thread() -> None:
    words = [f"word{n}" for n in range(600)]
    post = make_post(make_paper("2507.00042", abstract=" ".join(words)))
    parts = post_parts(post)
    check_parts(parts)
    assert [(part.shows, part.in_thread) for part in parts] == [
        (("2507.00042",), False),
        ((), True),
    ]
    assert parts[1].message == paper_card(post).thread[0]
    assert "word599" in _parts_text(parts[1:])


def test_post_parts_of_a_revision_is_one_note() -> None:
    paper = replace(paper_by_id("2506.10231"), abstract="word " * 1000)
    (part,) = post_parts(PaperPost(paper, revised=True))
    check_parts([part])
    assert part.shows == ("2506.10231",)
    assert len(part.message.blocks) == 1


def test_digest_lists_papers_and_threads_their_cards() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers())
    parts = digest_parts(Digest(posts), cards=len(posts))
    check_parts(parts)
    head = parts[0].message
    assert head.blocks[0]["type"] == "header"
    assert head.blocks[0]["text"]["text"] == f"Digest: {len(posts)} new papers from arXiv"
    assert head.text == f"Digest: {len(posts)} new papers from arXiv"
    text = _parts_text(parts[:1])
    for number, post in enumerate(posts, start=1):
        assert f"{number}. <{post.paper.abs_url}|" in text
    assert parts[0].shows == tuple(post.paper.arxiv_id for post in posts)
    cards = parts[1:]
    assert [card.message.blocks for card in cards] == [paper_card(p).blocks for p in posts]
    assert all(card.shows == () and card.in_thread for card in cards)


def test_digest_without_cards_is_one_message() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers())
    (part,) = digest_parts(Digest(posts), cards=0)
    check_parts([part])
    assert part.shows == tuple(post.paper.arxiv_id for post in posts)
    assert "Every paper is listed here." in _parts_text([part])


def _matrix_posts(count: int) -> tuple[PaperPost, ...]:
    """Papers with ordinary, hostile and 5,000-character titles and authors in turn."""
    titles = (
        "Paper number {n} & friends",
        EVIL + " {n}",
        "&" * 5000,
        "*bold* _it_ ~strike~ `code` <@U123> {n} " * 125,
    )
    sub = Subscription(9, 1, EVIL, datetime(2025, 6, 1, tzinfo=UTC))
    posts = []
    for n in range(1, count + 1):
        hostile = n % 2 == 0
        paper = make_paper(
            f"2507.{n:05d}",
            title=titles[n % len(titles)].format(n=n),
            authors=(EVIL, "<!everyone>", "Eve & Trudy") if hostile else ("Ada", "Bo"),
            abstract=(EVIL + " ") * 40 if hostile else "Short abstract.",
        )
        posts.append(PaperPost(paper, matched=(sub,) if hostile else (), revised=n % 7 == 0))
    return tuple(posts)


_MATRIX_POSTS = _matrix_posts(500)


@pytest.mark.parametrize("cards", [0, 3, 10])
@pytest.mark.parametrize("count", [1, 3, 10, 11, 51, 191, 500])
def test_digest_shows_every_paper_once_in_order(count: int, cards: int) -> None:
    posts = _MATRIX_POSTS[:count]
    parts = digest_parts(Digest(posts, folded=count > 100), cards=cards)
    check_parts(parts)
    ids = [post.paper.arxiv_id for post in posts]
    assert _shown(parts) == ids  # every paper, once, in order
    lists = [part for part in parts if part.shows]
    assert len(lists) == -(-count // 50)  # 50 a message
    assert parts[: len(lists)] == lists  # the list first, then the cards
    for part in lists:
        text = _parts_text([part])
        for paper_id in part.shows:  # listed there, not merely counted
            assert f"<https://arxiv.org/abs/{paper_id}" in text
    card_parts = _card_parts(parts)
    assert len(card_parts) == min(cards, count) == len(parts) - len(lists)
    for card, post in zip(card_parts, posts, strict=False):
        assert card.message.blocks == paper_card(post).blocks
    text = _parts_text(parts)
    assert "not shown" not in text
    assert "more not" not in text
    if count > 100:
        assert "folded" in parts[0].message.text


def test_digest_of_200_papers_lists_them_all() -> None:
    posts = _posts(200)
    parts = digest_parts(Digest(posts, folded=True), cards=3)
    check_parts(parts)
    assert [len(part.shows) for part in parts] == [50, 50, 50, 50, 0, 0, 0]
    assert "folded" in parts[0].message.text
    head = _parts_text(parts[:1])
    assert "the rest of the list (150 more)" in head and "full cards of the first 3" in head
    second = parts[1].message
    assert second.text.startswith("200 new papers from arXiv today, folded into one digest")
    assert "papers 51 to 100 of 200" in second.text
    assert "51. <https://arxiv.org/abs/2507.00051" in _parts_text(parts[1:2])
    assert "200. <https://arxiv.org/abs/2507.00200" in _parts_text(parts[3:4])


def test_digest_of_long_hostile_titles_stays_within_limits() -> None:
    posts = tuple(make_post(make_paper(f"2507.{n:05d}", title="&" * 300)) for n in range(1, 201))
    parts = digest_parts(Digest(posts), cards=10)
    check_parts(parts)
    assert _shown(parts) == [post.paper.arxiv_id for post in posts]
    assert max(len(part.message.blocks) for part in parts) <= MAX_BLOCKS


def test_digest_marks_revisions_and_matches() -> None:
    sub = Subscription(4, 1, "x", datetime(2025, 6, 1, tzinfo=UTC))
    posts = (
        PaperPost(paper_by_id("2506.10231"), revised=True),
        PaperPost(paper_by_id("2506.11674"), matched=(sub, replace(sub, id=5))),
        *_posts(12),
    )
    parts = digest_parts(Digest(posts), cards=2)
    check_parts(parts)
    listing = _parts_text(parts[:1])
    assert "`2506.10231v2` (revised)" in listing
    assert "· matched #4, #5" in listing
    assert len(parts[1].message.blocks) == 1  # the revision's card is its one-line note


def test_empty_digest_is_just_its_title() -> None:
    for cards in (0, 10):
        (part,) = digest_parts(Digest(()), cards=cards)
        check_parts([part])
        assert part.shows == ()
        assert part.message.text == "Digest: 0 new papers from arXiv"
        assert [block["type"] for block in part.message.blocks] == ["header"]


def test_reply_with_papers_has_the_share_button() -> None:
    papers = tuple(sample_papers()[:5])
    message = reply_message(Reply(title="5 results for graph", papers=papers), share="search graph")
    check(message)
    buttons = [b for b in _buttons(message) if b["action_id"] == SHARE_ACTION]
    assert len(buttons) == 1
    assert buttons[0]["text"]["text"] == "Share in channel"
    assert buttons[0]["value"] == "search graph"
    for number, paper in enumerate(papers, start=1):
        assert f"{number}. <{paper.abs_url}|" in _text(message)


def test_many_results_stay_within_limits_and_keep_the_share_button() -> None:
    papers = tuple(make_paper(f"2507.{n:05d}") for n in range(1, 301))
    message = reply_message(Reply(title="Many", papers=papers), share="search x --limit 25")
    check(message)
    (button,) = [b for b in _buttons(message) if b["action_id"] == SHARE_ACTION]
    assert button["value"] == "search x --limit 25"


def test_paper_lookup_is_shareable_but_an_oversized_command_is_not() -> None:
    lookup = Reply(title="arXiv:2507.00001v1", posts=(make_post(make_paper("2507.00001")),))
    (button,) = [
        b
        for b in _buttons(reply_message(lookup, share="paper 2507.00001"))
        if b["action_id"] == SHARE_ACTION
    ]
    assert button["value"] == "paper 2507.00001"
    too_long = reply_message(lookup, share="paper " + "x" * 2000)
    assert not [b for b in _buttons(too_long) if b["action_id"] == SHARE_ACTION]


def test_reply_without_papers_or_in_channel_has_no_share_button() -> None:
    subscribed = Reply(title="Subscribed", tone=Tone.SUCCESS)
    assert _buttons(reply_message(subscribed, share="subscribe x")) == []
    shared = Reply(title="r", papers=(make_paper(),), visibility=Visibility.CHANNEL)
    in_channel = reply_message(shared, share="search r")
    assert not [b for b in _buttons(in_channel) if b["action_id"] == SHARE_ACTION]
    assert not [
        b
        for b in _buttons(reply_message(Reply(title="r", papers=(make_paper(),))))
        if b["action_id"] == SHARE_ACTION
    ]


def test_reply_lines_code_footer_and_error_tone() -> None:
    reply = Reply(
        title="Unknown command",
        lines=("Try one of these:",),
        code=("/arxiv search graph neural networks", "/arxiv help"),
        tone=Tone.ERROR,
        footer="arxiv-bot",
    )
    message = reply_message(reply)
    check(message)
    assert message.blocks[0]["text"]["text"].startswith(":warning: ")
    assert message.text.startswith(":warning: ")
    code = [b["text"]["text"] for b in message.blocks if "```" in b.get("text", {}).get("text", "")]
    assert code == ["```\n/arxiv search graph neural networks\n/arxiv help\n```"]
    assert "arxiv-bot" in _text(message)
    ok = reply_message(Reply(title="Done", tone=Tone.SUCCESS))
    assert ":warning:" not in _text(ok)


def test_reply_with_huge_content_stays_within_limits() -> None:
    lines = tuple(f"line {n} " + "& " * 200 for n in range(200))
    code = tuple(f"code {n}" * 50 for n in range(300))
    papers = tuple(make_paper(f"2507.{n:05d}", title="T " * 200) for n in range(1, 201))
    posts = _posts(30)
    reply = Reply(
        title="x" * 500, lines=lines, code=code, papers=papers, posts=posts, footer="f" * 5000
    )
    message = reply_message(reply)
    check(message)
    assert_escaped(message)
    assert "more not shown" in _text(message)
    assert message.blocks[-1]["type"] == "context"  # the footer survives


def test_reply_posts_show_full_cards_inline() -> None:
    paper = make_paper(abstract=" ".join(f"w{n}" for n in range(1200)))
    message = reply_message(Reply(title="Paper", posts=(make_post(paper),)))
    check(message)
    assert message.thread == ()
    assert "w1199" in _text(message)


def test_blocks_are_plain_data() -> None:
    paper: Paper = paper_by_id("hep-th/9901001")
    payload = paper_card(make_post(paper)).to_payload()
    assert json.loads(json.dumps(payload)) == payload
    assert f"<{paper.abs_url}|" in payload["blocks"][0]["text"]["text"]


def test_asterisks_in_a_bold_title_do_not_end_the_bold() -> None:
    card = paper_card(make_post(make_paper(title="Scaling laws for cs.* and x*y")))
    (title,) = [b for b in card.blocks if b["type"] == "section"][:1]
    text = title["text"]["text"]
    assert text.startswith("*<") and text.endswith(">*")
    star = LOOKALIKE_ASTERISK
    assert text.count("*") == 2 and f"cs.{star} and x{star}y" in text
    reply = reply_message(Reply(title="Unknown category cs.*", tone=Tone.ERROR))
    assert reply.blocks[0]["text"]["text"] == f":warning: *Unknown category cs.{star}*"


def test_formatting_markers_in_untrusted_text_show_as_typed() -> None:
    marked = "_Not italic_ ~struck~ `code` and *star* in snake_case with L_1"
    card = paper_card(make_post(make_paper(title=marked, abstract=marked, comment=marked)))
    check(card)
    for block in card.blocks:
        text = json.dumps(block, ensure_ascii=False)
        for formatted in ("_Not italic_", "~struck~", "`code`", "*star*"):
            assert formatted not in text, (formatted, block)
    shown = plain(marked)
    assert "snake_case" in shown and "L_1" in shown  # not at a word's edge: left alone
    assert "`" not in plain("`/arxiv` ```")


# -- snippets and the next page

_BOLD = re.compile(r"\*([^*\n]+)\*")


def _snippet_line(message: SlackMessage, paper_id: str) -> str:
    """The line after the result line of ``paper_id`` (its snippet)."""
    lines = "\n".join(
        block["text"]["text"] for block in message.blocks if block["type"] == "section"
    ).split("\n")
    index = next(n for n, line in enumerate(lines) if f"`{paper_id}`" in line)
    return lines[index + 1]


def _marked(text: str, *words: str) -> Snippet:
    marks = []
    for word in words:
        start = text.index(word)
        marks.append((start, start + len(word)))
    return Snippet(text, tuple(sorted(marks)))


def test_result_snippets_show_the_marked_words_in_bold() -> None:
    paper, other = sample_papers()[:2]
    text = "We train a diffusion model for medical image segmentation."
    reply = Reply(
        title="2 papers",
        papers=(paper, other),
        snippets=(_marked(text, "diffusion model", "segmentation"), None),
    )
    message = reply_message(reply)
    check(message)
    line = _snippet_line(message, paper.versioned_id)
    assert line.endswith("We train a *diffusion model* for medical image *segmentation*.")
    assert _BOLD.findall(line) == ["diffusion model", "segmentation"]
    assert json.dumps(message.blocks).count("We train") == 1  # the other paper has none


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (EVIL + " diffusion", ("diffusion",)),
        ("*bold* _it_ ~strike~ `code` diffusion*", ("diffusion",)),
        ("a *diffusion* b", ("diffusion",)),
        ("<diffusion> &diffusion& `diffusion` ~diffusion~ _diffusion_", ("diffusion",)),
        ("x <!channel> y", ("channel",)),
        ("<@U123|admin> and <https://evil.example|arxiv.org>", ("U123", "evil", "arxiv")),
        ("snake_case L_1 a*b*c", ("case", "b")),
    ],
)
def test_hostile_snippets_stay_escaped_and_bold_stays_closed(
    text: str, words: tuple[str, ...]
) -> None:
    paper = sample_papers()[0]
    marks = tuple(
        (index, index + len(word)) for word in words for index in [text.find(word)] if index >= 0
    )
    snippet = Snippet(text, tuple(sorted(set(marks))))
    message = reply_message(Reply(title="x", papers=(paper,), snippets=(snippet,)))
    check(message)
    assert_escaped(message)
    line = _snippet_line(message, paper.versioned_id)
    assert "<" not in line and ">" not in line
    # Every raw asterisk is a bold marker: they pair up, around a whole run each.
    assert line.count("*") % 2 == 0, line
    for bold in _BOLD.findall(line):
        assert bold == bold.strip() and bold, line
    assert "`" not in line  # backticks became look-alikes, no code span can open
    assert line.count("*") == 2 * len(_BOLD.findall(line))


def test_25_results_with_long_snippets_stay_within_limits() -> None:
    base = sample_papers()[0]
    papers = tuple(
        replace(base, arxiv_id=f"2506.{10000 + n}", title=f"Paper {n}") for n in range(25)
    )
    chunk = "<!channel> & *diffusion* model _x_ "
    text = (chunk * 40)[:1000]
    marks = tuple(
        (start, start + len("diffusion"))
        for start in range(len(text))
        if text.startswith("diffusion", start)
    )
    reply = Reply(
        title="25 papers",
        papers=papers,
        snippets=tuple(Snippet(text, marks) for _ in papers),
        more="search diffusion --limit 25 --page 2",
    )
    message = reply_message(reply, share="search diffusion --limit 25")
    check(message)
    assert_escaped(message)
    shown = json.dumps(message.blocks)
    assert "more not shown" not in shown
    for paper in papers:
        line = _snippet_line(message, paper.versioned_id)
        assert len(line) <= 601
        assert line.endswith("…")
        assert line.count("*") % 2 == 0
    (next_button,) = [b for b in _buttons(message) if b["action_id"] == NEXT_ACTION]
    assert next_button["value"] == "search diffusion --limit 25 --page 2"


def test_snippet_mrkdwn_cuts_marks_with_the_text() -> None:
    text = "alpha " * 50 + "diffusion model at the end"
    start = text.index("diffusion")
    line = snippet_mrkdwn(Snippet(text, ((0, 5), (start, start + 9))), 40)
    assert len(line) <= 40
    assert line.startswith("*alpha* alpha")
    assert line.endswith("…")
    assert "diffusion" not in line and line.count("*") == 2


def test_next_button_only_with_a_next_page_that_fits() -> None:
    paper = sample_papers()[0]
    plain_reply = Reply(title="1 paper", papers=(paper,))
    assert not [b for b in _buttons(reply_message(plain_reply)) if b["action_id"] == NEXT_ACTION]
    more = Reply(title="1 paper", papers=(paper,), more="search mri --page 2")
    (button,) = _buttons(reply_message(more))
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        NEXT_ACTION,
        "search mri --page 2",
        "Next",
    )
    too_long = replace(more, more="search " + "x" * 2100)
    assert _buttons(reply_message(too_long)) == []
