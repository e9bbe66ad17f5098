from dataclasses import replace

from bot.models import Reply, Subscription, Tone
from bot.render import author_line, clean, cut_at_word, make_post, post_text, reply_text
from tests.fakes.corpus import paper_by_id


def test_author_line_keeps_the_first_eight_then_et_al() -> None:
    authors = [f"Author {n}" for n in range(1, 301)]
    line = author_line(authors)
    assert line.startswith("Author 1, Author 2,")
    assert "Author 8 et al. (300 authors)" in line
    assert "Author 9," not in line
    assert author_line(authors[:8]) == ", ".join(authors[:8])


def test_cut_at_word_never_splits_a_word_or_exceeds_the_limit() -> None:
    text = "Accurate delineation of organ and lesion boundaries remains a central challenge"
    cut = cut_at_word(text, 40)
    assert len(cut) <= 40
    assert cut.endswith("…")
    assert text.startswith(cut[:-1])
    assert cut[:-1].split()[-1] in text.split()
    assert cut_at_word("short", 40) == "short"


def test_clean_drops_control_and_bidi_characters() -> None:
    assert clean("a\x00b\x1b[1m c\u202e\n\n d\u200b") == "ab[1m c d"


def test_post_names_matching_subscriptions() -> None:
    from datetime import UTC, datetime

    paper = paper_by_id("2506.11674")
    matched = (Subscription(4, 1, 'ti:"medical imaging"', datetime(2025, 1, 1, tzinfo=UTC)),)
    text = post_text(make_post(paper, matched), channel="lab")
    assert text.splitlines()[0] == "#lab · [2506.11674v1] eess.IV"
    assert 'Matched:  #4 ti:"medical imaging"' in text


def test_revised_paper_shows_update_and_version() -> None:
    from datetime import UTC, datetime

    paper = replace(paper_by_id("2506.11674"), version=3, updated=datetime(2025, 7, 2, tzinfo=UTC))
    text = post_text(make_post(paper))
    assert "Submitted 2025-06-13, updated 2025-07-02 (v3)" in text
    assert "https://arxiv.org/html/2506.11674" in text


def test_reply_text_marks_errors_and_numbers_results() -> None:
    paper = paper_by_id("2506.11674")
    text = reply_text(Reply(title="1 papers match x", papers=(paper,)))
    assert "  1. Boundary-Aware Diffusion Models" in text
    assert reply_text(Reply(title="Nope", tone=Tone.ERROR)).startswith("✗ Nope")
