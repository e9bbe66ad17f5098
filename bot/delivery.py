"""Delivery: send what matching queued, through the adapters, and record it.

:meth:`Dispatcher.deliver_due` claims each channel's due rows of the
:class:`~bot.store.deliveries.DeliveryQueue` (filled by :mod:`bot.enqueue`) and sends
them: channels in parallel, each channel's posts one after another in a fixed order.

Delivery guarantee
------------------
A paper is queued in SQLite before anything is sent, and marked delivered only after the
adapter's ``send_post`` or ``send_digest`` returned. Before sending, a run claims the
channel's due rows (status ``sending``) for a lease (``lease_seconds``, default five
minutes, renewed as the channel's messages go out); another run, in this process or in
another one (``arxiv-bot run --once`` next to the running bot), never sends rows under a
live claim.

* **Nothing is lost.** A process killed at any point leaves its rows queued or claimed;
  the claims of a dead process lapse after the lease, and the next run sends the rows.
* **At most one message repeated per channel after a hard kill.** Each channel has at
  most one message in flight (one post, or one digest). If the process dies after the
  platform accepted that message but before the store recorded it, it is sent again
  after the restart; every other paper is sent exactly once. A clean shutdown
  (cancellation) lets each channel's message in flight finish and records it (for up to
  ``in_flight_grace`` seconds), and puts the unsent rows straight back in the queue.
* Exactly-once would need the platform to recognise a retried message (an idempotency
  key); Slack's ``chat.postMessage`` has none, so we do not claim it.

Failures: an adapter error is retried with exponential backoff (``backoff_base`` seconds,
doubling, at most six hours) up to ``max_attempts`` attempts, then the row is ``failed``
and shown in ``/arxiv status``. After a failure, the channel's other posts wait for the
next round (a struggling platform is not hammered), but they do not wait for the failed
post's backoff. :class:`~bot.errors.ChannelUnavailableError` pauses the channel with its
reason: its rows stay queued, unattempted, until it is resumed; other channels go on. A
channel whose platform is not running (no sender registered) is skipped, attempts
untouched.

Grouping: a channel in ``digest`` mode gets one digest per round with every new paper; a
channel in ``each`` mode gets a post per paper, or one folded digest when more than
``digest_cap`` new papers are due at once. Revised notes (see :mod:`bot.enqueue`) are always
single compact posts, after the new papers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, utc_now
from bot.errors import ChannelUnavailableError
from bot.models import ChannelRef, DeliveryMode, Digest, PaperPost, Subscription
from bot.render import make_post
from bot.store import Channel, Store
from bot.store.deliveries import ClaimedDelivery, DeliveryQueue

__all__ = [
    "DeliveryReport",
    "Dispatcher",
    "Sender",
    "backoff_delay",
]

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600.0
ERROR_TEXT_LIMIT = 500


class Sender(Protocol):
    """What the dispatcher needs of an adapter (:class:`bot.adapter.Adapter` has it)."""

    async def send_post(self, channel: ChannelRef, post: PaperPost) -> None:
        """Deliver one paper to a channel.

        Raise :class:`~bot.errors.ChannelUnavailableError` when the channel is gone or
        closed to the bot, and :class:`~bot.errors.DeliveryError` (or anything else) for
        a failure worth retrying.
        """

    async def send_digest(self, channel: ChannelRef, digest: Digest) -> None:
        """Deliver several papers as one message (with full cards threaded, if possible)."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    """Papers (rows) confirmed delivered."""
    messages: int = 0
    """Messages sent: posts plus digests."""
    failed: int = 0
    """Rows whose attempt failed this round (retried later unless given up)."""
    gave_up: int = 0
    """Rows that used their last attempt this round and are now ``failed``."""
    paused: tuple[str, ...] = ()
    """Channels paused this round (their labels)."""
    skipped: int = 0
    """Channels with due rows that were not attempted: paused, or platform not running."""

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            delivered=self.delivered + other.delivered,
            messages=self.messages + other.messages,
            failed=self.failed + other.failed,
            gave_up=self.gave_up + other.gave_up,
            paused=self.paused + other.paused,
            skipped=self.skipped + other.skipped,
        )

    def __str__(self) -> str:
        text = f"delivered {self.delivered} papers in {self.messages} messages"
        if self.failed:
            text += f", {self.failed} failed ({self.gave_up} given up)"
        if self.paused:
            text += f", paused {', '.join(self.paused)}"
        if self.skipped:
            text += f", {self.skipped} channels skipped"
        return text


async def _settled(sending: asyncio.Future[None], grace: float) -> bool:
    """Wait up to ``grace`` seconds for ``sending``; True if it succeeded, else cancel it."""
    done, _ = await asyncio.wait({sending}, timeout=grace)
    if sending in done and not sending.cancelled() and sending.exception() is None:
        return True
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    return False


def backoff_delay(attempts: int, base: float, ceiling: float = MAX_BACKOFF_SECONDS) -> timedelta:
    """The wait after ``attempts`` failed attempts: ``base``, doubling, at most ``ceiling``."""
    return timedelta(seconds=min(base * 2 ** min(max(attempts - 1, 0), 40), ceiling))


@dataclass(frozen=True, slots=True)
class _Message:
    """One message to send and the rows it settles."""

    rows: tuple[ClaimedDelivery, ...]
    post: PaperPost | None = None
    digest: Digest | None = None

    async def send(self, sender: Sender, channel: ChannelRef) -> None:
        if self.digest is not None:
            await sender.send_digest(channel, self.digest)
        elif self.post is not None:
            await sender.send_post(channel, self.post)

    def sent(self) -> list[tuple[str, int]]:
        posts = self.digest.posts if self.digest is not None else (self.post,)
        return [(p.paper.arxiv_id, p.paper.version) for p in posts if p is not None]


class Dispatcher:
    """Delivers queued posts through the adapters; see the module doc."""

    def __init__(
        self,
        *,
        store: Store,
        queue: DeliveryQueue,
        senders: Mapping[str, Sender],
        digest_cap: int = 30,
        max_attempts: int = 8,
        backoff_base: float = 60.0,
        lease_seconds: float = 300.0,
        parallel_channels: int = 50,
        in_flight_grace: float = 5.0,
        clock: Clock = utc_now,
    ) -> None:
        """``senders`` maps platform names to adapters; it is read at every round, so the
        caller may add and remove adapters as they start and stop. At most
        ``parallel_channels`` channels are sent to at the same time. When a round is
        cancelled, each channel's message in flight gets ``in_flight_grace`` seconds to
        finish (and be recorded) before it is abandoned."""
        self._store = store
        self._queue = queue
        self._senders = senders
        self._digest_cap = digest_cap
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._parallel = asyncio.Semaphore(parallel_channels)
        self._in_flight_grace = in_flight_grace

    # -- delivering ---------------------------------------------------------------------

    async def deliver_due(self) -> DeliveryReport:
        """Send every due delivery: channels in parallel, each channel's in order."""
        channels = await self._queue.due_channels(self._clock())
        tasks: list[asyncio.Task[DeliveryReport]] = []
        skipped = 0
        for channel in channels:
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
            else:
                log.error("delivering to a channel failed", exc_info=channel_result)
        if report.delivered or report.failed or report.paused:
            log.info("%s", report)
        return report

    async def _deliver_channel(self, channel: Channel, sender: Sender) -> DeliveryReport:
        async with self._parallel:
            return await self._claim_and_send(channel, sender)

    async def _claim_and_send(self, channel: Channel, sender: Sender) -> DeliveryReport:
        token = uuid.uuid4().hex
        now = self._clock()
        claimed = await self._queue.claim(
            channel.id, token=token, now=now, lease_until=now + self._lease
        )
        if not claimed:
            return DeliveryReport()
        try:
            return await self._send_claimed(
                channel, sender, token, claimed, renew_at=now + self._lease / 2
            )
        except BaseException:  # cancelled (shutdown) or a store error: unsent rows go back
            await self._queue.release(channel.id, token)
            raise

    async def _send_claimed(
        self,
        channel: Channel,
        sender: Sender,
        token: str,
        claimed: Sequence[ClaimedDelivery],
        *,
        renew_at: datetime,
    ) -> DeliveryReport:
        subscriptions = {s.id: s for s in await self._store.list_subscriptions(channel.id)}
        messages, unwanted, missing = self._plan(channel, claimed, subscriptions)
        if unwanted:
            await self._queue.cancel(channel.id, token, unwanted)
        report = DeliveryReport()
        if missing:
            report += await self._fail(channel, token, missing, "paper missing from the store")
        delivered = sent = 0
        for message in messages:
            sending = asyncio.ensure_future(message.send(sender, channel.ref))
            try:
                await asyncio.shield(sending)
            except asyncio.CancelledError:
                # Shutdown: the platform may already have the message; let it finish and
                # record it, so that a clean stop never causes a repeat.
                if await _settled(sending, self._in_flight_grace):
                    await self._queue.delivered(
                        channel.id, token, message.sent(), now=self._clock(), lease_until=None
                    )
                raise
            except ChannelUnavailableError as error:
                reason = _error_text(error.reason or "channel unavailable")
                log.warning("Pausing channel %s (%s): %s", channel.id, channel.ref.label, reason)
                await self._store.pause_channel(channel.id, reason)
                await self._queue.release(
                    channel.id,
                    token,
                    noted=[row.arxiv_id for row in message.rows],
                    error=f"channel paused: {reason}",
                    now=self._clock(),
                )
                return report + DeliveryReport(
                    delivered=delivered, messages=sent, paused=(channel.ref.label,)
                )
            except Exception as error:
                report += await self._fail(channel, token, message.rows, _describe(error))
                await self._queue.release(channel.id, token)
                return report + DeliveryReport(delivered=delivered, messages=sent)
            now = self._clock()
            renew = now >= renew_at  # keep the claim alive through a long channel
            if renew:
                renew_at = now + self._lease / 2
            delivered += await self._queue.delivered(
                channel.id,
                token,
                message.sent(),
                now=now,
                lease_until=now + self._lease if renew else None,
            )
            sent += 1
        return report + DeliveryReport(delivered=delivered, messages=sent)

    async def _fail(
        self, channel: Channel, token: str, rows: Sequence[ClaimedDelivery], error: str
    ) -> DeliveryReport:
        now = self._clock()

        def retry_at(attempts: int) -> datetime | None:
            if attempts >= self._max_attempts:
                return None
            return now + backoff_delay(attempts, self._backoff_base)

        gave_up = await self._queue.failed(
            channel.id, token, rows, error=error, now=now, retry_at=retry_at
        )
        log.warning(
            "Delivery to channel %s (%s) failed for %s: %s%s",
            channel.id,
            channel.ref.label,
            ", ".join(row.arxiv_id for row in rows[:5]) + (" ..." if len(rows) > 5 else ""),
            error,
            " (giving up)" if gave_up else "",
        )
        return DeliveryReport(failed=len(rows), gave_up=gave_up)

    def _plan(
        self,
        channel: Channel,
        claimed: Sequence[ClaimedDelivery],
        subscriptions: Mapping[int, Subscription],
    ) -> tuple[list[_Message], list[str], list[ClaimedDelivery]]:
        """The messages to send, the rows nobody subscribes to any more, the broken rows."""
        new: list[tuple[ClaimedDelivery, PaperPost]] = []
        revised: list[tuple[ClaimedDelivery, PaperPost]] = []
        unwanted: list[str] = []
        missing: list[ClaimedDelivery] = []
        for row in claimed:
            if row.paper is None:
                missing.append(row)
                continue
            matched = [subscriptions[i] for i in row.subscription_ids if i in subscriptions]
            if not matched:
                unwanted.append(row.arxiv_id)
                continue
            post = make_post(row.paper, matched)
            if row.kind == "revised":
                revised.append((row, dataclasses.replace(post, revised=True)))
            else:
                new.append((row, post))
        messages: list[_Message] = []
        digest_mode = channel.mode is DeliveryMode.DIGEST
        if new and (digest_mode or len(new) > self._digest_cap):
            digest = Digest(tuple(post for _, post in new), folded=not digest_mode)
            messages.append(_Message(rows=tuple(row for row, _ in new), digest=digest))
        else:
            messages.extend(_Message(rows=(row,), post=post) for row, post in new)
        messages.extend(_Message(rows=(row,), post=post) for row, post in revised)
        return messages, unwanted, missing

    # -- reporting ----------------------------------------------------------------------

    async def pending_count(self) -> int:
        """Deliveries queued or in flight, including those of paused channels."""
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


def _describe(error: BaseException) -> str:
    text = str(error)
    return _error_text(f"{type(error).__name__}: {text}" if text else type(error).__name__)


def _error_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"
