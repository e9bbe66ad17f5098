from bot.links import find_code_links


def test_finds_code_links_in_order_without_trailing_punctuation() -> None:
    abstract = (
        "Code is available at https://github.com/org/repo. Weights: "
        "huggingface.co/org/model), mirror at www.gitlab.com/group/project/ and again "
        "https://github.com/org/repo"
    )
    assert find_code_links(abstract) == (
        "https://github.com/org/repo",
        "https://huggingface.co/org/model",
        "https://gitlab.com/group/project",
    )


def test_searches_every_text_and_skips_missing_ones() -> None:
    assert find_code_links(None, "see https://github.com/a/b", "") == ("https://github.com/a/b",)


def test_ignores_lookalikes_and_bare_hosts() -> None:
    text = "https://example.com/github.com/x user@github.com github.com/ and githubXcom/a"
    assert find_code_links(text) == ()
