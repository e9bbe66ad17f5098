"""Automatic posts end to end: subscribe from chat, harvest the fake OAI-PMH, post."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from adapters.console import ConsoleAdapter
from bot.adapter import CommandContext
from bot.app import STOPPING_TEXT, BotApp
from bot.config import Settings
from bot.models import ChannelRef, HarvestedRecord
from tests.conftest import settings_env
from tests.fakes.corpus import make_paper, paper_by_id
from tests.fakes.oai import FakeOai
from tests.fakes.oai_corpus import harvested
from tests.test_console import run_console


def today() -> date:
    """Today in UTC, read when used, so a run that crosses midnight stays consistent."""
    return datetime.now(UTC).date()


def announce(fake_oai: FakeOai, *arxiv_ids: str, day: int = 0) -> None:
    """Let the fake OAI-PMH serve these sample papers as announced ``day`` days ago."""
    fake_oai.announce(*map(paper_by_id, arxiv_ids), days_ago=day)


async def cycle_output(app: BotApp) -> str:
    """Run one cycle with a console adapter as the sender; return what it posted."""
    output = io.StringIO()
    app.senders["console"] = ConsoleAdapter(app, stdin=io.StringIO(""), stdout=output)
    await app.run_cycle()
    return output.getvalue()


async def test_subscribe_harvest_and_post_once(app: BotApp, fake_oai: FakeOai) -> None:
    subscribed = await run_console(app, '/arxiv subscribe ti:"medical imaging"\n', channel="lab")
    assert "No new papers were harvested in the last 7 days yet" in subscribed
    await run_console(app, "/arxiv subscribe cat:eess.IV --mode digest\n", channel="imaging")
    announce(fake_oai, "2506.11674", "2506.10231", "2506.09876")

    first = await cycle_output(app)
    lab_posts = [line for line in first.splitlines() if line.startswith("#lab · [")]
    assert lab_posts == ["#lab · [2506.11674v1] eess.IV"]
    assert 'Matched:  #1 ti:"medical imaging"' in first
    assert "#imaging · Digest: 2 new papers from arXiv" in first
    assert "2506.09876" not in first  # cs.CL, matches nobody

    assert await cycle_output(app) == ""  # nothing new, nothing twice


async def test_revision_is_not_reposted_and_cross_list_reaches_its_channel(
    app: BotApp, fake_oai: FakeOai
) -> None:
    await run_console(app, "/arxiv subscribe cat:cs.CV\n", channel="vision")
    announce(fake_oai, "2506.11674")  # primary eess.IV, cross-listed in cs.CV
    first = await cycle_output(app)
    assert "#vision · [2506.11674v1] eess.IV" in first

    later = datetime.now(UTC)
    revision = replace(paper_by_id("2506.11674"), updated=later, submitted=later - timedelta(1))
    fake_oai.add_records(harvested(revision, today()))
    assert await cycle_output(app) == ""


async def test_preview_and_status_after_a_harvest(app: BotApp, fake_oai: FakeOai) -> None:
    announce(fake_oai, "2506.11674", "2506.12000", "2506.09876")
    await app.run_cycle()
    out = await run_console(app, "/arxiv preview abs:segmentation\n/arxiv status\n")
    assert "Over the last 7 days it would have posted 2 papers (of 3 new papers harvested)" in out
    assert "Self-Supervised Pretraining for Ultrasound Image Segmentation" in out
    assert "Last harvest:" in out
    assert "3 new papers" in out
    assert "Pending deliveries: 0." in out
    assert fake_oai.request_count == 1


def test_run_once_from_the_command_line(settings: Settings, fake_oai: FakeOai) -> None:
    env = settings_env(settings)
    command = [sys.executable, "-m", "bot", "run", "--channel", "lab"]
    subscribe = subprocess.run(
        command,
        input="/arxiv subscribe abs:segmentation\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "Subscribed this channel to #1" in subscribe.stdout, subscribe.stderr
    fake_oai.add_records(
        harvested(
            make_paper(
                "2611.00001",
                title="Segmentation of everything",
                abstract="We do segmentation.",
                submitted=datetime.now(UTC) - timedelta(days=1),
                updated=datetime.now(UTC) - timedelta(days=1),
            ),
            today(),
        )
    )
    once = subprocess.run(
        [*command, "--once"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert once.returncode == 0, once.stderr
    assert "#lab · [2611.00001v1]" in once.stdout
    again = subprocess.run(
        [*command, "--once"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "2611.00001" not in again.stdout


async def test_paused_channel_shows_why_and_resumes_when_managed(app: BotApp) -> None:
    await run_console(app, "/arxiv subscribe cat:cs.CV\n", channel="lab")
    channel_id = await app.store.ensure_channel(ChannelRef("console", "local", "lab", "lab"))
    await app.store.pause_channel(channel_id, "the bot was removed from this channel")
    status = await run_console(app, "/arxiv status\n", channel="lab")
    assert "Posting here is paused: the bot was removed from this channel" in status
    out = await run_console(app, "/arxiv mode digest\n/arxiv status\n", channel="lab")
    assert "Posting here had been paused (the bot was removed from this channel)" in out
    assert "resumes now" in out
    assert "Posting here is paused" not in out
    assert "mode digest" in out


async def test_a_command_arriving_after_the_bot_stopped_gets_a_message(settings: Settings) -> None:
    async with BotApp(settings) as app:
        pass
    reply = await app.execute("help", CommandContext(channel=ChannelRef("console", "local", "c")))
    assert reply.title == STOPPING_TEXT
    assert await app.channel_subscriptions(ChannelRef("console", "local", "c")) == []


async def test_papers_stranded_between_harvest_and_matching_are_counted_and_matched(
    app: BotApp, fake_oai: FakeOai
) -> None:
    """A crash after the harvest committed but before matching: /arxiv status counts the
    papers waiting, and the next cycle matches and posts them even if its own harvest
    fails."""
    await run_console(app, "/arxiv subscribe cat:eess.IV\n", channel="imaging")
    stranded = replace(paper_by_id("2506.11674"), submitted=datetime.now(UTC))
    await app.store.upsert_harvested([HarvestedRecord(stranded, today())])
    status = await run_console(app, "/arxiv status\n", channel="imaging")
    assert "Papers waiting to be matched: 1." in status

    fake_oai.truncate_next(times=5)  # a broken answer: the harvest fails
    output = await cycle_output(app)

    assert "#imaging · [2506.11674v1]" in output
    assert "Papers waiting to be matched" not in await run_console(app, "/arxiv status\n")


async def test_status_says_what_went_wrong_with_the_harvest_in_words(
    app: BotApp, fake_oai: FakeOai
) -> None:
    """Not ``not well-formed XML (...) from http://...``: that detail is for the log."""
    announce(fake_oai, "2506.11674")
    fake_oai.truncate_next()  # a broken answer
    await app.run_cycle()
    status = await run_console(app, "/arxiv status\n")
    broken = (
        "The last harvest failed (just now): arXiv sent a broken answer. The next harvest "
        f"starts again from {today() - timedelta(days=3)}, so nothing is lost."
    )
    assert broken in status
    assert "XML" not in status and fake_oai.url not in status and "request" not in status.lower()
    assert "arXiv: answering, last answer just now." in status  # arXiv did answer

    fake_oai.fail_next(503, retry_after="0", times=4)  # each of the gate's four attempts
    await app.run_cycle()
    status = await run_console(app, "/arxiv status\n")
    assert "The last harvest failed (just now): arXiv could not be reached or was unavailable." in (
        status
    )
    assert "arXiv: the last request failed just now; last answer just now." in status
    assert "503" not in status

    await app.run_cycle()  # arXiv answers again
    status = await run_console(app, "/arxiv status\n")
    assert "The last harvest failed" not in status
    assert "Last harvest: " in status and "1 new paper, 0 revisions." in status
