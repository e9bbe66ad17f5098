"""Benchmark the per-channel ranking model (``bot.ranking``): how well, and how fast.

Run from the repository root::

    .venv/bin/python -m bench.ranking
    .venv/bin/python -m bench.ranking --splits 10 --repeat 9

Quality, on real abstracts: ``tests/data/abstracts.json`` holds 349 real arXiv papers of
six archives (astrophysics, computer science, condensed matter, mathematics, particle
physics, quantum physics; the file says where they come from). For each archive and
each of ``--splits`` random splits, a channel likes 12 papers of that archive and
dislikes 4 of the others; its "day" is 8 other papers of every archive (48, shuffled).
Precision@5 is the share of the day's first five papers that are of the liked archive,
before feedback (the fallback order: match strength, then newest first; the channel's
subscription is taken to match every paper equally, so newest first) and after (the
trained model). Chance is 1/6. Also printed: the share of the liked archive's papers of
the day that the trained order puts in its top third, and the share of top picks that
are of the liked archive.

Speed, on synthetic papers (``tests/fakes/workload.py``: arXiv-like titles and
abstracts, about 1,200 characters each; real abstracts are similar): one retrain of a
channel's model from 1,000 feedback events (on 1,000 distinct papers, 70 % likes, the
worst case for the vocabulary) and the ranking of a 2,000-paper harvest, that is one
:func:`bot.ranking.rank` call: vectorizing 3,000 texts, training, scoring, picks and
reasons. Pinned to one core (``os.sched_setaffinity``, where the OS has it); best and
median wall time and the best CPU time (which other processes on a busy machine do not
inflate) of ``--repeat`` runs after one warm-up. Once more with 2,000 background papers.

Left out of the timing: reading the feedback and the papers from the store, computing
match strength (no ``strength`` is passed: with it, add about the matcher's tokenizing
of 2,000 titles and abstracts), the hop to a worker thread (``asyncio.to_thread``), and
generating the synthetic papers.

This is a script that prints figures, not a test: pytest only collects ``tests/``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence

from bot.models import Paper
from bot.ranking import PaperFeedback, Ranking, rank
from tests.recording import real_papers

LIKED, DISLIKED, PER_TOPIC = 12, 4, 8


def load_abstracts() -> tuple[list[Paper], dict[str, str]]:
    """The real papers of ``tests/data/abstracts.json`` and each one's topic."""
    found = real_papers()
    return [paper for paper, _ in found], {paper.arxiv_id: topic for paper, topic in found}


def precision_at(ranking: Ranking, topics: dict[str, str], topic: str, k: int = 5) -> float:
    return sum(topics[arxiv_id] == topic for arxiv_id in ranking.order[:k]) / k


def quality(splits: int) -> None:
    papers, topics = load_abstracts()
    names = sorted(set(topics.values()))
    print(
        f"quality: {len(papers)} real abstracts, {len(names)} topics, {splits} splits each; "
        f"{LIKED} liked + {DISLIKED} disliked, a day of {PER_TOPIC} x {len(names)} papers"
    )
    header = ("liked topic", "P@5 before", "P@5 after", "top third", "picks on topic")
    print(f"  {header[0]:<18}" + "".join(f" {title:>10}" for title in header[1:]))
    overall: dict[str, list[float]] = {"before": [], "after": [], "third": [], "picks": []}
    for name in names:
        figures: dict[str, list[float]] = {key: [] for key in overall}
        for split in range(splits):
            rng = random.Random(f"{name}/{split}")
            own = [paper for paper in papers if topics[paper.arxiv_id] == name]
            rng.shuffle(own)
            likes = own[:LIKED]
            others = [paper for paper in papers if topics[paper.arxiv_id] != name]
            rng.shuffle(others)
            dislikes = others[:DISLIKED]
            taken = {paper.arxiv_id for paper in (*likes, *dislikes)}
            day: list[Paper] = []
            for topic in names:
                pool = [
                    p for p in papers if topics[p.arxiv_id] == topic and p.arxiv_id not in taken
                ]
                day.extend(rng.sample(pool, PER_TOPIC))
            rng.shuffle(day)
            feedback = [PaperFeedback(p, 1) for p in likes] + [
                PaperFeedback(p, -1) for p in dislikes
            ]
            before, after = rank(day), rank(day, feedback)
            on_topic = [p.arxiv_id for p in day if topics[p.arxiv_id] == name]
            third = set(after.order[: len(day) // 3])
            figures["before"].append(precision_at(before, topics, name))
            figures["after"].append(precision_at(after, topics, name))
            figures["third"].append(sum(i in third for i in on_topic) / len(on_topic))
            if after.top_picks:
                figures["picks"].append(
                    sum(topics[i] == name for i in after.top_picks) / len(after.top_picks)
                )
        for key, values in figures.items():
            overall[key].extend(values)
        print(
            f"  {name:<18} {statistics.mean(figures['before']):>10.2f}"
            f" {statistics.mean(figures['after']):>10.2f}"
            f" {statistics.mean(figures['third']):>10.0%}"
            f" {_mean(figures['picks']):>10}"
        )
    print(
        f"  {'all':<18} {statistics.mean(overall['before']):>10.2f}"
        f" {statistics.mean(overall['after']):>10.2f}"
        f" {statistics.mean(overall['third']):>10.0%} {_mean(overall['picks']):>10}"
    )


def _mean(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.0%}" if values else "none"


def speed(repeat: int) -> None:
    from tests.fakes.workload import synthetic_papers

    pinned = "not pinned (no os.sched_setaffinity)"
    if hasattr(os, "sched_setaffinity"):
        core = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {core})
        pinned = f"pinned to core {core}"
    started = time.perf_counter()
    papers = synthetic_papers(5000, seed=7)
    generated = time.perf_counter() - started
    rng = random.Random(7)
    feedback = [PaperFeedback(paper, 1 if rng.random() < 0.7 else -1) for paper in papers[:1000]]
    harvest, background = papers[1000:3000], papers[3000:]
    print(
        f"speed: {len(feedback):,} feedback events, {len(harvest):,} papers to rank, {pinned}; "
        f"{len(papers):,} synthetic papers generated in {generated:.1f} s (not counted)"
    )
    for label, extra in (("no background", ()), (f"{len(background):,} background", background)):
        rank(harvest, feedback, background=extra)  # warm-up: imports, caches
        times: list[float] = []
        cpu: list[float] = []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            ranking = rank(harvest, feedback, background=extra)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        assert ranking.trained and len(ranking.order) == len(harvest)
        print(
            f"  retrain + rank, {label:<16} best {min(times):.3f} s, "
            f"median {statistics.median(times):.3f} s, CPU best {min(cpu):.3f} s "
            f"over {repeat} runs ({len(ranking.top_picks)} top picks)"
        )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__)
    parser.add_argument("--splits", type=int, default=5, help="random splits per topic")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of the speed part")
    options = parser.parse_args(argv)
    quality(options.splits)
    speed(options.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
