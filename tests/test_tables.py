import io
import re
from dataclasses import replace

from rich.console import Console

from bot.models import Reply, Tone
from bot.render import make_post
from bot.tables import print_reply_table
from tests.fakes.corpus import paper_by_id, sample_papers


def _rendered(reply: Reply) -> str:
    console = Console(record=True, width=160, color_system=None)
    print_reply_table(reply, console)
    return console.export_text()


def test_results_table_has_a_row_per_paper() -> None:
    papers = tuple(sample_papers()[:3])
    text = _rendered(Reply(title="3 papers match x", papers=papers))
    assert "3 papers match x" in text
    for column in ("Title", "Authors", "arXiv", "Category", "Submitted"):
        assert column in text
    for paper in papers:
        assert paper.versioned_id in text


def test_paper_table_lists_fields_and_code_link() -> None:
    text = _rendered(
        Reply(title="arXiv:2506.11674v1", posts=(make_post(paper_by_id("2506.11674")),))
    )
    assert "Boundary-Aware Diffusion Models for Medical Image Segmentation" in text
    assert "https://github.com/lmueller/bad-seg" in text
    assert "eess.IV (Image and Video Processing)" in text


def test_untrusted_text_is_never_read_as_rich_markup() -> None:
    paper = replace(paper_by_id("2506.11674"), title="[bold red]Injected[/] [link=x]t[/link]")
    text = _rendered(Reply(title="x", papers=(paper,), tone=Tone.ERROR))
    assert "[bold red]Injected[/]" in text


def test_arxiv_ids_are_terminal_links_to_the_abstract() -> None:
    """On a terminal the id is an OSC 8 hyperlink (``ESC ] 8 ; ; URL``) to its abstract."""
    paper = paper_by_id("2506.11674")
    for reply in (
        Reply(title="1 paper matches x", papers=(paper,)),
        Reply(title="arXiv:2506.11674v1", posts=(make_post(paper),)),
    ):
        output = io.StringIO()
        console = Console(file=output, force_terminal=True, width=160, color_system="standard")
        print_reply_table(reply, console)
        shown = output.getvalue()
        opener = r"\x1b]8;[^;]*;" + re.escape(paper.abs_url) + r"\x1b\\"
        assert re.search(opener + re.escape(paper.versioned_id), shown), repr(shown)
