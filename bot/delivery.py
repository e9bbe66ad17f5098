"""Delivery: plan what matching queued into messages, send them, and record each.

:meth:`Dispatcher.deliver_due` works channel by channel, channels in parallel:

1. **Plan.** The channel's queued deliveries (filled by :mod:`bot.enqueue`) are grouped
   (one post per paper, or one digest) and rendered by the channel's adapter into
   platform messages, which go into the :mod:`outbox <bot.store.outbox>` in the same
   transaction that ties each delivery to the message that shows it. From then on the
   plan is fixed: a crash resumes it at the next message, never re-plans it. Channels
   plan one at a time, and a backlog a page of :data:`PLAN_PAGE` deliveries at a time
   (a digest is one plan, whose papers are read without abstracts but for its cards),
   so that memory stays bounded whatever the number of channels or the backlog.
2. **Send.** The channel's outbox messages are claimed for a lease and sent one after
   another, each with an idempotency key; each is recorded the moment it lands, and its
   deliveries become delivered.

Delivery guarantee
------------------
* **Nothing is lost.** Deliveries and messages are in SQLite before anything is sent. A
  process killed at any point leaves them queued or claimed; claims of a process that
  no longer exists are taken back at the next round (on the same host at once, else
  after the lease), and the next run continues.
* **Nothing is repeated where the platform can tell.** A message whose claim lapsed, or
  whose attempt failed, may have landed anyway. Before sending it again, the dispatcher
  asks the adapter to look for it (:meth:`Sender.find_sent`: Slack reads back its
  message metadata, Discord its nonce window and recent messages) and records what it
  finds instead of posting again. Where the adapter cannot look (the console, or a
  platform without the read scope), at most one message per channel is repeated after a
  hard kill. A clean stop lets each channel's message in flight land and records it.
* **Every paper marked delivered was shown.** A delivery is delivered only when the
  message that lists or shows it has landed; digests list every paper, over as many
  messages as the platform's limits need.

Failures: an adapter error is retried with exponential backoff (``backoff_base`` seconds,
doubling, at most six hours) up to ``max_attempts`` attempts, then the message (and the
messages in its thread) is ``failed`` with its deliveries, shown in ``/arxiv status``.
After a failure the channel's other messages wait for the next round. A
:class:`~bot.errors.ChannelUnavailableError` pauses the channel with its reason; its
messages stay, unattempted, until it is resumed. A channel whose platform is not running
(no sender registered) is skipped.

Grouping: a channel in ``digest`` mode gets one digest per round with every new paper; a
channel in ``each`` mode gets a post per paper, or one folded digest when more than
``digest_cap`` new papers are due at once. Revised notes are always single posts, after
the new papers.

Order: a channel's new papers are ordered before planning (:mod:`bot.ordering`: its own
ranking once it has liked enough papers, else match strength, then newest), never
dropped; top picks are marked on their posts. Cards carry the Hugging Face signals and
TL;DRs the :class:`~bot.enrichment.Enricher`'s caches hold when they are planned (the
cycle prefetches them just before); planning itself never makes a request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, utc_now
from bot.enrichment import Enricher
from bot.errors import ChannelUnavailableError, StorageError
from bot.models import (
    ChannelRef,
    DeliveryMode,
    Digest,
    OutgoingMessage,
    Paper,
    PaperPost,
    SentCandidate,
    Subscription,
)
from bot.observability.metrics import Metrics
from bot.ordering import Ordering, PaperOrderer
from bot.post_schedule import from_canonical
from bot.render import make_post
from bot.store import Channel, Store
from bot.store.deliveries import DeliveryQueue, DueDelivery
from bot.store.outbox import ClaimOwner, Outbox, OutboxMessage, PlannedRow
from bot.store.sql import Dialect

__all__ = [
    "DEFAULT_DIGEST_CARDS",
    "DeliveryReport",
    "Dispatcher",
    "Sender",
    "backoff_delay",
]

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600.0
ERROR_TEXT_LIMIT = 500
DEFAULT_DIGEST_CARDS = 10
"""Full cards in a digest unless the channel or the settings say otherwise."""
DEFAULT_MIN_LIKES = 10
"""Liked papers before a channel's own model orders its papers (``RANKING_MIN_LIKES``;
:data:`bot.ranking.MIN_POSITIVE`, not imported here: it loads scikit-learn)."""


class Sender(Protocol):
    """What the dispatcher needs of an adapter (:class:`bot.adapter.Adapter` has it)."""

    def plan(self, item: PaperPost | Digest, *, cards: int) -> Sequence[OutgoingMessage]:
        """Render one post or digest as the messages to send, first message first.

        Each message names the papers it shows; together they show every paper of
        ``item``. A digest carries at most ``cards`` full cards besides its list: only its
        first ``cards`` papers come with their abstracts (the others' are left empty,
        which keeps a long digest light; a list shows no abstracts).
        """

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        """Post ``message`` (in the thread of the message ``thread`` names, if given) and
        return the platform's reference for it.

        ``key`` (at most 25 characters) identifies the message across retries: pass it to
        the platform where it deduplicates, or put it where :meth:`find_sent` can see it.
        Raise :class:`~bot.errors.ChannelUnavailableError` when the channel is gone or
        closed to the bot, and :class:`~bot.errors.DeliveryError` (or anything else) for
        a failure worth retrying.
        """

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> Mapping[str, str]:
        """Which of these messages already landed: their keys, with the platform's
        reference for each. Empty where the platform cannot tell."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    """Deliveries (channel, paper) whose message landed."""
    messages: int = 0
    """Messages sent."""
    recovered: int = 0
    """Messages found already posted (read back after a crash or a failed attempt)."""
    failed: int = 0
    """Messages whose attempt failed this round (retried later unless given up)."""
    gave_up: int = 0
    """Deliveries that failed for good this round."""
    paused: tuple[str, ...] = ()
    """Channels paused this round (their labels)."""
    skipped: int = 0
    """Channels with work that were not attempted: paused, or platform not running."""

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            delivered=self.delivered + other.delivered,
            messages=self.messages + other.messages,
            recovered=self.recovered + other.recovered,
            failed=self.failed + other.failed,
            gave_up=self.gave_up + other.gave_up,
            paused=self.paused + other.paused,
            skipped=self.skipped + other.skipped,
        )

    def outcomes(self) -> dict[str, int]:
        """The counts the deliveries metric labels by outcome."""
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "gave_up": self.gave_up,
            "recovered": self.recovered,
            "paused": len(self.paused),
        }

    def __str__(self) -> str:
        text = f"delivered {self.delivered} papers in {self.messages} messages"
        if self.recovered:
            text += f", {self.recovered} found already posted"
        if self.failed:
            text += f", {self.failed} failed ({self.gave_up} papers given up)"
        if self.paused:
            text += f", paused {', '.join(self.paused)}"
        if self.skipped:
            text += f", {self.skipped} channels skipped"
        return text


def backoff_delay(attempts: int, base: float, ceiling: float = MAX_BACKOFF_SECONDS) -> timedelta:
    """The wait after ``attempts`` failed attempts: ``base``, doubling, at most ``ceiling``."""
    return timedelta(seconds=min(base * 2 ** min(max(attempts - 1, 0), 40), ceiling))


PLAN_PAGE = 200
"""Deliveries whose papers are read and rendered together when planning: single posts
are planned a page per transaction; a digest reads its papers a page at a time."""


@dataclass(frozen=True, slots=True)
class _Due:
    """A queued delivery to plan, with the channel's subscriptions that still want it."""

    row: DueDelivery
    matched: tuple[Subscription, ...]


_Cover = tuple[list[PlannedRow], list[OutgoingMessage]]
"""Planned rows and the messages that show them (see :meth:`Outbox.plan`)."""


def _post_due(channel: Channel, now: datetime) -> bool:
    """Whether a scheduled channel's post time has come."""
    return channel.next_post_at is not None and channel.next_post_at <= now


def _following(channel: Channel, now: datetime) -> datetime:
    """A scheduled channel's first post time after ``now``."""
    return from_canonical(channel.schedule).next_post(now)


def _planned(due: _Due) -> PlannedRow:
    return PlannedRow(due.row.arxiv_id, due.row.version)


class Dispatcher:
    """Plans and sends queued deliveries through the adapters; see the module doc."""

    def __init__(
        self,
        *,
        store: Store,
        queue: DeliveryQueue,
        senders: Mapping[str, Sender],
        digest_cap: int = 30,
        digest_cards: int = DEFAULT_DIGEST_CARDS,
        max_attempts: int = 8,
        backoff_base: float = 60.0,
        lease_seconds: float = 300.0,
        parallel_channels: int = 50,
        in_flight_grace: float = 5.0,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
        ranking_min_likes: int = DEFAULT_MIN_LIKES,
        enricher: Enricher | None = None,
    ) -> None:
        """``senders`` maps platform names to adapters; it is read at every round, so the
        caller may add and remove adapters as they start and stop. At most
        ``parallel_channels`` channels are sent to at the same time. When a round is
        cancelled, each channel's message in flight gets ``in_flight_grace`` seconds to
        finish (and be recorded) before it is abandoned. A channel's new papers are
        ordered by :class:`~bot.ordering.PaperOrderer` (its model once it has liked
        ``ranking_min_likes`` papers); ``enricher`` adds what its caches hold to cards."""
        self._store = store
        self._queue = queue
        self._outbox = Outbox(store)
        self._senders = senders
        self._digest_cap = digest_cap
        self._digest_cards = digest_cards
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._parallel = asyncio.Semaphore(parallel_channels)
        self._planning = asyncio.Lock()
        self._in_flight_grace = in_flight_grace
        self._metrics = metrics or Metrics()
        self._orderer = PaperOrderer(store, queue, min_likes=ranking_min_likes)
        self._enricher = enricher

    async def deliver_due(self) -> DeliveryReport:
        """Plan and send every channel's due work: channels in parallel, each in order."""
        await self._outbox.reclaim_dead()
        channels = {c.id: c for c in await self._queue.queued_channels()}
        for due in await self._store.due_scheduled_channels(self._clock()):
            channels.setdefault(due.id, due)  # its post time came: plan it, or move it on
        for channel_id in await self._outbox.open_channels(self._clock()):
            if channel_id not in channels:
                channels[channel_id] = await self._store.get_channel(channel_id)
        tasks: list[asyncio.Task[DeliveryReport]] = []
        skipped = 0
        for channel in self._in_turn(sorted(channels.values(), key=lambda c: c.id)):
            sender = self._senders.get(channel.ref.platform)
            if channel.paused or sender is None:
                skipped += 1
                continue
            tasks.append(
                asyncio.create_task(
                    self._deliver_channel(channel, sender), name=f"deliver-{channel.id}"
                )
            )
        report = DeliveryReport(skipped=skipped)
        if not tasks:
            return report
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for channel_result in results:
            if isinstance(channel_result, DeliveryReport):
                report += channel_result
            elif isinstance(channel_result, StorageError):
                raise channel_result  # the store is the problem, not the channel: say so
            else:
                log.error("delivering to a channel failed", exc_info=channel_result)
                report += DeliveryReport(failed=1)
        if report.delivered or report.failed or report.paused or report.recovered:
            log.info("%s", report)
        return report

    def _in_turn(self, channels: list[Channel]) -> list[Channel]:
        """The order to take channels in: by id, from a random one on, when replicas
        share the database, so that each starts where the others are not (two planning
        one channel at once waste one plan); by id alone otherwise."""
        if self._store.dialect is not Dialect.POSTGRES or not channels:
            return channels
        start = random.randrange(len(channels))
        return channels[start:] + channels[:start]

    async def _deliver_channel(self, channel: Channel, sender: Sender) -> DeliveryReport:
        async with self._parallel:
            planned = await self._plan(channel, sender)
            report = planned + await self._claim_and_send(channel, sender)
        self._metrics.delivered(channel.ref.platform, report.outcomes())
        return report

    # -- planning -----------------------------------------------------------------------

    async def _plan(self, channel: Channel, sender: Sender) -> DeliveryReport:
        """Turn the channel's queued deliveries into outbox messages.

        One channel plans at a time (planning is CPU and store work, which channels in
        parallel would not speed up), and its backlog is held as light rows: papers are
        read and rendered :data:`PLAN_PAGE` deliveries at a time, each page planned in a
        transaction of its own. A digest lists every paper in one plan; only its first
        ``cards`` papers (those shown as full cards) are read with their abstracts.
        """
        async with self._planning:
            return await self._plan_channel(channel, sender)

    async def _plan_channel(self, channel: Channel, sender: Sender) -> DeliveryReport:
        now = self._clock()
        if channel.schedule is not None and not _post_due(channel, now):
            return DeliveryReport()  # a scheduled channel's papers wait for its post time
        new: list[_Due] = []
        revised: list[_Due] = []
        unwanted: list[str] = []
        missing: list[DueDelivery] = []
        subscriptions: dict[int, Subscription] | None = None
        after: DueDelivery | None = None
        while page := await self._queue.queued(channel.id, after=after):
            if subscriptions is None:
                subscriptions = {s.id: s for s in await self._store.list_subscriptions(channel.id)}
            for row in page:
                if not row.stored:
                    missing.append(row)
                    continue
                matched = tuple(
                    subscriptions[i] for i in row.subscription_ids if i in subscriptions
                )
                if not matched:
                    unwanted.append(row.arxiv_id)
                elif row.kind == "revised":
                    revised.append(_Due(row, matched))
                else:
                    new.append(_Due(row, matched))
            after = page[-1]
        if subscriptions is None:
            if channel.schedule is not None:  # nothing to post at its time: move it on
                await self._store.advance_schedule(channel, _following(channel, now))
            return DeliveryReport()
        if unwanted:
            await self._queue.cancel(channel.id, unwanted)
        report = await self._give_up_missing(channel, missing)
        ordering = await self._orderer.order(
            channel, [due.row.arxiv_id for due in new], subscriptions.values(), page=PLAN_PAGE
        )
        place = ordering.position()
        new.sort(key=lambda due: place.get(due.row.arxiv_id, len(place)))  # stable: keeps all
        cards = channel.digest_cards if channel.digest_cards is not None else self._digest_cards
        if channel.schedule is not None:
            return report + await self._plan_scheduled(
                channel, sender, new, revised, cards=cards, now=now, ordering=ordering
            )
        digest_mode = channel.mode is DeliveryMode.DIGEST
        singles = revised
        planned = True
        if new and (digest_mode or len(new) > self._digest_cap):
            planned, gone = await self._plan_digest(
                channel, sender, new, folded=not digest_mode, cards=cards, ordering=ordering
            )
            report += await self._give_up_missing(channel, gone)
        else:
            singles = new + revised
        for start in range(0, len(singles), PLAN_PAGE):
            if not planned:
                break
            planned, gone = await self._plan_posts(
                channel, sender, singles[start : start + PLAN_PAGE], cards=cards, ordering=ordering
            )
            report += await self._give_up_missing(channel, gone)
        if not planned:
            log.info("Channel %s: its deliveries changed while planning; next round", channel.id)
        return report

    def _post(self, paper: Paper, due: _Due, ordering: Ordering) -> PaperPost:
        """The post of ``paper``: its matches, its top-pick mark, and the extras the
        caches hold (no request is made while planning)."""
        post = make_post(paper, due.matched)
        if due.row.kind == "revised":
            return dataclasses.replace(post, revised=True)
        pick = ordering.picks.get(paper.arxiv_id)
        if pick is not None:
            post = dataclasses.replace(post, top_pick=True, like=pick.like)
        return self._enricher.decorate(post) if self._enricher is not None else post

    async def _plan_posts(
        self,
        channel: Channel,
        sender: Sender,
        dues: Sequence[_Due],
        *,
        cards: int,
        ordering: Ordering,
    ) -> tuple[bool, list[DueDelivery]]:
        """Plan one page of single posts (new papers or revised notes), in one transaction.
        Whether it was planned (False: its rows changed meanwhile), and the rows whose
        paper is gone."""
        covers, gone = await self._post_covers(sender, dues, cards=cards, ordering=ordering)
        if not covers:
            return True, gone
        return await self._outbox.plan(channel.id, covers, now=self._clock()), gone

    async def _post_covers(
        self, sender: Sender, dues: Sequence[_Due], *, cards: int, ordering: Ordering
    ) -> tuple[list[_Cover], list[DueDelivery]]:
        """The messages of single posts of ``dues``, and the rows whose paper is gone."""
        papers = await self._queue.papers([due.row.arxiv_id for due in dues])
        covers: list[_Cover] = []
        gone: list[DueDelivery] = []
        for due in dues:
            paper = papers.get(due.row.arxiv_id)
            if paper is None:
                gone.append(due.row)
                continue
            post = self._post(paper, due, ordering)
            covers.append(([_planned(due)], list(sender.plan(post, cards=cards))))
        return covers, gone

    async def _plan_digest(
        self,
        channel: Channel,
        sender: Sender,
        dues: Sequence[_Due],
        *,
        folded: bool,
        cards: int,
        ordering: Ordering,
    ) -> tuple[bool, list[DueDelivery]]:
        """Plan one digest of every paper of ``dues``, in one transaction."""
        covers, gone = await self._digest_covers(
            sender, dues, folded=folded, cards=cards, ordering=ordering
        )
        if not covers:
            return True, gone
        return await self._outbox.plan(channel.id, covers, now=self._clock()), gone

    async def _digest_covers(
        self,
        sender: Sender,
        dues: Sequence[_Due],
        *,
        folded: bool,
        cards: int,
        ordering: Ordering,
    ) -> tuple[list[_Cover], list[DueDelivery]]:
        """The messages of one digest of every paper of ``dues`` (none if every paper is
        gone), and the rows whose paper is gone. Its papers are read without their
        abstracts, but for the first ``cards`` (its full cards)."""
        listed: list[tuple[_Due, PaperPost]] = []
        gone: list[DueDelivery] = []
        for start in range(0, len(dues), PLAN_PAGE):
            page = dues[start : start + PLAN_PAGE]
            papers = await self._queue.papers([due.row.arxiv_id for due in page], abstracts=False)
            for due in page:
                paper = papers.get(due.row.arxiv_id)
                if paper is None:
                    gone.append(due.row)
                else:
                    listed.append((due, self._post(paper, due, ordering)))
        carded = listed[: max(cards, 0)]
        full = await self._queue.papers([due.row.arxiv_id for due, _ in carded])
        for number, (due, _) in enumerate(carded):
            paper = full.get(due.row.arxiv_id)
            if paper is not None:
                listed[number] = (due, self._post(paper, due, ordering))
        if not listed:
            return [], gone
        digest = Digest(tuple(post for _, post in listed), folded=folded)
        messages = list(sender.plan(digest, cards=cards))
        return [([_planned(due) for due, _ in listed], messages)], gone

    async def _plan_scheduled(
        self,
        channel: Channel,
        sender: Sender,
        new: Sequence[_Due],
        revised: Sequence[_Due],
        *,
        cards: int,
        now: datetime,
        ordering: Ordering,
    ) -> DeliveryReport:
        """A scheduled channel at its post time: one digest of every new paper (whatever
        its mode), then the revised notes, planned in one transaction with moving its
        post time on (just moved on when there is nothing to post). A crash plans both or
        neither, so a missed time posts once, and nothing twice."""
        following = _following(channel, now)
        covers: list[_Cover] = []
        gone: list[DueDelivery] = []
        if new:
            covers, gone = await self._digest_covers(
                sender, new, folded=False, cards=cards, ordering=ordering
            )
        for start in range(0, len(revised), PLAN_PAGE):
            more, lost = await self._post_covers(
                sender, revised[start : start + PLAN_PAGE], cards=cards, ordering=ordering
            )
            covers += more
            gone += lost
        report = await self._give_up_missing(channel, gone)
        if covers:
            advance = (channel, following)
            done = await self._outbox.plan(channel.id, covers, now=now, advance=advance)
        else:
            done = await self._store.advance_schedule(channel, following)
        if not done:
            log.info("Channel %s: its schedule or deliveries changed; next round", channel.id)
        elif covers:
            log.info(
                "Channel %s: scheduled post of %s papers planned; next post at %s",
                channel.id,
                len(new) + len(revised) - len(gone),
                following.isoformat(),
            )
        return report

    async def _give_up_missing(
        self, channel: Channel, missing: Sequence[DueDelivery]
    ) -> DeliveryReport:
        """Mark failed the rows whose paper is missing from the store."""
        if not missing:
            return DeliveryReport()
        error = "paper missing from the store"
        await self._queue.give_up(channel.id, missing, error=error, now=self._clock())
        log.warning("Channel %s: %s deliveries failed: %s", channel.id, len(missing), error)
        return DeliveryReport(gave_up=len(missing))

    # -- sending ------------------------------------------------------------------------

    async def _claim_and_send(self, channel: Channel, sender: Sender) -> DeliveryReport:
        owner = ClaimOwner.new_round()
        now = self._clock()
        claimed = await self._outbox.claim(
            channel.id, owner, now=now, lease_until=now + self._lease
        )
        if not claimed:
            return DeliveryReport()
        unrecorded: set[int] = set()
        try:
            return await self._send_claimed(channel, sender, owner, claimed, unrecorded)
        finally:  # whatever this round did not send goes back, due now
            await asyncio.shield(
                self._outbox.release(
                    channel.id, owner, now=self._clock(), may_have_landed=unrecorded
                )
            )

    async def _send_claimed(
        self,
        channel: Channel,
        sender: Sender,
        owner: ClaimOwner,
        claimed: Sequence[OutboxMessage],
        unrecorded: set[int],
    ) -> DeliveryReport:
        """Send the claimed messages in order; ``unrecorded`` holds the one sent whose
        landing is not recorded yet (a failing database leaves it there)."""
        report = DeliveryReport()
        refs: dict[int, str] = {}
        """Platform references of this round's landed messages, by outbox id."""
        landed = await self._read_back(channel, sender, claimed)
        renew_at = self._clock() + self._lease / 2
        for message in claimed:
            thread = message.thread_ref or refs.get(message.thread_of or 0)
            if message.thread_of is not None and thread is None:
                continue  # its thread's first message has not landed: a later round
            ref = landed.get(message.key)
            unrecorded.add(message.id)
            if ref is None:
                try:
                    ref = await self._send_one(channel, sender, message, thread)
                except ChannelUnavailableError as error:
                    return report + await self._pause(channel, owner, error)
                except _SendFailed as failure:
                    return report + await self._fail(channel, message, failure.error)
                report += DeliveryReport(messages=1)
            else:
                report += DeliveryReport(recovered=1)
            now = self._clock()
            renew = now >= renew_at  # keep the claim alive through a long channel
            if renew:
                renew_at = now + self._lease / 2
            delivered = await self._outbox.sent(
                message.id, ref, now=now, renew=(owner, now + self._lease) if renew else None
            )
            unrecorded.discard(message.id)
            refs[message.id] = ref
            report += DeliveryReport(delivered=delivered)
        return report

    async def _read_back(
        self, channel: Channel, sender: Sender, claimed: Sequence[OutboxMessage]
    ) -> Mapping[str, str]:
        """Ask the platform which of the messages that may have landed did."""
        uncertain = [m for m in claimed if m.uncertain]
        if not uncertain:
            return {}
        candidates = [SentCandidate(m.key, m.message, m.thread_ref) for m in uncertain]
        try:
            found = await sender.find_sent(channel.ref, candidates)
        except Exception as error:  # reading back is a courtesy: sending again is safe
            log.warning(
                "Channel %s (%s): could not look for %s messages that may have landed "
                "(%s); sending them again may repeat one",
                channel.id,
                channel.ref.label,
                len(uncertain),
                _describe(error),
            )
            return {}
        if found:
            log.info(
                "Channel %s (%s): %s of %s messages had landed before; not posting them again",
                channel.id,
                channel.ref.label,
                len(found),
                len(uncertain),
            )
        return found

    async def _send_one(
        self, channel: Channel, sender: Sender, message: OutboxMessage, thread: str | None
    ) -> str:
        """Send one message; on cancellation (a clean stop) let it land for a moment and
        record it, so that a stop never causes a repeat."""
        sending = asyncio.ensure_future(
            sender.send(channel.ref, message.message, key=message.key, thread=thread)
        )
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            ref = await _settled(sending, self._in_flight_grace)
            if ref is not None:
                await self._outbox.sent(message.id, ref, now=self._clock())
            else:  # it may still land: look for it before sending it again
                await self._outbox.failed(
                    message, error="cut short by a stop", now=self._clock(), retry_at=self._clock()
                )
            raise
        except ChannelUnavailableError:
            raise
        except Exception as error:
            raise _SendFailed(_describe(error)) from error

    async def _pause(
        self, channel: Channel, owner: ClaimOwner, error: ChannelUnavailableError
    ) -> DeliveryReport:
        reason = _error_text(error.reason or "channel unavailable")
        log.warning(
            "Pausing channel %s (%s): %s",
            channel.id,
            channel.ref.label,
            reason,
            extra=_log_fields(channel),
        )
        await self._store.pause_channel(channel.id, reason)
        await self._outbox.release(
            channel.id, owner, error=f"channel paused: {reason}", now=self._clock()
        )
        return DeliveryReport(paused=(channel.ref.label,))

    async def _fail(self, channel: Channel, message: OutboxMessage, error: str) -> DeliveryReport:
        now = self._clock()
        attempts = message.attempts + 1
        retry_at = (
            None
            if attempts >= self._max_attempts
            else now + backoff_delay(attempts, self._backoff_base)
        )
        gave_up = await self._outbox.failed(message, error=error, now=now, retry_at=retry_at)
        log.warning(
            "Delivery to channel %s (%s) failed (message %s, attempt %s): %s%s",
            channel.id,
            channel.ref.label,
            message.id,
            attempts,
            error,
            " (giving up)" if retry_at is None else "",
            extra=_log_fields(channel, outbox_message=message.id),
        )
        return DeliveryReport(failed=1, gave_up=gave_up)

    # -- reporting ----------------------------------------------------------------------

    async def pending_count(self) -> int:
        """Deliveries queued or on their way, including those of paused channels."""
        return await self._queue.pending_count()

    async def last_errors(self, limit: int = 3) -> list[str]:
        """The newest delivery errors still unresolved, one line each, for /arxiv status."""
        lines = []
        for failure in await self._queue.recent_errors(limit):
            if failure.status == "failed":
                state = f"gave up after {failure.attempts} attempts"
            elif failure.channel.paused:
                state = "waiting for the channel to be resumed"
            else:
                state = f"attempt {failure.attempts} of {self._max_attempts}, will retry"
            lines.append(
                f"delivery to #{failure.channel.ref.label} ({failure.channel.ref.platform}) "
                f"of {failure.arxiv_id}: {failure.error} ({state})"
            )
        return lines


class _SendFailed(Exception):
    """A send failed in a way worth retrying; ``error`` is one line for the log and status."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


async def _settled(sending: asyncio.Future[str], grace: float) -> str | None:
    """Wait up to ``grace`` seconds for ``sending``; its result if it succeeded, else
    cancel it and return None."""
    done, _ = await asyncio.wait({sending}, timeout=grace)
    if sending in done and not sending.cancelled() and sending.exception() is None:
        return sending.result()
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    return None


def _log_fields(channel: Channel, **more: object) -> dict[str, object]:
    """The fields a JSON log line carries about ``channel``."""
    return {"channel": channel.ref.label, "platform": channel.ref.platform, **more}


def _describe(error: BaseException) -> str:
    text = str(error)
    return _error_text(f"{type(error).__name__}: {text}" if text else type(error).__name__)


def _error_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"
