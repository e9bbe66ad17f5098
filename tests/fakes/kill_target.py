"""A bot process for the kill test: queue papers for one channel, deliver them to a file.

``python -m tests.fakes.kill_target DB OUT COUNT`` opens the store at DB, subscribes one
channel to ``cat:cs.LG``, harvests COUNT matching papers, matches them, and delivers
them through a sender that appends each post's arXiv id to OUT (flushed and fsynced,
so the file shows what the "platform" accepted even if the process is killed) and then
takes ``--pause`` seconds, like a platform round trip. It exits once nothing is pending.

Run it again on the same files after a kill and it finishes the job: every step is
idempotent (the papers and subscription are already stored, the papers already matched).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.delivery import Dispatcher
from bot.enqueue import Enqueuer
from bot.errors import DuplicateSubscriptionError
from bot.models import (
    ChannelRef,
    Digest,
    HarvestedRecord,
    OutgoingMessage,
    PaperPost,
    SentCandidate,
)
from bot.store import Store
from bot.store.deliveries import DeliveryQueue
from tests.fakes.corpus import make_paper

ANNOUNCED = datetime(2025, 6, 16, 1, 0, tzinfo=UTC)
CHANNEL = ChannelRef("file", "local", "kill-test", "kill-test")


class FileSender:
    """The "platform": a file of accepted messages, one a line (``key arxiv-id``).

    With ``read_back`` it can tell which keys it accepted, as Slack's metadata and
    Discord's nonces let the bot do; without, it cannot (the console's case).
    """

    def __init__(self, path: Path, pause: float, *, read_back: bool) -> None:
        self._path = path
        self._pause = pause
        self._read_back = read_back

    def plan(self, item: PaperPost | Digest, *, cards: int) -> list[OutgoingMessage]:
        if isinstance(item, Digest):
            raise AssertionError("the kill test expects single posts")
        return [OutgoingMessage({"id": item.paper.arxiv_id}, (item.paper.arxiv_id,))]

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        await asyncio.to_thread(self._append, f"{key} {message.payload['id']}")
        await asyncio.sleep(self._pause)  # the window a kill lands in: sent, not recorded
        return key

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> dict[str, str]:
        if not self._read_back or not self._path.exists():
            return {}
        keys = {line.split()[0] for line in self._path.read_text(encoding="utf-8").splitlines()}
        return {c.key: c.key for c in candidates if c.key in keys}

    def _append(self, line: str) -> None:
        with self._path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())


async def run(
    db: Path, out: Path, count: int, pause: float, lease: float, *, read_back: bool
) -> None:
    # The store's clock is fixed so that a restart stores exactly the same subscription
    # and papers; the dispatcher's clock is real, for its leases.
    async with await Store.open(db, clock=lambda: ANNOUNCED) as store:
        channel_id = await store.ensure_channel(CHANNEL)
        with contextlib.suppress(DuplicateSubscriptionError):
            await store.add_subscription(channel_id, "cat:cs.LG")
        papers = [
            make_paper(
                f"2506.{n:05d}", categories=("cs.LG",), submitted=ANNOUNCED, updated=ANNOUNCED
            )
            for n in range(1, count + 1)
        ]
        await store.upsert_harvested([HarvestedRecord(p, ANNOUNCED.date()) for p in papers])
        queue = DeliveryQueue(store)
        dispatcher = Dispatcher(
            store=store,
            queue=queue,
            senders={CHANNEL.platform: FileSender(out, pause, read_back=read_back)},
            digest_cap=count + 1,
            lease_seconds=lease,
        )
        await Enqueuer(store=store, queue=queue).match_pending()
        while await dispatcher.pending_count():
            report = await dispatcher.deliver_due()
            if not report.messages:  # rows still claimed by the killed process: wait
                await asyncio.sleep(lease / 5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--pause", type=float, default=0.05)
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--read-back", action="store_true")
    args = parser.parse_args()
    asyncio.run(
        run(args.db, args.out, args.count, args.pause, args.lease, read_back=args.read_back)
    )


if __name__ == "__main__":
    main()
