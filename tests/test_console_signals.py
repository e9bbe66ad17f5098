"""Ranking and Hugging Face signals in the terminal (the console adapter), and the
platform-neutral pieces every adapter builds them from (:mod:`bot.signals`)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from adapters.console import ConsoleAdapter
from bot import render as core
from bot.adapter import CommandContext
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, CommunitySignals, Digest, PaperPost, Reply, Subscription
from bot.render import digest_text, make_post, post_text, reply_text
from bot.signals import Link, community_line, compact_count, repo_link, safe_url
from tests.conftest import send_plan
from tests.fakes.corpus import make_paper, paper_by_id, sample_papers

REPO = "https://github.com/owner/repo"
SIGNALS = CommunitySignals(upvotes=1234, github_repo=REPO, github_stars=4500, daily=True)
TLDR = "Boundaries make diffusion segment tumours better."
HF_LINE = "🤗 1.2k upvotes · code: https://github.com/owner/repo ★ 4.5k · in the daily papers"
PICK_LINE = "⭐ Top pick · like https://arxiv.org/abs/2410.22454 that you liked"
HUGE_SIGNALS = CommunitySignals(
    10**40, f"https://github.com/{'o' * 90}/{'r' * 90}", 10**50, daily=True
)
"""Counts past every unit and the longest repository URL shown."""
HOSTILE_URLS = (
    "",
    "javascript:alert(1)",
    "JAVASCRIPT://github.com/%0aalert(1)",
    "data:text/html,<script>",
    "ftp://github.com/owner/repo",
    "github.com/owner/repo",
    "//github.com/owner/repo",
    "https://github.com/a|arxiv.org>",
    "https://github.com/a)[arxiv.org](https://evil.example",
    "https://github.com/<@123456789012345678>/x",
    "https://github.com/<!channel>/x",
    "https://github.com/owner/repo?tab=readme&x=<!channel>&y=<@&1>",
    "https://github.com/owner/repo#readme",
    "https://github.com/owner repo",
    "https://user@github.com/owner/repo",
    "https://github.com/owner/repo\n",
    "https://github.com/" + "a" * 300,
)
"""Repository URLs no adapter may turn into a link (the tests of every adapter use them)."""


def full(post: PaperPost) -> PaperPost:
    """``post`` with every signal: a TL;DR, :data:`SIGNALS`, a top pick like 2410.22454."""
    return replace(post, tldr=TLDR, community=SIGNALS, top_pick=True, like="2410.22454")


# -- bot.signals


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (-5, "0"),
        (0, "0"),
        (999, "999"),
        (1000, "1k"),
        (1050, "1k"),
        (1234, "1.2k"),
        (4500, "4.5k"),
        (9999, "9.9k"),
        (12_345, "12k"),
        (999_999, "999k"),
        (1_000_000, "1M"),
        (3_456_789, "3.4M"),
        (2 * 10**9, "2B"),
        (999 * 10**12, "999T"),
        (10**15, "999T+"),
        (10**4000, "999T+"),  # past float and int-to-str limits
    ],
)
def test_compact_count(count: int, shown: str) -> None:
    assert compact_count(count) == shown


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://github.com/owner/repo", "owner/repo"),
        ("http://github.com/owner/repo.git", "owner/repo"),
        ("https://github.com/owner/repo/tree/main/src", "owner/repo"),
        ("https://gitlab.example:8443/group/sub_project/", "group/sub_project"),
        ("https://github.com/owner", "owner"),
        ("https://github.com", "github.com"),
    ],
)
def test_repo_links_are_labelled_owner_and_repo(url: str, label: str) -> None:
    assert repo_link(url) == Link(url, label)


@pytest.mark.parametrize("url", [None, *HOSTILE_URLS])
def test_only_plain_http_urls_are_links(url: str | None) -> None:
    assert safe_url(url) is None
    assert repo_link(url) is None
    assert community_line(CommunitySignals(github_repo=url), lambda link: link.url) == ""


# -- cards


def test_a_card_shows_the_signals_under_its_title() -> None:
    post = make_post(paper_by_id("2506.11674"))
    lines = post_text(full(post)).split("\n")
    before = core.post_text(post).split("\n")
    assert lines[:2] == before[:2]  # the [id] category line, then the title
    assert lines[2:5] == [PICK_LINE, f"TL;DR: {TLDR}", HF_LINE]
    assert lines[5:] == before[2:]


def test_without_signals_a_card_renders_exactly_as_before() -> None:
    post = make_post(paper_by_id("2506.11674"))
    for same in (
        post,
        replace(post, community=CommunitySignals()),
        replace(post, like="2410.22454"),
        replace(post, tldr="\x1b\u200b "),
        replace(full(post), revised=True),  # a revision is a one-line note either way
    ):
        assert post_text(same) == core.post_text(same)


def test_hostile_tldr_and_repository_stay_plain_text() -> None:
    post = replace(
        make_post(paper_by_id("2506.11674")),
        tldr="\x1b[31mred\x1b[0m \x1b]0;pwned\x07 <!channel> @everyone\n\u202eevil " + "x " * 1000,
        community=CommunitySignals(upvotes=1, github_repo="javascript:alert(1)", github_stars=3),
        top_pick=True,
        like="\x1b[2J",
    )
    text = post_text(post)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    (tldr,) = [line for line in text.split("\n") if line.startswith("TL;DR:")]
    assert tldr.startswith("TL;DR: [31mred[0m ]0;pwned <!channel> @everyone evil x")
    assert tldr.endswith("…") and len(tldr) < 320
    assert "🤗 1 upvote" in text.split("\n") and "javascript" not in text
    assert "⭐ Top pick" in text.split("\n")


def test_digests_mark_top_picks() -> None:
    posts = [make_post(paper) for paper in sample_papers()[:3]]
    digest = Digest((replace(posts[0], top_pick=True), posts[1], replace(posts[2], top_pick=True)))
    lines = digest_text(digest).split("\n")
    plain = core.digest_text(Digest(tuple(posts))).split("\n")
    assert len(lines) == len(plain)
    marked = [line for line in lines if "⭐" in line]
    assert marked == [
        f"  1. ⭐ {core.paper_summary(posts[0].paper)}",
        f"  3. ⭐ {core.paper_summary(posts[2].paper)}",
    ]
    assert digest_text(Digest(tuple(posts))) == core.digest_text(Digest(tuple(posts)))


# -- result lists


def test_result_lists_show_upvotes_before_the_title_and_code_under_the_link() -> None:
    papers = sample_papers()[:3]
    reply = Reply(
        "Trending on Hugging Face",
        papers=tuple(papers),
        signals=(SIGNALS, None, CommunitySignals(upvotes=7, github_repo="ftp://x")),
    )
    lines = reply_text(reply).split("\n")
    summaries = [core.paper_summary(paper) for paper in papers]
    assert lines[1:] == [
        f"  1. ▲ 1.2k  {summaries[0]}",
        f"     {papers[0].abs_url}",
        "     code: https://github.com/owner/repo ★ 4.5k",
        f"  2. {summaries[1]}",
        f"     {papers[1].abs_url}",
        f"  3. ▲ 7  {summaries[2]}",
        f"     {papers[2].abs_url}",
    ]
    assert reply_text(replace(reply, signals=())) == core.reply_text(replace(reply, signals=()))


def test_the_same_paper_twice_is_marked_twice() -> None:
    paper = paper_by_id("2506.11674")
    reply = Reply("Twice", papers=(paper, paper), signals=(None, SIGNALS))
    lines = reply_text(reply).split("\n")
    assert lines[1] == f"  1. {core.paper_summary(paper)}"
    assert lines[3] == f"  2. ▲ 1.2k  {core.paper_summary(paper)}"
    assert lines[5].startswith("     code: ")


def test_reply_cards_show_their_signals() -> None:
    post = full(make_post(paper_by_id("2506.11674")))
    text = reply_text(Reply("Paper", posts=(post,), footer="the end"))
    assert post_text(post) in text
    assert text.endswith("\nthe end")


# -- through the console adapter


class _TrendingCore:
    """A core that answers every command with a trending list and a card."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def execute(self, text: str, context: CommandContext) -> Reply:
        self.texts.append(text.strip())
        return Reply(
            "Trending on Hugging Face today",
            papers=(paper_by_id("2506.11674"),),
            signals=(SIGNALS,),
            posts=(full(make_post(paper_by_id("2506.10231"))),),
        )

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        return []

    async def feedback(self, event: FeedbackEvent) -> bool:
        return False


async def test_the_console_prints_replies_with_signals() -> None:
    output = io.StringIO()
    core_ = _TrendingCore()
    adapter = ConsoleAdapter(core_, stdin=io.StringIO("/arxiv trending week\n"), stdout=output)
    await adapter.start()
    await adapter.wait_closed()
    await adapter.stop()
    out = output.getvalue().splitlines()
    assert core_.texts == ["/arxiv trending week"]
    assert "  1. ▲ 1.2k  " + core.paper_summary(paper_by_id("2506.11674")) in out
    assert f"TL;DR: {TLDR}" in out and HF_LINE in out and PICK_LINE in out


async def test_the_console_posts_cards_and_digests_with_signals() -> None:
    output = io.StringIO()
    adapter = ConsoleAdapter(_TrendingCore(), stdout=output, commands=False)
    target = ChannelRef("console", "local", "lab", name="lab")
    post = full(make_post(make_paper("2507.00001", title="A top pick")))
    await send_plan(adapter, target, post)
    await send_plan(adapter, target, Digest((post, make_post(paper_by_id("2506.10231")))))
    out = output.getvalue().splitlines()
    assert out[:4] == ["#lab · [2507.00001v1] cs.LG", "A top pick", PICK_LINE, f"TL;DR: {TLDR}"]
    assert f"  1. ⭐ {core.paper_summary(post.paper)}" in out
