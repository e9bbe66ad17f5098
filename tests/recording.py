"""Helpers for whole-bot tests of what the core plans: a sender that keeps the posts and
digests it is handed, and real arXiv abstracts as new papers of a harvest."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path

from bot.models import ChannelRef, Digest, OutgoingMessage, Paper, PaperPost, SentCandidate

DATA = Path(__file__).parent / "data" / "abstracts.json"


@dataclass
class PlanRecorder:
    """A :class:`bot.delivery.Sender` for the platform ``name``: one message per post or
    digest, whose payload indexes :attr:`items`; :attr:`sent` is what landed, in order."""

    name: str = "console"
    items: list[PaperPost | Digest] = field(default_factory=list)
    sent: list[tuple[str, PaperPost | Digest]] = field(default_factory=list)

    def plan(self, item: PaperPost | Digest, *, cards: int) -> Sequence[OutgoingMessage]:
        self.items.append(item)
        posts = item.posts if isinstance(item, Digest) else (item,)
        shows = tuple(dict.fromkeys(post.paper.arxiv_id for post in posts))
        return [OutgoingMessage({"item": len(self.items) - 1}, shows=shows)]

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        self.sent.append((channel.channel, self.items[int(message.payload["item"])]))
        return f"ref-{len(self.sent)}"

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> Mapping[str, str]:
        return {}

    def posts(self, channel: str) -> list[PaperPost]:
        """Every post that landed in ``channel``, digests unfolded, in order."""
        found: list[PaperPost] = []
        for where, item in self.sent:
            if where == channel:
                found += item.posts if isinstance(item, Digest) else (item,)
        return found

    def ids(self, channel: str) -> list[str]:
        return [post.paper.arxiv_id for post in self.posts(channel)]


@cache
def real_papers() -> tuple[tuple[Paper, str], ...]:
    """The real arXiv papers of ``tests/data/abstracts.json``, each with its topic."""
    found: list[tuple[Paper, str]] = []
    for record in json.loads(DATA.read_text())["papers"]:
        submitted = datetime.fromisoformat(record["submitted"])
        paper = Paper(
            arxiv_id=record["id"],
            version=1,
            title=record["title"],
            authors=("A. Author",),
            abstract=record["abstract"],
            categories=tuple(record["categories"]),
            submitted=submitted,
            updated=submitted,
        )
        found.append((paper, record["topic"]))
    return tuple(found)


def of_topic(topic: str) -> list[Paper]:
    return [paper for paper, t in real_papers() if t == topic]


def as_new(paper: Paper, arxiv_id: str, submitted: datetime, category: str) -> Paper:
    """A real paper's title and abstract as a new paper of today's harvest."""
    return replace(
        paper, arxiv_id=arxiv_id, submitted=submitted, updated=submitted, categories=(category,)
    )
