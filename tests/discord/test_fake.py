"""discord.py's real HTTP client against the fake Discord REST API (no network): messages,
threads, interactions, nonces, reading back and lost answers."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.http import HTTPClient, handle_message_parameters
from discord.webhook.async_ import (
    async_context,
    interaction_message_response_params,
    interaction_response_params,
)

from adapters.discord.render import paper_buttons, paper_embed
from bot.render import make_post
from tests.fakes.corpus import paper_by_id
from tests.fakes.discord_api import (
    APPLICATION_ID,
    BOT_USER_ID,
    GUILD_ID,
    FakeDiscord,
    running_fake_discord,
)

CHANNEL = 1200000000000000001
MESSAGES = "POST /channels/{channel_id}/messages"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with running_fake_discord() as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_url)
        yield server


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[HTTPClient]:
    client = HTTPClient(asyncio.get_running_loop())
    await client.static_login(fake.token)
    yield client
    await client.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def _params(content: str = "hello") -> discord.http.MultipartParameters:
    return handle_message_parameters(
        content=content, allowed_mentions=discord.AllowedMentions.none()
    )


async def test_login_and_application_info(fake: FakeDiscord, http: HTTPClient) -> None:
    info = await http.application_info()
    assert info["id"] == APPLICATION_ID
    (login,) = fake.calls("GET /users/@me")
    assert login.header("Authorization") == f"Bot {fake.token}"
    assert (login.header("User-Agent") or "").startswith("DiscordBot")
    assert login.status == 200
    app_info = discord.AppInfo(_state(http), info)
    assert app_info.owner.name == "owner"


def _state(http: HTTPClient) -> discord.state.ConnectionState:
    """A connection state good enough to build model objects from the fake's answers."""
    return discord.state.ConnectionState(
        dispatch=lambda *a, **k: None,
        handlers={},
        hooks={},
        http=http,
        intents=discord.Intents.none(),
    )


async def test_a_wrong_token_fails_login(fake: FakeDiscord) -> None:
    client = HTTPClient(asyncio.get_running_loop())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.static_login("wrong")
    finally:
        await client.close()


async def test_answers_are_json_with_the_headers_discord_sends(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with session.get(fake.api_url + "/users/@me", headers=headers) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Via"]
        assert response.headers["X-RateLimit-Remaining"] == "49"
        assert (await response.json())["id"] == BOT_USER_ID


async def test_message_with_embeds_buttons_and_no_mentions(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    post = make_post(paper_by_id("2506.11674"))
    embed = paper_embed(post)
    params = handle_message_parameters(
        content="New paper",
        embeds=[embed],
        view=paper_buttons(post),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    answer = await http.send_message(CHANNEL, params=params)
    (message,) = fake.messages(CHANNEL)
    assert answer["id"] == message.id and answer["channel_id"] == str(CHANNEL)
    assert answer["guild_id"] == GUILD_ID
    assert message.content == "New paper"
    assert message.embeds == [embed.to_dict()]
    assert message.allowed_mentions == {"parse": []}
    buttons = message.components[0]["components"]
    assert [b["label"] for b in buttons] == ["Abstract", "PDF", "Code"]
    assert all(b["style"] == 5 for b in buttons)
    (call,) = fake.calls(f"POST /channels/{CHANNEL}/messages")
    assert call.header("Content-Type") == "application/json"
    # The answer builds a real discord.py Message.
    channel = discord.PartialMessageable(state=_state(http), id=CHANNEL)
    built = discord.Message(state=_state(http), channel=channel, data=answer)
    assert built.embeds[0].title == embed.title


async def test_multipart_messages_decode_payload_json(fake: FakeDiscord, http: HTTPClient) -> None:
    params = handle_message_parameters(
        content="with a file",
        file=discord.File(io.BytesIO(b"abc"), filename="papers.txt"),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    await http.send_message(CHANNEL, params=params)
    (call,) = fake.calls(MESSAGES)
    assert call.multipart
    assert call.files == ("papers.txt",)
    assert fake.messages(CHANNEL)[0].content == "with a file"


async def test_rate_limit_is_waited_out_and_retried(fake: FakeDiscord, http: HTTPClient) -> None:
    fake.rate_limit_next(MESSAGES, retry_after=0.05)
    started = time.monotonic()
    await http.send_message(CHANNEL, params=_params())
    assert time.monotonic() - started >= 0.05
    first, second = fake.calls(MESSAGES)
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.05
    assert len(fake.messages(CHANNEL)) == 1


async def test_rate_limit_on_one_channel_only(fake: FakeDiscord, http: HTTPClient) -> None:
    fake.rate_limit_next(f"POST /channels/{CHANNEL}/messages", retry_after=0.01)
    await http.send_message(CHANNEL + 1, params=_params())
    await http.send_message(CHANNEL, params=_params())
    assert [c.status for c in fake.calls(MESSAGES)] == [200, 429, 200]


async def test_missing_permissions_raise_forbidden(fake: FakeDiscord, http: HTTPClient) -> None:
    fake.fail_next(MESSAGES, status=403, code=50013)
    with pytest.raises(discord.Forbidden) as raised:
        await http.send_message(CHANNEL, params=_params())
    assert raised.value.code == 50013
    assert raised.value.text == "Missing Permissions"
    await http.send_message(CHANNEL, params=_params())  # consumed: the next one goes through
    fake.set_channel(CHANNEL + 1, can_send=False)
    with pytest.raises(discord.Forbidden):
        await http.send_message(CHANNEL + 1, params=_params())
    assert (await http.get_channel(CHANNEL + 1))["id"] == str(CHANNEL + 1)


async def test_deleted_channel_raises_not_found(fake: FakeDiscord, http: HTTPClient) -> None:
    fake.fail_next(f"POST /channels/{CHANNEL}/messages", status=404, code=10003)
    with pytest.raises(discord.NotFound) as raised:
        await http.send_message(CHANNEL, params=_params())
    assert raised.value.code == 10003
    fake.set_channel(CHANNEL, deleted=True)
    with pytest.raises(discord.NotFound):
        await http.get_channel(CHANNEL)
    with pytest.raises(discord.NotFound):
        await http.request(discord.http.Route("GET", "/no/such/route"))
    assert fake.all_calls[-1].route == "?"


async def test_threads_from_a_message_and_without_one(fake: FakeDiscord, http: HTTPClient) -> None:
    head = await http.send_message(CHANNEL, params=_params("digest"))
    thread = await http.start_thread_with_message(
        CHANNEL, head["id"], name="Digest: 20 new papers", auto_archive_duration=1440
    )
    assert thread["id"] == head["id"]
    assert thread["parent_id"] == str(CHANNEL) and thread["type"] == 11
    assert thread["name"] == "Digest: 20 new papers"
    await http.send_message(thread["id"], params=_params("card"))
    assert [m.content for m in fake.messages(thread["id"])] == ["card"]
    other = await http.start_thread_without_message(
        CHANNEL,
        name="loose",
        auto_archive_duration=60,
        type=discord.ChannelType.public_thread.value,
    )
    assert other["parent_id"] == str(CHANNEL)
    assert {t["name"] for t in fake.threads(CHANNEL)} == {"Digest: 20 new papers", "loose"}
    state = _state(http)
    guild = discord.Object(int(GUILD_ID))
    built = discord.Thread(guild=guild, state=state, data=thread)  # type: ignore[arg-type]
    assert built.parent_id == CHANNEL


async def test_forum_post_creates_a_thread_with_its_message(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    fake.set_channel(CHANNEL, type=15, name="papers-forum")
    params = handle_message_parameters(
        content="first",
        allowed_mentions=discord.AllowedMentions.none(),
        channel_payload={"name": "A paper", "auto_archive_duration": 1440},
    )
    post = await http.start_thread_in_forum(CHANNEL, params=params)
    assert post["name"] == "A paper" and post["message"]["content"] == "first"
    channel: dict[str, Any] = dict(await http.get_channel(post["id"]))
    assert channel["parent_id"] == str(CHANNEL)


async def test_interaction_callback_followup_and_edit(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    adapter = async_context.get()
    fake.expect_interaction("tok", CHANNEL)
    deferred = await adapter.create_interaction_response(
        1300000000000000001,
        "tok",
        session=session,
        params=interaction_response_params(5, {"flags": 64}),
    )
    assert deferred["interaction"]["response_message_loading"] is True
    assert deferred["interaction"]["response_message_ephemeral"] is True
    (callback,) = fake.calls("POST /interactions/{interaction_id}/{token}/callback")
    assert callback.query == {"with_response": "1"}
    # What Interaction.followup builds: an application webhook (type 3).
    webhook = discord.Webhook({"id": APPLICATION_ID, "type": 3, "token": "tok"}, session=session)
    sent = await webhook.send(
        "results", ephemeral=True, wait=True, allowed_mentions=discord.AllowedMentions.none()
    )
    assert sent.content == "results"
    await webhook.edit_message(sent.id, content="edited")
    original = f"{fake.api_url}/webhooks/{APPLICATION_ID}/tok/messages/@original"
    async with session.patch(original, json={"content": "first, edited"}) as response:
        assert (await response.json())["content"] == "first, edited"
    messages = fake.webhook_messages("tok")
    assert [m.content for m in messages] == [None, "results", "edited", "first, edited"]
    assert messages[1].ephemeral and messages[1].channel_id == str(CHANNEL)
    assert [r.type for r in fake.interaction_responses("tok")] == [5]
    with pytest.raises(discord.HTTPException) as raised:  # answered twice
        await adapter.create_interaction_response(
            1300000000000000001, "tok", session=session, params=interaction_response_params(5)
        )
    assert raised.value.code == 40060


async def test_interaction_message_response(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    params = interaction_message_response_params(
        type=4, content="hi", allowed_mentions=discord.AllowedMentions.none()
    )
    answer = await async_context.get().create_interaction_response(
        1300000000000000002, "tok2", session=session, params=params
    )
    assert answer["resource"]["message"]["content"] == "hi"
    (message,) = fake.webhook_messages("tok2")
    assert message.allowed_mentions == {"parse": []}


async def test_followup_with_an_unknown_token_is_not_found(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    webhook = discord.Webhook.partial(int(APPLICATION_ID), "nope", session=session)
    with pytest.raises(discord.NotFound):
        await webhook.send("x", wait=True)


async def test_command_sync_global_and_guild(fake: FakeDiscord, http: HTTPClient) -> None:
    command = {"name": "arxiv", "description": "arXiv papers", "type": 1, "options": []}
    synced = await http.bulk_upsert_global_commands(APPLICATION_ID, [command])
    assert synced[0]["name"] == "arxiv" and synced[0]["id"]
    await http.bulk_upsert_guild_commands(APPLICATION_ID, GUILD_ID, [command])
    assert [c["name"] for c in fake.commands()] == ["arxiv"]
    assert fake.commands(GUILD_ID)[0]["guild_id"] == GUILD_ID
    assert (await http.get_global_commands(APPLICATION_ID))[0]["name"] == "arxiv"
    await http.bulk_upsert_global_commands(APPLICATION_ID, [])
    assert fake.commands() == []


async def test_global_rate_limit_and_server_errors(fake: FakeDiscord, http: HTTPClient) -> None:
    fake.rate_limit_next("GET /channels/{channel_id}", retry_after=0.01, is_global=True)
    assert (await http.get_channel(CHANNEL))["id"] == str(CHANNEL)
    limited = fake.calls("GET /channels/{channel_id}")[0]
    assert limited.status == 429
    # 503 is not among the statuses discord.py retries (500, 502, 504, 524 sleep 1 s+).
    fake.fail_next(MESSAGES, status=503)
    with pytest.raises(discord.DiscordServerError):
        await http.send_message(CHANNEL, params=_params())
    assert fake.messages() == []


# -- nonces, reading back, threads that exist, lost answers


def _nonced(content: str, nonce: str) -> discord.http.MultipartParameters:
    """What ``Messageable.send(nonce=...)`` sends: ``nonce`` and ``enforce_nonce``."""
    return handle_message_parameters(
        content=content, nonce=nonce, allowed_mentions=discord.AllowedMentions.none()
    )


async def test_enforced_nonce_answers_the_existing_message(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    params = _nonced("paper 2506.11674", "d7-2506.11674")
    assert params.payload is not None and params.payload["enforce_nonce"] is True
    first = await http.send_message(CHANNEL, params=params)
    again = await http.send_message(CHANNEL, params=_nonced("paper 2506.11674", "d7-2506.11674"))
    assert again["id"] == first["id"] and first["nonce"] == "d7-2506.11674"
    assert len(fake.messages(CHANNEL)) == 1
    # another channel, or another nonce, is another message
    elsewhere = await http.send_message(CHANNEL + 1, params=_nonced("x", "d7-2506.11674"))
    assert elsewhere["id"] != first["id"]
    fake.advance_clock(fake.nonce_window + 1)  # Discord forgets the nonce
    later = await http.send_message(CHANNEL, params=_nonced("paper 2506.11674", "d7-2506.11674"))
    assert later["id"] != first["id"]
    assert len(fake.messages(CHANNEL)) == 2


async def test_nonce_through_messageable_send_and_a_raw_route(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    channel = discord.PartialMessageable(state=_state(http), id=CHANNEL)
    sent = await channel.send("hello", nonce=12345)
    resent = await channel.send("hello", nonce=12345)
    assert resent.id == sent.id and sent.nonce == "12345"
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL)
    body: dict[str, Any] = {"content": "raw", "nonce": "n-1"}
    plain = [await http.request(route, json=body) for _ in range(2)]  # no enforce_nonce
    assert plain[0]["id"] != plain[1]["id"]
    enforced = await http.request(route, json={**body, "enforce_nonce": True})
    assert enforced["id"] == plain[0]["id"]  # the first message with that nonce
    with pytest.raises(discord.HTTPException) as too_long:
        await http.request(route, json={"content": "x", "nonce": "n" * 26})
    assert too_long.value.code == 50035
    assert len(fake.messages(CHANNEL)) == 3


async def test_enforced_nonce_in_a_multipart_payload(fake: FakeDiscord, http: HTTPClient) -> None:
    def with_file() -> discord.http.MultipartParameters:
        return handle_message_parameters(
            content="with a file",
            nonce="file-1",
            file=discord.File(io.BytesIO(b"abc"), filename="papers.txt"),
        )

    first = await http.send_message(CHANNEL, params=with_file())
    again = await http.send_message(CHANNEL, params=with_file())
    assert again["id"] == first["id"]
    assert all(c.multipart for c in fake.calls(MESSAGES))
    assert len(fake.messages(CHANNEL)) == 1


async def test_messages_read_back_newest_first_without_nonce(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    sent = [await http.send_message(CHANNEL, params=_nonced(f"m{n}", f"n{n}")) for n in range(4)]
    await http.edit_message(CHANNEL, sent[0]["id"], params=_params("m0, edited"))
    listed = await http.logs_from(CHANNEL, limit=50)
    assert [m["content"] for m in listed] == ["m3", "m2", "m1", "m0, edited"]
    assert all("nonce" not in m for m in listed)
    assert "nonce" not in await http.get_message(CHANNEL, sent[1]["id"])
    assert listed[0]["author"]["id"] == BOT_USER_ID and listed[0]["timestamp"]
    assert [m["id"] for m in await http.logs_from(CHANNEL, limit=2)] == [
        sent[3]["id"],
        sent[2]["id"],
    ]
    before = await http.logs_from(CHANNEL, limit=2, before=sent[2]["id"])
    assert [m["content"] for m in before] == ["m1", "m0, edited"]
    after = await http.logs_from(CHANNEL, limit=2, after=sent[0]["id"])
    assert [m["content"] for m in after] == ["m2", "m1"]
    # The real client builds its Message objects from them.
    channel = discord.PartialMessageable(state=_state(http), id=CHANNEL)
    built = [m async for m in channel.history(limit=3)]
    assert [m.content for m in built] == ["m3", "m2", "m1"]
    with pytest.raises(discord.HTTPException) as too_many:
        await http.logs_from(CHANNEL, limit=101)
    assert too_many.value.code == 50035


async def test_thread_messages_and_channels_the_bot_cannot_read(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    head = await http.send_message(CHANNEL, params=_params("digest"))
    thread = await http.start_thread_with_message(
        CHANNEL, head["id"], name="Digest", auto_archive_duration=1440
    )
    for n in range(2):
        await http.send_message(thread["id"], params=_params(f"card {n}"))
    assert [m["content"] for m in await http.logs_from(thread["id"], 50)] == ["card 1", "card 0"]
    assert [m["content"] for m in await http.logs_from(CHANNEL, 50)] == ["digest"]

    fake.set_channel(CHANNEL, can_read_history=False)
    assert await http.logs_from(CHANNEL, 50) == []  # Discord returns none, no error
    described: dict[str, Any] = dict(await http.get_channel(CHANNEL))
    (deny,) = described["permission_overwrites"]
    assert int(deny["deny"]) & discord.Permissions(read_message_history=True).value
    fake.set_channel(CHANNEL, visible=False)
    with pytest.raises(discord.Forbidden) as hidden:
        await http.logs_from(CHANNEL, 50)
    assert hidden.value.code == 50001


async def test_second_thread_from_a_message_is_refused(fake: FakeDiscord, http: HTTPClient) -> None:
    head = await http.send_message(CHANNEL, params=_params("digest"))
    thread = await http.start_thread_with_message(
        CHANNEL, head["id"], name="Digest", auto_archive_duration=1440
    )
    with pytest.raises(discord.HTTPException) as exists:
        await http.start_thread_with_message(
            CHANNEL, head["id"], name="Digest", auto_archive_duration=1440
        )
    assert (exists.value.status, exists.value.code) == (400, 160004)
    assert len(fake.threads(CHANNEL)) == 1
    assert (await http.get_channel(head["id"]))["id"] == thread["id"]  # reuse it


async def test_a_dropped_answer_loses_the_reply_not_the_post(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    fake.drop_response_next(MESSAGES)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.send_message(CHANNEL, params=_nonced("landed", "lost-1"))
    (stored,) = fake.messages(CHANNEL)
    assert stored.content == "landed"
    assert [c.status for c in fake.calls(MESSAGES)] == [0]
    # Resent with its nonce within the window, it answers the message that landed.
    resent = await http.send_message(CHANNEL, params=_nonced("landed", "lost-1"))
    assert resent["id"] == stored.id
    fake.drop_response_next(MESSAGES, status=503)
    with pytest.raises(discord.DiscordServerError):
        await http.send_message(CHANNEL, params=_params("landed too"))
    assert [m.content for m in fake.messages(CHANNEL)] == ["landed", "landed too"]


async def test_discord_py_retrying_a_lost_500_is_saved_by_the_nonce(
    fake: FakeDiscord, http: HTTPClient
) -> None:
    """discord.py resends after a 500 (sleeping 1 s): the nonce makes that harmless."""
    fake.drop_response_next(MESSAGES, status=500)
    answer = await http.send_message(CHANNEL, params=_nonced("once", "retry-1"))
    (stored,) = fake.messages(CHANNEL)
    assert answer["id"] == stored.id
    assert [c.status for c in fake.calls(MESSAGES)] == [500, 200]
