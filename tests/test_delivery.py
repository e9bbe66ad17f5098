"""Matching and durable delivery: real SQLite files, a recording sender, a fixed clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import DeliveryReport, Dispatcher, backoff_delay
from bot.enqueue import Enqueuer, MatchReport, is_new_for
from bot.errors import ChannelUnavailableError, DeliveryError, StorageError
from bot.models import (
    ChannelRef,
    DeliveryMode,
    Digest,
    HarvestedRecord,
    OutgoingMessage,
    Paper,
    PaperPost,
    SentCandidate,
    Subscription,
)
from bot.store import Store
from bot.store.deliveries import DeliveryQueue, PaperMatches
from bot.store.outbox import ClaimOwner, Outbox, process_is_alive
from tests.fakes.clock import SettableClock
from tests.fakes.corpus import make_paper, paper_by_id, revised

START = datetime(2025, 6, 13, 12, 0, tzinfo=UTC)
"""When the subscriptions are made (a Friday)."""
ANNOUNCED = date(2025, 6, 14)

IMAGING = ChannelRef("slack", "T1", "C-imaging", "imaging")
NLP = ChannelRef("slack", "T1", "C-nlp", "nlp")
VISION = ChannelRef("discord", "G1", "100", "vision")


@dataclass
class Sent:
    channel: ChannelRef
    item: PaperPost | Digest

    @property
    def ids(self) -> list[str]:
        posts = self.item.posts if isinstance(self.item, Digest) else (self.item,)
        return [post.paper.arxiv_id for post in posts]


@dataclass
class RecordingSender:
    """Records every message; can be told to fail, or to block a channel until released.

    A plan is one message per post or digest; its payload indexes :attr:`items`, so
    tests can look at what was sent. Keys of landed messages are remembered, so
    :meth:`find_sent` answers like a platform that can tell (unless ``can_tell`` is off).
    """

    sent: list[Sent] = field(default_factory=list)
    items: list[PaperPost | Digest] = field(default_factory=list)
    landed: dict[str, str] = field(default_factory=dict)
    can_tell: bool = True
    lose_answers: Counter[str] = field(default_factory=Counter)
    """Per channel: this many next sends land, but the sender reports a failure."""
    attempts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[BaseException]] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: Counter[str] = field(default_factory=Counter)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    before_send: Callable[[], Awaitable[None]] | None = None

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def fail(self, channel: ChannelRef, *errors: BaseException) -> None:
        self.failures.setdefault(channel.channel, []).extend(errors)

    def block(self, channel: ChannelRef) -> asyncio.Event:
        return self.gates.setdefault(channel.channel, asyncio.Event())

    def plan(self, item: PaperPost | Digest, *, cards: int) -> list[OutgoingMessage]:
        self.items.append(item)
        posts = item.posts if isinstance(item, Digest) else (item,)
        shows = tuple(post.paper.arxiv_id for post in posts)
        return [OutgoingMessage({"item": len(self.items) - 1}, shows)]

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> dict[str, str]:
        if not self.can_tell:
            return {}
        return {c.key: self.landed[c.key] for c in candidates if c.key in self.landed}

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        item = self.items[int(message.payload["item"])]
        await self._send(channel, item, key)
        if self.lose_answers[channel.channel] > 0:
            self.lose_answers[channel.channel] -= 1
            raise DeliveryError("the platform took it, but the answer was lost")
        return self.landed[key]

    async def _send(self, channel: ChannelRef, item: PaperPost | Digest, message_key: str) -> None:
        key = channel.channel
        self.attempts[key] += 1
        self.in_flight[key] += 1
        self.most_in_flight[key] = max(self.most_in_flight[key], self.in_flight[key])
        await self._notify()
        try:
            if self.before_send is not None:
                await self.before_send()
            gate = self.gates.get(key)
            if gate is not None:
                await gate.wait()
            await asyncio.sleep(0)  # let other channels run meanwhile
            pending = self.failures.get(key)
            if pending:
                raise pending.pop(0)
            self.sent.append(Sent(channel, item))
            self.landed[message_key] = f"ref-{len(self.sent)}"
            await self._notify()
        finally:
            self.in_flight[key] -= 1

    def to(self, channel: ChannelRef) -> list[Sent]:
        return [s for s in self.sent if s.channel == channel]

    def ids(self, channel: ChannelRef) -> list[str]:
        return [arxiv_id for s in self.to(channel) for arxiv_id in s.ids]


@dataclass
class Bed:
    store: Store
    clock: SettableClock
    sender: RecordingSender
    senders: dict[str, Any]
    channels: dict[ChannelRef, int] = field(default_factory=dict)
    revision_notes: bool = False

    @property
    def queue(self) -> DeliveryQueue:
        return DeliveryQueue(self.store)

    def dispatcher(self, **options: Any) -> Dispatcher:
        return Dispatcher(
            store=self.store, queue=self.queue, senders=self.senders, clock=self.clock, **options
        )

    async def match(self) -> MatchReport:
        """Match what was harvested, as the cycle does between harvest and delivery."""
        enqueuer = Enqueuer(
            store=self.store, queue=self.queue, revision_notes=self.revision_notes, clock=self.clock
        )
        return await enqueuer.match_pending()

    async def subscribe(self, channel: ChannelRef, *queries: str) -> list[Subscription]:
        if channel not in self.channels:
            self.channels[channel] = await self.store.ensure_channel(channel)
        return [await self.store.add_subscription(self.channels[channel], q) for q in queries]

    async def harvest(self, papers: Iterable[Paper], day: date = ANNOUNCED) -> None:
        await self.store.upsert_harvested([HarvestedRecord(paper, day) for paper in papers])

    async def cycle(self, dispatcher: Dispatcher) -> DeliveryReport:
        await self.match()
        return await dispatcher.deliver_due()

    async def row(self, channel: ChannelRef, arxiv_id: str) -> dict[str, Any]:
        found = await self.store.fetchone(
            "SELECT * FROM deliveries WHERE channel_id = ? AND arxiv_id = ?",
            (self.channels[channel], arxiv_id),
        )
        assert found is not None
        return dict(found)


@pytest.fixture
async def bed(tmp_path: Path) -> AsyncIterator[Bed]:
    clock = SettableClock(START)
    sender = RecordingSender()
    async with await Store.open(tmp_path / "bot.db", clock=clock) as store:
        yield Bed(store, clock, sender, {"slack": sender, "discord": sender})


def paper(arxiv_id: str, *categories: str, submitted: str = "2025-06-13", **fields: Any) -> Paper:
    moment = datetime.fromisoformat(submitted).replace(tzinfo=UTC)
    return make_paper(
        arxiv_id,
        categories=categories or ("cs.LG",),
        submitted=moment,
        updated=moment,
        **fields,
    )


# -- the cycle ------------------------------------------------------------------------


async def test_a_cycle_posts_exactly_the_expected_papers_and_a_second_cycle_nothing(
    bed: Bed,
) -> None:
    [imaging] = await bed.subscribe(IMAGING, "cat:eess.IV")
    [nlp] = await bed.subscribe(NLP, 'ti:"language models"')
    ids = ["2506.11674", "2506.12000", "2506.09876", "2506.07001", "2506.08123", "2505.12345"]
    harvested = [paper_by_id(i) for i in ids]
    bed.clock.advance(days=1, hours=11)
    await bed.harvest(harvested)
    dispatcher = bed.dispatcher()

    matched = await bed.match()
    assert (matched.papers, matched.queued, matched.subscriptions) == (6, 5, 2)
    assert await dispatcher.pending_count() == 5
    report = await dispatcher.deliver_due()

    assert (report.delivered, report.messages, report.failed) == (5, 5, 0)
    assert sorted(bed.sender.ids(IMAGING)) == ["2506.11674", "2506.12000"]
    assert sorted(bed.sender.ids(NLP)) == ["2506.07001", "2506.08123", "2506.09876"]
    assert len(bed.sender.sent) == 5
    for sent in bed.sender.sent:
        assert isinstance(sent.item, PaperPost)
        assert not sent.item.revised
        assert sent.item.matched == ((imaging,) if sent.channel == IMAGING else (nlp,))
    assert await dispatcher.pending_count() == 0
    row = await bed.row(IMAGING, "2506.11674")
    assert (row["status"], row["delivered_version"], row["attempts"]) == ("delivered", 1, 1)

    # The next harvest re-reads a day of overlap: same records, nothing new to post.
    bed.clock.advance(days=1)
    await bed.harvest(harvested, ANNOUNCED + timedelta(days=1))
    again = await bed.cycle(dispatcher)
    assert (again.delivered, again.messages) == (0, 0)
    assert len(bed.sender.sent) == 5
    assert (await bed.match()).papers == 0


async def test_a_paper_matching_several_subscriptions_of_a_channel_is_posted_once(
    bed: Bed,
) -> None:
    subs = await bed.subscribe(IMAGING, "cat:eess.IV", "ti:segmentation", "au:muller")
    [other] = await bed.subscribe(VISION, "ti:segmentation")
    await bed.harvest([paper_by_id("2506.11674")])

    await bed.cycle(bed.dispatcher())

    [sent] = bed.sender.to(IMAGING)
    assert isinstance(sent.item, PaperPost)
    assert sent.item.paper.arxiv_id == "2506.11674"
    assert sent.item.matched == tuple(subs), "names every matching subscription, in id order"
    [elsewhere] = bed.sender.to(VISION)
    assert isinstance(elsewhere.item, PaperPost)
    assert elsewhere.item.matched == (other,)


async def test_a_subscription_added_later_joins_a_queued_delivery(bed: Bed) -> None:
    """Two subscriptions of a channel matching in different harvests still give one post."""
    [first] = await bed.subscribe(IMAGING, "cat:cs.CV")
    original = paper("2506.20001", "cs.CV", title="Segmentation of cells")
    await bed.harvest([original])
    dispatcher = bed.dispatcher()
    await bed.match()
    [second] = await bed.subscribe(IMAGING, "cat:eess.IV")
    # Re-announced with a new cross-list before the first post went out.
    await bed.harvest([paper("2506.20001", "cs.CV", "eess.IV", title="Segmentation of cells")])
    await bed.cycle(dispatcher)

    [sent] = bed.sender.to(IMAGING)
    assert isinstance(sent.item, PaperPost)
    assert sent.item.matched == (first, second)


# -- revisions and cross-lists --------------------------------------------------------


async def test_a_revision_of_a_delivered_paper_is_not_posted_again(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    v1 = paper_by_id("2506.11674")
    await bed.harvest([v1])
    dispatcher = bed.dispatcher()
    await bed.cycle(dispatcher)
    assert bed.sender.ids(IMAGING) == ["2506.11674"]

    v2 = revised(v1, 2, updated=v1.updated + timedelta(days=6))
    await bed.harvest([v2], date(2025, 6, 20))
    assert (await bed.store.get_paper(v1.arxiv_id)) == v2
    matched = await bed.match()
    assert (matched.papers, matched.queued, matched.revisions) == (1, 0, 0)
    report = await dispatcher.deliver_due()

    assert report.messages == 0
    assert bed.sender.ids(IMAGING) == ["2506.11674"]


async def test_with_revision_notes_a_revision_gets_one_compact_note(bed: Bed) -> None:
    [sub] = await bed.subscribe(IMAGING, "cat:eess.IV")
    v1 = paper_by_id("2506.11674")
    await bed.harvest([v1])
    bed.revision_notes = True
    dispatcher = bed.dispatcher()
    await bed.cycle(dispatcher)
    bed.clock.advance(days=3)
    await bed.subscribe(NLP, "cat:cs.LG")  # matches the paper, but only after it was announced

    v2 = revised(v1, 2, updated=v1.updated + timedelta(days=6))
    await bed.harvest([v2], date(2025, 6, 20))
    matched = await bed.match()
    assert (matched.queued, matched.revisions) == (0, 1)
    await dispatcher.deliver_due()
    # Later harvests of the same version bring nothing more.
    await bed.harvest([v2], date(2025, 6, 21))
    await bed.cycle(dispatcher)

    first, note = bed.sender.to(IMAGING)
    assert isinstance(first.item, PaperPost) and not first.item.revised
    assert isinstance(note.item, PaperPost)
    assert note.item.revised
    assert note.item.paper.version == 2
    assert note.item.matched == (sub,)
    assert bed.sender.to(NLP) == [], "neither a post nor a note where the paper never went"
    row = await bed.row(IMAGING, v1.arxiv_id)
    assert (row["status"], row["kind"], row["delivered_version"]) == ("delivered", "revised", 2)


async def test_a_queued_paper_revised_before_sending_is_posted_once_at_its_new_version(
    bed: Bed,
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    v1 = paper_by_id("2506.11674")
    await bed.harvest([v1])
    bed.revision_notes = True
    dispatcher = bed.dispatcher()
    await bed.match()
    await bed.harvest([revised(v1, 2, updated=v1.updated + timedelta(days=1))], date(2025, 6, 15))
    await bed.cycle(dispatcher)

    [sent] = bed.sender.to(IMAGING)
    assert isinstance(sent.item, PaperPost)
    assert (sent.item.paper.version, sent.item.revised) == (2, False)


async def test_a_cross_list_reaches_a_channel_that_never_had_the_paper(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(VISION, "cat:cs.CV")
    cross_listed = paper("2506.30001", "cs.CV", "eess.IV")  # primary cs.CV
    only_cv = paper("2506.30002", "cs.CV")
    await bed.harvest([cross_listed, only_cv])
    dispatcher = bed.dispatcher()
    await bed.cycle(dispatcher)
    assert bed.sender.ids(IMAGING) == ["2506.30001"]
    assert sorted(bed.sender.ids(VISION)) == ["2506.30001", "2506.30002"]

    # arXiv adds a cross-list to eess.IV two days later: same version, new categories.
    await bed.harvest([paper("2506.30002", "cs.CV", "eess.IV")], date(2025, 6, 16))
    matched = await bed.match()
    assert (matched.papers, matched.queued) == (1, 1)
    await dispatcher.deliver_due()

    assert bed.sender.ids(IMAGING) == ["2506.30001", "2506.30002"]
    assert sorted(bed.sender.ids(VISION)) == ["2506.30001", "2506.30002"], "not re-posted"


# -- what counts as new ---------------------------------------------------------------


async def test_only_papers_new_to_a_subscription_are_posted(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    day_before = paper("2506.40001", "eess.IV", submitted="2025-06-12")
    same_day = paper("2506.40002", "eess.IV", submitted="2025-06-13")
    six_days_old = paper("2506.40003", "eess.IV", submitted="2025-06-07")
    twelve_days_old = paper("2506.40004", "eess.IV", submitted="2025-06-01")
    old_but_revised = revised(
        paper("1801.00001", "eess.IV", submitted="2018-01-01"),
        3,
        updated=datetime(2025, 6, 13, 9, tzinfo=UTC),
    )
    await bed.harvest([day_before], date(2025, 6, 12))  # announced before subscribing
    await bed.harvest([same_day], date(2025, 6, 13))  # the subscription's own day counts
    await bed.harvest([six_days_old, twelve_days_old, old_but_revised], date(2025, 6, 14))

    matched = await bed.match()
    assert (matched.papers, matched.queued) == (5, 2)
    await bed.dispatcher().deliver_due()

    assert sorted(bed.sender.ids(IMAGING)) == ["2506.40002", "2506.40003"]


def test_eligibility_uses_utc_days() -> None:
    created = datetime(2025, 6, 13, 23, 30, tzinfo=UTC)
    sub = Subscription(1, 1, "cat:eess.IV", created)
    fresh = paper("2506.40005", "eess.IV", submitted="2025-06-06")
    assert is_new_for(sub, fresh, date(2025, 6, 13))
    assert not is_new_for(sub, fresh, date(2025, 6, 12))
    assert not is_new_for(sub, fresh, None), "never harvested: not an announcement"
    assert not is_new_for(
        sub, paper("2506.40006", "eess.IV", submitted="2025-06-05"), date(2025, 6, 14)
    )


async def test_papers_from_search_are_never_posted(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.store.upsert_papers([paper("2506.40007", "eess.IV")])
    report = await bed.cycle(bed.dispatcher())
    assert report.messages == 0
    assert bed.sender.sent == []


async def test_a_paper_revised_while_being_matched_stays_unmatched(bed: Bed) -> None:
    """Matching records its papers only if they did not change since they were read."""
    [sub] = await bed.subscribe(IMAGING, "cat:eess.IV")
    v1 = paper("2506.40008", "eess.IV")
    await bed.harvest([v1])
    dispatcher = bed.dispatcher()
    [pending] = await bed.queue.unmatched()
    await bed.harvest([revised(v1, 2, updated=v1.updated + timedelta(hours=1))])
    counts = await bed.queue.record_matches(
        [PaperMatches(pending, {bed.channels[IMAGING]: (sub.id,)}, {})],
        now=bed.clock(),
        revision_notes=False,
    )
    assert (counts.papers, counts.queued, counts.changed) == (0, 1, 1)
    [again] = await bed.queue.unmatched()
    assert again.paper.version == 2
    await bed.cycle(dispatcher)
    assert bed.sender.ids(IMAGING) == ["2506.40008"]


# -- failures -------------------------------------------------------------------------


async def test_a_failed_send_is_retried_after_backoff_and_delivered_once(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper("2506.50001", "eess.IV")])
    bed.sender.fail(IMAGING, DeliveryError("rate limited"))
    dispatcher = bed.dispatcher(backoff_base=60)

    first = await bed.cycle(dispatcher)
    assert (first.failed, first.delivered, first.gave_up) == (1, 0, 0)
    row = await bed.row(IMAGING, "2506.50001")
    assert (row["status"], row["attempts"]) == ("sending", 1), "planned, its message waits"
    assert row["last_error"] == "DeliveryError: rate limited"
    assert any("rate limited" in line for line in await dispatcher.last_errors())

    bed.clock.advance(seconds=59)
    assert (await dispatcher.deliver_due()).messages == 0, "not before the backoff"
    bed.clock.advance(seconds=1)
    assert (await dispatcher.deliver_due()).delivered == 1
    bed.clock.advance(hours=1)
    assert (await dispatcher.deliver_due()).messages == 0

    assert bed.sender.ids(IMAGING) == ["2506.50001"]
    assert bed.sender.attempts[IMAGING.channel] == 2
    assert await dispatcher.last_errors() == [], "resolved errors are not shown"


async def test_a_delivery_gives_up_after_max_attempts(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper("2506.50002", "eess.IV")])
    bed.sender.fail(IMAGING, *(RuntimeError(f"HTTP 500 #{n}") for n in range(1, 10)))
    dispatcher = bed.dispatcher(max_attempts=3, backoff_base=10)

    await bed.cycle(dispatcher)
    bed.clock.advance(seconds=10)
    await dispatcher.deliver_due()
    bed.clock.advance(seconds=20)
    last = await dispatcher.deliver_due()
    assert (last.failed, last.gave_up) == (1, 1)
    bed.clock.advance(days=1)
    await dispatcher.deliver_due()

    assert bed.sender.attempts[IMAGING.channel] == 3
    row = await bed.row(IMAGING, "2506.50002")
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["last_error"] == "RuntimeError: HTTP 500 #3"
    assert await dispatcher.pending_count() == 0
    [line] = await dispatcher.last_errors()
    assert "#imaging" in line and "2506.50002" in line and "gave up after 3 attempts" in line


def test_backoff_doubles_up_to_a_ceiling() -> None:
    assert [backoff_delay(n, 60).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff_delay(100, 60) == timedelta(hours=6)


async def test_an_unavailable_channel_is_paused_and_other_channels_go_on(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(NLP, "cat:cs.CL")
    await bed.harvest(
        [
            paper("2506.60001", "eess.IV"),
            paper("2506.60002", "eess.IV"),
            paper("2506.60003", "cs.CL"),
        ]
    )
    reason = "the channel was archived"
    bed.sender.fail(IMAGING, ChannelUnavailableError(reason))
    dispatcher = bed.dispatcher()

    report = await bed.cycle(dispatcher)

    assert report.paused == ("imaging",)
    assert bed.sender.ids(NLP) == ["2506.60003"]
    channel = await bed.store.get_channel(bed.channels[IMAGING])
    assert channel.paused_reason == reason and channel.paused_at == START
    assert await dispatcher.pending_count() == 2
    for arxiv_id in ("2506.60001", "2506.60002"):
        row = await bed.row(IMAGING, arxiv_id)
        assert (row["status"], row["attempts"]) == ("sending", 0)
    assert any(reason in line and "resumed" in line for line in await dispatcher.last_errors())

    bed.clock.advance(days=1)
    later = await dispatcher.deliver_due()
    assert (later.skipped, later.messages) == (1, 0)
    assert bed.sender.attempts[IMAGING.channel] == 1, "a paused channel is not attempted"

    assert await bed.store.resume_channel(bed.channels[IMAGING])
    assert not await bed.store.resume_channel(bed.channels[IMAGING])
    await dispatcher.deliver_due()
    assert bed.sender.ids(IMAGING) == ["2506.60001", "2506.60002"]


async def test_a_channel_whose_platform_is_not_running_waits_without_attempts(
    bed: Bed,
) -> None:
    await bed.subscribe(VISION, "cat:cs.CV")
    await bed.subscribe(IMAGING, "cat:cs.CV")
    await bed.harvest([paper("2506.60004", "cs.CV")])
    del bed.senders["discord"]
    dispatcher = bed.dispatcher()

    report = await bed.cycle(dispatcher)
    assert (report.delivered, report.skipped) == (1, 1)
    row = await bed.row(VISION, "2506.60004")
    assert (row["status"], row["attempts"]) == ("queued", 0)

    bed.senders["discord"] = bed.sender  # the platform comes up: the dispatcher sees it
    assert (await dispatcher.deliver_due()).delivered == 1
    assert bed.sender.ids(VISION) == ["2506.60004"]


async def test_papers_of_a_removed_subscription_are_not_posted(bed: Bed) -> None:
    [gone] = await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(NLP, "cat:eess.IV")
    await bed.harvest([paper("2506.60005", "eess.IV")])
    dispatcher = bed.dispatcher()
    await bed.match()
    await bed.store.remove_subscription(bed.channels[IMAGING], gone.id)

    await dispatcher.deliver_due()

    assert bed.sender.to(IMAGING) == []
    assert bed.sender.ids(NLP) == ["2506.60005"]
    assert await dispatcher.pending_count() == 0


# -- grouping -------------------------------------------------------------------------


async def test_digest_mode_sends_one_digest_per_round(bed: Bed) -> None:
    subs = await bed.subscribe(IMAGING, "cat:eess.IV", "cat:cs.CV")
    await bed.store.set_channel_mode(bed.channels[IMAGING], DeliveryMode.DIGEST)
    assert (await bed.store.get_channel(bed.channels[IMAGING])).mode is DeliveryMode.DIGEST
    await bed.harvest([paper(f"2506.7000{n}", "eess.IV", "cs.CV") for n in range(1, 4)])
    dispatcher = bed.dispatcher()

    report = await bed.cycle(dispatcher)
    await bed.harvest([paper("2506.70004", "eess.IV")], date(2025, 6, 15))
    await bed.cycle(dispatcher)

    first, second = bed.sender.to(IMAGING)
    assert isinstance(first.item, Digest) and isinstance(second.item, Digest)
    assert not first.item.folded
    assert first.ids == ["2506.70001", "2506.70002", "2506.70003"]
    assert all(post.matched == tuple(subs) for post in first.item.posts)
    assert second.ids == ["2506.70004"]
    assert (report.messages, report.delivered) == (1, 3)


async def test_each_mode_over_the_cap_folds_into_a_digest(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(NLP, "cat:eess.IV")
    await bed.store.set_channel_mode(bed.channels[NLP], DeliveryMode.DIGEST)
    await bed.harvest([paper(f"2506.7100{n}", "eess.IV") for n in range(1, 4)])
    dispatcher = bed.dispatcher(digest_cap=2)

    await bed.cycle(dispatcher)
    await bed.harvest([paper(f"2506.7200{n}", "eess.IV") for n in range(1, 3)])
    await bed.cycle(dispatcher)

    folded, *singles = bed.sender.to(IMAGING)
    assert isinstance(folded.item, Digest) and folded.item.folded
    assert folded.ids == ["2506.71001", "2506.71002", "2506.71003"]
    assert [s.ids for s in singles] == [["2506.72001"], ["2506.72002"]], "at the cap: posts"
    assert all(isinstance(s.item, PaperPost) for s in singles)
    digests = bed.sender.to(NLP)
    assert [type(s.item) for s in digests] == [Digest, Digest]
    assert not any(isinstance(s.item, Digest) and s.item.folded for s in digests)


async def test_a_failed_digest_is_retried_whole(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.store.set_channel_mode(bed.channels[IMAGING], DeliveryMode.DIGEST)
    await bed.harvest([paper(f"2506.7300{n}", "eess.IV") for n in range(1, 3)])
    bed.sender.fail(IMAGING, DeliveryError("timeout"))
    dispatcher = bed.dispatcher(backoff_base=30)

    assert (await bed.cycle(dispatcher)).failed == 1, "one message"
    bed.clock.advance(seconds=30)
    assert (await dispatcher.deliver_due()).delivered == 2

    [sent] = bed.sender.to(IMAGING)
    assert sent.ids == ["2506.73001", "2506.73002"]


# -- concurrency ----------------------------------------------------------------------


async def test_channels_are_delivered_in_parallel_and_in_order_within_each(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.subscribe(NLP, "cat:eess.IV")
    ids = [f"2506.8000{n}" for n in range(1, 6)]
    await bed.harvest([paper(i, "eess.IV") for i in reversed(ids)])
    gate = bed.sender.block(IMAGING)
    dispatcher = bed.dispatcher()
    await bed.match()

    delivering = asyncio.create_task(dispatcher.deliver_due())
    await bed.sender.wait_until(lambda: len(bed.sender.to(NLP)) == len(ids))
    assert bed.sender.to(IMAGING) == [], "channel A is blocked ..."
    assert not delivering.done(), "... and did not stop channel B"
    gate.set()
    report = await delivering

    assert report.delivered == 2 * len(ids)
    assert bed.sender.ids(IMAGING) == ids
    assert bed.sender.ids(NLP) == ids
    assert bed.sender.most_in_flight[IMAGING.channel] == 1
    assert bed.sender.most_in_flight[NLP.channel] == 1


async def test_concurrent_rounds_never_send_a_paper_twice(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8100{n}", "eess.IV") for n in range(1, 6)])
    first, second = bed.dispatcher(), bed.dispatcher()
    await bed.match()

    reports = await asyncio.gather(first.deliver_due(), second.deliver_due(), first.deliver_due())

    assert sum(r.delivered for r in reports) == 5
    assert sorted(bed.sender.ids(IMAGING)) == [f"2506.8100{n}" for n in range(1, 6)]


async def claim_as(bed: Bed, owner: ClaimOwner, *, lease: float = 120) -> list[str]:
    """Plan the imaging channel's deliveries and claim its messages as ``owner`` would
    (a process that then dies without settling them)."""
    planner = bed.dispatcher()
    planner._senders = {}  # plan without sending: no sender runs the channel
    outbox = Outbox(bed.store)
    channel = await bed.store.get_channel(bed.channels[IMAGING])
    await planner._plan(channel, bed.sender)
    claimed = await outbox.claim(
        channel.id, owner, now=bed.clock(), lease_until=bed.clock() + timedelta(seconds=lease)
    )
    return [m.key for m in claimed]


def other_host_owner() -> ClaimOwner:
    return ClaimOwner("elsewhere.example", 4242, "deadbeef0000", "r1")


async def test_a_lapsed_claim_is_sent_again_after_the_lease(bed: Bed) -> None:
    """What a process on another host killed mid-send leaves behind: messages claimed,
    never settled. This host cannot tell it died, so it waits out the lease."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper("2506.82001", "eess.IV")])
    await bed.match()
    assert len(await claim_as(bed, other_host_owner())) == 1
    restarted = bed.dispatcher()

    assert (await restarted.deliver_due()).messages == 0, "the claim is still live"
    assert await restarted.pending_count() == 1
    bed.clock.advance(seconds=120)
    assert (await restarted.deliver_due()).delivered == 1
    assert bed.sender.ids(IMAGING) == ["2506.82001"]


async def test_a_dead_local_process_claim_is_taken_back_at_once(bed: Bed) -> None:
    """A process of this host that no longer exists: its claim is reclaimed at the next
    round, not after the lease; so is one of an earlier incarnation with our own pid
    (pid 1 in a container)."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper("2506.82002", "eess.IV")])
    await bed.match()
    here = ClaimOwner.new_round()
    dead_pid = max_pid_unused()
    assert len(await claim_as(bed, replace(here, pid=dead_pid, boot="0ldb00t"))) == 1

    report = await bed.dispatcher().deliver_due()
    assert (report.delivered, report.messages) == (1, 1)

    await bed.harvest([paper("2506.82003", "eess.IV")])
    await bed.match()
    assert len(await claim_as(bed, replace(here, boot="0ldb00t"), lease=3600)) == 1
    assert (await bed.dispatcher().deliver_due()).delivered == 1
    assert bed.sender.ids(IMAGING) == ["2506.82002", "2506.82003"]


async def test_a_live_claim_of_this_process_is_left_alone(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper("2506.82004", "eess.IV")])
    await bed.match()
    await claim_as(bed, ClaimOwner.new_round())
    assert (await bed.dispatcher().deliver_due()).messages == 0


def max_pid_unused() -> int:
    """A process id no process has now."""
    pid = 4_000_000
    while process_is_alive(pid):
        pid -= 1
    return pid


async def test_a_message_that_landed_before_a_crash_is_found_not_reposted(bed: Bed) -> None:
    """The platform took the message, the process died before recording it: the next
    round reads back and records it instead of posting it again."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8210{n}", "eess.IV") for n in range(1, 4)])
    await bed.match()
    keys = await claim_as(bed, other_host_owner(), lease=60)
    bed.sender.landed[keys[0]] = "ref-from-before"  # the first one had landed
    bed.clock.advance(seconds=60)

    report = await bed.dispatcher().deliver_due()

    assert (report.recovered, report.messages, report.delivered) == (1, 2, 3)
    assert bed.sender.ids(IMAGING) == ["2506.82102", "2506.82103"], "no repeat"
    row = await bed.row(IMAGING, "2506.82101")
    assert row["status"] == "delivered"


async def test_without_read_back_a_crash_repeats_at_most_the_message_in_flight(
    bed: Bed,
) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8220{n}", "eess.IV") for n in range(1, 3)])
    await bed.match()
    keys = await claim_as(bed, other_host_owner(), lease=60)
    bed.sender.landed[keys[0]] = "ref-from-before"
    bed.sender.can_tell = False
    bed.clock.advance(seconds=60)

    report = await bed.dispatcher().deliver_due()

    assert (report.recovered, report.messages) == (0, 2)
    assert bed.sender.ids(IMAGING) == ["2506.82201", "2506.82202"]


async def test_a_failed_attempt_that_landed_anyway_is_not_posted_twice(bed: Bed) -> None:
    """A timeout after the platform took the message: the retry looks first."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper("2506.82301", "eess.IV")])
    bed.sender.lose_answers[IMAGING.channel] = 1
    dispatcher = bed.dispatcher(backoff_base=10)

    first = await bed.cycle(dispatcher)
    assert (first.failed, first.delivered) == (1, 0)
    bed.clock.advance(seconds=10)
    again = await dispatcher.deliver_due()

    assert (again.recovered, again.messages, again.delivered) == (1, 0, 1)
    assert bed.sender.ids(IMAGING) == ["2506.82301"]
    assert await dispatcher.pending_count() == 0


async def test_a_landing_the_database_failed_to_record_is_looked_for_not_reposted(
    bed: Bed,
) -> None:
    """The platform took the message, then recording it failed (the database dropped the
    connection) while giving the round's claims back worked: the message comes back
    uncertain, and the next round finds it instead of posting it again."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8240{n}", "eess.IV") for n in range(1, 3)])
    await bed.match()
    dispatcher = bed.dispatcher()
    record = dispatcher._outbox.sent

    async def failing_once(*args: Any, **kwargs: Any) -> int:
        dispatcher._outbox.sent = record  # type: ignore[method-assign]
        raise StorageError("the database cannot be reached")

    dispatcher._outbox.sent = failing_once  # type: ignore[method-assign]
    with pytest.raises(StorageError):
        await dispatcher.deliver_due()
    assert bed.sender.ids(IMAGING) == ["2506.82401"]

    again = await dispatcher.deliver_due()

    assert (again.recovered, again.messages, again.delivered) == (1, 1, 2)
    assert bed.sender.ids(IMAGING) == ["2506.82401", "2506.82402"], "no repeat"


async def test_cancelling_a_round_puts_unsent_rows_back(bed: Bed) -> None:
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8300{n}", "eess.IV") for n in range(1, 4)])
    bed.sender.block(IMAGING)  # the message in flight never finishes
    dispatcher = bed.dispatcher(in_flight_grace=0.05)
    await bed.match()

    delivering = asyncio.create_task(dispatcher.deliver_due())
    await bed.sender.wait_until(lambda: bed.sender.in_flight[IMAGING.channel] > 0)
    delivering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delivering

    statuses = Counter(
        row["status"] for row in await bed.store.fetchall("SELECT status FROM outbox")
    )
    assert statuses == {"pending": 3}, "back in the outbox, due now"
    [cut_short] = await bed.store.fetchall("SELECT id FROM outbox WHERE attempts = 1")
    assert cut_short["id"] == 1, "the message in flight is marked: it is looked for first"
    bed.sender.gates.clear()
    assert (await dispatcher.deliver_due()).delivered == 3


async def test_cancelling_a_round_records_the_message_in_flight_when_it_lands(
    bed: Bed,
) -> None:
    """A clean stop while a post is on its way: the platform accepts it a moment later,
    so it is recorded as delivered and never posted again; the rest go back."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8310{n}", "eess.IV") for n in range(1, 4)])
    gate = bed.sender.block(IMAGING)
    dispatcher = bed.dispatcher(in_flight_grace=5)
    await bed.match()

    delivering = asyncio.create_task(dispatcher.deliver_due())
    await bed.sender.wait_until(lambda: bed.sender.in_flight[IMAGING.channel] > 0)
    delivering.cancel()
    await asyncio.sleep(0)  # the round is now waiting for the message in flight
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await delivering

    (landed,) = bed.sender.ids(IMAGING)
    statuses = {
        row["arxiv_id"]: row["status"]
        for row in await bed.store.fetchall("SELECT arxiv_id, status FROM deliveries")
    }
    assert statuses.pop(landed) == "delivered"
    assert set(statuses.values()) == {"sending"}, "planned, their messages wait"
    assert (await dispatcher.deliver_due()).delivered == 2
    assert sorted(bed.sender.ids(IMAGING)) == [f"2506.8310{n}" for n in range(1, 4)]


async def test_a_long_channel_keeps_its_claim_alive(bed: Bed) -> None:
    """Each send takes 70 s against a 120 s lease: the claim is renewed as posts go out,
    so another run never takes (and re-sends) the rows still waiting."""
    await bed.subscribe(IMAGING, "cat:eess.IV")
    await bed.harvest([paper(f"2506.8400{n}", "eess.IV") for n in range(1, 6)])
    slow, other = bed.dispatcher(lease_seconds=120), bed.dispatcher(lease_seconds=120)
    await bed.match()
    rivals: list[DeliveryReport] = []

    async def slow_send() -> None:
        bed.clock.advance(seconds=70)
        bed.sender.before_send = None
        rivals.append(await other.deliver_due())
        bed.sender.before_send = slow_send

    bed.sender.before_send = slow_send
    report = await slow.deliver_due()

    assert report.delivered == 5
    assert [r.messages for r in rivals] == [0] * 5
    assert bed.sender.ids(IMAGING) == [f"2506.8400{n}" for n in range(1, 6)]


# -- planning in pages ----------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of a few rows, so that a handful of papers spans several of them."""
    import bot.delivery
    import bot.store.deliveries

    monkeypatch.setattr(bot.delivery, "PLAN_PAGE", 4)
    monkeypatch.setattr(bot.store.deliveries, "QUEUED_PAGE", 3)
    monkeypatch.setattr(bot.store.deliveries, "ID_CHUNK", 2)


@pytest.mark.usefixtures("small_pages")
async def test_a_backlog_longer_than_a_page_is_posted_whole_once_and_in_order(bed: Bed) -> None:
    [sub] = await bed.subscribe(IMAGING, "cat:eess.IV")
    bed.revision_notes = True
    first = [paper(f"2506.9{n:04d}", "eess.IV") for n in range(1, 6)]
    await bed.harvest(reversed(first))
    dispatcher = bed.dispatcher(digest_cap=100)
    await bed.cycle(dispatcher)
    # Queued in two rounds of matching, the later one with lower ids: sent as queued.
    earlier = [paper(f"2506.9{n:04d}", "eess.IV") for n in range(200, 207)]
    notes = [revised(p, 2, updated=p.updated + timedelta(days=3)) for p in first]
    bed.clock.advance(days=4)
    await bed.harvest([*reversed(earlier), *notes], date(2025, 6, 17))
    await bed.match()
    bed.clock.advance(hours=1)
    then = [paper(f"2506.9{n:04d}", "eess.IV") for n in range(100, 106)]
    await bed.harvest(reversed(then), date(2025, 6, 17))
    later = [*earlier, *then]

    report = await bed.cycle(dispatcher)

    assert (report.delivered, report.messages, report.failed) == (18, 18, 0)
    sent = bed.sender.to(IMAGING)[len(first) :]
    assert [s.ids[0] for s in sent] == [p.arxiv_id for p in [*later, *first]]
    assert all(isinstance(s.item, PaperPost) for s in sent)
    posts = [s.item for s in sent if isinstance(s.item, PaperPost)]
    assert [p.revised for p in posts] == [False] * len(later) + [True] * len(first)
    assert [p.paper for p in posts] == [*later, *notes], "full papers, abstracts included"
    assert all(p.matched == (sub,) for p in posts)
    assert await dispatcher.pending_count() == 0
    assert (await bed.cycle(dispatcher)).messages == 0


@pytest.mark.usefixtures("small_pages")
async def test_a_digest_longer_than_a_page_lists_every_paper_once_in_order(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = await bed.subscribe(IMAGING, "cat:eess.IV", "cat:cs.CV")
    channel = bed.channels[IMAGING]
    await bed.store.set_channel_mode(channel, DeliveryMode.DIGEST)
    await bed.store.set_digest_cards(channel, 3)
    papers = [paper(f"2506.9{n:04d}", "eess.IV", "cs.CV") for n in range(200, 223)]
    await bed.harvest(reversed(papers))
    reads: list[tuple[int, bool]] = []
    read_papers = DeliveryQueue.papers

    async def counted(
        self: DeliveryQueue, arxiv_ids: Sequence[str], *, abstracts: bool = True
    ) -> dict[str, Paper]:
        reads.append((len(arxiv_ids), abstracts))
        return await read_papers(self, arxiv_ids, abstracts=abstracts)

    monkeypatch.setattr(DeliveryQueue, "papers", counted)
    dispatcher = bed.dispatcher()

    report = await bed.cycle(dispatcher)

    assert (report.delivered, report.messages) == (len(papers), 1)
    [sent] = bed.sender.to(IMAGING)
    assert isinstance(sent.item, Digest) and not sent.item.folded
    assert sent.ids == [p.arxiv_id for p in papers]
    posts = sent.item.posts
    assert all(post.matched == tuple(subs) for post in posts)
    assert [post.paper for post in posts[:3]] == papers[:3], "its full cards"
    assert [post.paper for post in posts[3:]] == [replace(p, abstract="") for p in papers[3:]]
    assert max(count for count, _ in reads) <= 4, "papers read a page at a time"
    assert sum(count for count, abstracts in reads if abstracts) == 3
    assert await dispatcher.pending_count() == 0
    for p in papers:
        assert (await bed.row(IMAGING, p.arxiv_id))["status"] == "delivered"
