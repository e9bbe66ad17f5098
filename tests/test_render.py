import io
import re
from dataclasses import replace

from rich.console import Console

from bot.models import Reply, Snippet, Subscription, Tone
from bot.render import (
    author_line,
    clean,
    cut_at_word,
    make_post,
    more_line,
    post_text,
    reply_text,
    snippet_runs,
)
from bot.tables import print_reply_table
from tests.fakes.corpus import paper_by_id, sample_papers


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


# -- snippets and the next page


def _snippet(text: str, *words: str) -> Snippet:
    marks = sorted((text.index(word), text.index(word) + len(word)) for word in words)
    return Snippet(text, tuple(marks))


def test_snippet_runs_highlight_whole_words_and_clean_the_text() -> None:
    text = "We train\x1b[31m a diffusion\n\n  model\u202e for segmen" + "tation."
    start = text.index("diffusion")
    runs = snippet_runs(
        Snippet(text, ((start, start + 9), (text.index("segmen"), len(text) - 5))), 200
    )
    assert runs == [
        ("We train[31m a ", False),
        ("diffusion", True),
        (" model for ", False),
        ("segmentation", True),
        (".", False),
    ]


def test_snippet_runs_cut_the_marks_with_the_text() -> None:
    text = "alpha beta gamma delta epsilon"
    runs = snippet_runs(_snippet(text, "beta gamma", "epsilon"), 18)
    assert "".join(part for part, _ in runs) == "alpha beta gamma…"
    assert runs == [("alpha ", False), ("beta gamma", True), ("…", False)]
    assert snippet_runs(_snippet(text, "alpha"), 1) == []
    # Marks out of range or inside a URL highlight nothing.
    assert snippet_runs(Snippet("see https://x.org/diffusion", ((14, 90),)), 80) == [
        ("see https://x.org/diffusion", False)
    ]


def test_reply_text_shows_snippets_without_escape_codes_and_the_more_line() -> None:
    paper, other = sample_papers()[:2]
    reply = Reply(
        title="2 papers",
        papers=(paper, other),
        snippets=(_snippet("a diffusion model " * 20, "diffusion"),),
        more='search ti:"diffusion model" --page 2',
    )
    text = reply_text(reply, width=60)
    lines = text.splitlines()
    index = lines.index(f"     {paper.abs_url}")
    assert lines[index + 1].startswith("     a diffusion model a diffusion")
    assert lines[index + 1].endswith("…") and len(lines[index + 1]) <= 60
    assert lines[index + 2].startswith("  2. ")  # the second paper has no snippet
    assert "\x1b" not in text
    assert lines[-1] == 'More: /arxiv search ti:"diffusion model" --page 2'
    shell = reply_text(reply, shell=True).splitlines()[-1]
    assert shell == "More: arxiv-bot search 'ti:\"diffusion model\" --page 2'"


def test_more_line_cleans_what_was_typed() -> None:
    assert more_line("search \x1b[2Jmri --page 2") == "More: /arxiv search [2Jmri --page 2"
    assert more_line("similar 2506.11674 --page 2", shell=True) == (
        "More: /arxiv similar 2506.11674 --page 2"
    )


def test_table_shows_snippets_in_reverse_video_and_the_more_line() -> None:
    paper = sample_papers()[0]
    reply = Reply(
        title="1 paper",
        papers=(paper,),
        snippets=(_snippet("[bold]a[/bold] diffusion model", "diffusion"),),
        more="search mri --page 2",
    )
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=200, color_system="standard")
    print_reply_table(reply, console)
    shown = output.getvalue()
    assert re.search(r"\x1b\[[0-9;]*7[0-9;]*mdiffusion\x1b\[0m", shown), repr(shown)
    assert "[bold]a[/bold]" in shown  # never read as markup
    assert "More: /arxiv search mri --page 2" in shown
    plain = Console(record=True, width=200, color_system=None)
    print_reply_table(reply, plain, shell=True)
    exported = plain.export_text()
    assert "diffusion model" in exported and "\x1b" not in exported
    assert "More: arxiv-bot search 'mri --page 2'" in exported
