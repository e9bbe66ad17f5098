"""The exception hierarchy: one root, one user-facing branch.

Anything derived from :class:`UserError` carries a message written for the person who
typed the command (what is wrong and how to fix it); adapters show it as is. Every other
exception is a bug or an outage and is logged with its traceback instead.
"""

from __future__ import annotations

from typing import Literal

from bot.models import Subscription


class ArxivBotError(Exception):
    """Root of every exception arxiv-bot raises on purpose."""


class UserError(ArxivBotError):
    """An error whose message is meant for the user, shown verbatim."""


class ConfigError(UserError):
    """A setting is missing or invalid."""


class CommandError(UserError):
    """A chat command could not be understood."""


class QueryError(UserError):
    """An arXiv query is malformed.

    ``position`` is the 0-based offset in ``query`` where the problem was found, so a
    reply can point at it.
    """

    def __init__(self, message: str, query: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.position = position

    def __str__(self) -> str:
        if self.position is None or not self.query:
            return self.message
        pointer = " " * self.position + "^"
        return f"{self.message}\n  {self.query}\n  {pointer}"


class PaperIdError(UserError):
    """Text that should name an arXiv paper does not."""


class NotFoundError(UserError):
    """A paper, subscription or channel that was asked for does not exist."""


class LimitError(UserError):
    """A configured limit (subscriptions per channel, query length) was reached."""


class ArxivUnavailableError(UserError):
    """arXiv is down, slow or rate-limiting us; the user should try again later."""


class ArxivIncompleteError(ArxivUnavailableError):
    """arXiv answered, but not with something to believe: a body cut off, a page that is
    not a result feed, a count its entries do not add up to, an entry without its id,
    title or categories. Never shown as results, never cached; ``detail`` says what was
    wrong, for the log and ``/arxiv status``."""

    MESSAGE = "arXiv sent an incomplete answer; try again in a minute."

    def __init__(self, detail: str) -> None:
        super().__init__(self.MESSAGE)
        self.detail = detail


class ArxivRejectedError(UserError):
    """arXiv refused a request (HTTP 400), usually a query it cannot parse."""


class StorageError(UserError):
    """The database cannot be used: the message says what is wrong with it and what to do.

    Raised at the store's boundary in place of the ``sqlite3`` or ``OSError`` that a
    read-only, damaged, full, locked or unreachable file causes.
    """


class DeliveryError(ArxivBotError):
    """A post could not be delivered this time; the delivery is retried later."""


class ChannelUnavailableError(DeliveryError):
    """The channel is gone or the bot may no longer post there; its subscriptions pause.

    ``reason`` is shown to users in ``/arxiv status``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreError(ArxivBotError):
    """The store refused a change. These errors carry data, not words: the command
    handlers say what it means to the user."""


class QueryTimeoutError(StoreError):
    """A read ran past the deadline its caller gave, and SQLite stopped it."""


class SubscriptionLimitError(StoreError):
    """The channel already holds ``count`` subscriptions and at most ``limit`` are allowed."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"channel has {count} subscriptions, limit {limit}")
        self.count = count
        self.limit = limit


class DuplicateSubscriptionError(StoreError):
    """The channel already subscribes to exactly this query, as ``existing``."""

    def __init__(self, existing: Subscription) -> None:
        super().__init__(f"channel already has this query as subscription {existing.id}")
        self.existing = existing


class SubscriptionNotFoundError(StoreError):
    """The channel has no subscription with that id (another channel's does not count)."""

    def __init__(self, subscription_id: int) -> None:
        super().__init__(f"no subscription {subscription_id} in this channel")
        self.subscription_id = subscription_id


class ChannelNotFoundError(StoreError):
    """No stored channel has that id."""

    def __init__(self, channel_id: int) -> None:
        super().__init__(f"no channel {channel_id}")
        self.channel_id = channel_id


HarvestProblem = Literal["unavailable", "broken", "incomplete", "refused", "unexpected"]
"""What went wrong with a harvest, in a word that ``/arxiv status`` turns into a sentence:
arXiv could not be reached or answered with an error status (unavailable), its answer
could not be read (broken), its list of records did not add up (incomplete), it
answered with an OAI-PMH error (refused), or anything else (unexpected)."""


class HarvestError(ArxivBotError):
    """An OAI-PMH harvest did not complete; it is retried later from the old watermark.

    The message is the detail, for the log; ``problem`` says what kind of failure it was.
    """

    def __init__(self, message: str, *, problem: HarvestProblem = "broken") -> None:
        super().__init__(message)
        self.problem: HarvestProblem = problem
