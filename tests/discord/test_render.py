"""Discord rendering: embeds within every limit, untrusted text never pings or formats."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.render import (
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FIELDS,
    MAX_FOOTER,
    MAX_THREAD_NAME,
    MAX_TITLE,
    MAX_TOTAL,
    DiscordMessage,
    DiscordPart,
    clamp_embed,
    digest_parts,
    escape,
    fit_message,
    message_fingerprint,
    pack_embeds,
    paper_buttons,
    paper_embed,
    post_parts,
    reply_message,
    snippet_markdown,
)
from bot.models import Digest, Paper, PaperPost, Reply, Snippet, Subscription, Tone
from bot.render import make_post
from tests.fakes.corpus import make_paper, paper_by_id, sample_papers

MENTIONS = (
    "@everyone @here <@123456789012345678> <@!123456789012345678> "
    "<@&123456789012345678> <#123456789012345678> </arxiv search:123456789012345678>"
)
MARKDOWN = (
    "**bold** __under__ *it* ~~strike~~ ||spoiler|| `code` ```block``` "
    "[arxiv.org](https://evil.example/a) [two](<https://evil.example/b>) \\*"
)
EVIL = f"{MENTIONS} {MARKDOWN}"
_OWN_LINK = re.compile(
    r"(?<!\\)\[((?:\\.|[^\\\]\n])*)\]\((https://(?:arxiv\.org|github\.com)/[^()\s]+)\)"
)
_URL = re.compile(r"https?://[^\s<>\[\]()*|`\\\"']+")
_CODE_BLOCK = re.compile(r"```\n.*?\n```", re.DOTALL)


def _sub(user_id: int, query: str) -> Subscription:
    return Subscription(user_id, 1, query, datetime(2025, 6, 1, tzinfo=UTC))


def _texts(message: DiscordMessage) -> list[str]:
    """Every string Discord renders with markdown: content, titles, descriptions, fields."""
    texts = [message.content]
    for embed in message.embeds:
        data = embed.to_dict()
        texts += [data.get("title", ""), data.get("description", "")]
        for field in data.get("fields", []):
            texts += [field["name"], field["value"]]
    return texts


def unescaped_markdown(text: str) -> list[str]:
    """Markdown characters not escaped by a backslash, outside the bot's own links, URLs
    and code blocks (whose insides are checked for stray fences)."""
    for block in _CODE_BLOCK.findall(text):
        assert "```" not in block[3:-3], block
    text = _CODE_BLOCK.sub("", text)
    text = _OWN_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    found: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in "*_~|`[]":
            found.append(char)
        index += 1
    return found


def assert_safe(message: DiscordMessage) -> None:
    """No mention that could ping or link, no live markdown from untrusted text."""
    for text in _texts(message):
        for mention in ("@everyone", "@here", "<@", "<#", "</", "@&1", "@!1"):
            assert mention not in text, (mention, text)
        outside_code = _CODE_BLOCK.sub("", text)
        assert not re.search(r"(?<!\\)\]\(<?https://evil", outside_code), text
        assert unescaped_markdown(text) == [], text


def check(message: DiscordMessage) -> None:
    """Every Discord limit, checked on the serialised embeds and with ``len(embed)``."""
    assert message.content or message.embeds
    assert len(message.content) <= MAX_CONTENT
    assert len(message.embeds) <= MAX_EMBEDS
    total = 0
    for embed in message.embeds:
        data = embed.to_dict()
        json.dumps(data)
        assert len(data.get("title", "")) <= MAX_TITLE
        assert len(data.get("description", "")) <= MAX_DESCRIPTION
        fields = data.get("fields", [])
        assert len(fields) <= MAX_FIELDS
        for field in fields:
            assert 0 < len(field["name"]) <= MAX_FIELD_NAME
            assert 0 < len(field["value"]) <= MAX_FIELD_VALUE
        footer = data.get("footer", {}).get("text", "")
        assert len(footer) <= MAX_FOOTER
        counted = len(data.get("title", "")) + len(data.get("description", "")) + len(footer)
        counted += sum(len(f["name"]) + len(f["value"]) for f in fields)
        assert len(embed) == counted
        assert embed  # not empty
        total += len(embed)
    assert total <= MAX_TOTAL
    assert message.embed_chars == total
    params = discord.http.handle_message_parameters(**message.send_kwargs())
    assert params.payload is not None
    assert params.payload["allowed_mentions"] == {"parse": []}


def check_parts(parts: Sequence[DiscordPart]) -> None:
    """Every part within the limits and safe, its payload plain JSON that pings nobody;
    the first part is in the channel, the rest in one thread named within the limit."""
    assert parts
    assert not parts[0].in_thread
    assert all(part.in_thread for part in parts[1:])
    assert len({part.thread_name for part in parts[1:]}) <= 1
    for part in parts:
        check(part.message)
        assert_safe(part.message)
        payload = part.to_payload()
        assert json.loads(json.dumps(payload)) == payload
        assert payload["allowed_mentions"] == {"parse": []}
        assert len(payload["content"] or "") <= MAX_CONTENT
        assert len(payload["embeds"]) <= MAX_EMBEDS
        if part.in_thread:
            assert 0 < len(payload["thread_name"]) <= MAX_THREAD_NAME
            assert payload["thread_name"] == part.thread_name
        else:
            assert "thread_name" not in payload


def _shown(parts: Sequence[DiscordPart]) -> list[str]:
    return [paper_id for part in parts for paper_id in part.shows]


def _card_urls(parts: Sequence[DiscordPart]) -> list[str]:
    """The links of the cards (listing embeds have no link of their own)."""
    return [str(e.url) for part in parts for e in part.message.embeds if e.url is not None]


def _listing(part: DiscordPart) -> str:
    return "\n".join(str(e.description) for e in part.message.embeds if e.url is None)


def _one(post: PaperPost, **options: bool) -> DiscordMessage:
    return DiscordMessage("", (paper_embed(post, **options),))


def _fields(embed: discord.Embed) -> dict[str, str]:
    return {str(field.name): str(field.value) for field in embed.fields}


def _hostile_paper(**fields: Any) -> Paper:
    values: dict[str, Any] = {
        "title": EVIL,
        "authors": (EVIL, "Eve **Bold** O'Hara"),
        "abstract": (EVIL + " ") * 5,
        "comment": EVIL,
        "journal_ref": EVIL,
        "categories": ("cs.LG", "stat.ML"),
    }
    values.update(fields)
    return make_paper(**values)


# -- escaping


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("@everyone look", "@everyone"),
        ("@here look", "@here"),
        ("<@123456789012345678>", "<@"),
        ("<@!123456789012345678>", "<@"),
        ("<@&123456789012345678>", "<@"),
        ("<#123456789012345678>", "<#"),
        ("</arxiv search:123456789012345678>", "</"),
        ("<t:1700000000:R>", "<t:"),
        ("**bold**", "**"),
        ("__underline__", "__"),
        ("||spoiler||", "||"),
        ("~~strike~~", "~~"),
        ("`code`", "`code`"),
        ("[arxiv.org](https://evil.example)", "[arxiv.org]("),
        ("[a](https://x.example) and [b](https://y.example)", "[b]("),
    ],
)
def test_escape_neutralises(raw: str, forbidden: str) -> None:
    escaped = escape(raw)
    assert forbidden not in escaped
    assert unescaped_markdown(escaped) == []
    assert escaped.replace("\\", "").replace("\u200b", "") == raw  # shown as written


def test_discord_utils_escape_markdown_leaves_a_second_masked_link() -> None:
    """Why :func:`escape` is our own: discord.py escapes only the first masked link."""
    raw = "[a](https://x.example) and [b](https://y.example)"
    assert "[b](https://y.example)" in discord.utils.escape_markdown(raw)
    assert "[b](" not in escape(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("# Heading", "\\# Heading"),
        ("> quote", "\\> quote"),
        (">>> block", "\\>>> block"),
        ("- item", "\\- item"),
        ("-# small", "\\-# small"),
        ("1. first", "1\\. first"),
        ("a # b > c - d 1. e", "a # b > c - d 1. e"),
        ("#hashtag >arrow -dash 2506.11674v1", "#hashtag >arrow -dash 2506.11674v1"),
        ("## h", "\\## h"),
    ],
)
def test_escape_line_starts(raw: str, expected: str) -> None:
    assert escape(raw) == expected


def test_escape_keeps_urls_clickable() -> None:
    raw = "Code: https://github.com/some_user/my_repo. Data at https://x.example/a~b_c!"
    escaped = escape(raw)
    assert "https://github.com/some_user/my_repo." in escaped
    assert "https://x.example/a~b_c!" in escaped
    assert escape("see https://x.example/[a](https://evil.example)").count("\\[") == 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="*_~|`[]()<>@#&!:/\\-. \nabcdehinorvy0123456789", max_size=80))
def test_escape_never_leaves_live_markdown_or_mentions(raw: str) -> None:
    escaped = escape(raw)
    for line in escaped.split("\n"):
        assert unescaped_markdown(line) == []
        assert "@everyone" not in line and "@here" not in line
        assert "<@" not in line and "<#" not in line and "</" not in line
        assert not re.match(r"[ \t]*(?:>+|#{1,3}|-#?|\d+\.)\s", line)


# -- paper cards


def test_every_sample_paper_renders_within_limits_and_safe() -> None:
    for paper in sample_papers():
        message = _one(make_post(paper))
        check(message)
        assert_safe(message)


def test_card_shows_title_link_fields_and_footer() -> None:
    paper = paper_by_id("2506.11674")
    embed = paper_embed(make_post(paper))
    assert embed.title == paper.title
    assert embed.url == paper.abs_url
    assert embed.description == paper.abstract
    fields = _fields(embed)
    assert list(fields) == ["Authors", "Categories", "Comment", "Links"]
    assert fields["Authors"] == "Lena Müller, Rahul Iyer, Chen Wei, Sofia Alvarez"
    assert "cross-listed in cs.CV" in fields["Categories"]
    assert fields["Comment"] == "12 pages, 5 figures, accepted at MICCAI 2025"
    assert fields["Links"] == (
        f"[Abstract]({paper.abs_url}) · [PDF]({paper.pdf_url}) · [HTML]({paper.html_url})"
        " · [Code](https://github.com/lmueller/bad-seg)"
    )
    assert embed.footer.text == "arXiv:2506.11674v1 · Submitted 2025-06-13"
    assert embed.timestamp is None
    assert paper_embed(make_post(paper), timestamp=True).timestamp == paper.updated


def test_card_shows_journal_and_updated_date() -> None:
    paper = paper_by_id("0704.0001")
    embed = paper_embed(make_post(paper))
    assert _fields(embed)["Journal"] == "Phys.Rev.D76:013009,2007"
    assert "updated 2007-07-24 (v2)" in str(embed.footer.text)


def test_hostile_text_is_escaped_everywhere() -> None:
    post = PaperPost(_hostile_paper(), matched=(_sub(7, EVIL),))
    embed = paper_embed(post)
    message = DiscordMessage(escape(EVIL), (embed,))
    check(message)
    assert_safe(message)
    assert str(embed.title).startswith("@\u200beveryone @\u200bhere <\u200b@\u200b1234")
    assert "\\*\\*bold\\*\\*" in str(embed.title)
    assert "\\|\\|spoiler\\|\\|" in str(embed.description)
    assert "\\[arxiv.org\\](https://evil.example/a)" in str(embed.description)
    assert "\\*\\*Bold\\*\\*" in _fields(embed)["Authors"]
    assert _fields(embed)["Matched"].startswith("#7 @\u200beveryone")


def test_oversized_paper_is_cut_cleanly() -> None:
    words = [f"word{n}" for n in range(600)]
    abstract = " ".join(words)[:3000]
    authors = tuple(f"Author Number {n}" for n in range(300))
    title = "Long title word " * 20
    assert len(title) >= 300 and len(abstract) == 3000
    paper = make_paper(title=title, authors=authors, abstract=abstract, comment="c " * 2000)
    embed = paper_embed(make_post(paper))
    check(DiscordMessage("", (embed,)))
    shown = str(embed.title)
    assert len(shown) <= MAX_TITLE and shown.endswith("…") and len(shown) > MAX_TITLE - 20
    assert title.startswith(shown.removesuffix("…"))
    assert embed.description == abstract  # 3,000 characters fit whole
    assert _fields(embed)["Authors"].endswith("Author Number 7 et al. (300 authors)")
    assert len(_fields(embed)["Comment"]) <= 512


def test_huge_abstract_is_cut_at_a_word_within_4096() -> None:
    words = [f"w{n}" for n in range(3000)]
    embed = paper_embed(make_post(make_paper(abstract=" ".join(words))))
    description = str(embed.description)
    assert len(description) <= MAX_DESCRIPTION
    assert description.endswith("…")
    shown = description.removesuffix("…").split(" ")
    assert shown == words[: len(shown)]
    assert len(description) > MAX_DESCRIPTION - 20


def test_worst_case_card_fits_a_message_alone() -> None:
    paper = _hostile_paper(
        title="*" * 1000,
        authors=tuple("_" * 300 for _ in range(300)),
        abstract="|" * 10000,
        comment="`" * 5000,
        journal_ref="~" * 5000,
        categories=tuple(f"cs.X{n}" for n in range(300)),
    )
    subs = tuple(_sub(n, "[" * 500) for n in range(100))
    code = tuple(f"https://github.com/{'a' * 400}/{n}" for n in range(10))
    post = PaperPost(paper, matched=subs, code_links=code)
    embed = paper_embed(post)
    message = DiscordMessage("", (embed,))
    check(message)
    assert_safe(message)
    assert len(embed) <= MAX_TOTAL
    assert str(embed.title).startswith("\\*\\*")


def test_a_small_budget_makes_the_card_compact() -> None:
    paper = paper_by_id("0704.0001")
    full = paper_embed(make_post(paper))
    compact = paper_embed(make_post(paper), budget=400)
    assert "Comment" in _fields(full) and "Comment" not in _fields(compact)
    assert "Journal" not in _fields(compact)
    assert len(compact) < len(full)


def test_matched_subscriptions_are_shown() -> None:
    post = PaperPost(paper_by_id("2506.11674"), matched=(_sub(3, "cat:eess.IV AND segmentation"),))
    assert _fields(paper_embed(post))["Matched"] == "#3 cat:eess.IV AND segmentation"


def test_revised_post_is_a_compact_note() -> None:
    paper = replace(paper_by_id("2506.10231"), abstract="word " * 1000)
    embed = paper_embed(PaperPost(paper, revised=True, matched=(_sub(2, "mri"),)))
    check(DiscordMessage("", (embed,)))
    assert str(embed.title).startswith("Revised: ")
    assert embed.url == paper.abs_url
    assert "2506.10231v2" in str(embed.description)
    assert list(_fields(embed)) == ["Matched"]
    assert len(embed) < 300


def test_buttons_link_abstract_pdf_and_code() -> None:
    """Built outside an event loop: discord.py 2.7 allows it for views."""
    paper = paper_by_id("2506.11674")
    view = paper_buttons(make_post(paper))
    assert view.timeout is None
    buttons = [item for item in view.children if isinstance(item, discord.ui.Button)]
    assert [(b.label, b.url) for b in buttons] == [
        ("Abstract", paper.abs_url),
        ("PDF", paper.pdf_url),
        ("Code", "https://github.com/lmueller/bad-seg"),
    ]
    assert all(b.style is discord.ButtonStyle.link for b in buttons)
    plain = paper_buttons(make_post(make_paper()))
    assert [item.to_component_dict()["label"] for item in plain.children] == ["Abstract", "PDF"]


def test_unsafe_or_long_code_links_are_left_out() -> None:
    links = ("https://github.com/a/b)[x](https://evil.example", "https://github.com/" + "a" * 600)
    post = PaperPost(make_paper(), code_links=(*links, "https://github.com/ok/repo"))
    assert "Code](https://github.com/ok/repo)" in _fields(paper_embed(post))["Links"]
    assert "evil" not in _fields(paper_embed(post))["Links"]
    labels = [item.to_component_dict()["label"] for item in paper_buttons(post).children]
    assert labels == ["Abstract", "PDF", "Code"]


# -- digests


def _posts(count: int, **fields: Any) -> tuple[PaperPost, ...]:
    return tuple(make_post(make_paper(f"2507.{n:05d}", **fields)) for n in range(1, count + 1))


def test_digest_of_ten_papers_is_one_message() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers()[:10])
    (part,) = digest_parts(Digest(posts), cards=10)
    check_parts([part])
    assert part.shows == tuple(post.paper.arxiv_id for post in posts)
    assert len(part.message.embeds) == 10
    assert part.message.content == "Digest: 10 new papers from arXiv"
    assert [e.url for e in part.message.embeds] == [p.paper.abs_url for p in posts]


def test_digest_of_few_papers_keeps_full_cards() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers()[:2])
    (part,) = digest_parts(Digest(posts), cards=10)
    assert [e.to_dict() for e in part.message.embeds] == [paper_embed(p).to_dict() for p in posts]


def test_digest_with_fewer_cards_than_papers_lists_them() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers()[:5])
    parts = digest_parts(Digest(posts), cards=3)
    check_parts(parts)
    assert parts[0].shows == tuple(post.paper.arxiv_id for post in posts)
    assert parts[0].message.embeds[0].footer.text == "More in the thread."
    assert _card_urls(parts) == [p.paper.abs_url for p in posts[:3]]
    (alone,) = digest_parts(Digest(posts), cards=0)  # no cards, nothing in the thread
    assert alone.shows == parts[0].shows and not alone.message.embeds[0].footer.text


def test_digest_of_twenty_papers_lists_them_and_threads_the_cards() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers())
    parts = digest_parts(Digest(posts, folded=True), cards=len(posts))
    check_parts(parts)
    head = parts[0]
    assert "folded" in head.message.content
    assert parts[1].thread_name.startswith("20 new papers")
    listing = _listing(head)
    for number, post in enumerate(posts, start=1):
        assert f"{number}. [" in listing and f"]({post.paper.abs_url})" in listing
    assert _card_urls(parts) == [p.paper.abs_url for p in posts]


def test_digest_of_ten_oversized_hostile_papers_stays_within_limits() -> None:
    posts = tuple(
        PaperPost(
            _hostile_paper(arxiv_id=f"2507.{n:05d}", title=EVIL * 3, abstract=(EVIL + " ") * 100),
            matched=(_sub(n, EVIL),),
        )
        for n in range(10)
    )
    parts = digest_parts(Digest(posts), cards=10)
    check_parts(parts)
    assert _shown(parts) == [post.paper.arxiv_id for post in posts]
    assert _card_urls(parts) == [post.paper.abs_url for post in posts]


def test_digest_of_200_papers_lists_every_one() -> None:
    posts = _posts(200, title="Paper & **friends** " * 10)
    parts = digest_parts(Digest(posts), cards=10)
    check_parts(parts)
    assert _shown(parts) == [post.paper.arxiv_id for post in posts]
    listings = [part for part in parts if part.shows]
    assert len(listings) > 1
    assert str(listings[1].message.embeds[0].title).startswith("Digest: 200 new papers")
    assert "continued" in str(listings[1].message.embeds[0].title)
    assert _card_urls(parts) == [p.paper.abs_url for p in posts[:10]]
    text = json.dumps([part.to_payload() for part in parts])
    assert "not shown" not in text


def test_digest_marks_revisions_and_matches() -> None:
    posts = (
        PaperPost(paper_by_id("2506.10231"), revised=True),
        PaperPost(paper_by_id("2506.11674"), matched=(_sub(4, "x"), _sub(5, "y"))),
        *_posts(12),
    )
    parts = digest_parts(Digest(posts), cards=10)
    check_parts(parts)
    listing = _listing(parts[0])
    assert "2506.10231v2 (revised)" in listing
    assert "· matched #4, #5" in listing


def test_empty_digest_is_just_its_title() -> None:
    for cards in (0, 10):
        (part,) = digest_parts(Digest(()), cards=cards)
        check_parts([part])
        assert part.shows == ()
        assert part.message.content == "Digest: 0 new papers from arXiv"


def _matrix_posts(count: int) -> tuple[PaperPost, ...]:
    """Papers with ordinary, hostile and 5,000-character titles and authors in turn."""
    titles = (
        "Paper number {n} & friends",
        EVIL + " {n}",
        "*" * 5000,
        "@everyone <@123> **{n}** " * 200,
    )
    posts = []
    for n in range(1, count + 1):
        hostile = n % 2 == 0
        paper = _hostile_paper(
            arxiv_id=f"2507.{n:05d}",
            title=titles[n % len(titles)].format(n=n),
            **({} if hostile else {"authors": ("Ada",), "abstract": "Short.", "comment": None}),
        )
        matched = (_sub(n, EVIL),) if hostile else ()
        posts.append(PaperPost(paper, matched=matched, revised=n % 7 == 0))
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
    urls = _card_urls(parts)
    assert urls == [post.paper.abs_url for post in posts[: min(cards, count)]]
    listings = [part for part in parts if part.shows]
    if len(parts) == 1 and urls:  # one message of cards: only when they all fit in it
        assert count <= min(cards, MAX_EMBEDS)
        assert parts[0].shows == tuple(ids)
    else:
        assert parts[: len(listings)] == listings  # the list first, then the cards
        for part in listings:
            listing = _listing(part)
            for post in posts:  # listed there, not merely counted
                shown = f"]({post.paper.abs_url})" in listing
                assert shown == (post.paper.arxiv_id in part.shows)
        assert all(not part.shows for part in parts[len(listings) :])
    text = json.dumps([part.to_payload() for part in parts])
    assert "not shown" not in text


def test_digest_of_a_few_plain_papers_within_the_cards_is_one_message() -> None:
    for count, cards in [(1, 3), (3, 3), (3, 10), (10, 10), (10, 25)]:
        posts = _posts(count)
        (part,) = digest_parts(Digest(posts), cards=cards)
        assert _card_urls([part]) == [post.paper.abs_url for post in posts]
        assert len(digest_parts(Digest(_posts(count + 1)), cards=count)) > 1


def _as_returned(payload: dict[str, Any], message_id: int) -> dict[str, Any]:
    """``payload`` as Discord returns the message: trimmed text, embeds with their type
    and extra keys, ids and author added, no nonce, no thread name."""
    embeds = []
    for embed in payload["embeds"]:
        returned = {**embed, "type": "rich", "content_scan_version": 0}
        for key in ("title", "description"):
            if key in returned:
                returned[key] = returned[key].strip()
        embeds.append(returned)
    return {
        "id": str(message_id),
        "type": 0,
        "channel_id": "1234",
        "author": {"id": "42", "username": "arxiv-bot", "bot": True},
        "content": (payload["content"] or "").strip(),
        "embeds": embeds,
        "components": payload.get("components", []),
        "attachments": [],
        "mentions": [],
        "pinned": False,
        "timestamp": "2025-06-13T12:00:00.000000+00:00",
    }


def test_fingerprint_matches_the_message_as_discord_returns_it() -> None:
    posts = _matrix_posts(60)
    parts = [
        *digest_parts(Digest(posts), cards=10),
        *digest_parts(Digest(posts[:3]), cards=10),
        *post_parts(posts[0]),
        *post_parts(posts[1]),
    ]
    prints = [message_fingerprint(part.to_payload()) for part in parts]
    for number, (part, printed) in enumerate(zip(parts, prints, strict=True)):
        payload = {**part.to_payload(), "nonce": f"n{number}", "enforce_nonce": True}
        assert message_fingerprint(_as_returned(payload, number)) == printed
    assert len(set(prints)) == len(parts)  # no two parts mistaken for each other


def test_fingerprint_ignores_trimmed_whitespace_but_not_text() -> None:
    embed = discord.Embed(title=" Title ", url="https://arxiv.org/abs/1", description="d \n")
    part = DiscordPart(DiscordMessage(" hello \n", (embed,)))
    printed = message_fingerprint(part.to_payload())
    assert message_fingerprint(_as_returned(part.to_payload(), 1)) == printed
    other = DiscordPart(DiscordMessage(" hello \n", (embed.copy().set_footer(text="f"),)))
    assert message_fingerprint(other.to_payload()) == printed  # footers are not compared
    changed = discord.Embed(title="Title", url="https://arxiv.org/abs/2", description="d")
    moved = DiscordPart(DiscordMessage("hello", (changed,)))
    assert message_fingerprint(moved.to_payload()) != printed  # another link
    reworded = DiscordPart(DiscordMessage("hello!", (embed,)))
    assert message_fingerprint(reworded.to_payload()) != printed  # other text


def test_post_parts_is_one_card_with_link_buttons() -> None:
    paper = paper_by_id("2506.11674")
    post = make_post(paper)
    (part,) = post_parts(post)
    check_parts([part])
    assert part.shows == ("2506.11674",)
    assert part.message.embeds[0].to_dict() == paper_embed(post).to_dict()
    payload = part.to_payload()
    row, votes = payload["components"]
    assert row["type"] == votes["type"] == 1
    buttons = [(b["type"], b["style"], b["label"], b["url"]) for b in row["components"]]
    assert buttons == [
        (2, 5, "Abstract", paper.abs_url),
        (2, 5, "PDF", paper.pdf_url),
        (2, 5, "Code", "https://github.com/lmueller/bad-seg"),
    ]
    feedback = [(b["type"], b["style"], b["label"], b["custom_id"]) for b in votes["components"]]
    assert feedback == [
        (2, 2, "👍 relevant", "arxiv:fb:up"),
        (2, 2, "👎 not for us", "arxiv:fb:down"),
        (2, 2, "Cite", "arxiv:cite:2506.11674"),
    ]
    assert "custom_id" not in json.dumps(paper_buttons(post).to_components())


def test_post_parts_of_hostile_papers_are_safe() -> None:
    for post in _matrix_posts(8):
        check_parts(post_parts(post))


# -- replies


def test_reply_title_lines_code_papers_and_footer() -> None:
    papers = tuple(sample_papers()[:3])
    reply = Reply(
        title="3 results for graph",
        lines=("Sorted by date.",),
        code=("/arxiv search graph", "a ```fence``` b"),
        papers=papers,
        footer="arxiv-bot · page 1",
    )
    message = reply_message(reply)
    check(message)
    assert_safe(message)
    (embed,) = message.embeds
    assert embed.title == "3 results for graph"
    description = str(embed.description)
    assert description.startswith("Sorted by date.\n```\n/arxiv search graph\na `\u200b`")
    for number, paper in enumerate(papers, start=1):
        assert f"{number}. [" in description and f"]({paper.abs_url})" in description
    assert embed.footer.text == "arxiv-bot · page 1"
    assert embed.colour == discord.Colour.blurple()


def test_reply_tones() -> None:
    error = reply_message(Reply(title="Unknown command", tone=Tone.ERROR)).embeds[0]
    assert str(error.title).startswith("⚠️ ") and error.colour == discord.Colour.red()
    done = reply_message(Reply(title="Subscribed", tone=Tone.SUCCESS)).embeds[0]
    assert str(done.title).startswith("✅ ") and done.colour == discord.Colour.green()


def test_reply_with_hostile_text_is_safe() -> None:
    paper = _hostile_paper()
    reply = Reply(
        title=EVIL,
        lines=(EVIL, "# not a heading"),
        code=(EVIL,),
        papers=(paper,),
        posts=(PaperPost(paper, matched=(_sub(1, EVIL),)),),
        footer=EVIL,
    )
    message = reply_message(reply)
    check(message)
    assert_safe(message)


def test_reply_with_full_cards() -> None:
    posts = tuple(make_post(paper) for paper in sample_papers()[:3])
    message = reply_message(Reply(title="Papers", posts=posts))
    check(message)
    assert [e.url for e in message.embeds[1:]] == [p.paper.abs_url for p in posts]


def test_reply_with_huge_content_stays_within_limits() -> None:
    reply = Reply(
        title="x" * 500,
        lines=tuple(f"line {n} " + "* " * 200 for n in range(200)),
        code=tuple(f"code {n} " * 50 for n in range(300)),
        papers=tuple(make_paper(f"2507.{n:05d}", title="T " * 200) for n in range(200)),
        posts=_posts(30, abstract="word " * 1000),
        footer="f" * 5000,
    )
    message = reply_message(reply)
    check(message)
    assert_safe(message)
    assert str(message.embeds[0].description).endswith("more not shown")
    assert "more not shown" in message.content  # the cards left out


def test_reply_whose_code_does_not_fit_is_closed_and_counted() -> None:
    message = reply_message(Reply(title="t", code=tuple("c" * 100 for _ in range(100))))
    check(message)
    description = str(message.embeds[0].description)
    assert description.startswith("```\n") and "\n```\n… and " in description


# -- limits


def test_discord_py_does_not_check_sizes() -> None:
    """Why :func:`fit_message` exists: discord.py accepts embeds Discord would refuse."""
    big = discord.Embed(title="t" * 300, description="d" * 5000)
    params = discord.http.handle_message_parameters(embeds=[big, big])
    assert params.payload is not None and len(params.payload["embeds"]) == 2
    assert len(discord.Embed(title="ab", description="cde")) == 5


def test_fit_message_hits_every_limit() -> None:
    embed = discord.Embed(title="T " * 300, description="d " * 3000)
    for _ in range(30):
        embed.add_field(name="n " * 200, value="v " * 1000)
    embed.set_footer(text="f " * 2000)
    message = fit_message("c " * 2000, [embed] * 15)
    check(message)
    assert message.content.endswith("more not shown")
    assert len(message.content) <= MAX_CONTENT
    first = message.embeds[0]
    assert len(first.fields) <= MAX_FIELDS
    assert len(str(first.title)) <= MAX_TITLE and str(first.title).endswith("…")


def test_fit_message_keeps_at_most_ten_embeds() -> None:
    embeds = [discord.Embed(title=f"#{n}") for n in range(12)]
    message = fit_message("", embeds)
    check(message)
    assert [e.title for e in message.embeds] == [f"#{n}" for n in range(10)]
    assert message.content == "… and 2 more not shown"


def test_fit_message_cuts_the_last_description_at_a_word() -> None:
    embeds = [discord.Embed(description="word " * 800) for _ in range(2)]
    message = fit_message("", embeds)
    check(message)
    assert len(message.embeds) == 2
    assert str(message.embeds[1].description).endswith("word…")
    assert message.embed_chars > MAX_TOTAL - 10


def test_fit_message_of_nothing_is_not_empty() -> None:
    check(fit_message())


def test_clamp_embed_keeps_the_rest() -> None:
    embed = discord.Embed(title="t", url="https://arxiv.org/abs/1", colour=1)
    embed.add_field(name="n", value="v" * 2000, inline=True)
    clamped = clamp_embed(embed)
    assert clamped.url == embed.url and clamped.colour == embed.colour
    assert len(str(clamped.fields[0].value)) <= MAX_FIELD_VALUE and clamped.fields[0].inline


def test_pack_embeds_in_order_within_limits() -> None:
    cards = [paper_embed(post) for post in _posts(25, abstract="word " * 700)]
    groups = pack_embeds(cards)
    assert [e.url for group in groups for e in group] == [e.url for e in cards]
    for group in groups:
        check(DiscordMessage("", group))
    small = pack_embeds(discord.Embed(title=str(n)) for n in range(25))
    assert [len(group) for group in small] == [10, 10, 5]


# -- snippets

_BOLD = re.compile(r"(?<!\\)\*\*((?:\\.|[^*\\\n])+)\*\*")


def _snippet_line(message: DiscordMessage, paper_id: str) -> str:
    """The line after the result line of ``paper_id`` in the reply's list (its snippet)."""
    lines = "\n".join(embed.description or "" for embed in message.embeds).split("\n")
    index = next(n for n, line in enumerate(lines) if f"· {paper_id} —" in line)
    return lines[index + 1]


def _assert_bold_closed_and_rest_escaped(line: str) -> list[str]:
    """The bold spans of ``line``; outside them no live markdown, inside only escaped."""
    spans = _BOLD.findall(line)
    rest = _BOLD.sub(lambda match: match.group(1), line)
    assert unescaped_markdown(rest) == [], line
    return spans


def test_result_snippets_show_the_marked_words_in_bold() -> None:
    paper, other = sample_papers()[:2]
    text = "We train a diffusion model for medical image segmentation."
    start, end = text.index("diffusion model"), text.index("segmentation")
    snippet = Snippet(text, ((start, start + 15), (end, end + 12)))
    message = reply_message(Reply(title="2", papers=(paper, other), snippets=(snippet,)))
    check(message)
    line = _snippet_line(message, paper.versioned_id)
    assert line.endswith("We train a **diffusion model** for medical image **segmentation**.")
    assert _assert_bold_closed_and_rest_escaped(line) == ["diffusion model", "segmentation"]
    assert (message.embeds[0].description or "").count("We train") == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"{EVIL} diffusion", ("diffusion", "everyone", "here")),
        ("**diffusion** __x__ *diffusion* ~~y~~ ||z|| `diffusion`", ("diffusion",)),
        ("a\\ diffusion\\ b", ("diffusion",)),
        ("<@123456789012345678> and [arxiv.org](https://evil.example/a)", ("1234567", "arxiv")),
        ("> # - 1. diffusion at the start", (">", "#", "diffusion")),
    ],
)
def test_hostile_snippets_stay_escaped_and_bold_stays_closed(
    text: str, words: tuple[str, ...]
) -> None:
    paper = sample_papers()[0]
    marks = sorted(
        {(text.find(word), text.find(word) + len(word)) for word in words if word in text}
    )
    snippet = Snippet(text, tuple(marks))
    message = reply_message(Reply(title="x", papers=(paper,), snippets=(snippet,)))
    check(message)
    line = _snippet_line(message, paper.versioned_id)
    spans = _assert_bold_closed_and_rest_escaped(line)
    assert spans, line  # something was marked, and shows in bold
    for mention in ("@everyone", "@here", "<@", "<#", "</"):
        assert mention not in line, line
    assert not re.search(r"(?<!\\)\]\(<?https://evil", line), line


def test_25_results_with_long_snippets_stay_within_limits() -> None:
    base = sample_papers()[0]
    papers = tuple(
        replace(base, arxiv_id=f"2506.{10000 + n}", title=f"Paper {n}") for n in range(25)
    )
    chunk = "@everyone **diffusion** model_x_ ~~y~~ "
    text = (chunk * 40)[:1000]
    marks = tuple(
        (start, start + 9) for start in range(len(text)) if text.startswith("diffusion", start)
    )
    reply = Reply(
        title="25 papers",
        papers=papers,
        snippets=tuple(Snippet(text, marks) for _ in papers),
        footer="Page 1 of 3",
    )
    message = reply_message(reply)
    check(message)
    description = "\n".join(embed.description or "" for embed in message.embeds)
    assert "more not shown" not in description
    assert message.embeds[-1].footer.text == "Page 1 of 3"
    for paper in papers:
        line = _snippet_line(message, paper.versioned_id)
        assert line.endswith("…")
        assert len(line) >= 60  # shortened, not dropped
        assert _assert_bold_closed_and_rest_escaped(line)
        assert "@everyone" not in line


def test_snippets_give_way_to_the_papers_lines() -> None:
    """With lines long enough to fill the description, the snippets go, not the papers."""
    base = sample_papers()[0]
    papers = tuple(
        replace(base, arxiv_id=f"2506.{10000 + n}", title=f"Paper {n} " + "long " * 28)
        for n in range(20)
    )
    snippet = Snippet("diffusion " * 100, ((0, 9),))
    message = reply_message(
        Reply(title="20", papers=papers, snippets=tuple(snippet for _ in papers))
    )
    check(message)
    description = "\n".join(embed.description or "" for embed in message.embeds)
    assert "more not shown" not in description
    assert all(paper.versioned_id in description for paper in papers)
    assert "diffusion" not in description  # no room for snippets of a useful length


def test_snippet_markdown_cuts_marks_with_the_text() -> None:
    text = "alpha " * 50 + "diffusion model at the end"
    start = text.index("diffusion")
    line = snippet_markdown(Snippet(text, ((0, 5), (start, start + 9))), 40)
    assert len(line) <= 40
    assert line.startswith("**alpha** alpha")
    assert line.endswith("…")
    assert "diffusion" not in line and line.count("**") == 2
