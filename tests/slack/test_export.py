"""``/arxiv export`` in Slack uploads the file to the channel (files_upload_v2 against the
fake's files.getUploadURLExternal / upload URL / files.completeUploadExternal); a paper
card's "Cite" button answers with the paper's BibTeX."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from bibtexparser.entrypoint import parse_string

from adapters.slack.adapter import SlackAdapter
from adapters.slack.files import UPLOAD_FAILED
from adapters.slack.render import CITE_ACTION, paper_card
from bot.app import BotApp
from bot.models import ChannelRef
from bot.render import make_post
from tests.export_data import seed_channel, topic_papers
from tests.fakes.corpus import paper_by_id
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.slack.payloads import action_body, dispatch, wait_for
from tests.slack.test_commands import run_command

LAB = ChannelRef(platform="slack", workspace=TEAM_ID, channel="C0LAB", name="lab")
PAPER = "2506.11674"


async def test_export_is_uploaded_to_the_channel(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    papers = topic_papers("computer science", 7, datetime(2025, 6, 9, tzinfo=UTC), 10000)
    await seed_channel(app.store, LAB, {"cat:cs.*": papers})
    _, answer = await run_command(slack, fake_slack, "export --format csv", token="exp")
    assert "Export of 7 papers" in str(answer)
    await wait_for(lambda: bool(fake_slack.files("C0LAB")))
    (upload,) = fake_slack.files("C0LAB")
    assert upload.filename.startswith("arxiv-lab-") and upload.filename.endswith(".csv")
    assert upload.content is not None and len(upload.content) == upload.length
    rows = list(csv.DictReader(io.StringIO(upload.content.decode())))
    assert [row["arxiv_id"] for row in rows] == [paper.arxiv_id for paper in papers]
    methods = [call.method for call in fake_slack.calls() if call.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_a_channel_the_bot_cannot_share_to_gets_a_private_note(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    fake_slack.set_channel("C0LAB", private=True, member=False)
    papers = topic_papers("mathematics", 2, datetime(2025, 6, 9, tzinfo=UTC), 20000)
    await seed_channel(app.store, LAB, {"cat:math.*": papers})
    await run_command(slack, fake_slack, "export", token="priv")
    await wait_for(lambda: len(fake_slack.responses("priv")) == 2)
    note = fake_slack.responses("priv")[1]["text"]
    assert note == UPLOAD_FAILED.format(reason="not_in_channel")
    assert fake_slack.files() == []


async def test_cite_button_answers_with_the_bibtex(
    app: BotApp, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    card = paper_card(make_post(paper_by_id(PAPER)), feedback=True)
    cites = [
        element
        for block in card.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == CITE_ACTION
    ]
    assert [button["value"] for button in cites] == [PAPER]
    response = await dispatch(slack, action_body(fake_slack, CITE_ACTION, token="c", value=PAPER))
    assert response.status == 200
    await wait_for(lambda: bool(fake_slack.responses("c")))
    (answer,) = fake_slack.responses("c")
    text = str(answer["blocks"])
    assert "@misc{" in text and "eprint={2506.11674}" in text
    assert answer["response_type"] == "ephemeral"
    entry = "\n".join(
        block["text"]["text"].strip("`\n")
        for block in answer["blocks"]
        if block["type"] == "section" and "@misc" in block["text"]["text"]
    )
    library = parse_string(entry.replace("&amp;", "&").replace("&lt;", "<"))
    assert not library.failed_blocks and library.entries[0]["eprint"] == PAPER
