"""Platform-free data: papers, channels, subscriptions, and what the bot says.

All strings here are plain text. Untrusted text (titles, abstracts, author names,
queries) is never pre-escaped: each adapter escapes for its own markup when rendering.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

ARXIV_BASE = "https://arxiv.org"


@dataclass(frozen=True, slots=True)
class Paper:
    """One arXiv paper at one version.

    ``arxiv_id`` is version-less (``2506.11674`` or ``hep-th/9901001``); it is the key
    for "posted at most once". ``categories`` lists the primary category first, then
    the cross-lists. Datetimes are timezone-aware UTC.
    """

    arxiv_id: str
    version: int
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]
    submitted: datetime
    updated: datetime
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    @property
    def primary_category(self) -> str:
        return self.categories[0] if self.categories else ""

    @property
    def cross_lists(self) -> tuple[str, ...]:
        return self.categories[1:]

    @property
    def versioned_id(self) -> str:
        return f"{self.arxiv_id}v{self.version}"

    @property
    def abs_url(self) -> str:
        return f"{ARXIV_BASE}/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"{ARXIV_BASE}/pdf/{self.arxiv_id}"

    @property
    def html_url(self) -> str:
        return f"{ARXIV_BASE}/html/{self.arxiv_id}"


@dataclass(frozen=True, slots=True)
class HarvestedRecord:
    """One paper as OAI-PMH listed it, with the record's datestamp (its last change).

    ``paper.version`` is provisional: OAI's ``arXiv`` format has no version number, so
    it is 1 when the record has no ``<updated>`` and 2 otherwise; the store works out
    the real one against what it holds (see ``Store.upsert_harvested``).
    """

    paper: Paper
    datestamp: date


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where a command came from or a post goes: platform, workspace and channel ids.

    ``name`` is a human label for logs and the console; identity is the other three.
    """

    platform: str
    workspace: str
    channel: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.channel


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel_id: int
    query: str
    created_at: datetime


class SortOrder(enum.StrEnum):
    RELEVANCE = "relevance"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    total: int
    papers: tuple[Paper, ...]


@dataclass(frozen=True, slots=True)
class CommunitySignals:
    """What Hugging Face's papers pages know of a paper, shown as one line where known."""

    upvotes: int | None = None
    github_repo: str | None = None
    """The paper's code repository (an http(s) URL), when Hugging Face links one."""
    github_stars: int | None = None
    daily: bool = False
    """Listed in Hugging Face's daily papers."""


@dataclass(frozen=True, slots=True)
class PaperPost:
    """A paper to show in a channel, with the subscriptions that matched it (if any)."""

    paper: Paper
    matched: tuple[Subscription, ...] = ()
    code_links: tuple[str, ...] = ()
    revised: bool = False
    """A revision of a paper this channel already received (a compact note, not a card)."""
    tldr: str | None = None
    """One plain sentence from the optional language model, already cleaned and safe."""
    community: CommunitySignals | None = None
    top_pick: bool = False
    """Among the channel's top picks of this harvest (its ranking model's favourites)."""
    like: str | None = None
    """For a top pick: the arXiv id of a paper the channel liked that this one resembles
    ("like 2410.22454 that you liked")."""


class DeliveryMode(enum.StrEnum):
    """How a channel receives automatic posts."""

    EACH = "each"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Digest:
    """Several papers in one message (a channel in digest mode, or over the cap).

    ``folded`` is set when the channel is in ``each`` mode but one harvest brought more
    than the cap, so the papers were folded into a digest instead.
    """

    posts: tuple[PaperPost, ...]
    folded: bool = False


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One platform message of a planned post or digest, as the outbox keeps it.

    ``payload`` is the adapter's own rendering (JSON-serialisable), stored before anything
    is sent so that a crash resumes at the next message. ``shows`` names the papers
    (version-less ids) this message shows: they count as delivered once it lands.
    ``in_thread`` messages reply in the thread of the plan's first message.
    """

    payload: Mapping[str, Any]
    shows: tuple[str, ...] = ()
    in_thread: bool = False
    cards: tuple[str, ...] = ()
    """Papers this message shows as full cards without delivering them (a digest's cards
    in its thread): feedback on the message counts for them."""


@dataclass(frozen=True, slots=True)
class SentCandidate:
    """A message that may have landed before a crash, to look for when reading back."""

    key: str
    """The idempotency key it was (or would have been) sent with."""
    message: OutgoingMessage
    thread: str | None = None
    """The platform reference of the thread it belongs in, if any."""


class Visibility(enum.Enum):
    """Who sees a reply: only the person who asked, or the whole channel."""

    PRIVATE = "private"
    CHANNEL = "channel"


class Tone(enum.Enum):
    INFO = "info"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Snippet:
    """One line of a paper's abstract, with the words a search matched.

    ``marks`` are ``(start, end)`` offsets into ``text``, sorted and not overlapping:
    the stretches to highlight (bold in Slack and Discord, reverse video on a terminal).
    ``text`` is untrusted (it comes from arXiv): renderers escape it as any abstract.
    """

    text: str
    marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ReplyFile:
    """A file that comes with a reply (an export, a BibTeX entry): an upload on Slack,
    an attachment on Discord, printed (or written) in the terminal."""

    name: str
    """The file name, safe as it is (letters, digits, ``-``, ``_`` and ``.``)."""
    mime: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """The platform-neutral answer to a command.

    ``title`` is one line; ``lines`` are plain-text lines shown under it (``code``
    lines are shown monospaced where the platform can); ``papers`` is a compact result
    list; ``posts`` are full paper cards.
    """

    title: str
    lines: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    papers: tuple[Paper, ...] = ()
    posts: tuple[PaperPost, ...] = ()
    visibility: Visibility = Visibility.PRIVATE
    tone: Tone = Tone.INFO
    footer: str = ""
    snippets: tuple[Snippet | None, ...] = ()
    """One per paper of ``papers`` (in order, possibly fewer): the abstract line to show
    under it, or None."""
    more: str | None = None
    """The command text that shows the next page of ``papers`` (``search ... --page 2``):
    a "Next" button runs it where the platform has buttons, the terminal shows it."""
    signals: tuple[CommunitySignals | None, ...] = ()
    """One per paper of ``papers`` (in order, possibly fewer), like ``snippets``: its
    Hugging Face line (upvotes, code), or None."""
    file: ReplyFile | None = None
    """A file to attach to the reply (an export)."""
