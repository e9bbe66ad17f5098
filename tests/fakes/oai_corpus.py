"""Synthetic harvested records: many plausible papers with a realistic spread of categories.

For tests and the benchmark (``bench/harvest.py``)::

    records = synthetic_records(2000, day=date(2025, 6, 16), seed=1)

Primary categories follow arXiv's submission shares roughly (computer science about
40%, mathematics 20%, the physics archives together about 30%, statistics, electrical
engineering, quantitative biology and finance, economics the rest), with the busiest
categories weighted up (``cs.LG``, ``cs.CV``, ``cs.CL``, ``math.AP`` ...). About half
the papers are cross-listed, mostly to related categories (``cs.LG`` with ``stat.ML``,
``eess.IV`` with ``cs.CV``, ``quant-ph`` with ``cond-mat``). Titles and abstracts are
built from each field's own vocabulary, so text queries hit some papers and not others;
about one record in eight is a revision (``version`` 2, ``<updated>`` on ``day``).
Same ``seed`` and arguments, same records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

from bot.categories import ALL_CATEGORIES, archive_of
from bot.models import HarvestedRecord, Paper

__all__ = ["PRIMARY_WEIGHTS", "harvested", "synthetic_days", "synthetic_records"]

# Shares of primary categories, by archive and then within it (busy categories first).
_ARCHIVE_SHARES: dict[str, float] = {
    "cs": 40.0,
    "math": 20.0,
    "cond-mat": 7.0,
    "astro-ph": 6.0,
    "physics": 5.0,
    "quant-ph": 4.5,
    "hep-ph": 2.5,
    "hep-th": 2.0,
    "gr-qc": 1.2,
    "stat": 3.5,
    "eess": 3.5,
    "q-bio": 1.5,
    "math-ph": 0.8,
    "econ": 0.8,
    "q-fin": 0.7,
    "nlin": 0.4,
    "hep-ex": 0.4,
    "nucl-th": 0.4,
    "hep-lat": 0.2,
    "nucl-ex": 0.2,
}
_BUSY: dict[str, float] = {
    "cs.LG": 9.0,
    "cs.CV": 8.0,
    "cs.CL": 6.0,
    "cs.AI": 3.0,
    "cs.RO": 2.5,
    "cs.CR": 2.0,
    "math.AP": 3.0,
    "math.PR": 2.5,
    "math.OC": 2.5,
    "math.CO": 2.5,
    "math.NA": 2.0,
    "cond-mat.mtrl-sci": 3.0,
    "cond-mat.str-el": 2.0,
    "astro-ph.GA": 2.0,
    "astro-ph.CO": 2.0,
    "astro-ph.SR": 1.5,
    "stat.ML": 3.0,
    "stat.ME": 2.0,
    "eess.IV": 2.0,
    "eess.SP": 2.0,
    "physics.optics": 2.0,
}
_RELATED: dict[str, tuple[str, ...]] = {
    "cs.LG": ("stat.ML", "cs.AI", "cs.CV", "cs.CL"),
    "cs.CV": ("cs.LG", "eess.IV", "cs.AI", "cs.RO"),
    "cs.CL": ("cs.AI", "cs.LG", "cs.IR"),
    "cs.AI": ("cs.LG", "cs.CL", "cs.MA"),
    "cs.RO": ("cs.SY", "eess.SY", "cs.CV", "cs.LG"),
    "eess.IV": ("cs.CV", "physics.med-ph", "cs.LG"),
    "eess.SP": ("cs.IT", "math.IT", "cs.LG"),
    "stat.ML": ("cs.LG", "stat.ME", "math.ST"),
    "stat.ME": ("stat.AP", "stat.ML", "math.ST"),
    "quant-ph": ("cond-mat.str-el", "physics.atom-ph", "cs.ET", "math-ph"),
    "hep-th": ("gr-qc", "hep-ph", "math-ph"),
    "hep-ph": ("hep-ex", "hep-th", "astro-ph.CO"),
    "gr-qc": ("astro-ph.CO", "hep-th", "astro-ph.HE"),
    "math.OC": ("cs.SY", "eess.SY", "math.NA", "cs.LG"),
    "math.NA": ("cs.NA", "math.AP", "physics.comp-ph"),
    "math.PR": ("math.ST", "math-ph", "math.CO"),
    "q-bio.NC": ("cs.NE", "physics.bio-ph", "cs.LG"),
    "q-fin.ST": ("stat.AP", "econ.EM", "q-fin.CP"),
    "econ.EM": ("stat.ME", "q-fin.ST", "econ.GN"),
}

_TOPICS: dict[str, tuple[str, ...]] = {
    "cs": (
        "large language models",
        "graph neural networks",
        "diffusion models",
        "reinforcement learning",
        "federated learning",
        "image segmentation",
        "object detection",
        "machine translation",
        "retrieval-augmented generation",
        "contrastive learning",
        "vision transformers",
        "code generation",
        "robot manipulation",
        "differential privacy",
        "adversarial robustness",
        "program synthesis",
        "speech recognition",
        "knowledge graphs",
        "neural architecture search",
        "multi-agent systems",
        "in-context learning",
        "medical image analysis",
        "point cloud registration",
        "quantization",
    ),
    "math": (
        "elliptic partial differential equations",
        "random matrices",
        "convex optimization",
        "finite element methods",
        "graph colouring",
        "algebraic curves",
        "Banach spaces",
        "stochastic differential equations",
        "Lie algebras",
        "Navier-Stokes equations",
        "extremal combinatorics",
        "optimal transport",
        "homotopy theory",
        "modular forms",
    ),
    "cond-mat": (
        "topological insulators",
        "superconductivity",
        "spin liquids",
        "Bose-Einstein condensates",
        "two-dimensional materials",
        "density functional theory",
        "phase transitions",
        "moire superlattices",
        "glassy dynamics",
    ),
    "astro-ph": (
        "galaxy formation",
        "dark matter halos",
        "exoplanet atmospheres",
        "gravitational waves",
        "cosmic microwave background",
        "fast radio bursts",
        "stellar populations",
        "active galactic nuclei",
        "weak lensing",
    ),
    "physics": (
        "photonic crystals",
        "plasma turbulence",
        "optical frequency combs",
        "fluid dynamics",
        "medical physics",
        "laser cooling",
        "computational physics",
        "metamaterials",
    ),
    "quant-ph": (
        "quantum error correction",
        "variational quantum algorithms",
        "entanglement entropy",
        "quantum key distribution",
        "superconducting qubits",
        "quantum sensing",
    ),
    "hep": (
        "the Higgs boson",
        "lattice QCD",
        "string compactifications",
        "neutrino oscillations",
        "dark matter candidates",
        "scattering amplitudes",
        "the AdS/CFT correspondence",
        "black hole thermodynamics",
    ),
    "stat": (
        "causal inference",
        "Bayesian nonparametrics",
        "conformal prediction",
        "high-dimensional regression",
        "Markov chain Monte Carlo",
        "survival analysis",
    ),
    "eess": (
        "MRI reconstruction",
        "beamforming",
        "speech enhancement",
        "power systems",
        "radar signal processing",
        "model predictive control",
    ),
    "q-bio": ("protein folding", "neural coding", "gene regulatory networks", "epidemic models"),
    "q-fin": ("portfolio optimization", "volatility modelling", "market microstructure"),
    "econ": ("auction design", "labour markets", "difference-in-differences estimation"),
}
_TOPIC_OF_ARCHIVE = {"gr-qc": "hep", "math-ph": "math", "nlin": "physics", "nucl-th": "hep"}
_METHODS = (
    "a scalable framework",
    "a unified approach",
    "a provably convergent method",
    "a self-supervised model",
    "an efficient algorithm",
    "a new benchmark",
    "a theoretical analysis",
    "a data-driven approach",
    "a sparse representation",
    "a probabilistic model",
)
_CLAIMS = (
    "outperforms strong baselines",
    "improves accuracy by a wide margin",
    "reduces computational cost substantially",
    "matches the state of the art",
    "yields sharp bounds",
    "generalizes to unseen settings",
    "is robust to noise",
)
_FORENAMES = (
    "Lena",
    "Rahul",
    "Chen",
    "Sofia",
    "Jonas",
    "Priya",
    "Michael T.",
    "Aiko",
    "Olusegun",
    "María José",
    "Wei",
    "Anna",
    "Dmitri",
    "Fatima",
    "Lucas",
    "Yuki",
    "Emma",
    "Ravi",
    "Zoë",
    "Håkon",
    "Ngozi",
    "Giulia",
    "Mateus",
    "Ines",
)
_KEYNAMES = (
    "Müller",
    "Iyer",
    "Wei",
    "Alvarez",
    "Schäfer",
    "Natarajan",
    "Brooks",
    "Tanaka",
    "Adeyemi",
    "García López",
    "Zhang",
    "Kowalska",
    "Ivanov",
    "Haddad",
    "Silva",
    "Sato",
    "Dubois",
    "Kumar",
    "Nørgaard",
    "Østby",
    "Okafor",
    "Rossi",
    "Pereira",
    "Łukasik",
)


def _weights() -> dict[str, float]:
    by_archive: dict[str, list[str]] = {}
    for code in ALL_CATEGORIES:
        by_archive.setdefault(archive_of(code), []).append(code)
    weights: dict[str, float] = {}
    for archive, share in _ARCHIVE_SHARES.items():
        codes = by_archive.get(archive, [])
        base = {code: _BUSY.get(code, 1.0) for code in codes}
        total = sum(base.values())
        for code, weight in base.items():
            weights[code] = share * weight / total
    return weights


PRIMARY_WEIGHTS: dict[str, float] = _weights()
"""Primary category -> share of submissions (percent, summing to about 100)."""

_CODES: tuple[str, ...] = tuple(PRIMARY_WEIGHTS)
_CUMULATIVE: list[float] = []
_running = 0.0
for _code in _CODES:
    _running += PRIMARY_WEIGHTS[_code]
    _CUMULATIVE.append(_running)


def _topic(code: str) -> str:
    archive = archive_of(code)
    if archive.startswith("hep") or archive.startswith("nucl"):
        return "hep"
    return _TOPIC_OF_ARCHIVE.get(archive, archive)


def _categories(rng: random.Random) -> tuple[str, ...]:
    primary = rng.choices(_CODES, cum_weights=_CUMULATIVE)[0]
    categories = [primary]
    if rng.random() < 0.5:
        related = _RELATED.get(primary)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            if related and rng.random() < 0.75:
                candidate = rng.choice(related)
            else:
                candidate = rng.choices(_CODES, cum_weights=_CUMULATIVE)[0]
            if candidate in ALL_CATEGORIES and candidate not in categories:
                categories.append(candidate)
    return tuple(categories)


def _authors(rng: random.Random) -> tuple[str, ...]:
    count = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 8, 12))
    names = [f"{rng.choice(_FORENAMES)} {rng.choice(_KEYNAMES)}" for _ in range(count)]
    if rng.random() < 0.02:
        names[-1] += " Jr"
    return tuple(dict.fromkeys(names))


def _text(rng: random.Random, categories: Sequence[str]) -> tuple[str, str]:
    topics = _TOPICS[_topic(categories[0])]
    main = rng.choice(topics)
    other = rng.choice(_TOPICS[_topic(rng.choice(categories))])
    method = rng.choice(_METHODS)
    title = rng.choice(
        (
            f"{method.split(' ', 1)[1].capitalize()} for {main}",
            f"On {main} and {other}",
            f"Towards {main}: {method.split(' ', 1)[1]}",
            f"Revisiting {main} with {other}",
        )
    )
    abstract = (
        f"We study {main}, a central problem at the interface with {other}. "
        f"We propose {method} and show that it {rng.choice(_CLAIMS)}. "
        f"Experiments and analysis on {rng.choice(topics)} confirm that {main} "
        f"benefits from {rng.choice(topics)}, and that our approach {rng.choice(_CLAIMS)}."
    )
    return title, abstract


def synthetic_records(
    n: int, *, day: date, seed: int = 0, first_seq: int = 1
) -> list[HarvestedRecord]:
    """``n`` records stamped ``day``, ids ``YYMM.NNNNN`` from ``first_seq`` on.

    New submissions were created a day or two before ``day``; revisions (about one in
    eight) weeks before, with ``<updated>`` on ``day``.
    """
    rng = random.Random(f"{seed}:{day.isoformat()}:{first_seq}")
    yymm = day.strftime("%y%m")
    stamp = datetime(day.year, day.month, day.day, tzinfo=UTC)
    records = []
    for i in range(n):
        categories = _categories(rng)
        title, abstract = _text(rng, categories)
        revision = rng.random() < 0.125
        created = stamp - timedelta(days=rng.randint(14, 120) if revision else rng.randint(1, 2))
        paper = Paper(
            arxiv_id=f"{yymm}.{first_seq + i:05d}",
            version=2 if revision else 1,
            title=title,
            authors=_authors(rng),
            abstract=abstract,
            categories=categories,
            submitted=created,
            updated=stamp if revision else created,
            comment=rng.choice((None, None, "12 pages, 5 figures", "Accepted at NeurIPS 2025")),
            journal_ref=rng.choice((None,) * 9 + ("Phys. Rev. D 111, 034501 (2025)",)),
            doi=None,
        )
        records.append(HarvestedRecord(paper=paper, datestamp=day))
    return records


def synthetic_days(
    days: Sequence[date], per_day: int, *, seed: int = 0
) -> Iterator[HarvestedRecord]:
    """``per_day`` records for each of ``days``, ids unique across the days."""
    offsets: dict[str, int] = {}
    for day in days:
        yymm = day.strftime("%y%m")
        first = offsets.get(yymm, 1)
        yield from synthetic_records(per_day, day=day, seed=seed, first_seq=first)
        offsets[yymm] = first + per_day


def harvested(paper: Paper, datestamp: date) -> HarvestedRecord:
    """A record for a hand-made paper (``tests.fakes.corpus.make_paper``)."""
    return HarvestedRecord(paper=paper, datestamp=datestamp)
