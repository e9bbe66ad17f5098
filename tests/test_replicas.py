"""Replicas: three real ``arxiv-bot run`` services on one PostgreSQL schema (bench/replicas.py
runs them against the local OAI-PMH, Slack and Discord fakes; ``python -m bench.replicas``
prints the throughput and failover figures).

* One harvest of 500 papers for 200 channels (100 Slack, 100 Discord, each paper posted
  on its own); a replica that is sending is killed with SIGKILL after some messages
  landed: every (channel, paper) is shown exactly once, the OAI fake saw one harvest's
  pages (not three), arriving at least ``ARXIV_REQUEST_INTERVAL`` apart.
* The harvest lease's holder is killed with SIGKILL while the OAI fake holds its first
  answer: another replica harvests within ``HARVEST_LEASE_SECONDS`` and a margin, and
  every paper is delivered exactly once.

Only with ``TEST_DATABASE_URL`` (tests/databases.py). The killed replica's claims come
back at once here (the survivors see its pid gone: one host); the survivors look for
them at their next delivery pump, 30 s after they started, so the first test takes
about 50 s. In the first test only the leader asks arXiv, so its spacing is one
process's; in the second the requests come from two replicas.

Also, without PostgreSQL: a takeover that fails on the database is tried again at the
next renewal instead of ending the lease loop; and the Slack fake's per-channel pacing
that the throughput bench runs against.
"""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp
import pytest

from bench.replicas import LEASE_SECONDS, REQUEST_INTERVAL, delivery_kill, failover
from tests.databases import fresh_schema
from tests.fakes.slack_api import running_fake_slack

MARGIN = 3.0
"""Seconds past ``HARVEST_LEASE_SECONDS`` a takeover may take: the waiting replicas try
every third of the lease, and the new leader starts its process's harvest cycle."""
ARRIVAL_JITTER = 0.05
"""How much closer two requests may arrive at the fake than the gate spaced their
starts (a first connection takes longer to arrive than a reused one)."""

processes = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


@processes
async def test_a_replica_killed_mid_delivery_loses_and_repeats_nothing(tmp_path: Path) -> None:
    with fresh_schema() as url:
        figures = await delivery_kill(url, tmp_path, kill_at=0.3)
    print(figures)
    tally = figures.tally
    assert tally.pairs == 2500
    assert 0 < figures.landed_at_kill < tally.pairs, "killed in the middle of delivery"
    assert figures.victim_claims > 0, "the killed replica was sending"
    assert (tally.lost, tally.repeated) == (0, 0), figures
    assert tally.messages == tally.pairs, "one post per (channel, paper), nothing else"
    assert figures.undelivered == 0
    requests = figures.requests
    assert (requests.requests, requests.lists) == (figures.expected_requests, 1), (
        "one harvest's pages, not one per replica"
    )
    assert requests.min_gap is not None
    assert requests.min_gap >= REQUEST_INTERVAL - ARRIVAL_JITTER


@processes
async def test_another_replica_harvests_when_the_lease_holder_is_killed(tmp_path: Path) -> None:
    with fresh_schema() as url:
        figures = await failover(url, tmp_path)
    print(figures)
    assert figures.lease_taken <= LEASE_SECONDS + MARGIN, figures
    assert figures.harvest_started <= LEASE_SECONDS + MARGIN, figures
    tally = figures.tally
    assert (tally.lost, tally.repeated) == (0, 0), figures
    assert tally.messages == tally.pairs
    requests = figures.requests
    assert (requests.requests, requests.lists) == (figures.expected_requests, 2), (
        "the killed leader's request, then one whole harvest"
    )
    assert requests.min_gap is not None
    assert requests.min_gap >= REQUEST_INTERVAL - ARRIVAL_JITTER


async def test_the_slack_fake_paces_each_channel() -> None:
    async with running_fake_slack() as fake, aiohttp.ClientSession() as session:
        fake.channel_pace, fake.channel_burst = 1.0, 2

        async def post(channel: str) -> tuple[int, str | None]:
            async with session.post(
                fake.api_url + "chat.postMessage",
                json={"channel": channel, "text": "hi"},
                headers={"Authorization": f"Bearer {fake.token}"},
            ) as answer:
                return answer.status, answer.headers.get("Retry-After")

        assert [await post("C1") for _ in range(3)] == [(200, None), (200, None), (429, "1")]
        assert await post("C2") == (200, None), "another channel has a bucket of its own"
        assert [m.channel for m in fake.messages()] == ["C1", "C1", "C2"]
