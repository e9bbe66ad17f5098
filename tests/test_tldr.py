"""One-line TL;DRs: the real ``openai`` client against a local fake endpoint.

Good answers become one clean sentence, made once per paper version and within a budget;
every kind of failure (errors, 429, hangs, trickles, bodies cut short or not JSON, empty
or hostile answers) leaves the paper without one, quietly and within the deadline. Real
sleeps only where time is what is tested, each about a second.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot.errors import ConfigError
from bot.models import Paper
from bot.tldr import (
    MAX_CHARS,
    NO_KEY,
    TldrConfigError,
    TldrMaker,
    build_tldr_maker,
    load_tldr_settings,
    tidy_tldr,
)
from tests.fakes.clock import ManualTime
from tests.fakes.corpus import make_paper, sample_papers
from tests.fakes.llm_api import FakeLlm, default_answer, running_fake_llm

KEY = "sk-test-0123456789abcdef"
MODEL = "tiny-model"
DEADLINE = 1.0
SLACK = 0.6
"""What ``for_papers`` may take past its deadline, generously (a loaded CI machine)."""


def settings_for(fake: FakeLlm, **extra: str) -> dict[str, str]:
    return {"LLM_API_URL": fake.base_url, "LLM_MODEL": MODEL, "LLM_API_KEY": KEY, **extra}


@pytest.fixture
def fake() -> Iterator[FakeLlm]:
    with running_fake_llm(api_key=KEY, model=MODEL) as running:
        yield running


@pytest.fixture
def clock() -> ManualTime:
    return ManualTime()


@pytest.fixture
async def maker(fake: FakeLlm, clock: ManualTime) -> AsyncIterator[TldrMaker]:
    settings = load_tldr_settings(settings_for(fake, LLM_TIMEOUT="2"))
    assert settings is not None
    async with TldrMaker.from_settings(settings, clock=clock) as made:
        yield made


@pytest.fixture
def papers() -> list[Paper]:
    return sample_papers()


# -- good answers -----------------------------------------------------------------------


async def test_each_paper_gets_one_clean_sentence(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    found = await maker.for_papers(papers[:4], deadline_seconds=5)
    assert found == {p.arxiv_id: default_answer(p.title) for p in papers[:4]}
    assert all(maker.cached(p) == found[p.arxiv_id] for p in papers[:4])


async def test_a_chatty_answer_is_tidied_to_one_sentence(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    fake.answer_next(
        "Sure! Here is a one-sentence summary:\n\n"
        '**TL;DR:** "A boundary-aware  diffusion model improves\nDice by 2.1 points '
        'on CT and MRI." It also does more.'
    )
    found = await maker.for_papers(papers[:1], deadline_seconds=5)
    assert found == {
        papers[0].arxiv_id: "A boundary-aware diffusion model improves Dice by 2.1 points "
        "on CT and MRI."
    }


async def test_the_request_is_a_chat_completion_from_title_and_abstract(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    paper = papers[0]
    await maker.for_papers([paper], deadline_seconds=5)
    (chat,) = fake.chats
    assert chat.header("Authorization") == f"Bearer {KEY}"
    assert chat.body is not None
    assert chat.body["model"] == MODEL
    assert 0 < chat.body["max_tokens"] <= 200
    system, user = chat.messages
    assert system["role"] == "system" and "one plain sentence" in system["content"]
    assert user["role"] == "user"
    assert paper.title in user["content"] and paper.abstract[:80] in user["content"]
    assert not any(author in user["content"] for author in paper.authors)


def test_a_tldr_costs_a_few_hundred_tokens(papers: list[Paper]) -> None:
    """The figure the README quotes: prompt (system + title + abstract) and answer, at
    about four characters a token."""
    from bot.tldr import MAX_TOKENS, prompt_messages

    sizes = [sum(len(str(m["content"])) for m in prompt_messages(p)) // 4 for p in papers]
    huge = make_paper(abstract="word " * 5000)  # abstracts are capped before sending
    largest = sum(len(str(m["content"])) for m in prompt_messages(huge)) // 4
    print(
        f"TL;DR prompt: {min(sizes)}-{max(sizes)} tokens (mean {sum(sizes) // len(sizes)}), "
        f"at most {largest}; answer at most {MAX_TOKENS}"
    )
    assert max(sizes) < 600
    assert largest < 900


# -- cache and budget -------------------------------------------------------------------


async def test_the_cache_answers_the_second_time(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    first = await maker.for_papers(papers[:3], deadline_seconds=5)
    again = await maker.for_papers(papers[:3], budget=0, deadline_seconds=5)
    assert again == first and len(first) == 3
    assert len(fake.chats) == 3
    revision = dataclasses.replace(papers[0], version=papers[0].version + 1)
    assert maker.cached(revision) is None
    await maker.for_papers([revision], deadline_seconds=5)
    assert len(fake.chats) == 4  # a new version is a new paper to summarise


async def test_the_budget_caps_requests_and_cache_hits_are_free(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    first = await maker.for_papers(papers[:6], budget=2, deadline_seconds=5)
    assert set(first) == {p.arxiv_id for p in papers[:2]}  # the first ones, in order
    assert len(fake.chats) == 2
    second = await maker.for_papers(papers[:6], budget=2, deadline_seconds=5)
    assert set(second) == {p.arxiv_id for p in papers[:4]}
    assert len(fake.chats) == 4


async def test_the_configured_budget_applies_by_default(fake: FakeLlm, papers: list[Paper]) -> None:
    made = build_tldr_maker(settings_for(fake, LLM_TLDR_BUDGET="3"))
    assert made is not None
    async with made:
        assert made.budget == 3
        assert len(await made.for_papers(papers[:8], deadline_seconds=5)) == 3
    assert len(fake.chats) == 3


async def test_requests_overlap_only_a_few_at_a_time(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    fake.delay_next(0.15, times=8)
    found = await maker.for_papers(papers[:8], deadline_seconds=5)
    assert len(found) == 8
    assert 2 <= fake.max_concurrent <= 3


# -- failures: no TL;DR, no exception, no delay past the deadline -----------------------


def _null_content() -> bytes:
    return (
        b'{"id":"x","object":"chat.completion","created":1,"model":"tiny-model",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":null},'
        b'"finish_reason":"stop"}]}'
    )


FAULTS: dict[str, Callable[[FakeLlm], None]] = {
    "500": lambda f: f.fail_next(500),
    "503": lambda f: f.fail_next(503),
    "429 with Retry-After": lambda f: f.fail_next(429, retry_after="30"),
    "400": lambda f: f.fail_next(400),
    "slow": lambda f: f.delay_next(10),
    "hang": lambda f: f.hang_next(),
    "trickle": lambda f: f.trickle_next(0.05),
    "truncated body": lambda f: f.cut_next(),
    "malformed JSON": lambda f: f.serve_next(b'{"choices": [{"message": '),
    "not JSON": lambda f: f.serve_next(b"<html><body>Bad gateway</body></html>"),
    "empty body": lambda f: f.serve_next(b""),
    "JSON but not a completion": lambda f: f.serve_next(b'{"hello": "world"}'),
    "no choices": lambda f: f.serve_next(b'{"id":"x","object":"chat.completion","choices":[]}'),
    "null content": lambda f: f.serve_next(_null_content()),
    "empty content": lambda f: f.answer_next(""),
    "blank content": lambda f: f.answer_next(" \n\t **  ** \n"),
    "a refusal": lambda f: f.answer_next("I'm sorry, but I can't help with that request."),
    "a word": lambda f: f.answer_next("Segmentation."),
    "thinking cut off": lambda f: f.answer_next(
        "<think>Let me see, the paper", finish_reason="length"
    ),
    "only mentions": lambda f: f.answer_next("@everyone @here <!channel> <@U123> <@&456>"),
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
async def test_a_failure_leaves_the_paper_without_a_tldr_in_time(
    maker: TldrMaker,
    fake: FakeLlm,
    papers: list[Paper],
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    FAULTS[fault](fake)
    started = time.monotonic()
    found = await maker.for_papers(papers[:1], deadline_seconds=DEADLINE)
    elapsed = time.monotonic() - started
    assert found == {}
    assert elapsed < DEADLINE + SLACK
    assert maker.cached(papers[0]) is None
    assert len(fake.chats) <= 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_an_unreachable_endpoint_fails_fast(papers: list[Paper]) -> None:
    with running_fake_llm() as gone:
        url = gone.base_url  # a port nothing listens on once the fake has stopped
    made = build_tldr_maker({"LLM_API_URL": url, "LLM_MODEL": MODEL})
    assert made is not None
    async with made:
        started = time.monotonic()
        assert await made.for_papers(papers[:3], deadline_seconds=DEADLINE) == {}
        assert time.monotonic() - started < DEADLINE + SLACK
        assert made.paused


async def test_an_unexpected_error_is_no_exception_either(
    maker: TldrMaker, papers: list[Paper], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**request: object) -> object:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(maker._client.chat.completions, "create", broken)
    assert await maker.for_papers(papers[:2], deadline_seconds=DEADLINE) == {}


async def test_one_failure_does_not_cost_the_others(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    fake.hang_next()
    fake.fail_next(500)
    started = time.monotonic()
    found = await maker.for_papers(papers[:4], deadline_seconds=DEADLINE)
    assert time.monotonic() - started < DEADLINE + SLACK
    assert len(found) == 2
    assert set(found) <= {p.arxiv_id for p in papers[:4]}


async def test_a_hanging_endpoint_never_delays_a_harvest(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    fake.hang_next(times=20)
    started = time.monotonic()
    assert await maker.for_papers(papers, deadline_seconds=0.5) == {}
    assert time.monotonic() - started < 0.5 + SLACK
    assert len(fake.chats) <= 3  # only the first few were ever sent


async def test_failures_in_a_row_pause_the_asking(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper], clock: ManualTime
) -> None:
    fake.fail_next(500, times=3)
    assert await maker.for_papers(papers[:3], deadline_seconds=5) == {}
    assert maker.paused and len(fake.chats) == 3
    assert await maker.for_papers(papers[3:6], deadline_seconds=5) == {}
    assert len(fake.chats) == 3  # not asked while paused
    clock.now += 601
    assert not maker.paused
    assert len(await maker.for_papers(papers[3:6], deadline_seconds=5)) == 3


async def test_a_success_resets_the_count_of_failures(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper]
) -> None:
    for paper in papers[:9]:  # two failures, a success, two failures, a success...
        if len(fake.chats) % 3 == 0:
            fake.fail_next(500, times=2)
        await maker.for_papers([paper], deadline_seconds=5)
    assert [chat.status for chat in fake.chats] == [500, 500, 200] * 3
    assert not maker.paused


async def test_429_pauses_for_as_long_as_retry_after_says(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper], clock: ManualTime
) -> None:
    fake.fail_next(429, retry_after="120")
    assert await maker.for_papers(papers[:1], deadline_seconds=5) == {}
    assert maker.paused
    clock.now += 119
    assert maker.paused
    clock.now += 2
    assert not maker.paused
    assert len(await maker.for_papers(papers[:1], deadline_seconds=5)) == 1


async def test_a_wrong_key_pauses_the_asking(fake: FakeLlm, papers: list[Paper]) -> None:
    made = build_tldr_maker(settings_for(fake, LLM_API_KEY="sk-wrong-key-0000"))
    assert made is not None
    async with made:
        assert await made.for_papers(papers[:3], deadline_seconds=5) == {}
        assert made.paused
    assert [chat.status for chat in fake.chats][:1] == [401]


# -- hostile answers --------------------------------------------------------------------

HOSTILE = (
    "@everyone this paper beats <!channel> and <!here> at segmentation, says <@U024BE7LH>.",
    "@here <@123456789012345678> and <@&987654321> should read this diffusion paper now.",
    "The model @<!x>everyone proposes <<@1>@1> a new loss @\u200beveryone for segmentation.",
    "A new method for segmentation\n\n@everyone\n" + "and so on, at length, " * 200,
    "\u202eA reversed\u202c sentence with \x1b[31mcolour\x1b[0m codes about segmentation.",
)


@pytest.mark.parametrize("content", HOSTILE)
async def test_hostile_answers_are_neutralised(
    maker: TldrMaker, fake: FakeLlm, papers: list[Paper], content: str
) -> None:
    fake.answer_next(content)
    found = await maker.for_papers(papers[:1], deadline_seconds=5)
    (tldr,) = found.values()
    assert len(tldr) <= MAX_CHARS
    assert "\n" not in tldr and "\x1b" not in tldr and "\u202e" not in tldr
    for ping in ("@everyone", "@here", "@channel", "<!", "<@", "<#"):
        assert ping not in tldr.replace("\u200b", "")
    assert any(word in tldr for word in ("segmentation", "diffusion", "method"))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The model segments organs well.", "The model segments organs well."),
        ('"The model segments organs well."', "The model segments organs well."),
        ("'The model segments organs well'", "The model segments organs well"),
        ("TL;DR: The model segments organs well.", "The model segments organs well."),
        ("## Summary\n- The model segments organs well.", "The model segments organs well."),
        ("The *model* segments `organs` __well__.", "The model segments organs well."),
        (
            "See [the code](https://x.y/z) for a model of organs.",
            "See the code for a model of organs.",
        ),
        (
            "<think>\nhmm\n</think>\nThe model segments organs well.",
            "The model segments organs well.",
        ),
        (
            "A model, e.g. a U-Net, segments organs. More follows here.",
            "A model, e.g. a U-Net, segments organs.",
        ),
        ("\u201cThe model segments organs well.\u201d", "The model segments organs well."),
        (None, None),
        ("", None),
        ("   ", None),
        ("Yes.", None),
        ("1234 5678 9012 3456", None),
        ("Sorry, I cannot summarise this paper for you.", None),
    ],
)
def test_tidy(answer: object, expected: str | None) -> None:
    assert tidy_tldr(answer) == expected


def test_tidy_cuts_long_answers_at_a_word() -> None:
    tidied = tidy_tldr("segmentation " * 100)
    assert tidied is not None
    assert len(tidied) <= MAX_CHARS and tidied.endswith("segmentation…")


# -- the key ----------------------------------------------------------------------------


async def test_the_key_is_sent_as_a_bearer_and_never_logged(
    fake: FakeLlm, papers: list[Paper], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = build_tldr_maker(settings_for(fake, LLM_TIMEOUT="1"))
    assert made is not None
    async with made:
        fake.fail_next(500)
        fake.serve_next(b"{not json")
        fake.hang_next()
        await made.for_papers(papers[:4], deadline_seconds=DEADLINE)
        assert KEY not in repr(load_tldr_settings(settings_for(fake)))
    assert {chat.header("Authorization") for chat in fake.chats} == {f"Bearer {KEY}"}
    assert caplog.records  # the failures were logged...
    assert KEY not in caplog.text  # ...without the key
    assert all(KEY not in str(r.args) and KEY not in str(r.msg) for r in caplog.records)


async def test_without_a_key_a_placeholder_is_sent_never_openai_api_key(
    papers: list[Paper], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    with running_fake_llm(api_key=NO_KEY) as local:
        made = build_tldr_maker({"LLM_API_URL": local.base_url, "LLM_MODEL": MODEL})
        assert made is not None
        async with made:
            assert len(await made.for_papers(papers[:1], deadline_seconds=5)) == 1
        assert local.chats[0].header("Authorization") == f"Bearer {NO_KEY}"


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [{}, {"LLM_API_URL": "", "LLM_MODEL": " ", "LLM_API_KEY": ""}, {"LLM_TLDR_BUDGET": "5"}],
)
def test_off_when_unset(values: dict[str, str]) -> None:
    assert load_tldr_settings(values) is None
    assert build_tldr_maker(values) is None


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"LLM_API_URL": "http://localhost:11434/v1"}, ("LLM_MODEL is not", "LLM_API_URL")),
        ({"LLM_MODEL": "llama3.2"}, ("LLM_API_URL is not", "unset LLM_MODEL")),
        ({"LLM_API_KEY": KEY}, ("LLM_API_URL is not", "unset LLM_API_KEY")),
        ({"LLM_API_URL": "localhost:11434", "LLM_MODEL": "m"}, ("http(s) URL",)),
        (
            {"LLM_API_URL": "http://h/v1", "LLM_MODEL": "m", "LLM_TLDR_BUDGET": "lots"},
            ("LLM_TLDR_BUDGET",),
        ),
        ({"LLM_API_URL": "http://h/v1", "LLM_MODEL": "m", "LLM_TLDR_BUDGET": "-1"}, ("from 0 to",)),
        ({"LLM_API_URL": "http://h/v1", "LLM_MODEL": "m", "LLM_TIMEOUT": "0"}, ("LLM_TIMEOUT",)),
        ({"LLM_API_URL": "http://h/v1", "LLM_MODEL": "m", "LLM_TIMEOUT": "60"}, ("LLM_TIMEOUT",)),
    ],
)
def test_half_set_or_invalid_settings_say_what_to_do(
    values: dict[str, str], names: tuple[str, ...]
) -> None:
    with pytest.raises(TldrConfigError) as raised:
        load_tldr_settings(values)
    assert isinstance(raised.value, ConfigError)
    assert all(name in str(raised.value) for name in names), str(raised.value)
    assert KEY not in str(raised.value)


def test_settings_read_defaults_and_the_endpoint_address() -> None:
    settings = load_tldr_settings(
        {
            "LLM_API_URL": " http://localhost:11434/v1/chat/completions ",
            "LLM_MODEL": "llama3.2",
            "LLM_TLDR_BUDGET": "12",
            "LLM_TIMEOUT": "2.5",
        }
    )
    assert settings is not None
    assert settings.api_url == "http://localhost:11434/v1"
    assert (settings.model, settings.api_key, settings.budget, settings.timeout) == (
        "llama3.2",
        None,
        12,
        2.5,
    )
    defaults = load_tldr_settings({"LLM_API_URL": "https://api.example.com/v1", "LLM_MODEL": "m"})
    assert defaults is not None and (defaults.budget, defaults.timeout) == (30, 3.0)
