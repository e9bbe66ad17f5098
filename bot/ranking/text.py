"""TF-IDF vectors of papers' titles and abstracts, as arxiv-sanity-lite makes them.

Settings after arxiv-sanity-lite's ``compute.py``: accents stripped, lowercase, English
stop words dropped, words of two or more characters starting with a letter (so LaTeX's
``$\\alpha_s^2$`` gives ``alpha``, not ``2``), sublinear term frequency, L2-normalised
rows (so a dot product is a cosine similarity). Two departures. Single words only:
adding bigrams, as arxiv-sanity-lite does, tripled the time to vectorize 3,000 abstracts
(0.8 s instead of 0.2 s on one core, most of the 1 s budget of a retrain) and did not
raise precision on the real abstracts of ``tests/data/abstracts.json``. And no document
frequency limits: arxiv-sanity-lite fits once over its whole database with ``min_df=5``
and ``max_df=0.1``, while here the vectorizer is fitted per ranking on the few thousand
texts at hand (one harvest, the channel's feedback, the background papers), where a
word may occur once and where a 10 % cap would drop the vocabulary of a channel's own
field. Stop words and IDF weighting already discount common words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.models import Paper

__all__ = ["document", "vectorize"]


def document(paper: Paper) -> str:
    """The text a paper is known by: its title, then its abstract."""
    return f"{paper.title}\n{paper.abstract}"


def vectorize(papers: Sequence[Paper]) -> Any:
    """A sparse matrix (``scipy.sparse.csr_matrix``), one L2-normalised row per paper.

    Raises ValueError when the texts hold no usable word at all (empty, or only stop
    words): there is nothing to learn from.
    """
    vectorizer = TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        stop_words="english",
        token_pattern=r"(?u)[^\W\d_][^\W_]+",  # no \b: "alpha_s" gives "alpha"
        sublinear_tf=True,
        norm="l2",
        dtype=np.float32,
    )
    return vectorizer.fit_transform([document(paper) for paper in papers])
