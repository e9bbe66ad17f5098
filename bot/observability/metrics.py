"""The bot's Prometheus metrics, every one named ``arxiv_bot_…``.

One :class:`Metrics` per app, with its own :class:`~prometheus_client.CollectorRegistry`
(never the global one), so two apps in one process, or the tests, never share figures.
The harvester, the enqueuer, the dispatcher and the command handler record what they do
through its methods; the outbox, paused channels and last harvest are read from the
store just before each scrape (:meth:`Metrics.observe_backlog`,
:meth:`Metrics.observe_last_harvest`), and the arXiv gate's counters at the scrape itself.
The list with their meaning is in docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from bot.sources.gate import GateStats
from bot.store import StoreBacklog

__all__ = ["CONTENT_TYPE", "DELIVERY_OUTCOMES", "PREFIX", "Metrics"]

PREFIX = "arxiv_bot"
CONTENT_TYPE = CONTENT_TYPE_LATEST
"""Prometheus's text format, as :meth:`Metrics.render` writes it."""

DELIVERY_OUTCOMES = ("delivered", "failed", "gave_up", "recovered", "paused")
HARVEST_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
"""A day's harvest takes seconds; a first harvest or a catch-up after downtime, minutes."""
COMMAND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
"""Commands answered from the store take milliseconds; a search waits for arXiv (at most
15 seconds, the answer deadline)."""


class Metrics:
    """The metrics of one app, and the methods that record them."""

    def __init__(self, *, gate_stats: Callable[[], GateStats] | None = None) -> None:
        """``gate_stats`` (the arXiv gate's :meth:`~bot.sources.gate.ArxivGate.stats`) is
        read at every scrape."""
        self.registry = CollectorRegistry()
        registry = self.registry
        self._harvest_seconds = Histogram(
            f"{PREFIX}_harvest_duration_seconds",
            "Duration of complete harvests.",
            buckets=HARVEST_BUCKETS,
            registry=registry,
        )
        self._harvested = Counter(
            f"{PREFIX}_harvested_records",
            "OAI-PMH records received by complete harvests.",
            registry=registry,
        )
        self._harvest_failures = Counter(
            f"{PREFIX}_harvest_failures",
            "Harvests that failed (redone from the old watermark).",
            registry=registry,
        )
        self._last_harvest = Gauge(
            f"{PREFIX}_harvest_last_success_timestamp_seconds",
            "When the last complete harvest finished (Unix time; 0 before the first).",
            registry=registry,
        )
        self._matched = Counter(
            f"{PREFIX}_papers_matched",
            "Harvested papers run through matching.",
            registry=registry,
        )
        self._queued = Counter(
            f"{PREFIX}_deliveries_queued",
            "(channel, paper) deliveries queued by matching, by kind (new, revised).",
            ["kind"],
            registry=registry,
        )
        self._deliveries = Counter(
            f"{PREFIX}_deliveries",
            "Delivery outcomes by platform: delivered and gave_up count (channel, paper) "
            "deliveries, failed and recovered messages, paused channels.",
            ["platform", "outcome"],
            registry=registry,
        )
        self._outbox = Gauge(
            f"{PREFIX}_outbox_pending_messages",
            "Messages planned but not sent yet (paused channels included).",
            registry=registry,
        )
        self._oldest = Gauge(
            f"{PREFIX}_outbox_oldest_pending_age_seconds",
            "Age of the oldest message not sent yet (0 when there is none).",
            registry=registry,
        )
        self._paused = Gauge(
            f"{PREFIX}_paused_channels",
            "Channels whose posting is paused.",
            registry=registry,
        )
        self._commands = Histogram(
            f"{PREFIX}_command_duration_seconds",
            "Time to answer an /arxiv command, by command and platform.",
            ["command", "platform"],
            buckets=COMMAND_BUCKETS,
            registry=registry,
        )
        if gate_stats is not None:
            registry.register(_GateCollector(gate_stats))
        ProcessCollector(namespace=PREFIX, registry=registry)  # memory, CPU, open files

    # -- recorded as things happen ----------------------------------------------------

    def harvest_done(self, seconds: float, records: int) -> None:
        self._harvest_seconds.observe(seconds)
        self._harvested.inc(records)

    def harvest_failed(self) -> None:
        self._harvest_failures.inc()

    def matched(self, papers: int, queued: int, revisions: int) -> None:
        self._matched.inc(papers)
        self._queued.labels("new").inc(queued)
        self._queued.labels("revised").inc(revisions)

    def platform_started(self, platform: str) -> None:
        """Show the platform's delivery counters at 0 before its first delivery."""
        for outcome in DELIVERY_OUTCOMES:
            self._deliveries.labels(platform, outcome)

    def delivered(self, platform: str, outcomes: Mapping[str, int]) -> None:
        """Add one delivery round's counts (``DeliveryReport.outcomes()``) for ``platform``."""
        for outcome, count in outcomes.items():
            if count:
                self._deliveries.labels(platform, outcome).inc(count)

    def command_answered(self, command: str, platform: str, seconds: float) -> None:
        self._commands.labels(command, platform).observe(seconds)

    # -- read from the store before a scrape ------------------------------------------

    def observe_backlog(self, backlog: StoreBacklog, now: datetime) -> None:
        self._outbox.set(backlog.outbox_pending)
        oldest = backlog.oldest_pending_at
        self._oldest.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        self._paused.set(backlog.paused_channels)

    def observe_last_harvest(self, finished_at: datetime | None) -> None:
        self._last_harvest.set(finished_at.timestamp() if finished_at else 0.0)

    def render(self) -> bytes:
        """Every metric in Prometheus's text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


class _GateCollector:
    """The arXiv gate's counters, read when scraped (the gate counts in its own thread)."""

    def __init__(self, stats: Callable[[], GateStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        figures = (
            ("arxiv_requests", "HTTP requests sent to arXiv, retries included.", stats.requests),
            ("arxiv_retries", "Requests retried after HTTP 429 or 503.", stats.retries),
            ("arxiv_errors", "arXiv requests that failed or got an error status.", stats.errors),
            (
                "arxiv_wait_seconds",
                "Seconds requests waited at the gate for their turn (spacing, backoff, "
                "another request).",
                stats.waited_seconds,
            ),
        )
        for name, documentation, value in figures:
            yield CounterMetricFamily(f"{PREFIX}_{name}", documentation, value=value)
