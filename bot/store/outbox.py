"""The outbox: the ``outbox`` table, one row per platform message still to send or sent.

Planning turns a channel's queued deliveries into messages (:meth:`Outbox.plan`) in one
transaction with linking those deliveries to the message that shows them. Sending claims
a channel's due messages for a lease (:meth:`Outbox.claim`), records each as it lands
(:meth:`Outbox.sent`, which marks its deliveries delivered), and gives back what it did
not send. Every state change is one short transaction, so a process killed at any point
leaves rows the next run continues from; a message that might have landed (its claim
lapsed, or an attempt failed) comes back marked ``uncertain`` so the dispatcher can look
for it on the platform before sending it again.

Claims name their owner as ``host:pid:boot:round``; :meth:`Outbox.reclaim_dead` frees
at once the claims of processes on this host that no longer exist.

Policy (what to plan, when to retry) lives in :mod:`bot.delivery`; this module only
reads and writes rows.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import OutgoingMessage
from bot.processes import ProcessId, process_is_alive
from bot.store.channels import Channel, advance_schedule_in
from bot.store.sql import Dialect, placeholders
from bot.store.store import Store
from bot.store.values import to_text

__all__ = ["ClaimOwner", "Outbox", "OutboxMessage", "PlannedRow", "process_is_alive"]

logger = logging.getLogger(__name__)

INSTANCE_KEY = "outbox.instance"


def _claimable(table: str = "outbox") -> str:
    """A message that may be claimed now: pending and its backoff over, or a lapsed claim
    (its process died, or it was released while it might have landed)."""
    # The first term lets SQLite use the partial index of open messages (outbox_open);
    # the table keeps every sent message until retention prunes it.
    return (
        f"{table}.status IN ('pending', 'sending')"
        f" AND (({table}.status = 'pending' AND ({table}.next_attempt_at IS NULL"
        f" OR {table}.next_attempt_at <= :now)) OR ({table}.status = 'sending'"
        f" AND ({table}.lease_until IS NULL OR {table}.lease_until <= :now)))"
    )


@dataclass(frozen=True, slots=True)
class ClaimOwner:
    """Who holds a claim: a host, a process on it, its incarnation, and one round."""

    host: str
    pid: int
    boot: str
    round: str

    @classmethod
    def new_round(cls) -> ClaimOwner:
        me = ProcessId.current()
        return cls(me.host, me.pid, me.boot, uuid.uuid4().hex[:8])

    @classmethod
    def parse(cls, text: str) -> ClaimOwner | None:
        process, _, round_ = text.rpartition(":")
        found = ProcessId.parse(process)
        return cls(found.host, found.pid, found.boot, round_) if found else None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.boot}:{self.round}"

    def is_dead(self, alive: Callable[[int], bool]) -> bool:
        """True when this claim's process is known to be gone (only on this host)."""
        return ProcessId(self.host, self.pid, self.boot).is_gone(alive)


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A delivery row a plan covers, and the version it was read at."""

    arxiv_id: str
    version: int


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A claimed message, in sending order."""

    id: int
    channel_id: int
    key: str
    """The idempotency key: unique per database and message, at most 25 characters."""
    message: OutgoingMessage
    thread_of: int | None
    thread_ref: str | None
    """The platform reference of the message whose thread this replies in, once sent."""
    attempts: int
    uncertain: bool
    """It may already have landed: look for it before sending it again."""


class Outbox:
    """Reads and writes the ``outbox`` table (and the deliveries it settles)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._instance: str | None = None

    async def _key_prefix(self) -> str:
        if self._instance is None:
            self._instance = await self._store.get_state(INSTANCE_KEY) or "0"
        return f"ab{self._instance}"

    # -- planning -----------------------------------------------------------------------

    async def plan(
        self,
        channel_id: int,
        covers: Sequence[tuple[Sequence[PlannedRow], Sequence[OutgoingMessage]]],
        *,
        now: datetime,
        advance: tuple[Channel, datetime] | None = None,
    ) -> bool:
        """Store each group's messages and point the group's queued rows at the message
        that shows them, all in one transaction.

        With ``advance`` (a scheduled channel as read, and its following post time), the
        channel's post time moves on in the same transaction, so a crash either plans the
        post and moves the time or does neither.

        A group is (rows, messages): ``messages[0]`` is the group's first message, and
        ``in_thread`` messages reply in its thread. A row is shown by the first message
        whose ``shows`` names it (the first message if none does). Returns False, writing
        nothing, if any row is no longer queued at its version (another run planned it).
        """
        try:
            await self._plan(channel_id, covers, to_text(now), advance)
        except _Replanned:
            return False
        return True

    async def _plan(
        self,
        channel_id: int,
        covers: Sequence[tuple[Sequence[PlannedRow], Sequence[OutgoingMessage]]],
        stamp: str,
        advance: tuple[Channel, datetime] | None = None,
    ) -> None:
        async with self._store.transaction() as conn:
            if advance is not None and not await advance_schedule_in(conn, *advance):
                raise _Replanned  # its schedule changed, or another round planned it
            for rows, messages in covers:
                first: int | None = None
                shown_by: dict[str, int] = {}
                for message in messages:
                    inserted = await conn.fetchone(
                        "INSERT INTO outbox (channel_id, payload, thread_of, created_at)"
                        " VALUES (?, ?, ?, ?) RETURNING id",
                        (
                            channel_id,
                            json.dumps(message.payload, ensure_ascii=False),
                            first if message.in_thread else None,
                            stamp,
                        ),
                    )
                    assert inserted is not None
                    message_id = int(inserted[0])
                    first = message_id if first is None else first
                    for arxiv_id in message.shows:
                        shown_by.setdefault(arxiv_id, message_id)
                    # Which papers each message shows, for feedback on it: a digest's
                    # cards show a paper each, although its list delivers them.
                    await conn.executemany(
                        "INSERT INTO outbox_papers (message_id, arxiv_id) VALUES (?, ?)"
                        " ON CONFLICT DO NOTHING",
                        [(message_id, arxiv_id) for arxiv_id in (*message.shows, *message.cards)],
                    )
                assert first is not None, "a plan has at least one message"
                changed = await conn.executemany(
                    "UPDATE deliveries SET status = 'sending', message_id = ?"
                    " WHERE channel_id = ? AND arxiv_id = ? AND version = ?"
                    " AND status = 'queued'",
                    [
                        (shown_by.get(row.arxiv_id, first), channel_id, row.arxiv_id, row.version)
                        for row in rows
                    ],
                )
                if changed != len(rows):
                    raise _Replanned

    # -- sending ------------------------------------------------------------------------

    async def open_channels(self, now: datetime) -> list[int]:
        """Channels with messages that may be claimed now, by id."""
        rows = await self._store.fetchall(
            f"SELECT DISTINCT channel_id FROM outbox WHERE {_claimable()} ORDER BY channel_id",
            {"now": to_text(now)},
        )
        return [int(row[0]) for row in rows]

    async def claim(
        self, channel_id: int, owner: ClaimOwner, *, now: datetime, lease_until: datetime
    ) -> list[OutboxMessage]:
        """Take every claimable message of the channel until ``lease_until``, in id order."""
        params = {
            "channel": channel_id,
            "owner": str(owner),
            "now": to_text(now),
            "lease": to_text(lease_until),
        }
        prefix = await self._key_prefix()
        postgres = self._store.dialect is Dialect.POSTGRES
        # On PostgreSQL replicas claim side by side: the channel's row lock keeps two
        # from claiming one channel (the second skips it, another replica sends it), and
        # FOR UPDATE reads each message as it is now, locked until the claim commits.
        async with self._store.transaction(exclusive=not postgres) as conn:
            if postgres and not await conn.fetchone(
                "SELECT id FROM channels WHERE id = :channel FOR UPDATE SKIP LOCKED", params
            ):
                return []
            rows = list(
                await conn.fetchall(
                    "SELECT m.id, m.payload, m.thread_of, m.attempts, m.status,"
                    " p.sent_ref AS thread_ref, p.status AS thread_status,"
                    f" (SELECT {conn.dialect.json_array('d.arxiv_id')} FROM deliveries AS d"
                    "  WHERE d.message_id = m.id) AS shows"
                    " FROM outbox AS m LEFT JOIN outbox AS p ON p.id = m.thread_of"
                    f" WHERE m.channel_id = :channel AND {_claimable('m')} ORDER BY m.id"
                    + (" FOR UPDATE OF m" if postgres else ""),
                    params,
                )
            )
            await conn.executemany(
                "UPDATE outbox SET status = 'sending', claim = :owner, lease_until = :lease"
                " WHERE id = :id",
                [{**params, "id": int(row["id"])} for row in rows],
            )
        return [
            OutboxMessage(
                id=int(row["id"]),
                channel_id=channel_id,
                key=f"{prefix}{int(row['id'])}",
                message=OutgoingMessage(
                    payload=json.loads(row["payload"]),
                    shows=tuple(json.loads(row["shows"] or "[]")),
                    in_thread=row["thread_of"] is not None,
                ),
                thread_of=row["thread_of"],
                thread_ref=row["thread_ref"],
                attempts=int(row["attempts"]),
                uncertain=row["status"] == "sending" or int(row["attempts"]) > 0,
            )
            for row in rows
        ]

    async def sent(
        self,
        message_id: int,
        ref: str,
        *,
        now: datetime,
        renew: tuple[ClaimOwner, datetime] | None = None,
    ) -> int:
        """Record that the message landed as ``ref``; its deliveries become delivered.

        With ``renew`` (owner, lease end), the owner's claim on its other messages is
        extended. Returns how many deliveries it settled.
        """
        stamp = to_text(now)
        async with self._store.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = 'sent', sent_ref = ?, sent_at = ?, claim = NULL,"
                " lease_until = NULL, next_attempt_at = NULL, last_error = NULL WHERE id = ?",
                (ref, stamp, message_id),
            )
            changed = await conn.execute(
                "UPDATE deliveries SET status = 'delivered', delivered_at = ?,"
                " delivered_version = version, attempts = attempts + 1, claim = NULL,"
                " next_attempt_at = NULL, last_error = NULL"
                " WHERE message_id = ? AND status = 'sending'",
                (stamp, message_id),
            )
            settled = changed
            if renew is not None:
                owner, lease_until = renew
                await conn.execute(
                    "UPDATE outbox SET lease_until = ? WHERE claim = ? AND status = 'sending'",
                    (to_text(lease_until), str(owner)),
                )
        return settled

    async def failed(
        self,
        message: OutboxMessage,
        *,
        error: str,
        now: datetime,
        retry_at: datetime | None,
    ) -> int:
        """Record a failed attempt; with no ``retry_at`` the message (and every message in
        its thread) fails for good and so do their deliveries. Returns the deliveries
        given up."""
        stamp = to_text(now)
        attempts = message.attempts + 1
        async with self._store.transaction() as conn:
            if retry_at is not None:
                await conn.execute(
                    "UPDATE outbox SET status = 'pending', attempts = ?, next_attempt_at = ?,"
                    " claim = NULL, lease_until = NULL, last_error = ? WHERE id = ?",
                    (attempts, to_text(retry_at), error, message.id),
                )
                await conn.execute(
                    "UPDATE deliveries SET last_error = ?, last_attempt_at = ?,"
                    " attempts = ? WHERE message_id = ?",
                    (error, stamp, attempts, message.id),
                )
                return 0
            doomed = "(SELECT id FROM outbox WHERE id = :id OR thread_of = :id)"
            params = {"id": message.id, "error": error, "now": stamp, "attempts": attempts}
            await conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = :attempts, claim = NULL,"
                f" lease_until = NULL, last_error = :error WHERE id IN {doomed}"
                " AND status <> 'sent'",
                params,
            )
            changed = await conn.execute(
                "UPDATE deliveries SET status = 'failed', last_error = :error,"
                f" last_attempt_at = :now, attempts = :attempts WHERE message_id IN {doomed}"
                " AND status = 'sending'",
                params,
            )
            return changed

    async def release(
        self,
        channel_id: int,
        owner: ClaimOwner,
        *,
        error: str | None = None,
        now: datetime,
        may_have_landed: Collection[int] = (),
    ) -> None:
        """Give back every message this owner still holds in the channel, due now.

        A message that may have landed (sent, but its landing not recorded: the
        database failed just then) counts an attempt, which keeps it ``uncertain``: it is
        looked for before it is sent again. ``error`` (a paused channel's reason) is
        noted on their deliveries.
        """
        async with self._store.transaction() as conn:
            if may_have_landed:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1 WHERE claim = ?"
                    f" AND status = 'sending' AND id IN ({placeholders(len(may_have_landed))})",
                    (str(owner), *may_have_landed),
                )
            if error is not None:
                await conn.execute(
                    "UPDATE deliveries SET last_error = ?, last_attempt_at = ? WHERE message_id"
                    " IN (SELECT id FROM outbox WHERE channel_id = ? AND claim = ?)",
                    (error, to_text(now), channel_id, str(owner)),
                )
            await conn.execute(
                "UPDATE outbox SET status = 'pending', claim = NULL, lease_until = NULL"
                " WHERE channel_id = ? AND claim = ? AND status = 'sending'",
                (channel_id, str(owner)),
            )

    async def reclaim_dead(self, alive: Callable[[int], bool] = process_is_alive) -> int:
        """End at once the claims of processes on this host that no longer exist, so their
        messages need not wait out the lease. Returns how many messages were freed."""
        rows = await self._store.fetchall(
            "SELECT DISTINCT claim FROM outbox WHERE status IN ('pending', 'sending')"
            " AND status = 'sending' AND claim IS NOT NULL"
        )
        dead = []
        processes = set()
        for row in rows:
            owner = ClaimOwner.parse(row[0])
            if owner is not None and owner.is_dead(alive):
                dead.append(row[0])
                processes.add((owner.host, owner.pid, owner.boot))
        if not dead:
            return 0
        async with self._store.transaction() as conn:
            changed = await conn.executemany(
                "UPDATE outbox SET lease_until = NULL WHERE claim = ? AND status = 'sending'",
                [(claim,) for claim in dead],
            )
            freed = changed
        logger.info("Reclaimed %s messages claimed by %s ended processes", freed, len(processes))
        return freed


class _Replanned(Exception):
    """A planned row changed under the plan; the transaction is rolled back."""
