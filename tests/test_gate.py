"""The arXiv gate, against the fake arXiv over real HTTP, with a fake clock for waits."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests

from bot.errors import ArxivRejectedError, ArxivUnavailableError, UserError
from bot.sources.gate import ArxivGate, atom_error_message, build_user_agent, format_duration
from tests.fakes.arxiv_api import FakeArxiv, render_error_feed, running_fake_arxiv
from tests.fakes.clock import ManualTime
from tests.fakes.corpus import sample_papers

UA = "arxiv-bot/0.1.0 (+https://pypi.org/project/arxiv-bot/; mailto:test@example.org)"


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with running_fake_arxiv(sample_papers()) as running:
        yield running


@pytest.fixture
def clock() -> ManualTime:
    return ManualTime()


def make_gate(
    clock: ManualTime | None = None,
    *,
    interval: float = 0.0,
    timeout: float = 5.0,
    max_attempts: int = 4,
) -> ArxivGate:
    """A gate on the real clock, or on ``clock`` (whose sleeps are recorded, not slept)."""
    if clock is None:
        return ArxivGate(
            interval=interval, timeout=timeout, user_agent=UA, max_attempts=max_attempts
        )
    return ArxivGate(
        interval=interval,
        timeout=timeout,
        user_agent=UA,
        max_attempts=max_attempts,
        clock=clock,
        sleep=clock.sleep,
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/query"


# -- User-Agent ------------------------------------------------------------------------


def test_build_user_agent() -> None:
    assert build_user_agent("0.1.0", "test@example.org") == UA
    assert build_user_agent("0.1.0", "mailto:a@b.org").endswith("; mailto:a@b.org)")
    assert build_user_agent("0.1.0", "https://lab.example/bot").endswith(
        "; https://lab.example/bot)"
    )
    assert build_user_agent("0.1.0", "") == "arxiv-bot/0.1.0 (+https://pypi.org/project/arxiv-bot/)"


def test_user_agent_replaces_the_callers(fake: FakeArxiv) -> None:
    session = make_gate().session()
    session.get(fake.url, headers={"user-agent": "arxiv.py/4.0.2"}, params={"id_list": "0704.0001"})
    session.get(fake.url, params={"id_list": "0704.0001"})
    assert [r.user_agent for r in fake.requests] == [UA, UA]
    assert all(list(r.headers).count("User-Agent") == 1 for r in fake.requests)


# -- spacing and one connection at a time ----------------------------------------------


def test_requests_are_spaced_by_the_interval(fake: FakeArxiv, clock: ManualTime) -> None:
    session = make_gate(clock, interval=3.0).session()
    for _ in range(3):
        session.get(fake.url)
    assert clock.sleeps == [3.0, 3.0]
    clock.now += 1.0  # time passes between requests: only the rest is waited
    session.get(fake.url)
    clock.now += 10.0
    session.get(fake.url)
    assert clock.sleeps == [3.0, 3.0, 2.0]
    assert fake.request_count == 5


def test_spacing_is_shared_by_every_session_of_a_gate(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock, interval=3.0)
    gate.session().get(fake.url)
    gate.session().get(fake.url)
    assert clock.sleeps == [3.0]


def test_one_connection_at_a_time(fake: FakeArxiv) -> None:
    gate = make_gate()
    fake.delay_next(0.03, times=12)
    errors: list[BaseException] = []

    def worker() -> None:
        session = gate.session()
        try:
            for _ in range(3):
                session.get(fake.url).raise_for_status()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert fake.request_count == 12
    assert fake.max_concurrent == 1
    spans = [(r.started, r.finished) for r in fake.requests]
    assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(spans))


# -- backoff on 429 / 503 --------------------------------------------------------------


def test_retry_after_seconds_is_honoured(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock)
    fake.fail_next(429, retry_after="7")
    response = gate.session().get(fake.url)
    assert response.status_code == 200
    assert clock.sleeps == [7.0]
    assert [r.status for r in fake.requests] == [429, 200]
    stats = gate.stats()
    assert (stats.requests, stats.retries) == (2, 1)
    assert stats.last_error is not None and "429" in stats.last_error
    assert stats.last_success_at is not None


def test_retry_after_http_date_is_honoured(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock)
    fake.fail_next(503, retry_after=formatdate(time.time() + 20, usegmt=True))
    assert gate.session().get(fake.url).status_code == 200
    assert len(clock.sleeps) == 1
    assert 18 <= clock.sleeps[0] <= 20


def test_retry_after_wait_also_covers_the_interval(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock, interval=3.0)
    fake.fail_next(429, retry_after="1")
    gate.session().get(fake.url)
    # 1 s for Retry-After, then the rest of the 3 s interval since the 429.
    assert clock.sleeps == [1.0, 2.0]


def test_503_without_retry_after_backs_off_exponentially(
    fake: FakeArxiv, clock: ManualTime
) -> None:
    gate = make_gate(clock)
    fake.fail_next(503, times=3)
    assert gate.session().get(fake.url).status_code == 200
    assert clock.sleeps == [2.0, 4.0, 8.0]
    assert fake.request_count == 4


def test_gives_up_after_max_attempts(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock, max_attempts=3)
    fake.fail_next(503, times=10)
    with pytest.raises(ArxivUnavailableError, match=r"unavailable right now \(HTTP 503\)"):
        gate.session().get(fake.url)
    assert fake.request_count == 3
    assert clock.sleeps == [2.0, 4.0]


def test_rate_limit_give_up_says_when_to_try_again(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock, max_attempts=2)
    fake.fail_next(429, retry_after="5", times=2)
    with pytest.raises(ArxivUnavailableError) as caught:
        gate.session().get(fake.url)
    assert str(caught.value) == (
        "arXiv is rate-limiting requests right now; try again in about 5 seconds"
    )


def test_other_errors_are_returned_not_retried(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock)
    fake.fail_next(500)
    assert gate.session().get(fake.url).status_code == 500
    assert fake.request_count == 1
    assert gate.stats().last_error == f"HTTP 500 from 127.0.0.1:{fake.port}"


# -- deadlines -------------------------------------------------------------------------


def test_retry_after_beyond_the_deadline_fails_at_once(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock)
    fake.fail_next(429, retry_after="60")
    with gate.deadline(15), pytest.raises(ArxivUnavailableError, match="about 60 seconds"):
        gate.session().get(fake.url)
    assert clock.sleeps == []
    # The backoff holds for every caller: a user-facing call fails without a request...
    clock.now += 20
    with gate.deadline(15), pytest.raises(ArxivUnavailableError, match="about 40 seconds"):
        gate.session().get(fake.url)
    assert fake.request_count == 1
    # ...and background work without a deadline waits it out.
    assert gate.session().get(fake.url).status_code == 200
    assert clock.sleeps == [40.0]


def test_spacing_beyond_the_deadline_fails_at_once(fake: FakeArxiv, clock: ManualTime) -> None:
    gate = make_gate(clock, interval=3.0)
    session = gate.session()
    session.get(fake.url)
    with gate.deadline(1), pytest.raises(ArxivUnavailableError, match="within 1 second;"):
        session.get(fake.url)
    assert clock.sleeps == []
    assert fake.request_count == 1


def test_slow_answer_is_cut_at_the_deadline(fake: FakeArxiv) -> None:
    gate = make_gate(timeout=10.0)
    fake.delay_next(5)
    started = time.monotonic()
    with gate.deadline(0.4), pytest.raises(ArxivUnavailableError) as caught:
        gate.session().get(fake.url)
    assert time.monotonic() - started < 2
    assert str(caught.value) == (
        "arXiv did not answer within 0.4 seconds; it may be down — try again later"
    )


def test_timeout_applies_without_a_deadline(fake: FakeArxiv) -> None:
    gate = make_gate(timeout=0.3)
    fake.delay_next(5)
    started = time.monotonic()
    with pytest.raises(ArxivUnavailableError, match=r"within 0\.3 seconds"):
        gate.session().get(fake.url)
    assert time.monotonic() - started < 2
    assert gate.stats().last_error is not None


def test_waiting_behind_another_caller_counts_against_the_deadline(fake: FakeArxiv) -> None:
    gate = make_gate(timeout=10.0)
    fake.delay_next(0.6)
    background = threading.Thread(target=lambda: gate.session().get(fake.url))
    background.start()
    while gate.stats().requests == 0:  # until the background request holds the gate
        time.sleep(0.005)
    started = time.monotonic()
    with gate.deadline(0.2), pytest.raises(ArxivUnavailableError, match=r"within 0\.2 seconds"):
        gate.session().get(fake.url)
    assert time.monotonic() - started < 0.5
    background.join(timeout=5)
    assert fake.request_count == 1


async def test_deadline_reaches_worker_threads(fake: FakeArxiv) -> None:
    gate = make_gate(timeout=10.0)
    session = gate.session()
    fake.delay_next(5)
    started = time.monotonic()
    with gate.deadline(0.3), pytest.raises(ArxivUnavailableError):
        await asyncio.to_thread(session.get, fake.url)
    assert time.monotonic() - started < 2


def test_nested_deadlines_keep_the_earliest(clock: ManualTime) -> None:
    gate = make_gate(clock)
    assert gate.remaining() is None
    with gate.deadline(5):
        with gate.deadline(60):
            assert gate.remaining() == 5
        with gate.deadline(2):
            assert gate.remaining() == 2
        assert gate.remaining() == 5
    assert gate.remaining() is None


# -- failures --------------------------------------------------------------------------


def test_connection_refused_is_a_clear_error() -> None:
    gate = make_gate()
    url = closed_port_url()
    with pytest.raises(ArxivUnavailableError) as caught:
        gate.session().get(url)
    host = url.split("/")[2]
    assert str(caught.value) == f"could not reach arXiv at {host}: Connection refused"
    assert gate.stats().last_error == str(caught.value)


def test_400_raises_rejected_error(fake: FakeArxiv) -> None:
    gate = make_gate()
    with pytest.raises(ArxivRejectedError) as caught:
        gate.session().get(fake.url, params={"search_query": "ti:(unbalanced"})
    assert str(caught.value) == "arXiv rejected the query: unbalanced parentheses in query"
    assert fake.request_count == 1
    assert gate.stats().last_error is None  # a bad query says nothing about arXiv's health


def test_400_without_an_error_entry_is_returned(fake: FakeArxiv) -> None:
    fake.fail_next(400)
    assert make_gate().session().get(fake.url).status_code == 400


def test_gate_errors_are_not_requests_errors() -> None:
    """arxiv.py retries requests' ConnectionError; ours must not be mistaken for it."""
    for error in (ArxivUnavailableError, ArxivRejectedError):
        assert issubclass(error, UserError)
        assert not issubclass(error, requests.RequestException)


def test_atom_error_message() -> None:
    assert atom_error_message(render_error_feed("start must be an integer")) == (
        "start must be an integer"
    )
    assert atom_error_message(b"<feed xmlns='http://www.w3.org/2005/Atom'/>") is None
    assert atom_error_message(b"Rate exceeded.") is None


def test_format_duration() -> None:
    assert format_duration(1) == "1 second"
    assert format_duration(15.0) == "15 seconds"
    assert format_duration(0.5) == "0.5 seconds"


def test_close_closes_sessions(fake: FakeArxiv) -> None:
    gate = make_gate()
    session = gate.session()
    session.get(fake.url)
    gate.close()
    gate.close()
    assert session.get(fake.url).status_code == 200  # a closed session reconnects


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="interval"):
        ArxivGate(interval=-1, timeout=1, user_agent=UA)
    with pytest.raises(ValueError, match="timeout"):
        ArxivGate(interval=0, timeout=0, user_agent=UA)
    with pytest.raises(ValueError, match="max_attempts"):
        ArxivGate(interval=0, timeout=1, user_agent=UA, max_attempts=0)
    with pytest.raises(ValueError, match="user_agent"):
        ArxivGate(interval=0, timeout=1, user_agent=" ")
