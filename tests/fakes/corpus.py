"""Sample arXiv papers for tests: realistic metadata, and the awkward cases on purpose.

The ids and metadata are made up in arXiv's style. Awkward cases included: an eess.IV
paper cross-listed to cs.CV, old-style ids (``hep-th/9901001``, ``math/0309136``), a
2007 four-digit id, revised papers (v2, v3), accented author names (Müller), a title
carrying ``<!channel>``, ``@everyone`` and markdown, a GitHub link in an abstract,
comments, journal references and DOIs, and a paper with a very long author list.

``sample_papers()`` returns a fresh list each call; :func:`make_paper` builds more.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from bot.models import Paper

__all__ = ["make_paper", "paper_by_id", "revised", "sample_papers"]


def _at(text: str) -> datetime:
    """``"2025-06-13 17:59:46"`` as a UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_paper(arxiv_id: str = "2506.99999", **fields: Any) -> Paper:
    """A plausible paper with every field filled in; override any field by keyword."""
    defaults: dict[str, Any] = {
        "arxiv_id": arxiv_id,
        "version": 1,
        "title": "A Placeholder Study of Nothing in Particular",
        "authors": ("Ada Placeholder", "Bo Example"),
        "abstract": "We study nothing in particular and find it placeholder-like.",
        "categories": ("cs.LG",),
        "submitted": _at("2025-06-13 12:00:00"),
        "updated": _at("2025-06-13 12:00:00"),
    }
    defaults.update(fields)
    return Paper(**defaults)


_PAPERS: tuple[Paper, ...] = (
    Paper(
        arxiv_id="2506.11674",
        version=1,
        title="Boundary-Aware Diffusion Models for Medical Image Segmentation",
        authors=("Lena Müller", "Rahul Iyer", "Chen Wei", "Sofia Alvarez"),
        abstract=(
            "Accurate delineation of organ and lesion boundaries remains a central challenge "
            "in medical image segmentation. We propose a boundary-aware diffusion model that "
            "conditions the denoising process on a learned signed distance field. On three "
            "public CT and MRI benchmarks our method improves the Dice score by 2.1 points "
            "and reduces the 95th percentile Hausdorff distance by 18%. Code is available at "
            "https://github.com/lmueller/bad-seg."
        ),
        categories=("eess.IV", "cs.CV", "cs.LG"),
        submitted=_at("2025-06-13 17:59:46"),
        updated=_at("2025-06-13 17:59:46"),
        comment="12 pages, 5 figures, accepted at MICCAI 2025",
    ),
    Paper(
        arxiv_id="2506.10231",
        version=2,
        title="Physics-Informed Unrolled Networks for Accelerated MRI Reconstruction",
        authors=("Jonas Schäfer", "Priya Natarajan", "Michael T. Brooks"),
        abstract=(
            "Accelerated magnetic resonance imaging acquires fewer k-space samples to shorten "
            "scan times, at the cost of an ill-posed reconstruction problem. We unroll a "
            "proximal gradient scheme into a network whose data-consistency layers respect "
            "the coil sensitivity model, and train it self-supervised on undersampled data "
            "only. At eightfold acceleration on the fastMRI knee dataset, the method matches "
            "supervised baselines."
        ),
        categories=("eess.IV", "physics.med-ph", "cs.CV"),
        submitted=_at("2025-06-12 09:14:02"),
        updated=_at("2025-06-20 11:03:17"),
        comment="v2: added ablations on coil compression; 9 pages",
        doi="10.1109/TMI.2025.1234567",
    ),
    Paper(
        arxiv_id="2506.09876",
        version=1,
        title="Scaling Laws for Retrieval-Augmented Language Models",
        authors=("Emily Zhang", "Tomás Ferreira", "Kwame Mensah", "Ana Kovačević"),
        abstract=(
            "Large language models (LLMs) augmented with retrieval can match much larger "
            "dense models on knowledge-intensive tasks. We fit scaling laws jointly in model "
            "size, datastore size and retrieved context length across 120 training runs, and "
            "find that datastore scaling yields diminishing but predictable returns."
        ),
        categories=("cs.CL", "cs.AI", "cs.LG"),
        submitted=_at("2025-06-11 15:30:00"),
        updated=_at("2025-06-11 15:30:00"),
        comment="28 pages, 14 figures",
    ),
    Paper(
        arxiv_id="2506.08123",
        version=3,
        title="Self-Correcting Chain-of-Thought Decoding in Large Language Models",
        authors=("Hiroshi Tanaka", "Grace O'Neill"),
        abstract=(
            "We show that large language models can detect and repair errors in their own "
            "chain-of-thought reasoning when decoding is interleaved with a lightweight "
            "verifier. On GSM8K and MATH, self-correcting decoding improves accuracy by 6.4 "
            "and 4.9 points respectively without additional fine-tuning."
        ),
        categories=("cs.CL", "cs.AI"),
        submitted=_at("2025-06-10 08:00:11"),
        updated=_at("2025-07-02 19:45:00"),
        comment="v3: camera-ready version for ACL 2025",
    ),
    Paper(
        arxiv_id="2506.07001",
        version=1,
        title="Instruction Tuning of Multilingual Language Models for Low-Resource Languages",
        authors=("Amara Okafor", "Zoë Lefèvre", "Łukasz Nowak", "Mei Lin"),
        abstract=(
            "Instruction-tuned language models perform poorly in languages that are scarce in "
            "their training data. We release a 40-language instruction dataset built with "
            "native speakers and show that tuning on it closes half of the gap to English on "
            "held-out tasks. Data and models: https://github.com/lowres-nlp/polyinstruct"
        ),
        categories=("cs.CL",),
        submitted=_at("2025-06-09 13:21:54"),
        updated=_at("2025-06-09 13:21:54"),
    ),
    Paper(
        arxiv_id="2506.05555",
        version=1,
        title=(
            "<!channel> @everyone **Urgent**: _A Totally Normal_ Paper on `Graph` [Neural](x) Nets"
        ),
        authors=("<@U123ABC> Mallory", "Eve & Trudy"),
        abstract=(
            "This abstract contains <https://evil.example|a disguised link>, <!here>, "
            "@here, *bold* and ~strike~ markup, and a <script>alert(1)</script> tag, so "
            "renderers must escape untrusted text. Otherwise it studies graph neural networks."
        ),
        categories=("cs.LG", "stat.ML"),
        submitted=_at("2025-06-08 10:10:10"),
        updated=_at("2025-06-08 10:10:10"),
        comment="Not a real paper; for testing escaping <b>only</b>",
    ),
    Paper(
        arxiv_id="2506.04410",
        version=1,
        title="Foundation Models for Chest X-ray Interpretation: A Multi-Center Evaluation",
        authors=("Daniel Kim", "Fatima Al-Sayed", "Robert Johnson", "Ingrid Svensson"),
        abstract=(
            "We evaluate six foundation models for chest radiograph interpretation on data "
            "from eleven hospitals. Zero-shot performance varies widely between sites, and "
            "lightweight adaptation with 100 labelled images per site recovers most of the "
            "gap. We discuss implications for the clinical deployment of medical imaging AI."
        ),
        categories=("cs.CV", "eess.IV"),
        submitted=_at("2025-06-07 16:40:00"),
        updated=_at("2025-06-07 16:40:00"),
        comment="Accepted to Medical Image Analysis",
        journal_ref="Med. Image Anal. 98 (2025) 103301",
        doi="10.1016/j.media.2025.103301",
    ),
    Paper(
        arxiv_id="2505.21234",
        version=1,
        title=(
            "Uncertainty Quantification for Brain Tumor Segmentation with Test-Time Augmentation"
        ),
        authors=("Sebastian Müller", "Aisha Bello"),
        abstract=(
            "Segmentation networks deployed in neuro-oncology should know when they are "
            "wrong. We compare test-time augmentation, Monte Carlo dropout and deep ensembles "
            "for voxel-wise uncertainty on the BraTS 2024 challenge data and relate "
            "uncertainty to segmentation error."
        ),
        categories=("eess.IV", "cs.CV"),
        submitted=_at("2025-05-27 07:05:00"),
        updated=_at("2025-05-27 07:05:00"),
        comment="10 pages, 4 figures, MICCAI 2025 workshop",
    ),
    Paper(
        arxiv_id="2505.18001",
        version=2,
        title="Efficient Sparse Attention for Long-Context Transformers",
        authors=("Yuki Sato", "Carlos Mendoza", "Olga Petrova"),
        abstract=(
            "Attention cost grows quadratically with context length. We propose a learned "
            "block-sparse attention pattern that keeps 97% of dense-attention quality at 128k "
            "tokens while reducing compute sixfold. Implementation in Triton is available at "
            "https://github.com/ysato/blocksparse-attn."
        ),
        categories=("cs.LG", "cs.CL"),
        submitted=_at("2025-05-23 18:00:00"),
        updated=_at("2025-06-02 09:30:00"),
        comment="NeurIPS 2025 submission",
    ),
    Paper(
        arxiv_id="2505.12345",
        version=1,
        title="Quantum Error Correction with Biased-Noise Cat Qubits",
        authors=("Marie Dubois", "Kenji Watanabe", "Samuel Osei"),
        abstract=(
            "Cat qubits stabilised by two-photon dissipation exhibit strongly biased noise. "
            "We design a repetition-code architecture that exploits the bias and estimate a "
            "logical error rate below 1e-6 with 40 physical qubits."
        ),
        categories=("quant-ph",),
        submitted=_at("2025-05-18 14:22:33"),
        updated=_at("2025-05-18 14:22:33"),
        comment="7 pages, 3 figures; supplementary material included",
        journal_ref="Phys. Rev. X 15, 021045 (2025)",
        doi="10.1103/PhysRevX.15.021045",
    ),
    Paper(
        arxiv_id="2505.09090",
        version=1,
        title="Constraints on Early Dark Energy from Combined CMB and BAO Data",
        authors=("Alessandro Rossi", "Hannah Becker", "Nikhil Rao"),
        abstract=(
            "We revisit early dark energy models in light of the latest cosmic microwave "
            "background and baryon acoustic oscillation data. The combined data disfavour an "
            "early dark energy fraction above 5% at 95% confidence."
        ),
        categories=("astro-ph.CO", "hep-ph"),
        submitted=_at("2025-05-14 20:05:00"),
        updated=_at("2025-05-14 20:05:00"),
        comment="18 pages, 9 figures, submitted to JCAP",
    ),
    Paper(
        arxiv_id="2504.01111",
        version=1,
        title="Graph Neural Networks for Molecular Property Prediction: A Benchmark",
        authors=("Wen Li", "Jakob Andersen"),
        abstract=(
            "We benchmark fourteen graph neural network architectures on twenty molecular "
            "property prediction tasks and find that careful hyperparameter tuning matters "
            "more than architecture choice."
        ),
        categories=("cs.LG", "physics.chem-ph", "q-bio.BM"),
        submitted=_at("2025-04-02 11:11:11"),
        updated=_at("2025-04-02 11:11:11"),
    ),
    Paper(
        arxiv_id="2503.20000",
        version=1,
        title="Topological Phases in Twisted Bilayer Graphene at Fractional Filling",
        authors=("Isabel García-López", "Thomas Wright"),
        abstract=(
            "Using large-scale density matrix renormalization group simulations, we map the "
            "phase diagram of twisted bilayer graphene at fractional filling and identify a "
            "fractional Chern insulator stabilised by strain."
        ),
        categories=("cond-mat.str-el", "cond-mat.mes-hall"),
        submitted=_at("2025-03-25 09:00:00"),
        updated=_at("2025-03-25 09:00:00"),
    ),
    Paper(
        arxiv_id="2502.03456",
        version=1,
        title="Federated Learning for Privacy-Preserving Medical Image Classification",
        authors=("Olivia Brown", "Mohammed Haddad", "Anna Nowicka"),
        abstract=(
            "Hospitals rarely share imaging data. We train a dermatology image classifier "
            "across seven institutions with federated averaging and differential privacy, "
            "and quantify the accuracy cost of privacy."
        ),
        categories=("cs.LG", "cs.CR", "eess.IV"),
        submitted=_at("2025-02-05 15:45:00"),
        updated=_at("2025-02-05 15:45:00"),
        comment="Accepted at ISBI 2025",
    ),
    Paper(
        arxiv_id="2409.00001",
        version=1,
        title="A Survey of Large Language Model Evaluation",
        authors=tuple(f"Author {n}" for n in range(1, 61)),
        abstract=(
            "We survey benchmarks, metrics and protocols for evaluating large language "
            "models, and discuss contamination, saturation and human preference studies."
        ),
        categories=("cs.CL",),
        submitted=_at("2024-08-30 23:59:59"),
        updated=_at("2024-08-30 23:59:59"),
        comment="60 authors; 95 pages",
    ),
    Paper(
        arxiv_id="1706.03762",
        version=7,
        title="Attention Is All You Need",
        authors=(
            "Ashish Vaswani",
            "Noam Shazeer",
            "Niki Parmar",
            "Jakob Uszkoreit",
            "Llion Jones",
            "Aidan N. Gomez",
            "Lukasz Kaiser",
            "Illia Polosukhin",
        ),
        abstract=(
            "The dominant sequence transduction models are based on complex recurrent or "
            "convolutional neural networks in an encoder-decoder configuration. We propose a "
            "new simple network architecture, the Transformer, based solely on attention "
            "mechanisms, dispensing with recurrence and convolutions entirely."
        ),
        categories=("cs.CL", "cs.LG"),
        submitted=_at("2017-06-12 17:57:34"),
        updated=_at("2023-08-02 00:41:18"),
        comment="15 pages, 5 figures",
    ),
    Paper(
        arxiv_id="0704.0001",
        version=2,
        title="Calculation of prompt diphoton production cross sections at Tevatron and LHC "
        "energies",
        authors=("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"),
        abstract=(
            "A fully differential calculation in perturbative quantum chromodynamics is "
            "presented for the production of massive photon pairs at hadron colliders."
        ),
        categories=("hep-ph",),
        submitted=_at("2007-04-02 19:18:42"),
        updated=_at("2007-07-24 20:10:27"),
        comment="37 pages, 15 figures; published version",
        journal_ref="Phys.Rev.D76:013009,2007",
        doi="10.1103/PhysRevD.76.013009",
    ),
    Paper(
        arxiv_id="hep-th/9901001",
        version=1,
        title="Conformal Field Theory and Boundary States in String Compactifications",
        authors=("J. Polchinski-Smith", "A. Sen Gupta"),
        abstract=(
            "We construct boundary states for D-branes in Calabi-Yau compactifications using "
            "the conformal field theory of the internal sector."
        ),
        categories=("hep-th",),
        submitted=_at("1999-01-01 12:00:00"),
        updated=_at("1999-01-01 12:00:00"),
        comment="LaTeX, 24 pages",
        journal_ref="Nucl.Phys. B550 (1999) 123-145",
    ),
    Paper(
        arxiv_id="math/0309136",
        version=2,
        title="Knot Floer Homology and the Four-Ball Genus",
        authors=("Peter Ozsváth-Lee", "Zoltán Szabó-Kim"),
        abstract=(
            "We use knot Floer homology to define an integer invariant of knots which bounds "
            "the four-ball genus from below."
        ),
        categories=("math.GT", "math.SG"),
        submitted=_at("2003-09-08 18:00:00"),
        updated=_at("2003-11-20 10:00:00"),
    ),
    Paper(
        arxiv_id="2506.12000",
        version=1,
        title="Self-Supervised Pretraining for Ultrasound Image Segmentation",
        authors=("Nadia Haddad", "François Girard", "Lena Müller"),
        abstract=(
            "Ultrasound images are noisy and operator dependent. We pretrain a segmentation "
            "encoder with masked image modelling on 1.2 million unlabelled frames and improve "
            "few-shot segmentation of the left ventricle."
        ),
        categories=("eess.IV", "cs.CV"),
        submitted=_at("2025-06-14 06:30:00"),
        updated=_at("2025-06-14 06:30:00"),
        comment="8 pages, 3 figures",
    ),
)


def sample_papers() -> list[Paper]:
    """Twenty sample papers, in no particular order (a fresh list each call)."""
    return list(_PAPERS)


def paper_by_id(arxiv_id: str) -> Paper:
    """The sample paper with this version-less id (``KeyError`` if there is none)."""
    for paper in _PAPERS:
        if paper.arxiv_id == arxiv_id:
            return paper
    raise KeyError(arxiv_id)


def revised(paper: Paper, version: int, updated: datetime | None = None) -> Paper:
    """``paper`` at another version (same metadata)."""
    return dataclasses.replace(paper, version=version, updated=updated or paper.updated)
