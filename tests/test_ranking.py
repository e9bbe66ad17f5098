"""The per-channel ranking model (bot.ranking): real abstracts, fallback order, odd input.

The abstracts in ``tests/data/abstracts.json`` are real arXiv papers of six archives
(the file says where they come from); a "day" mixes held-out papers of every archive.
"""

from __future__ import annotations

import random
import statistics
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.query import parse_query
from bot.ranking import (
    MIN_POSITIVE,
    MatchStrength,
    PaperFeedback,
    Ranking,
    fallback_order,
    match_strength,
    rank,
    strength_for,
)
from tests.recording import real_papers

T0 = datetime(2025, 6, 16, tzinfo=UTC)


@cache
def _corpus() -> tuple[tuple[Paper, ...], dict[str, str]]:
    """The real papers, and each one's topic."""
    found = real_papers()
    return tuple(paper for paper, _ in found), {paper.arxiv_id: topic for paper, topic in found}


def _by_topic() -> dict[str, list[Paper]]:
    papers, topics = _corpus()
    grouped: dict[str, list[Paper]] = {}
    for paper in papers:
        grouped.setdefault(topics[paper.arxiv_id], []).append(paper)
    return grouped


TOPICS = sorted(_by_topic())


def _liked(papers: Sequence[Paper]) -> list[PaperFeedback]:
    return [PaperFeedback(paper, 1) for paper in papers]


def _disliked(papers: Sequence[Paper]) -> list[PaperFeedback]:
    return [PaperFeedback(paper, -1) for paper in papers]


def _day(favoured: str, *, liked: int = 12, per_topic: int = 6) -> tuple[list[Paper], list[Paper]]:
    """The papers the channel liked (the first of one topic) and a mixed day of the next
    ``per_topic`` papers of every topic, shuffled."""
    grouped = _by_topic()
    likes = grouped[favoured][:liked]
    day = [
        paper
        for topic in TOPICS
        for paper in grouped[topic][liked if topic == favoured else 0 :][:per_topic]
    ]
    random.Random(favoured).shuffle(day)
    return likes, day


def _paper(
    arxiv_id: str, title: str = "A paper", abstract: str = "About it.", *, age_hours: int = 0
) -> Paper:
    submitted = T0 - timedelta(hours=age_hours)
    return Paper(arxiv_id, 1, title, (), abstract, ("cs.LG",), submitted, submitted)


# -- ranking real abstracts ------------------------------------------------------------


@pytest.mark.parametrize("favoured", TOPICS)
def test_feedback_on_one_topic_lifts_its_held_out_papers_into_the_top_third(
    favoured: str,
) -> None:
    likes, day = _day(favoured)
    _, topics = _corpus()
    ranking = rank(day, _liked(likes))
    assert ranking.trained
    third = ranking.order[: len(day) // 3]
    on_topic = [paper.arxiv_id for paper in day if topics[paper.arxiv_id] == favoured]
    in_top_third = [arxiv_id for arxiv_id in on_topic if arxiv_id in third]
    assert len(in_top_third) >= len(on_topic) * 2 / 3, (favoured, ranking.order)
    assert topics[ranking.order[0]] == favoured


def test_precision_at_5_rises_with_feedback() -> None:
    _, topics = _corpus()
    before: list[float] = []
    after: list[float] = []
    for favoured in TOPICS:
        likes, day = _day(favoured)
        for ranking, figures in ((rank(day), before), (rank(day, _liked(likes)), after)):
            figures.append(sum(topics[i] == favoured for i in ranking.order[:5]) / 5)
    assert statistics.mean(after) >= 0.8
    assert statistics.mean(after) > statistics.mean(before) + 0.3  # before: newest first


def test_disliked_feedback_pushes_a_topic_down() -> None:
    _, topics = _corpus()
    grouped = _by_topic()
    likes, day = _day("astrophysics")
    disliked = "particle physics"
    dislikes = grouped[disliked][-10:]  # not in the day, which holds the first ones
    plain = rank(day, _liked(likes))
    pushed = rank(day, [*_liked(likes), *_disliked(dislikes)])

    def mean_position(ranking: Ranking) -> float:
        return statistics.mean(
            i for i, arxiv_id in enumerate(ranking.order) if topics[arxiv_id] == disliked
        )

    assert mean_position(pushed) > mean_position(plain) + 3


def test_background_papers_are_never_ranked() -> None:
    papers, _ = _corpus()
    likes, day = _day("quantum physics")
    background = [paper for paper in papers if paper not in day and paper not in likes]
    ranking = rank(day, _liked(likes), background=background)
    assert sorted(ranking.order) == sorted(paper.arxiv_id for paper in day)


# -- picks and reasons -----------------------------------------------------------------


def test_top_picks_lead_the_order_and_each_names_a_similar_liked_paper() -> None:
    likes, day = _day("mathematics")
    ranking = rank(day, _liked(likes))
    assert 1 <= len(ranking.top_picks) <= 3
    assert ranking.top_picks == set(ranking.order[: len(ranking.top_picks)])
    liked_ids = {paper.arxiv_id for paper in likes}
    assert ranking.reasons.keys() == ranking.top_picks
    assert set(ranking.reasons.values()) <= liked_ids


def test_the_reason_is_the_most_similar_liked_paper() -> None:
    likes, day = _day("astrophysics")
    twin_of = likes[4]
    twin = _paper("2506.99999", twin_of.title, twin_of.abstract)
    ranking = rank([*day, twin], _liked(likes))
    assert ranking.order[0] == twin.arxiv_id
    assert ranking.reasons[twin.arxiv_id] == twin_of.arxiv_id


def test_no_picks_before_training_nor_when_scores_are_all_alike() -> None:
    likes, day = _day("computer science")
    assert rank(day, _liked(likes[:5])).top_picks == frozenset()
    same = [
        _paper(f"2506.0000{i}", "Spin glass dynamics", "Spin glass dynamics.") for i in range(5)
    ]
    ranking = rank(same, _liked(likes))
    assert ranking.trained
    assert ranking.top_picks == frozenset()


def test_picks_are_capped_by_share_of_a_small_harvest() -> None:
    likes, day = _day("astrophysics")
    ranking = rank(day[:4], _liked(likes), max_picks=3, pick_share=0.2)
    assert len(ranking.top_picks) <= 1


# -- the permutation property -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=348), max_size=30),
    liked=st.lists(st.integers(min_value=0, max_value=348), max_size=25),
    disliked=st.lists(st.integers(min_value=0, max_value=348), max_size=10),
)
def test_the_order_is_always_a_permutation_of_the_candidates(
    picks: list[int], liked: list[int], disliked: list[int]
) -> None:
    papers, _ = _corpus()
    candidates = [papers[i] for i in picks]  # duplicates allowed: each kept as often
    feedback = [*_liked([papers[i] for i in liked]), *_disliked([papers[i] for i in disliked])]
    ranking = rank(candidates, feedback, min_positive=3)
    assert sorted(ranking.order) == sorted(paper.arxiv_id for paper in candidates)
    assert ranking.top_picks <= set(ranking.order)
    assert [p.arxiv_id for p in ranking.ordered(candidates)] == list(ranking.order)


# -- the fallback order -----------------------------------------------------------------


def test_below_min_positive_title_matches_come_first_then_newest() -> None:
    query = parse_query('ti:"medical imaging" OR abs:segmentation')
    papers = [
        _paper("2506.00001", "Graph theory", "Nothing relevant.", age_hours=1),
        _paper("2506.00002", "Lung segmentation", "Medical imaging of lungs.", age_hours=5),
        _paper("2506.00003", "Old medical image archive", "Scans.", age_hours=30),
        _paper("2506.00004", "Tumour maps", "A segmentation method.", age_hours=2),
        _paper("2506.00005", "Medical imaging at scale", "Pipelines.", age_hours=3),
    ]
    feedback = _liked(papers[:1]) * (MIN_POSITIVE + 5)  # many events, one paper
    ranking = rank(papers, feedback, strength=strength_for([query]))
    assert not ranking.trained
    # Title matches (any field's words in the title) newest first, then the abstract-only one.
    assert ranking.order == ("2506.00005", "2506.00002", "2506.00003", "2506.00004", "2506.00001")
    assert ranking.top_picks == frozenset()


def test_a_precomputed_strength_mapping_orders_the_same() -> None:
    papers = [_paper(f"2506.0000{i}", age_hours=i) for i in range(4)]
    strengths = {"2506.00002": 2, "2506.00003": 1}  # missing ids count as 0
    ranking = rank(papers, strength=strengths)
    assert ranking.order == ("2506.00002", "2506.00003", "2506.00000", "2506.00001")
    assert [papers[i].arxiv_id for i in fallback_order(papers, strengths)] == list(ranking.order)


def test_without_strength_the_fallback_is_newest_first_then_higher_id() -> None:
    papers = [_paper("2506.00001"), _paper("2506.00003", age_hours=1), _paper("2506.00002")]
    assert rank(papers).order == ("2506.00002", "2506.00001", "2506.00003")


def test_enough_positives_switch_to_the_model_and_min_positive_is_an_argument() -> None:
    likes, day = _day("quantum physics", liked=MIN_POSITIVE)
    assert rank(day, _liked(likes)).trained
    assert not rank(day, _liked(likes[:-1])).trained
    assert not rank(day, _liked(likes), min_positive=MIN_POSITIVE + 1).trained
    assert rank(day, _liked(likes[:3]), min_positive=3).trained


def test_feedback_events_on_one_paper_add_up() -> None:
    likes, day = _day("particle physics", liked=MIN_POSITIVE)
    cancelled = [*_liked(likes), *_disliked(likes[:1])]  # one like undone by a dislike
    assert not rank(day, cancelled).trained
    assert rank(day, [*cancelled, *_liked(likes[:1])]).trained


# -- match strength -----------------------------------------------------------------------


def test_match_strength_reads_title_then_abstract_and_ignores_negated_terms() -> None:
    paper = _paper("2506.00001", "Diffusion models for MRI", "We denoise brain scans.")
    cases = {
        "ti:diffusion": MatchStrength.TITLE,
        'abs:"brain scan"': MatchStrength.ABSTRACT,
        "abs:mri": MatchStrength.TITLE,  # found in the title: the stronger match
        '"models for MRI"': MatchStrength.TITLE,
        '"MRI models"': MatchStrength.NONE,  # a phrase needs its words in order
        "cat:cs.LG ANDNOT ti:diffusion": MatchStrength.NONE,
        "au:hinton OR cat:cs.LG": MatchStrength.NONE,
        "ti:quantum OR abs:denoising": MatchStrength.ABSTRACT,  # stemmed: denoise
    }
    for text, expected in cases.items():
        assert match_strength(paper, [parse_query(text)]) is expected, text
    both = [parse_query("abs:brain"), parse_query("ti:mri")]
    assert match_strength(paper, both) is MatchStrength.TITLE


# -- odd input ----------------------------------------------------------------------------


def test_no_candidates() -> None:
    likes, _ = _day("astrophysics")
    for feedback in ([], _liked(likes)):
        ranking = rank([], feedback)
        assert ranking.order == ()
        assert not ranking.trained


@pytest.mark.parametrize(
    ("title", "abstract"),
    [("", ""), ("The of and", "It is what it is, and they were there."), ("$$", "42 17")],
)
def test_texts_without_usable_words_fall_back_without_raising(title: str, abstract: str) -> None:
    liked = [_paper(f"2505.0000{i}", title, abstract) for i in range(MIN_POSITIVE)]
    day = [_paper(f"2506.0000{i}", title, abstract, age_hours=i) for i in range(3)]
    ranking = rank(day, _liked(liked))
    assert not ranking.trained
    assert ranking.order == ("2506.00000", "2506.00001", "2506.00002")


def test_empty_liked_texts_among_real_ones_do_not_raise() -> None:
    _, day = _day("mathematics")
    empty = [_paper(f"2505.0000{i}", "", "") for i in range(MIN_POSITIVE)]
    ranking = rank([*day, _paper("2506.00001", "", "")], _liked(empty))
    assert len(ranking.order) == len(day) + 1


def test_no_negative_at_all_falls_back() -> None:
    likes, _ = _day("astrophysics")
    ranking = rank(likes, _liked(likes))  # every candidate liked, no background
    assert not ranking.trained
    assert sorted(ranking.order) == sorted(paper.arxiv_id for paper in likes)


def test_a_single_candidate() -> None:
    likes, day = _day("astrophysics")
    ranking = rank(day[:1], _liked(likes))
    assert ranking.order == (day[0].arxiv_id,)
    assert ranking.top_picks == frozenset()


def test_concurrent_rankings_in_threads_agree_with_sequential_ones() -> None:
    jobs = [_day(topic) for topic in TOPICS]
    expected = [rank(day, _liked(likes)) for likes, day in jobs]
    results: list[Ranking | None] = [None] * len(jobs)

    def run(index: int) -> None:
        likes, day = jobs[index]
        results[index] = rank(day, _liked(likes))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected
