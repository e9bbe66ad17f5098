"""Whole-bot tests through the console adapter: commands in, text out."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import pytest

from adapters.console import ConsoleAdapter
from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, Paper, Reply, Snippet, Subscription
from bot.render import make_post
from tests.conftest import send_plan
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.corpus import paper_by_id


async def run_console(app: BotApp, script: str, *, channel: str = "console") -> str:
    """Feed ``script`` to a console adapter as its standard input; return what it printed."""
    output = io.StringIO()
    adapter = ConsoleAdapter(app, channel=channel, stdin=io.StringIO(script), stdout=output)
    await adapter.start()
    await adapter.wait_closed()
    await adapter.stop()
    return output.getvalue()


async def test_search_prints_results_with_ids(app: BotApp, fake_arxiv: FakeArxiv) -> None:
    out = await run_console(app, "/arxiv search ti:segmentation --sort date --limit 5\n")
    assert "Boundary-Aware Diffusion Models for Medical Image Segmentation" in out
    assert "2506.11674v1" in out
    assert "Self-Supervised Pretraining for Ultrasound Image Segmentation" in out
    assert "newest first" in out
    # Newest first: the June 2025 ultrasound paper before the medical-imaging one.
    assert out.index("2506.12000") < out.index("2506.11674")
    [request] = fake_arxiv.requests
    assert request.params["sortBy"] == "submittedDate"


async def test_paper_lookup_prints_a_full_card(app: BotApp) -> None:
    out = await run_console(app, "/arxiv paper https://arxiv.org/abs/2506.11674v1\n")
    assert "Boundary-Aware Diffusion Models for Medical Image Segmentation" in out
    assert "Authors: Lena Müller, Rahul Iyer, Chen Wei, Sofia Alvarez" in out
    assert "eess.IV (Image and Video Processing); cross-listed in cs.CV, cs.LG" in out
    assert "Comment: 12 pages, 5 figures, accepted at MICCAI 2025" in out
    assert "Submitted 2025-06-13" in out
    assert "https://arxiv.org/abs/2506.11674" in out
    assert "https://arxiv.org/pdf/2506.11674" in out
    assert "https://arxiv.org/html/2506.11674" in out
    assert "Code:     https://github.com/lmueller/bad-seg" in out


async def test_unknown_paper_and_bad_id_are_explained(app: BotApp) -> None:
    out = await run_console(app, "/arxiv paper 2601.99999\n/arxiv paper not-a-paper\n")
    assert "2601.99999" in out
    assert "Traceback" not in out
    assert out.count("✗") == 2


async def test_subscriptions_are_per_channel(app: BotApp) -> None:
    await run_console(
        app,
        '/arxiv subscribe ti:"medical imaging" AND cat:eess.IV\n/arxiv subscribe au:hinton\n',
        channel="lab",
    )
    lab = await run_console(app, "/arxiv list\n", channel="lab")
    other = await run_console(app, "/arxiv list\n/arxiv unsubscribe 1\n", channel="other")
    assert "This channel has 2 of at most 25 subscriptions" in lab
    assert '#1  ti:"medical imaging" AND cat:eess.IV' in lab
    assert "#2  au:hinton" in lab
    assert "This channel has no subscriptions yet." in other
    assert "No subscription #1 in this channel" in other

    out = await run_console(app, "/arxiv unsubscribe 1\n/arxiv list\n", channel="lab")
    assert 'Removed subscription #1: ti:"medical imaging" AND cat:eess.IV' in out
    assert "This channel has 1 of at most 25 subscriptions" in out


async def test_bad_query_points_at_the_problem_and_stores_nothing(app: BotApp) -> None:
    out = await run_console(app, '/arxiv subscribe tii:"medical imaging"\n/arxiv list\n')
    assert "tii" in out
    assert "ti" in out
    assert '    tii:"medical imaging"\n    ^' in out
    assert "This channel has no subscriptions yet." in out
    assert (await app.store.counts()).subscriptions == 0


async def test_duplicate_and_limit_are_refused_clearly(settings: Settings) -> None:
    small = settings.model_copy(update={"max_subscriptions_per_channel": 2})
    async with BotApp(small) as app:
        out = await run_console(
            app,
            "/arxiv subscribe mri\n/arxiv subscribe mri\n/arxiv subscribe cat:cs.CV\n"
            "/arxiv subscribe cat:cs.LG\n",
        )
        assert "#1" in out
        assert "already" in out
        assert "2 subscriptions" in out
        assert "/arxiv unsubscribe" in out
        assert (await app.store.counts()).subscriptions == 2


async def test_arxiv_rate_limit_gets_a_clear_quick_answer(
    app: BotApp, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.fail_next(429, retry_after="120", times=5)
    started = time.monotonic()
    out = await run_console(app, "/arxiv search mri\n")
    assert time.monotonic() - started < 15
    assert "rate" in out.lower()
    assert "try again" in out.lower()
    assert "Traceback" not in out


async def test_help_documents_every_command_with_an_example(app: BotApp) -> None:
    out = await run_console(app, "/arxiv help\n/arxiv help subscribe\n")
    for command in ("search", "paper", "subscribe", "unsubscribe", "list", "status", "help"):
        assert f"/arxiv {command}" in out
    assert '/arxiv subscribe ti:"medical imaging" AND cat:eess.IV' in out
    assert "ANDNOT" in out


async def test_status_counts_requests_and_subscriptions(app: BotApp) -> None:
    out = await run_console(app, "/arxiv subscribe mri\n/arxiv search mri\n/arxiv status\n")
    assert "This channel: 1 subscription, mode each." in out
    assert "arXiv: answering, last answer just now." in out
    assert "Last harvest: never." in out


async def test_identical_searches_cost_one_request(app: BotApp, fake_arxiv: FakeArxiv) -> None:
    out = await run_console(app, "/arxiv search mri\n/arxiv search  mri\n")
    assert out.count("Physics-Informed Unrolled Networks") == 2
    assert fake_arxiv.request_count == 1


async def test_blank_lines_and_comments_are_skipped(app: BotApp) -> None:
    out = await run_console(app, "\n   \n# a comment\nlist\n")
    assert out.strip() == (
        "This channel has no subscriptions yet.\n"
        "Add one with /arxiv subscribe <query>, for example:\n"
        '    /arxiv subscribe ti:"medical imaging" AND cat:eess.IV'
    )


@pytest.mark.parametrize("channel", ["console", "reading-group"])
async def test_posts_show_channel_and_id_and_neutralise_control_text(
    app: BotApp, channel: str
) -> None:
    hostile: Paper = replace(
        paper_by_id("2506.11674"), title="Evil \x1b[31mred\x1b[0m title\u202e <!channel>"
    )
    output = io.StringIO()
    adapter = ConsoleAdapter(app, channel=channel, stdin=io.StringIO(""), stdout=output)
    target = ChannelRef("console", "local", channel, channel)
    await send_plan(adapter, target, make_post(hostile))
    text = output.getvalue()
    assert text.startswith(f"#{channel} · [2506.11674v1] eess.IV")
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "Evil [31mred[0m title <!channel>" in text


class _PagedCore:
    """A core that answers any command with one page of results and a next page."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def execute(self, text: str, context: CommandContext) -> Reply:
        self.texts.append(text.strip())
        text_ = "We train a diffusion model"
        start = text_.index("diffusion")
        return Reply(
            title="Page 1",
            papers=(paper_by_id("2506.11674"),),
            snippets=(Snippet(text_, ((start, start + 9),)),),
            more='search ti:"diffusion model" --page 2',
        )

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        return []

    async def feedback(self, event: FeedbackEvent) -> bool:
        return False


async def test_results_show_their_snippet_and_how_to_get_the_next_page() -> None:
    core = _PagedCore()
    output = io.StringIO()
    adapter = ConsoleAdapter(
        core, stdin=io.StringIO('/arxiv search ti:"diffusion model"\n'), stdout=output
    )
    await adapter.start()
    await adapter.wait_closed()
    await adapter.stop()
    out = output.getvalue()
    assert core.texts == ['/arxiv search ti:"diffusion model"']
    assert "     We train a diffusion model" in out.splitlines()
    assert 'More: /arxiv search ti:"diffusion model" --page 2' in out.splitlines()
    assert "\x1b" not in out
