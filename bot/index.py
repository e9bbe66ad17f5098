"""Which subscriptions match a paper, without running every query against every paper.

Each subscription's query is compiled once into a :class:`~bot.matcher.Matcher`; its
:attr:`~bot.matcher.Matcher.anchors` (keys such as ``ti:imag``, ``au:hinton`` or
``cat:cs.CV``, of which every matching paper has at least one) are posted in an inverted
index. A paper then only runs the matchers whose anchors it has, found by intersecting
its own stems, author words and categories with the index's keys, plus the few matchers
without anchors. The result is exactly what running every matcher would give.

Identical queries (equal syntax trees, however they were typed) share one matcher: many
channels subscribe to the same category or author.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from operator import attrgetter

from bot.errors import QueryError
from bot.matcher import Matcher, PaperText
from bot.models import Subscription
from bot.query import Node, parse_query

__all__ = ["SubscriptionIndex"]

logger = logging.getLogger(__name__)

_TEXT_FIELDS = ("ti", "abs", "co", "jr", "all")
_by_id = attrgetter("id")


class SubscriptionIndex:
    """An immutable index of subscriptions, built for each matching run.

    ``skipped`` lists the subscriptions whose stored query no longer parses (the query
    language got stricter); they never match, and each build logs them.
    """

    __slots__ = (
        "_always",
        "_authors",
        "_by_text",
        "_categories",
        "_matchers",
        "_owners",
        "_text",
        "skipped",
    )

    def __init__(
        self,
        matchers: Sequence[tuple[Matcher, Sequence[Subscription]]],
        skipped: Sequence[Subscription] = (),
    ) -> None:
        """Index ``matchers``, each with the subscriptions it serves. Prefer :meth:`build`."""
        self._matchers: tuple[Matcher, ...] = tuple(matcher for matcher, _ in matchers)
        self._owners: tuple[tuple[Subscription, ...], ...] = tuple(
            tuple(owners) for _, owners in matchers
        )
        self.skipped: tuple[Subscription, ...] = tuple(skipped)
        self._by_text: dict[str, Matcher] = {
            owner.query: matcher for matcher, owners in matchers for owner in owners
        }
        self._text: dict[str, dict[str, list[int]]] = {field: {} for field in _TEXT_FIELDS}
        self._authors: dict[str, list[int]] = {}
        self._categories: dict[str, list[int]] = {}
        always: list[int] = []
        for position, matcher in enumerate(self._matchers):
            if matcher.anchors is None:
                always.append(position)
                continue
            for key in matcher.anchors:
                postings = self._postings(key)
                if postings is None:  # a kind of key this index does not know: be safe
                    always.append(position)
                    break
                postings.setdefault(key.partition(":")[2], []).append(position)
        self._always: tuple[int, ...] = tuple(dict.fromkeys(always))
        # Drop fields no query uses, so that matching does not even look at them.
        self._text = {field: postings for field, postings in self._text.items() if postings}

    @classmethod
    def build(
        cls, subscriptions: Iterable[Subscription], *, previous: SubscriptionIndex | None = None
    ) -> SubscriptionIndex:
        """Parse and compile every subscription's query; skip (and log) those that fail.

        ``previous``, an index built earlier, lends its compiled matchers to queries with
        the same text, so that rebuilding for every harvest costs little once the
        subscriptions have been seen (parsing and compiling is most of a build's time).
        """
        known = previous._by_text if previous is not None else {}
        by_root: dict[Node, tuple[Matcher, list[Subscription]]] = {}
        skipped: list[Subscription] = []
        for subscription in sorted(subscriptions, key=_by_id):
            matcher = known.get(subscription.query)
            if matcher is not None:
                query = matcher.query
            else:
                try:
                    query = parse_query(subscription.query, max_length=None)
                except QueryError as error:
                    logger.warning(
                        "Skipping subscription %s (channel %s): its query %r no longer parses: %s",
                        subscription.id,
                        subscription.channel_id,
                        subscription.query,
                        error.message,
                    )
                    skipped.append(subscription)
                    continue
            entry = by_root.get(query.root)
            if entry is None:
                entry = by_root[query.root] = (matcher or Matcher(query), [])
            entry[1].append(subscription)
        return cls(list(by_root.values()), skipped)

    def __len__(self) -> int:
        """The number of subscriptions indexed (skipped ones not counted)."""
        return sum(len(owners) for owners in self._owners)

    @property
    def matcher_count(self) -> int:
        """Distinct compiled queries (identical queries share one)."""
        return len(self._matchers)

    def candidates(self, paper: PaperText) -> set[int]:
        """Positions of the matchers ``paper`` must be checked against (shows how much
        work the index saves; :meth:`match` is what callers want)."""
        found = set(self._always)
        for field, postings in self._text.items():
            for stem in postings.keys() & paper.fields[field].stems:
                found.update(postings[stem])
        authors = self._authors
        for word in authors.keys() & paper.author_words:
            found.update(authors[word])
        categories = self._categories
        if categories:
            for code in paper.categories:
                positions = categories.get(code)
                if positions is not None:
                    found.update(positions)
            for archive in paper.archives:
                positions = categories.get(f"{archive}.*")
                if positions is not None:
                    found.update(positions)
        return found

    def match(self, paper: PaperText) -> list[Subscription]:
        """Every subscription whose query matches ``paper``, in id order."""
        matchers, owners = self._matchers, self._owners
        matched: list[Subscription] = []
        for position in self.candidates(paper):
            if matchers[position].matches(paper):
                matched.extend(owners[position])
        matched.sort(key=_by_id)
        return matched

    def _postings(self, key: str) -> dict[str, list[int]] | None:
        kind, _, value = key.partition(":")
        if not value:
            return None
        if kind == "au":
            return self._authors
        if kind == "cat":
            return self._categories
        return self._text.get(kind)
