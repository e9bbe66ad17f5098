"""Feedback on a digest posted to the fake Slack: a reaction on one of its full cards (in
the digest's thread) counts for that card's paper; one on its list of many does not."""

from __future__ import annotations

import functools

from adapters.slack.adapter import SlackAdapter
from bot.app import BotApp
from tests.fakes.corpus import paper_by_id
from tests.fakes.oai import FakeOai
from tests.fakes.slack_api import FakeSlack
from tests.slack.payloads import command_body, dispatch, wait_for
from tests.slack.test_feedback import OTHER, PAPER, rows, send_event, settings, wait_for_rows

__all__ = ["settings"]  # the fixture, shared with the reaction tests


def answered(fake: FakeSlack, token: str) -> bool:
    return bool(fake.responses(token))


async def test_a_reaction_on_a_digest_card_counts_but_not_on_its_list(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack, fake_oai: FakeOai
) -> None:
    for token, text in (("sub", "subscribe cat:eess.IV"), ("mode", "mode digest")):
        body = command_body(fake_slack, text, token=token, channel="C0LAB")
        assert (await dispatch(slack, body)).status == 200
        await wait_for(functools.partial(answered, fake_slack, token))
    fake_oai.announce(paper_by_id(PAPER), paper_by_id(OTHER))
    await app.run_cycle()
    posted = fake_slack.messages("C0LAB")
    listing = next(message for message in posted if message.thread_ts is None)
    card = next(
        message
        for message in posted
        if message.thread_ts == listing.ts and PAPER in (message.text or "")
    )
    on_list = fake_slack.reaction_event_payload(
        "+1", message_ts=listing.ts, user_id="U0ADA", channel_id="C0LAB"
    )
    on_card = fake_slack.reaction_event_payload(
        "fire", message_ts=card.ts, user_id="U0BOB", channel_id="C0LAB"
    )
    assert await send_event(slack, on_list) == 200
    assert await send_event(slack, on_card) == 200
    await wait_for_rows(app, 1)
    assert await rows(app) == [(PAPER, "U0BOB", "reaction", "fire", 1)]
