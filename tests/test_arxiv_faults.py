"""arXiv misbehaving: answers that trickle, hang or stop short, answers that are not
complete result feeds, and a bot stopped while arXiv does any of that.

The real ``requests`` and ``arxiv`` clients against the local fake arXiv. Real sleeps only
where time is what is tested, each under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest

from bot.adapter import CommandContext
from bot.app import BotApp
from bot.config import Settings
from bot.errors import ArxivIncompleteError, ArxivUnavailableError, NotFoundError
from bot.models import ChannelRef, SortOrder, Tone
from bot.sources.arxiv_api import ArxivApi, feed_problem
from bot.sources.cutoff import CANCELLED_TEXT, run_in_thread
from bot.sources.gate import ArxivGate
from tests.conftest import settings_env
from tests.fakes.arxiv_api import FakeArxiv, render_error_feed, render_feed
from tests.fakes.corpus import sample_papers
from tests.fakes.oai import FakeOai

UA = "arxiv-bot-tests/0 (+https://pypi.org/project/arxiv-bot/)"
HERE = CommandContext(ChannelRef("console", "local", "lab", "lab"))
QUERY = {"search_query": "ti:segmentation"}
TIMEOUT = 0.8
SLACK = 0.3
"""How much later than its deadline a cut request may end (thread wake-ups under load)."""


def gate(timeout: float = TIMEOUT) -> ArxivGate:
    return ArxivGate(interval=0, timeout=timeout, user_agent=UA)


def too_slow(seconds: float) -> str:
    return f"arXiv did not answer within {seconds} seconds; it may be down — try again later"


# -- every request has a total deadline, body included ---------------------------------


@pytest.mark.parametrize("trouble", ["trickle", "hang"])
def test_a_slow_body_ends_at_the_total_deadline_and_frees_the_gate(
    fake_arxiv: FakeArxiv, trouble: str
) -> None:
    if trouble == "trickle":
        fake_arxiv.trickle_next(0.2)  # a byte every 0.2 s: no single read ever times out
    else:
        fake_arxiv.hang_next()
    arxiv_gate = gate()
    session = arxiv_gate.session()

    started = time.monotonic()
    with pytest.raises(ArxivUnavailableError) as caught:
        session.get(fake_arxiv.url, params=QUERY)
    elapsed = time.monotonic() - started

    print(f"{trouble}: ended {elapsed:.3f} s after it started (deadline {TIMEOUT} s)")
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + SLACK, f"ended after {elapsed:.3f} s"
    assert str(caught.value) == too_slow(TIMEOUT)
    started = time.monotonic()
    with arxiv_gate.deadline(0.5):  # the gate is free at once
        response = session.get(fake_arxiv.url, params=QUERY)
    assert response.status_code == 200
    assert b"<entry>" in response.content
    assert time.monotonic() - started < 0.5


def test_a_trickling_status_line_ends_at_the_total_deadline() -> None:
    """Not only the body: headers that trickle in are cut off too."""
    with trickling_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n") as url:
        started = time.monotonic()
        with pytest.raises(ArxivUnavailableError, match=r"within 0\.8 seconds"):
            gate().session().get(url)
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + SLACK, f"ended after {elapsed:.3f} s"


def test_a_body_cut_short_is_an_incomplete_answer(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.cut_next()
    arxiv_gate = gate(timeout=10)
    started = time.monotonic()
    with pytest.raises(ArxivIncompleteError) as caught:
        arxiv_gate.session().get(fake_arxiv.url, params=QUERY)
    assert time.monotonic() - started < 1, "no wait for the rest that never comes"
    assert str(caught.value) == "arXiv sent an incomplete answer; try again in a minute."
    last_error = arxiv_gate.stats().last_error or ""
    assert last_error.startswith(f"incomplete answer: the answer from 127.0.0.1:{fake_arxiv.port}")
    assert "IncompleteRead" in last_error


async def test_a_search_after_a_trickling_answer_hits_arxiv_and_succeeds(
    fake_arxiv: FakeArxiv,
) -> None:
    api = ArxivApi(gate(timeout=10), base_url=fake_arxiv.url, deadline=TIMEOUT)
    fake_arxiv.trickle_next(0.2)
    started = time.monotonic()
    with pytest.raises(ArxivUnavailableError) as caught:
        await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + SLACK, f"ended after {elapsed:.3f} s"
    assert str(caught.value) == too_slow(TIMEOUT)

    results = await api.search("ti:segmentation", sort=SortOrder.DATE, limit=5)
    assert results.total == 3
    assert fake_arxiv.request_count == 2


async def test_cancelling_the_caller_cuts_its_request_and_frees_the_gate(
    fake_arxiv: FakeArxiv,
) -> None:
    arxiv_gate = gate(timeout=30)  # the timeout alone would hold the gate for 30 s
    session = arxiv_gate.session()
    fake_arxiv.hang_next()
    stuck = asyncio.create_task(run_in_thread(session.get, fake_arxiv.url))
    await asyncio.to_thread(_wait_for_a_request, fake_arxiv)

    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    started = time.monotonic()
    with arxiv_gate.deadline(1):
        response = await run_in_thread(lambda: session.get(fake_arxiv.url, params=QUERY))
    assert response.status_code == 200
    assert time.monotonic() - started < 0.5, "the cancelled request gave the gate back"


def test_stop_cuts_the_request_in_flight_and_refuses_more(fake_arxiv: FakeArxiv) -> None:
    arxiv_gate = gate(timeout=30)
    session = arxiv_gate.session()
    fake_arxiv.hang_next()
    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(errors, session.get, fake_arxiv.url))
    worker.start()
    _wait_for_a_request(fake_arxiv)

    arxiv_gate.stop()
    worker.join(timeout=2)

    assert not worker.is_alive()
    assert [str(error) for error in errors] == [CANCELLED_TEXT]
    with pytest.raises(ArxivUnavailableError, match="stopped waiting for arXiv"):
        session.get(fake_arxiv.url)
    assert fake_arxiv.request_count == 1


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGTERM")
def test_sigterm_stops_the_bot_at_once_while_arxiv_hangs(
    settings: Settings, fake_oai: FakeOai
) -> None:
    """A harvest stuck on an answer that never comes (and a 120 s timeout) does not
    hold a stopping bot: before, its worker thread kept the process alive."""
    fake_oai.announce(*sample_papers()[:3])
    fake_oai.hang_next()
    env = {**settings_env(settings), "ARXIV_TIMEOUT": "120"}
    command = [sys.executable, "-m", "bot", "run", "--channel", "lab"]
    with subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            waited = time.monotonic() + 30
            while fake_oai.request_count == 0:  # the start-up harvest is stuck
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < waited, "the bot never started harvesting"
                time.sleep(0.02)
            time.sleep(0.2)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
            elapsed = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
    print(f"stopped {elapsed:.2f} s after SIGTERM")
    assert elapsed < 5, f"stopped {elapsed:.2f} s after SIGTERM"


# -- API answers are checked before they are believed -----------------------------------

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503</title></head>"
    b"<body><h1>Service temporarily unavailable</h1></body></html>\n"
)

TROUBLE: dict[str, Callable[[FakeArxiv], None]] = {
    "an HTML page": lambda fake: fake.serve_next(HTML_PAGE),
    "HTML without a doctype": lambda fake: fake.serve_next(b"<html><body>Oops</body></html>"),
    "plain text": lambda fake: fake.serve_next(b"Rate exceeded.\n", content_type="text/plain"),
    "an empty body": lambda fake: fake.serve_next(b"", content_type="application/atom+xml"),
    "a truncated feed": lambda fake: fake.truncate_next(),
    "a body cut off": lambda fake: fake.cut_next(),
    "totalResults 5 and no entry": lambda fake: fake.drop_entries_next(total=5),
    "an entry without its title": lambda fake: fake.strip_next("title"),
    "an entry without categories": lambda fake: fake.strip_next("category"),
    "an entry without authors": lambda fake: fake.strip_next("author"),
    "an entry without its id": lambda fake: fake.strip_next("id"),
}


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("/arxiv search ti:segmentation", "match ti:segmentation"),
        ("/arxiv paper 2506.11674", "arXiv:2506.11674v1"),
    ],
    ids=["search", "paper"],
)
@pytest.mark.parametrize("trouble", TROUBLE)
async def test_an_incomplete_answer_is_said_so_never_shown_nor_cached(
    app: BotApp, fake_arxiv: FakeArxiv, command: str, shown: str, trouble: str
) -> None:
    TROUBLE[trouble](fake_arxiv)

    reply = await app.execute(command, HERE)

    assert reply.title == "arXiv sent an incomplete answer; try again in a minute."
    assert reply.tone is Tone.ERROR
    assert (reply.papers, reply.posts, reply.lines) == ((), (), ())
    again = await app.execute(command, HERE)  # the fake has recovered
    assert fake_arxiv.request_count == 2, "the incomplete answer was not cached"
    assert again.tone is not Tone.ERROR
    assert shown in again.title
    assert again.papers or again.posts


async def test_no_papers_match_only_when_arxiv_says_zero(app: BotApp) -> None:
    reply = await app.execute("/arxiv search ti:zebrafish", HERE)
    assert reply.title == "No arXiv papers match ti:zebrafish."


async def test_no_such_paper_only_for_a_valid_feed_without_it(
    app: BotApp, fake_arxiv: FakeArxiv
) -> None:
    reply = await app.execute("/arxiv paper 2501.00001", HERE)
    assert reply.title.startswith("arXiv has no paper 2501.00001;")
    # arXiv's own way of saying it: totalResults counts the ids asked for, no entry.
    fake_arxiv.drop_entries_next()
    with pytest.raises(NotFoundError, match=r"no paper 2506\.11674"):
        await app.arxiv.lookup("2506.11674")


def _url(**params: str | int) -> str:
    return "http://127.0.0.1/api/query?" + urlencode(params)


PAPERS = sample_papers()


@pytest.mark.parametrize(
    ("body", "url", "problem"),
    [
        (render_feed(PAPERS[:3], params={}, total=3, start=0), _url(max_results=10), None),
        (render_feed(PAPERS[:10], params={}, total=30, start=0), _url(max_results=10), None),
        (render_feed(PAPERS[:5], params={}, total=15, start=10), _url(start=10), None),
        (render_feed([], params={}, total=0, start=0), _url(max_results=10), None),
        (render_feed([], params={}, total=1, start=0), _url(id_list="2501.00001"), None),
        (render_error_feed("start must be an integer"), _url(start="x"), None),
        (
            render_feed(PAPERS[:2], params={}, total=3, start=0),
            _url(max_results=10),
            "2 entries where totalResults 3 from 0 promises 3",
        ),
        (
            render_feed(PAPERS[:4], params={}, total=15, start=10),
            _url(start=10, max_results=10),
            "4 entries where totalResults 15 from 10 promises 5",
        ),
        (
            render_feed([], params={}, total=5, start=0),
            _url(id_list="2501.00001"),
            "totalResults is 5 for 1 requested ids",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"/>',
            _url(max_results=10),
            "the feed has no opensearch:totalResults",
        ),
        (
            b"<rss><channel/></rss>",
            _url(max_results=10),
            "the answer is not an Atom feed (root element 'rss')",
        ),
    ],
)
def test_feed_problem(body: bytes, url: str, problem: str | None) -> None:
    assert feed_problem(body, url) == problem


# -- helpers ---------------------------------------------------------------------------


def _wait_for_a_request(fake: FakeArxiv | FakeOai, seconds: float = 10) -> None:
    waited = time.monotonic() + seconds
    while fake.request_count == 0:
        assert time.monotonic() < waited, "no request arrived"
        time.sleep(0.01)


def _capture(errors: list[BaseException], call: Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except BaseException as exc:
        errors.append(exc)


@contextlib.contextmanager
def trickling_server(head: bytes, every: float = 0.1) -> Iterator[str]:
    """A raw HTTP server that answers any request with ``head``, a byte every ``every``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                for byte in head:
                    connection.sendall(bytes([byte]))
                    time.sleep(every)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/query"
    finally:
        listener.close()
