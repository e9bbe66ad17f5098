"""A deterministic synthetic arXiv workload: papers and the subscriptions people write.

Used by the index tests and by ``bench/harvest.py``. Nothing here is random across
runs: the same seed gives the same papers and queries.

Papers follow arXiv's shape: a primary category drawn with roughly arXiv's real spread
(cs.LG, cs.CV and cs.CL busiest, then math, cond-mat, astro-ph, quant-ph ...), cross-lists
to related categories for about half of them, titles of 6 to 14 words, abstracts of 100
to 250 words, 1 to 12 authors. Words come from a small function-word list, a topical
vocabulary per field of science, and a long tail of made-up jargon (Zipf-distributed),
so that frequent and rare terms both occur as they do in real abstracts.

Queries mix what subscriptions look like in practice: a category with a title phrase,
author names (alone or OR-ed), abstract terms, unrestricted bare words, OR-heavy groups,
a few whole-category feeds and ANDNOT exclusions.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.models import Paper

__all__ = ["Topic", "synthetic_papers", "synthetic_queries"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True, slots=True)
class Topic:
    """A field of science: its categories with their weights, and its words."""

    name: str
    categories: tuple[tuple[str, float], ...]
    words: tuple[str, ...]


_TOPICS: tuple[Topic, ...] = (
    Topic(
        "vision",
        (("cs.CV", 9.0), ("eess.IV", 2.0), ("cs.GR", 0.6), ("cs.MM", 0.3)),
        _words(
            "image images segmentation detection vision visual transformer diffusion medical "
            "point cloud video tracking depth estimation generative adversarial reconstruction "
            "mri ct radiology lesion object scene semantic instance pose camera rendering "
            "neural radiance fields stereo optical flow super resolution denoising inpainting "
            "multimodal contrastive pretraining backbone convolutional attention dataset "
            "benchmark annotation zero shot open vocabulary clip occupancy lidar driving "
            "autonomous remote sensing satellite hyperspectral face recognition gaze"
        ),
    ),
    Topic(
        "learning",
        (("cs.LG", 9.0), ("stat.ML", 2.0), ("cs.AI", 3.0), ("cs.NE", 0.5), ("math.OC", 1.0)),
        _words(
            "learning neural network networks gradient optimization reinforcement policy "
            "graph kernel bayesian variational inference generalization federated privacy "
            "stochastic convergence regret bandit representation training loss regularization "
            "overparameterized scaling laws sparse mixture experts distillation pruning "
            "quantization robustness adversarial uncertainty calibration causal fairness "
            "interpretability explainability continual meta few shot self supervised "
            "contrastive embeddings diffusion score flow matching transformer attention "
            "recurrent sequence forecasting time series anomaly tabular"
        ),
    ),
    Topic(
        "language",
        (("cs.CL", 7.0), ("cs.IR", 1.2), ("cs.SD", 0.4), ("eess.AS", 0.5)),
        _words(
            "language model models llm llms translation speech retrieval reasoning prompt "
            "prompting instruction tuning token tokens multilingual dialogue question "
            "answering summarization generation hallucination alignment preference "
            "reward chain thought agents tool evaluation benchmark corpus annotation "
            "sentiment parsing syntax semantic embedding retrieval augmented context "
            "long decoding inference efficient low resource cross lingual speech recognition "
            "synthesis spoken"
        ),
    ),
    Topic(
        "systems",
        (
            ("cs.RO", 2.5),
            ("cs.CR", 2.0),
            ("cs.DC", 1.0),
            ("cs.SE", 1.5),
            ("cs.NI", 0.8),
            ("cs.HC", 1.2),
            ("cs.DS", 0.8),
            ("cs.LO", 0.5),
            ("cs.PL", 0.5),
            ("cs.DB", 0.6),
            ("eess.SY", 1.5),
            ("eess.SP", 1.5),
        ),
        _words(
            "robot robotic manipulation grasping locomotion navigation planning control "
            "controller security attack attacks vulnerability malware privacy blockchain "
            "distributed consensus cloud edge scheduling compiler program verification "
            "software testing code bugs repair network wireless channel mimo beamforming "
            "signal estimation filtering kalman user interface interaction study algorithm "
            "complexity approximation graphs query database energy power grid"
        ),
    ),
    Topic(
        "math",
        (
            ("math.AP", 1.6),
            ("math.PR", 1.4),
            ("math.CO", 1.4),
            ("math.AG", 1.1),
            ("math.NT", 1.0),
            ("math.DG", 0.9),
            ("math.NA", 1.3),
            ("math.FA", 0.8),
            ("math.DS", 0.8),
            ("math.GT", 0.6),
            ("math.RT", 0.6),
            ("math.ST", 0.8),
            ("math.CA", 0.5),
            ("math.GR", 0.5),
            ("math.MP", 0.6),
            ("math-ph", 0.4),
        ),
        _words(
            "theorem group groups algebra algebras manifold manifolds prove conjecture "
            "operator operators equation equations solutions existence uniqueness regularity "
            "boundary elliptic parabolic hyperbolic random walk brownian motion martingale "
            "graph graphs coloring polynomial polynomials prime primes modular forms curves "
            "varieties cohomology homology sheaves category functor lie representation "
            "finite element numerical scheme convergence error estimates spectral "
            "eigenvalues banach hilbert space spaces invariant measure ergodic knot"
        ),
    ),
    Topic(
        "matter",
        (
            ("cond-mat.str-el", 1.2),
            ("cond-mat.mes-hall", 1.3),
            ("cond-mat.mtrl-sci", 1.8),
            ("cond-mat.stat-mech", 0.9),
            ("cond-mat.supr-con", 0.5),
            ("cond-mat.soft", 0.7),
            ("cond-mat.quant-gas", 0.4),
            ("physics.optics", 1.0),
            ("physics.flu-dyn", 0.9),
            ("physics.chem-ph", 0.7),
            ("physics.app-ph", 0.7),
            ("nlin.CD", 0.3),
        ),
        _words(
            "superconductivity superconducting magnetic magnetism topological phase "
            "transition transitions lattice spin spins electron electronic band structure "
            "graphene moire twisted bilayer phonon phonons thermal transport hall effect "
            "quasiparticle fermi liquid correlated density functional theory first "
            "principles materials crystal defects polymer colloids active matter turbulence "
            "flow fluid laser photonic optical waveguide metamaterial plasmonic soliton"
        ),
    ),
    Topic(
        "quantum",
        (("quant-ph", 4.5),),
        _words(
            "quantum qubit qubits entanglement circuit circuits error correction fault "
            "tolerant gate gates superconducting trapped ions photonic annealing variational "
            "eigensolver algorithm algorithms hamiltonian simulation noise decoherence "
            "channel capacity teleportation key distribution sensing metrology measurement "
            "bell nonlocality open system lindblad tomography advantage"
        ),
    ),
    Topic(
        "astro",
        (
            ("astro-ph.GA", 1.5),
            ("astro-ph.CO", 1.3),
            ("astro-ph.SR", 1.2),
            ("astro-ph.HE", 1.2),
            ("astro-ph.EP", 0.8),
            ("astro-ph.IM", 0.6),
            ("gr-qc", 1.5),
        ),
        _words(
            "galaxy galaxies star stars stellar cosmological cosmology redshift dark matter "
            "energy exoplanet exoplanets supernova supernovae black hole holes neutron merger "
            "gravitational waves lensing cluster clusters quasar accretion disk jwst "
            "spectroscopy photometry survey telescope emission absorption dust gas "
            "formation evolution halo halos magnetar pulsar binary binaries"
        ),
    ),
    Topic(
        "particles",
        (
            ("hep-ph", 2.5),
            ("hep-th", 2.0),
            ("hep-ex", 0.7),
            ("hep-lat", 0.4),
            ("nucl-th", 0.7),
            ("nucl-ex", 0.3),
        ),
        _words(
            "holographic entanglement entropy gravity string strings gauge supersymmetry "
            "conformal field theory ads cft amplitudes scattering higgs boson neutrino "
            "neutrinos collider lhc atlas cms decay decays quark quarks gluon qcd lattice "
            "dark matter axion inflation anomaly symmetry symmetries nuclear nuclei heavy ion "
            "effective operators cross section"
        ),
    ),
    Topic(
        "life-and-money",
        (
            ("q-bio.NC", 0.6),
            ("q-bio.QM", 0.5),
            ("q-bio.BM", 0.4),
            ("q-fin.ST", 0.3),
            ("q-fin.CP", 0.2),
            ("econ.EM", 0.4),
            ("econ.GN", 0.3),
            ("stat.ME", 1.2),
            ("stat.AP", 0.8),
            ("physics.bio-ph", 0.4),
            ("physics.soc-ph", 0.4),
        ),
        _words(
            "protein proteins gene genes genomic cell cells neural neurons brain epidemic "
            "population dynamics evolution molecular docking drug market markets portfolio "
            "volatility risk pricing option trading estimator estimation regression causal "
            "treatment effect panel survey inference bootstrap bayesian hierarchical "
            "clinical trial survival network social"
        ),
    ),
)

_FUNCTION_WORDS = _words(
    "the of and in a to we for is with that on this by an are as from our which be it "
    "these can at or show propose results method methods approach based using also new "
    "two than its such their both have has not into over between under while when"
)
_SCIENCE_WORDS = _words(
    "model models data analysis performance problem framework study present demonstrate "
    "significant efficient novel general existing previous large small high low first "
    "experiments experimental theoretical numerical simulations observations properties "
    "structure function dynamics process system systems applications effect effects "
    "parameter parameters limit regime order scale range strong weak"
)
_FIRST_NAMES = _words(
    "Ana Wei Li Jun Yuki Hiroshi Emily Daniel Maria Jose Priya Rahul Amara Kwame Fatima "
    "Sofia Lena Jonas Sebastian Olga Ivan Chen Mei Grace Tomas Zoe Lukasz Ingrid Carlos "
    "Juan Pierre Marie Giulia Marco Ahmed Aisha Min Seo Hyun David Sarah Michael Laura "
    "Kenji Ravi Anil Elena Nikolai Sven Astrid Omar Leila Diego Lucia Tariq Nadia"
)
_LAST_NAMES = _words(
    "Zhang Wang Li Liu Chen Yang Huang Zhao Wu Zhou Kim Park Lee Nguyen Tanaka Sato "
    "Suzuki Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Rossi Russo "
    "Ferrari Bianchi Garcia Martinez Lopez Gonzalez Rodriguez Perez Sanchez Silva "
    "Santos Oliveira Kumar Singh Sharma Patel Gupta Iyer Natarajan Okafor Mensah Bello "
    "Ivanov Petrov Smirnov Kovacs Nowak Novak Dubois Martin Bernard Johnson Smith Brown "
    "Jones Miller Davis Wilson Anderson Taylor Thomas Moore Jackson White Harris Clark "
    "Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams Nelson Hill "
    "Campbell Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins "
    "Edwards Stewart Morris Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey Bell "
    "Svensson Johansson Lindqvist Haddad Khalil Farouk Adeyemi Abubakar Osei"
)
_SYLLABLES = _words(
    "ka ro mi te lu sa ven dor ix al qua zen pho tri bel nor ost eur gan vel mar tis "
    "ple cor dri fen hal jor kin lem mun nex pur rad sim tor ulm vax wex yor zil"
)
_COMMENTS = (
    "{n} pages, {f} figures",
    "{n} pages, {f} figures, accepted at NeurIPS 2025",
    "{n} pages; accepted to ICML 2025",
    "Accepted for publication in Phys. Rev. Lett.",
    "{n} pages, submitted to ApJ",
    "v2: minor corrections, {n} pages",
    "Code available at https://github.com/example/project{f}",
)
_JOURNALS = ("Phys. Rev. D {v}, {p} (2025)", "J. Math. Phys. {v} (2025) {p}", "ApJ {v}:{p}")


def _jargon(rng: random.Random, count: int) -> tuple[str, ...]:
    """Made-up technical words, unique, two to four syllables long."""
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4)))] = None
    return tuple(found)


_TERMS = 300  # terminology words per topic (its real words first, the most frequent)
_TAIL = 3000  # rarer jargon per topic
_SURNAMES = 3000  # made-up surnames, besides the common real ones


def _zipf_weights(size: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(size)))


class _Vocabulary:
    """Per topic: its terminology (real words, then made-up terms), a long tail of rarer
    jargon, and cumulative Zipf weights for sampling; plus made-up surnames."""

    def __init__(self, rng: random.Random) -> None:
        made_up = _jargon(rng, 4000 + len(_TOPICS) * (_TERMS + _TAIL) + _SURNAMES)
        self.shared_jargon = made_up[:4000]
        self.terms: dict[str, tuple[str, ...]] = {}
        self.jargon: dict[str, tuple[str, ...]] = {}
        start = 4000
        for topic in _TOPICS:
            invented = made_up[start : start + _TERMS - len(topic.words)]
            self.terms[topic.name] = topic.words + invented
            start += _TERMS
            self.jargon[topic.name] = made_up[start : start + _TAIL]
            start += _TAIL
        common = {*_FUNCTION_WORDS, *_SCIENCE_WORDS}
        self.specific = {
            topic.name: tuple(word for word in topic.words if word not in common)
            for topic in _TOPICS
        }
        self.surnames = tuple(word.capitalize() for word in made_up[start : start + _SURNAMES])
        self.terms_weights = _zipf_weights(_TERMS)
        self.function_weights = _zipf_weights(len(_FUNCTION_WORDS))
        self.science_weights = _zipf_weights(len(_SCIENCE_WORDS))
        self.jargon_weights = _zipf_weights(_TAIL)
        self.shared_weights = _zipf_weights(4000)

    def words(self, rng: random.Random, topic: Topic, count: int) -> list[str]:
        """``count`` words: about 40 % function words, 15 % general science words, 30 %
        topical words, 10 % the topic's jargon and 5 % jargon shared by every topic."""
        pools = {
            "f": rng.choices(_FUNCTION_WORDS, cum_weights=self.function_weights, k=count),
            "s": rng.choices(_SCIENCE_WORDS, cum_weights=self.science_weights, k=count),
            "t": rng.choices(self.terms[topic.name], cum_weights=self.terms_weights, k=count),
            "j": rng.choices(self.jargon[topic.name], cum_weights=self.jargon_weights, k=count),
            "x": rng.choices(self.shared_jargon, cum_weights=self.shared_weights, k=count),
        }
        kinds = rng.choices("fstjx", weights=(40, 15, 30, 10, 5), k=count)
        return [pools[kind][index] for index, kind in enumerate(kinds)]


_TOPIC_WEIGHTS = [sum(weight for _, weight in topic.categories) for topic in _TOPICS]
_RELATED = {
    "vision": ("learning", "systems"),
    "learning": ("vision", "language", "math", "life-and-money"),
    "language": ("learning",),
    "systems": ("learning", "math"),
    "math": ("learning", "matter", "particles"),
    "matter": ("quantum", "math"),
    "quantum": ("matter", "particles"),
    "astro": ("particles",),
    "particles": ("astro", "quantum"),
    "life-and-money": ("learning", "math"),
}
_BY_NAME = {topic.name: topic for topic in _TOPICS}


def _category(rng: random.Random, topic: Topic) -> str:
    codes = [code for code, _ in topic.categories]
    return rng.choices(codes, weights=[weight for _, weight in topic.categories])[0]


def _sentence_case(words: Sequence[str]) -> str:
    return " ".join(word.capitalize() if len(word) > 3 else word for word in words)


def synthetic_papers(
    count: int, *, seed: int = 0, first_id: int = 0, day: date = date(2025, 6, 16)
) -> list[Paper]:
    """``count`` papers with ids ``2506.<first_id + i>`` (five digits), submitted on
    ``day`` (or a few days before); the same arguments always give the same papers."""
    rng = random.Random(seed)
    vocabulary = _vocabulary()
    papers: list[Paper] = []
    for number in range(first_id, first_id + count):
        topic = rng.choices(_TOPICS, weights=_TOPIC_WEIGHTS)[0]
        categories = [_category(rng, topic)]
        for _ in range(rng.choices((0, 1, 2, 3), weights=(50, 30, 15, 5))[0]):
            other = topic if rng.random() < 0.5 else _BY_NAME[rng.choice(_RELATED[topic.name])]
            code = _category(rng, other)
            if code not in categories:
                categories.append(code)
        title = _sentence_case(
            [
                word
                for word in vocabulary.words(rng, topic, rng.randint(6, 14))
                if word not in ("the", "of") or rng.random() < 0.5
            ]
        )
        sentences: list[str] = []
        for _ in range(rng.randint(5, 10)):
            sentence = vocabulary.words(rng, topic, rng.randint(14, 28))
            sentences.append(" ".join(sentence).capitalize() + ".")
        authors = tuple(
            f"{rng.choice(_FIRST_NAMES)} {_surname(rng, vocabulary)}"
            for _ in range(rng.choices((1, 2, 3, 4, 6, 12), weights=(8, 20, 25, 25, 15, 7))[0])
        )
        submitted = datetime.combine(day - timedelta(days=rng.choice((0, 0, 0, 1, 2))), time())
        comment = None
        if rng.random() < 0.6:
            comment = rng.choice(_COMMENTS).format(n=rng.randint(4, 40), f=rng.randint(1, 12))
        journal_ref = None
        if rng.random() < 0.05:
            journal_ref = rng.choice(_JOURNALS).format(
                v=rng.randint(10, 999), p=rng.randint(1, 9999)
            )
        papers.append(
            Paper(
                arxiv_id=f"{day:%y%m}.{number:05d}",
                version=1,
                title=title,
                authors=authors,
                abstract=" ".join(sentences),
                categories=tuple(categories),
                submitted=submitted.replace(tzinfo=UTC),
                updated=submitted.replace(tzinfo=UTC),
                comment=comment,
                journal_ref=journal_ref,
            )
        )
    return papers


_VOCABULARY: list[_Vocabulary] = []


def _vocabulary() -> _Vocabulary:
    """The jargon is the same for every seed, so that queries find their words."""
    if not _VOCABULARY:
        _VOCABULARY.append(_Vocabulary(random.Random("arxiv-bot workload")))
    return _VOCABULARY[0]


def synthetic_queries(count: int, *, seed: int = 0) -> list[str]:
    """``count`` distinct-looking subscription queries in the proportions people write
    them (see the module docstring); all parse with :func:`bot.query.parse_query`."""
    rng = random.Random(seed)
    vocabulary = _vocabulary()
    makers = (
        (_category_and_title, 30),
        (_authors, 15),
        (_abstract_terms, 15),
        (_bare_words, 12),
        (_or_heavy, 12),
        (_whole_category, 1),
        (_title_only, 8),
        (_excluding, 6),
    )
    functions = [maker for maker, _ in makers]
    weights = [weight for _, weight in makers]
    return [rng.choices(functions, weights=weights)[0](rng, vocabulary) for _ in range(count)]


def _topic(rng: random.Random) -> Topic:
    return rng.choices(_TOPICS, weights=_TOPIC_WEIGHTS)[0]


def _term_words(rng: random.Random, vocabulary: _Vocabulary, topic: Topic, size: int) -> str:
    """A phrase of the topic's terminology: real words or (60 %) made-up terms of
    middling frequency; people subscribe to specific subjects, not the commonest words."""
    terms = vocabulary.terms[topic.name]
    chosen: list[str] = []
    while len(chosen) < size:
        word = rng.choice(vocabulary.specific[topic.name])
        if rng.random() < 0.6:
            word = rng.choice(terms[60:])
        if word not in chosen:
            chosen.append(word)
    return " ".join(chosen)


def _quoted(text: str) -> str:
    return f'"{text}"' if " " in text else text


def _category_and_title(rng: random.Random, vocabulary: _Vocabulary) -> str:
    topic = _topic(rng)
    phrase = _quoted(_term_words(rng, vocabulary, topic, rng.choice((1, 2, 2, 3))))
    if rng.random() < 0.3:
        first, second = _category(rng, topic), _category(rng, topic)
        scope = f"(cat:{first} OR cat:{second})" if first != second else f"cat:{first}"
    else:
        scope = f"cat:{_category(rng, topic)}"
    return f"{scope} AND ti:{phrase}" if rng.random() < 0.5 else f"ti:{phrase} {scope}"


def _surname(rng: random.Random, vocabulary: _Vocabulary) -> str:
    """A common real surname 30 % of the time, else one of many rarer ones."""
    return rng.choice(_LAST_NAMES) if rng.random() < 0.3 else rng.choice(vocabulary.surnames)


def _name(rng: random.Random, vocabulary: _Vocabulary) -> str:
    last = _surname(rng, vocabulary)
    roll = rng.random()
    if roll < 0.3:
        return f"au:{last}"
    if roll < 0.8:
        return f'au:"{rng.choice(_FIRST_NAMES)} {last}"'
    return f"au:{rng.choice(_FIRST_NAMES)[0]}_{last}"


def _authors(rng: random.Random, vocabulary: _Vocabulary) -> str:
    names = [
        _name(rng, vocabulary)
        for _ in range(rng.choices((1, 2, 3, 5), weights=(50, 25, 15, 10))[0])
    ]
    return " OR ".join(names)


def _abstract_terms(rng: random.Random, vocabulary: _Vocabulary) -> str:
    topic = _topic(rng)
    terms = [
        f"abs:{_quoted(_term_words(rng, vocabulary, topic, rng.choice((1, 2))))}"
        for _ in range(rng.choice((1, 2, 2)))
    ]
    query = " AND ".join(terms)
    if rng.random() < 0.7:
        query += f" AND cat:{_category(rng, topic)}"
    return query


def _bare_words(rng: random.Random, vocabulary: _Vocabulary) -> str:
    topic = _topic(rng)
    return _term_words(rng, vocabulary, topic, rng.choice((1, 2, 2, 2, 3)))


def _title_only(rng: random.Random, vocabulary: _Vocabulary) -> str:
    topic = _topic(rng)
    return f"ti:{_quoted(_term_words(rng, vocabulary, topic, rng.choice((1, 2, 3))))}"


def _or_heavy(rng: random.Random, vocabulary: _Vocabulary) -> str:
    topic = _topic(rng)
    options = [
        _quoted(_term_words(rng, vocabulary, topic, rng.choice((1, 2))))
        for _ in range(rng.randint(3, 7))
    ]
    field = "abs" if rng.random() < 0.1 else "ti"
    group = f"{field}:({' OR '.join(options)})"
    roll = rng.random()
    if roll < 0.6:
        code = _category(rng, topic)
        if "." in code and rng.random() < 0.5:
            code = code.split(".")[0] + ".*"
        return f"{group} AND cat:{code}"
    if roll < 0.8:
        return f"{group} OR {_name(rng, vocabulary)}"
    return group


def _whole_category(rng: random.Random, vocabulary: _Vocabulary) -> str:
    return f"cat:{_category(rng, _topic(rng))}"


def _excluding(rng: random.Random, vocabulary: _Vocabulary) -> str:
    topic = _topic(rng)
    keep = _quoted(_term_words(rng, vocabulary, topic, rng.choice((1, 2))))
    drop = _quoted(_term_words(rng, vocabulary, topic, 1))
    return f"ti:{keep} AND cat:{_category(rng, topic)} ANDNOT abs:{drop}"
