"""A channel's ranking of one harvest's papers by predicted interest.

In the spirit of arxiv-sanity-lite: TF-IDF vectors of title and abstract
(:mod:`bot.ranking.text`) and a linear classifier trained per channel, the papers the
channel liked as positives and everything else as negatives: the papers it disliked
(weighted up, they are explicit), the background papers (recent papers the caller
passes in) and the harvest's own papers. Scoring the harvest with the model trained on
it as negatives is what arxiv-sanity-lite does too: with every paper pushed down alike,
the order still follows the liked papers' words.

Logistic regression (L-BFGS, in SciPy) rather than arxiv-sanity-lite's LinearSVC: the
same linear model for ranking, but LinearSVC's liblinear seeds C's global ``rand()``,
which worker threads training at once would share, while L-BFGS is deterministic and
keeps no global state. The vectorizer and the model are built per call and never
shared, so :func:`rank` is safe to run in worker threads (``asyncio.to_thread``).

Until a channel has liked :data:`MIN_POSITIVE` distinct papers, or whenever training is
impossible (no usable word in any text, no negative at all), the order is the fallback:
match strength, then newest first (:func:`bot.ranking.fallback.fallback_order`). Either
way the result orders every paper given and drops none.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.models import Paper
from bot.ranking.fallback import Strength, fallback_order
from bot.ranking.text import vectorize

__all__ = [
    "DISLIKE_WEIGHT",
    "MAX_PICKS",
    "MIN_POSITIVE",
    "PICK_MARGIN",
    "PICK_SHARE",
    "PaperFeedback",
    "Ranking",
    "rank",
    "split_feedback",
]

log = logging.getLogger(__name__)

MIN_POSITIVE = 10
"""Distinct liked papers a channel needs before its own model orders its papers."""
MAX_PICKS = 3
"""At most this many top picks per harvest ..."""
PICK_SHARE = 0.2
"""... and at most this share of the harvest's papers (rounded up) ..."""
PICK_MARGIN = 2.0
"""... each scoring at least this many robust standard deviations above the harvest's
median score (see :func:`_picks`)."""
DISLIKE_WEIGHT = 3.0
"""How much more a disliked paper counts as a negative than an unrated one."""
REGULARIZATION = 1.0
"""Logistic regression's ``C`` (inverse regularisation strength)."""


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PaperFeedback:
    """One feedback event of a channel on a paper: ``signal`` +1 (liked) or -1 (disliked).

    Events on one paper add up (two 👍 and one 👎 make it liked); a paper whose events
    cancel out counts as neither.
    """

    paper: Paper
    signal: int


@dataclass(frozen=True, slots=True)
class Ranking:
    """The order of one harvest's papers for one channel.

    ``order`` holds the arXiv id of every paper given, each as often as it was given, best
    first. ``top_picks`` are the papers worth marking (only when ``trained``); ``reasons``
    maps a top pick to the liked paper most like it (TF-IDF cosine similarity), for "like
    2410.22454 that you liked"; a pick with no similar liked paper has no reason.
    ``scores`` are the model's decision values (log-odds of "liked"; empty when not
    ``trained``).
    """

    order: tuple[str, ...]
    top_picks: frozenset[str] = frozenset()
    reasons: Mapping[str, str] = field(default_factory=_empty)
    trained: bool = False
    scores: Mapping[str, float] = field(default_factory=_empty)

    def ordered(self, papers: Iterable[Paper]) -> list[Paper]:
        """``papers`` sorted by this ranking (a paper it does not know goes last)."""
        position = {arxiv_id: i for i, arxiv_id in reversed(list(enumerate(self.order)))}
        return sorted(papers, key=lambda paper: position.get(paper.arxiv_id, len(self.order)))


def split_feedback(feedback: Iterable[PaperFeedback]) -> tuple[list[Paper], list[Paper]]:
    """The distinct liked and disliked papers, by the sum of each paper's signals."""
    totals: dict[str, int] = {}
    papers: dict[str, Paper] = {}
    for event in feedback:
        arxiv_id = event.paper.arxiv_id
        totals[arxiv_id] = totals.get(arxiv_id, 0) + event.signal
        papers[arxiv_id] = event.paper
    liked = [papers[arxiv_id] for arxiv_id, total in totals.items() if total > 0]
    disliked = [papers[arxiv_id] for arxiv_id, total in totals.items() if total < 0]
    return liked, disliked


def rank(
    candidates: Sequence[Paper],
    feedback: Iterable[PaperFeedback] = (),
    *,
    background: Sequence[Paper] = (),
    strength: Strength | None = None,
    min_positive: int = MIN_POSITIVE,
    max_picks: int = MAX_PICKS,
    pick_share: float = PICK_SHARE,
) -> Ranking:
    """Order ``candidates`` (one harvest's papers for one channel) by predicted interest.

    ``feedback`` is the channel's; ``background`` optional recent papers that add
    negatives and word statistics; ``strength`` each candidate's match strength for the
    fallback order and for ties. With fewer than ``min_positive`` liked papers, or when
    no model can be trained, the order is the fallback one and ``trained`` is False.
    Trained, the order is by score, ties in fallback order, and the top picks are among
    the first ``min(max_picks, ceil(pick_share * len(candidates)))`` papers, those
    whose score stands out from the harvest's (:data:`PICK_MARGIN`). Never raises on
    odd input (no candidates, empty texts); never drops a paper.
    """
    papers = tuple(candidates)
    fallback = fallback_order(papers, strength)
    liked, disliked = split_feedback(feedback)
    if not papers or len(liked) < max(min_positive, 1):
        return Ranking(order=tuple(papers[i].arxiv_id for i in fallback))
    started = time.perf_counter()
    try:
        scores, vectors, liked_vectors = _scores(papers, liked, disliked, background)
    except ValueError as error:  # no usable word, or a single class: nothing to learn
        log.info("ranking not trained, fallback order kept: %s", error)
        return Ranking(order=tuple(papers[i].arxiv_id for i in fallback))
    place = {index: position for position, index in enumerate(fallback)}
    order = sorted(range(len(papers)), key=lambda i: (-scores[i], place[i]))
    picks = _picks(order, scores, min(max_picks, math.ceil(pick_share * len(papers))))
    reasons = _reasons(papers, picks, vectors, liked, liked_vectors)
    log.debug(
        "ranked %s papers from %s liked and %s disliked in %.0f ms",
        len(papers),
        len(liked),
        len(disliked),
        (time.perf_counter() - started) * 1000,
    )
    return Ranking(
        order=tuple(papers[i].arxiv_id for i in order),
        top_picks=frozenset(papers[i].arxiv_id for i in picks),
        reasons=MappingProxyType(reasons),
        trained=True,
        scores=MappingProxyType(
            {p.arxiv_id: float(s) for p, s in zip(papers, scores, strict=True)}
        ),
    )


def _scores(
    papers: Sequence[Paper],
    liked: Sequence[Paper],
    disliked: Sequence[Paper],
    background: Sequence[Paper],
) -> tuple[Any, Any, Any]:
    """Train the model; return each candidate's score, the candidates' vectors and the
    liked papers' vectors. Raises ValueError when there is nothing to train on."""
    rated = {paper.arxiv_id for paper in (*liked, *disliked)}
    unrated: dict[str, Paper] = {}
    for paper in (*background, *papers):
        if paper.arxiv_id not in rated:
            unrated.setdefault(paper.arxiv_id, paper)
    corpus = [*liked, *disliked, *unrated.values()]
    row = {paper.arxiv_id: i for i, paper in enumerate(corpus)}
    matrix = vectorize(corpus)  # ValueError if no text holds a usable word
    labels = np.zeros(len(corpus), dtype=np.int8)
    labels[: len(liked)] = 1
    weights = np.ones(len(corpus), dtype=np.float64)
    weights[len(liked) : len(liked) + len(disliked)] = DISLIKE_WEIGHT
    model = LogisticRegression(C=REGULARIZATION, class_weight="balanced", max_iter=1000)
    model.fit(matrix, labels, sample_weight=weights)  # ValueError if no negative at all
    vectors = matrix[[row[paper.arxiv_id] for paper in papers]]
    return model.decision_function(vectors), vectors, matrix[: len(liked)]


def _picks(order: Sequence[int], scores: Any, count: int) -> list[int]:
    """The first ``count`` of ``order`` whose score stands out from the harvest's.

    The model's scores are log-odds, but not calibrated ones: trained with the harvest
    among its negatives (and on a few thousand words for a dozen positives), even the
    papers most like the liked ones score below 0. What marks a pick is a score well
    above the rest of the day: at least :data:`PICK_MARGIN` robust standard deviations
    (1.4826 times the median absolute deviation, which a few high scores do not
    inflate) above the median. A harvest whose scores are all alike has no pick.
    """
    median = float(np.median(scores))
    spread = 1.4826 * float(np.median(np.abs(scores - median))) or float(np.std(scores))
    if count <= 0 or spread < 1e-9:  # all alike, but for rounding
        return []
    threshold = median + PICK_MARGIN * spread
    return [i for i in order[:count] if scores[i] >= threshold]


def _reasons(
    papers: Sequence[Paper],
    picks: Sequence[int],
    vectors: Any,
    liked: Sequence[Paper],
    liked_vectors: Any,
) -> dict[str, str]:
    """For each pick, the id of the liked paper most similar to it (cosine of TF-IDF
    vectors, which are L2-normalised), unless none shares a word with it."""
    if not picks:
        return {}
    similarity = (vectors[list(picks)] @ liked_vectors.T).toarray()
    reasons: dict[str, str] = {}
    for pick, similar in zip(picks, similarity, strict=True):
        arxiv_id = papers[pick].arxiv_id
        for j, paper in enumerate(liked):
            if paper.arxiv_id == arxiv_id:  # a pick the channel liked already: not itself
                similar[j] = 0.0
        best = int(np.argmax(similar))
        if similar[best] > 0:
            reasons[arxiv_id] = liked[best].arxiv_id
    return reasons
