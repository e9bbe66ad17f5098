"""Link previews in Slack: a signed ``link_shared`` event posted to the bot's real HTTP
endpoint is answered with ``chat.unfurl`` at the fake Slack, one compact card per arXiv
link, from the store when it holds the paper, else from the fake arXiv API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
from slack_sdk.models.blocks import Block

from adapters.slack.adapter import EVENTS_PATH, SlackAdapter
from bot.app import BotApp
from bot.link_previews import MAX_LINKS, arxiv_links, first_sentence
from bot.models import ChannelRef, Paper
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.corpus import paper_by_id
from tests.fakes.slack_api import FakeSlack, Unfurl
from tests.slack.checks import EVIL, assert_payload_escaped
from tests.slack.payloads import signed_headers, wait_for

HELD = "2506.11674"
NOT_HELD = "2506.10231"
LAB = ChannelRef(platform="slack", workspace="T0TEST", channel="C0LAB")


async def post_event(slack: SlackAdapter, payload: dict[str, Any]) -> int:
    """POST an Events API body, signed, to the adapter's HTTP endpoint; the status."""
    body = json.dumps(payload)
    headers = {**signed_headers(body), "content-type": "application/json"}
    url = f"http://127.0.0.1:{slack.http_port}{EVENTS_PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        return r.status


async def unfurled(slack: SlackAdapter, fake: FakeSlack, urls: list[str], ts: str) -> Unfurl:
    payload = fake.link_shared_event_payload(urls, message_ts=ts, channel_id="C0LAB")
    assert await post_event(slack, payload) == 200
    await wait_for(lambda: any(u.ts == ts for u in fake.unfurls()))
    return next(u for u in fake.unfurls() if u.ts == ts)


def check_card(unfurl: dict[str, Any], paper: Paper) -> str:
    """Validate one unfurl's blocks as Slack would; their text, joined."""
    blocks = unfurl["blocks"]
    for block in Block.parse_all(blocks):
        block.validate_json()
    assert_payload_escaped({"text": "card", "blocks": blocks})
    assert blocks[0]["text"]["text"].startswith(f"*<{paper.abs_url}|")
    texts = json.dumps(blocks, ensure_ascii=False)
    assert '"verbatim": true' in texts
    return texts


async def test_held_papers_unfurl_from_the_store_without_asking_arxiv(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    paper = paper_by_id(HELD)
    await app.store.upsert_papers([paper])
    urls = [
        f"https://arxiv.org/abs/{HELD}",
        f"https://arxiv.org/pdf/{HELD}v{paper.version}",
        f"https://arxiv.org/html/{HELD}v{paper.version}",
        f"https://export.arxiv.org/abs/{HELD}?context=cs",
        f"https://huggingface.co/papers/{HELD}",
    ]
    others = ["https://github.com/org/repo", "https://arxiv.org/list/cs.CV/new"]
    found = await unfurled(slack, fake_slack, [others[0], *urls, others[1]], "1.000001")
    assert found.channel == "C0LAB"
    assert list(found.unfurls) == urls  # every arXiv link, as Slack sent it; no others
    for url in urls:
        texts = check_card(found.unfurls[url], paper)
        assert paper.authors[0] in texts
        assert paper.primary_category in texts
        assert f"submitted {paper.submitted:%Y-%m-%d}" in texts
    assert fake_arxiv.requests == []


async def test_a_paper_not_held_is_fetched_through_the_paper_lookup(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    assert await app.store.get_paper(NOT_HELD) is None
    url = f"https://alphaxiv.org/abs/{NOT_HELD}"
    found = await unfurled(slack, fake_slack, [url], "1.000002")
    check_card(found.unfurls[url], paper_by_id(NOT_HELD))
    assert fake_arxiv.request_count == 1
    assert await app.store.get_paper(NOT_HELD) is not None  # kept, as /arxiv paper does


async def test_links_that_name_no_paper_get_no_unfurl(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_arxiv: FakeArxiv
) -> None:
    await app.store.upsert_papers([paper_by_id(HELD)])
    junk = ["https://arxiv.org/abs/", "https://huggingface.co/models", "https://doi.org/10.1/x"]
    payload = fake_slack.link_shared_event_payload(junk, message_ts="1.000003")
    assert await post_event(slack, payload) == 200
    await unfurled(slack, fake_slack, [f"https://arxiv.org/abs/{HELD}"], "1.000004")
    await asyncio.sleep(0.05)
    assert [u.ts for u in fake_slack.unfurls()] == ["1.000004"]
    assert fake_arxiv.requests == []


async def test_hostile_titles_and_abstracts_are_escaped(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    paper = dataclasses.replace(
        paper_by_id(HELD),
        title=f"*bold* {EVIL} `code`",
        authors=("<@U0ADMIN>", "Tom & Jerry"),
        abstract=f"{EVIL} is not a sentence end. Second sentence here.",
    )
    await app.store.upsert_papers([paper])
    url = f"https://arxiv.org/abs/{HELD}"
    found = await unfurled(slack, fake_slack, [url], "1.000005")
    texts = check_card(found.unfurls[url], paper)
    assert "&lt;!channel&gt;" in texts
    assert "Tom &amp; Jerry" in texts
    assert "Second sentence" not in texts  # the first sentence only


async def test_links_typed_in_the_composer_unfurl_by_their_unfurl_id(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    await app.store.upsert_papers([paper_by_id(HELD)])
    url = f"https://arxiv.org/abs/{HELD}"
    payload = fake_slack.link_shared_event_payload([url], source="composer")
    assert await post_event(slack, payload) == 200
    await wait_for(lambda: bool(fake_slack.unfurls()))
    (found,) = fake_slack.unfurls()
    assert found.source == "composer"
    assert found.unfurl_id == payload["event"]["unfurl_id"]
    assert list(found.unfurls) == [url]


async def test_the_core_dedupes_caps_and_never_raises(app: BotApp, fake_arxiv: FakeArxiv) -> None:
    await app.store.upsert_papers([paper_by_id(HELD)])
    urls = [
        f"https://arxiv.org/abs/{HELD}",
        f"https://arxiv.org/abs/{HELD}",  # the same link twice: once
        f"https://arxiv.org/pdf/{HELD}",  # the same paper: one lookup, two cards
        "https://arxiv.org/abs/2506.99999",  # arXiv has no such paper: no card
        "not a link at all " * 500,
        "",
        *(f"https://arxiv.org/abs/2506.1{n:04d}" for n in range(10)),
    ]
    previews = await app.link_previews(urls, LAB)
    assert [p.url for p in previews] == urls[:1] + urls[2:3]
    assert {p.post.paper.arxiv_id for p in previews} == {HELD}
    # Five arXiv links at most: the held paper's two, and three arXiv does not have.
    assert fake_arxiv.request_count == 3
    assert len(arxiv_links(urls)) == MAX_LINKS


def test_first_sentence() -> None:
    text = "We study e.g. diffusion models in detail. Then we stop.  Really."
    assert first_sentence(text, 400) == "We study e.g. diffusion models in detail."
    assert first_sentence("word " * 200, 50).endswith("…")
    assert len(first_sentence("word " * 200, 50)) <= 50
