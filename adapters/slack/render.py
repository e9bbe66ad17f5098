"""Slack Block Kit messages from the core's neutral models (pure functions, no I/O).

Every piece of untrusted text (titles, authors, abstracts, comments, queries) is cleaned,
cut to fit, then escaped for mrkdwn with :func:`escape`, and every mrkdwn text object
carries ``"verbatim": True`` so Slack does not auto-link channel names or mentions.
Links the bot builds itself are ``<url|label>`` with the label escaped.

Every message stays within Block Kit's limits: 50 blocks, 3,000 characters a section,
150 a header, 10 context elements, 75 a button's text, 2,000 a button's value.

A result's snippet (:class:`~bot.models.Snippet`) shows under its line with the marked
words in bold (:func:`snippet_mrkdwn`); a reply with a next page (``Reply.more``) ends
with a "Next" button (:data:`NEXT_ACTION`) whose value is the command to run.

A card shows what the core knows beyond arXiv (:mod:`bot.signals`): a top pick's
"⭐ Top pick · like … that you liked" above the title, the TL;DR in italics under it, and
the Hugging Face line after the details. A result list puts a paper's upvotes ("▲ 123")
before its title and its code repository after; a digest's list marks top picks with ⭐.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.models import (
    CommunitySignals,
    Digest,
    Paper,
    PaperPost,
    Reply,
    Snippet,
    Tone,
    Visibility,
)
from bot.render import (
    ELLIPSIS,
    author_line,
    category_line,
    clean,
    cut_at_word,
    date_line,
    digest_line_suffix,
    digest_title,
    format_date,
    matched_line,
    shown_abstract,
    shown_title,
    snippet_for,
    snippet_runs,
)
from bot.signals import (
    TLDR_CHARS,
    TLDR_LABEL,
    TOP_PICK,
    Link,
    code_piece,
    community_line,
    signal_for,
    tldr_text,
    top_pick_line,
    votes_mark,
)

__all__ = [
    "CITE_ACTION",
    "FEEDBACK_DOWN_ACTION",
    "FEEDBACK_UP_ACTION",
    "MAX_BLOCKS",
    "MAX_BUTTON_TEXT",
    "MAX_BUTTON_VALUE",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_FALLBACK",
    "MAX_HEADER",
    "MAX_SECTION",
    "NEXT_ACTION",
    "SHARE_ACTION",
    "BlockDict",
    "SlackMessage",
    "SlackPart",
    "digest_parts",
    "escape",
    "paper_card",
    "plain",
    "post_parts",
    "reply_message",
    "snippet_mrkdwn",
]

BlockDict = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_URL = 3000
MAX_FALLBACK = 500
"""Raw characters of fallback text before escaping (at most 5x longer once escaped)."""

SHARE_ACTION = "arxiv_share"
NEXT_ACTION = "arxiv_next"
FEEDBACK_UP_ACTION = "arxiv_feedback_up"
FEEDBACK_DOWN_ACTION = "arxiv_feedback_down"
FEEDBACK_BUTTONS = (("👍 relevant", FEEDBACK_UP_ACTION), ("👎 not for us", FEEDBACK_DOWN_ACTION))
"""The feedback buttons of a paper's own post (each mode; not a digest's cards)."""
CITE_ACTION = "arxiv_cite"
"""The "Cite" button next to the feedback buttons: its value is the paper's arXiv id."""
TITLE_CHARS = 250
LIST_TITLE_CHARS = 150
FIELD_CHARS = 500
SNIPPET_CHARS = 500
RESULT_SNIPPET_CHARS = 600
"""A result's snippet line at most, as sent (escaped, bold markers and all)."""
SNIPPET_INDENT = "\N{EM SPACE}"
DIGEST_LIST_MAX = 50
CODE_BUTTONS_MAX = 3

_TONE_EMOJI = {Tone.INFO: "", Tone.SUCCESS: ":white_check_mark: ", Tone.ERROR: ":warning: "}


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One Slack message: fallback ``text``, Block Kit ``blocks``, and thread replies.

    ``thread`` holds messages to post as replies in the thread this message starts
    (full abstracts, a digest's cards); they have no threads of their own.
    """

    text: str
    blocks: tuple[BlockDict, ...]
    thread: tuple[SlackMessage, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        """Keyword arguments for ``chat.postMessage`` / ``respond()`` (channel not set)."""
        return {
            "text": self.text,
            "blocks": list(self.blocks),
            "unfurl_links": False,
            "unfurl_media": False,
        }


def escape(text: str) -> str:
    """Escape mrkdwn's control characters: ``&``, ``<``, ``>`` (in that order)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKUP = re.compile(r"(?<!\w)[*_~]|[*_~](?!\w)|`")
"""mrkdwn's bold, italic, strike and code markers where Slack would read them as such
(at a word's edge; ``snake_case`` and ``L_1`` are left alone), and every backtick."""
_LOOKALIKES = {
    "*": "\N{ASTERISK OPERATOR}",
    "_": "\N{MODIFIER LETTER LOW MACRON}",
    "~": "\N{TILDE OPERATOR}",
    "`": "\N{MODIFIER LETTER GRAVE ACCENT}",
}


def plain(text: str) -> str:
    """Untrusted text for mrkdwn: escaped, and with formatting markers swapped for
    look-alikes (mrkdwn has no way to escape them), so it shows as typed."""
    return escape(_MARKUP.sub(lambda marker: _LOOKALIKES[marker.group()], text))


def _safe(text: str, limit: int) -> str:
    """Untrusted text as one plain line, cut at a word to ``limit`` raw characters."""
    return plain(cut_at_word(clean(text), limit))


LOOKALIKE_ASTERISK = _LOOKALIKES["*"]


def _bold(text: str) -> str:
    """``text`` in bold; an asterisk inside would end the bold early, so it becomes the
    look-alike :data:`LOOKALIKE_ASTERISK`."""
    return f"*{text.replace('*', LOOKALIKE_ASTERISK)}*"


def _link(url: str, label: str) -> str:
    """A link the bot builds: ``<url|label>``; ``label`` must already be escaped."""
    return f"<{url}|{label}>"


def _signal_link(link: Link) -> str:
    """A link from :mod:`bot.signals`: its URL is safe, its label untrusted."""
    return _link(link.url, plain(link.label))


def _mrkdwn(text: str) -> BlockDict:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> BlockDict:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> BlockDict:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def _header(text: str) -> BlockDict:
    """A header block; ``text`` is trusted plain text (cut to 150 characters)."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": cut_at_word(text, MAX_HEADER), "emoji": True},
    }


def _button(label: str, action_id: str, *, url: str = "", value: str = "") -> BlockDict:
    button: BlockDict = {
        "type": "button",
        "text": {
            "type": "plain_text",
            "text": cut_at_word(label, MAX_BUTTON_TEXT),
            "emoji": True,
        },
        "action_id": action_id,
    }
    if url:
        button["url"] = url
    if value:
        button["value"] = value
    return button


def _hard_split(piece: str, limit: int) -> list[str]:
    """Split escaped ``piece`` into parts of at most ``limit``, never inside an entity."""
    parts: list[str] = []
    while len(piece) > limit:
        cut = limit
        amp = piece.rfind("&", max(cut - 4, 0), cut)
        if amp > 0 and piece.find(";", amp) >= cut:
            cut = amp
        parts.append(piece[:cut])
        piece = piece[cut:]
    if piece:
        parts.append(piece)
    return parts


def _pack(pieces: Iterable[str], limit: int, sep: str) -> list[str]:
    """Join escaped ``pieces`` with ``sep`` into chunks of at most ``limit`` characters."""
    chunks: list[str] = []
    current = ""
    for whole in pieces:
        for piece in _hard_split(whole, limit):
            if current and len(current) + len(sep) + len(piece) <= limit:
                current += sep + piece
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def _abstract_sections(abstract: str) -> list[BlockDict]:
    """The whole abstract as sections of at most 3,000 characters, split at words."""
    words = [plain(word) for word in clean(abstract).split(" ") if word]
    return [_section(chunk) for chunk in _pack(words, MAX_SECTION, " ")]


def _fit(
    head: list[BlockDict], groups: Sequence[list[BlockDict]], tail: list[BlockDict]
) -> list[BlockDict]:
    """``head``, as many whole ``groups`` as fit in 50 blocks, a note of the rest, ``tail``."""
    room = MAX_BLOCKS - len(head) - len(tail)
    body: list[BlockDict] = []
    for shown, group in enumerate(groups):
        rest = len(groups) - shown
        reserve = 1 if rest > 1 else 0  # the "… and N more" note, unless this is the last
        if len(body) + len(group) + reserve > room:
            body.append(_context(f"… and {rest:,} more not shown"))
            break
        body.extend(group)
    return (head + body + tail)[:MAX_BLOCKS]


def _fallback(text: str) -> str:
    """Notification text: plain, cut, escaped (well under 3,000 characters)."""
    return _safe(text, MAX_FALLBACK)


def _title_link(paper: Paper, limit: int) -> str:
    return _link(paper.abs_url, _safe(shown_title(paper), limit) or escape(paper.versioned_id))


def _buttons(post: PaperPost, *, feedback: bool = False) -> BlockDict:
    """Abstract, PDF and Code links; with ``feedback``, the two feedback buttons."""
    paper = post.paper
    elements = [
        _button("Abstract", "arxiv_open_abs", url=paper.abs_url),
        _button("PDF", "arxiv_open_pdf", url=paper.pdf_url),
    ]
    codes = [link for link in post.code_links if len(link) <= MAX_BUTTON_URL]
    for number, link in enumerate(codes[:CODE_BUTTONS_MAX], start=1):
        label = "Code" if number == 1 else f"Code {number}"
        elements.append(_button(label, f"arxiv_open_code_{number}", url=link))
    if feedback:
        elements.extend(_button(label, action) for label, action in FEEDBACK_BUTTONS)
        elements.append(_button("Cite", CITE_ACTION, value=paper.arxiv_id))
    return {"type": "actions", "elements": elements}


def _revision_block(post: PaperPost) -> BlockDict:
    paper = post.paper
    return _context(
        f":repeat: Revised {_title_link(paper, LIST_TITLE_CHARS)} "
        f"`{escape(paper.versioned_id)}` · updated {format_date(paper.updated)}"
    )


def _card_blocks(
    post: PaperPost, *, full_abstract: bool, feedback: bool = False
) -> list[BlockDict]:
    """A paper card's blocks; the abstract is a snippet unless ``full_abstract``;
    ``feedback`` adds the feedback buttons."""
    if post.revised:
        return [_revision_block(post)]
    paper = post.paper
    blocks = [_section(_bold(_title_link(paper, TITLE_CHARS)))]
    if pick := top_pick_line(post, _signal_link):
        blocks.insert(0, _context(pick))
    if tldr := _safe(tldr_text(post), TLDR_CHARS):
        blocks.append(_section(f"_{TLDR_LABEL} {tldr}_"))
    details = [
        f"`{escape(paper.versioned_id)}` · {_safe(category_line(paper), FIELD_CHARS)}",
        _safe(date_line(paper), FIELD_CHARS),
    ]
    if paper.authors:
        details.insert(0, _safe(author_line(paper.authors), FIELD_CHARS))
    if paper.comment:
        details.append(f"Comment: {_safe(paper.comment, FIELD_CHARS)}")
    if paper.journal_ref:
        details.append(f"Journal: {_safe(paper.journal_ref, FIELD_CHARS)}")
    blocks.append(_context(*details))
    if community := community_line(post.community, _signal_link):
        blocks.append(_context(community))
    abstract = shown_abstract(paper)
    if full_abstract:
        blocks.extend(_abstract_sections(abstract))
    elif abstract:
        blocks.append(_section(_safe(abstract, SNIPPET_CHARS)))
    if post.matched:
        blocks.append(_context(f"Matched {_safe(matched_line(post), FIELD_CHARS)}"))
    blocks.append(_buttons(post, feedback=feedback))
    return blocks


def paper_card(post: PaperPost, *, feedback: bool = False) -> SlackMessage:
    """A paper card; a long abstract goes whole into a thread reply. ``feedback`` adds
    the "👍 relevant" / "👎 not for us" buttons (a paper's own post only).

    A revision of a paper the channel already received is a one-line note instead.
    """
    paper = post.paper
    if post.revised:
        text = f"Revised: {shown_title(paper)} ({paper.versioned_id})"
        return SlackMessage(_fallback(text), (_revision_block(post),))
    blocks = _card_blocks(post, full_abstract=False, feedback=feedback)
    thread: tuple[SlackMessage, ...] = ()
    if len(shown_abstract(paper)) > SNIPPET_CHARS:
        sections = _abstract_sections(shown_abstract(paper))
        if len(sections) > MAX_BLOCKS - 1:
            sections = [*sections[: MAX_BLOCKS - 2], _context("… (abstract cut)")]
        full = SlackMessage(
            _fallback(f"Abstract of {paper.versioned_id}: {shown_title(paper)}"),
            (_context(f"Abstract of {_title_link(paper, TITLE_CHARS)}"), *sections),
        )
        thread = (full,)
    fallback = _fallback(f"{shown_title(paper)} ({paper.versioned_id})")
    return SlackMessage(fallback, tuple(blocks), thread)


def _list_line(number: int, paper: Paper, extra: str = "", mark: str = "") -> str:
    """``1. <title link> `id```, then ``extra``; ``mark`` (mrkdwn) goes before the title."""
    title = _title_link(paper, LIST_TITLE_CHARS)
    return f"{number}. {mark}{title} `{escape(paper.versioned_id)}`{extra}"


def _list_sections(lines: Iterable[str]) -> list[list[BlockDict]]:
    """Numbered list lines packed into sections of at most 3,000 characters."""
    return [[_section(chunk)] for chunk in _pack(lines, MAX_SECTION, "\n")]


def _digest_line(number: int, post: PaperPost) -> str:
    mark = f"{TOP_PICK} " if post.top_pick else ""
    return _list_line(number, post.paper, digest_line_suffix(post), mark)


@dataclass(frozen=True, slots=True)
class SlackPart:
    """One message of a planned post or digest: what it shows, and whether it replies in
    the thread of the plan's first message."""

    message: SlackMessage
    shows: tuple[str, ...] = ()
    in_thread: bool = False
    cards: tuple[str, ...] = ()
    """Papers shown as full cards, delivered by another message (a digest's list)."""


def post_parts(post: PaperPost) -> list[SlackPart]:
    """A paper card with feedback buttons, then its thread replies (the full abstract)."""
    card = paper_card(post, feedback=True)
    head = SlackPart(replace(card, thread=()), (post.paper.arxiv_id,))
    return [head, *(SlackPart(reply, in_thread=True) for reply in card.thread)]


def digest_parts(digest: Digest, *, cards: int) -> list[SlackPart]:
    """Every paper listed: the first :data:`DIGEST_LIST_MAX` in the digest's message, the
    rest in thread replies of as many again each; then full cards for the first ``cards``
    papers in the thread."""
    title = digest_title(digest)
    posts = digest.posts
    lines = [_digest_line(n, post) for n, post in enumerate(posts, start=1)]
    chunks = [
        range(start, min(start + DIGEST_LIST_MAX, len(posts)))
        for start in range(0, len(posts), DIGEST_LIST_MAX)
    ] or [range(0)]
    carded = posts[:cards]
    parts: list[SlackPart] = []
    for number, chunk in enumerate(chunks):
        shows = tuple(posts[i].paper.arxiv_id for i in chunk)
        sections = _list_sections(lines[i] for i in chunk)
        if number == 0:
            tail = [_context(_digest_footer(len(posts), len(chunks), len(carded)))]
            blocks = _fit([_header(title)], sections, tail if posts else [])
            parts.append(SlackPart(SlackMessage(_fallback(title), tuple(blocks)), shows))
            continue
        note = f"{title}, continued: papers {chunk.start + 1:,} to {chunk.stop:,} of {len(posts):,}"
        blocks = _fit([_context(escape(note))], sections, [])
        parts.append(SlackPart(SlackMessage(_fallback(note), tuple(blocks)), shows, True))
    for post in carded:
        card = replace(paper_card(post), thread=())
        parts.append(SlackPart(card, in_thread=True, cards=(post.paper.arxiv_id,)))
    return parts


def _digest_footer(papers: int, messages: int, cards: int) -> str:
    where = []
    if messages > 1:
        where.append(f"the rest of the list ({papers - DIGEST_LIST_MAX:,} more)")
    if cards:
        where.append("full cards" if cards == papers else f"full cards of the first {cards}")
    return f"In the thread: {' and '.join(where)}." if where else "Every paper is listed here."


def snippet_mrkdwn(snippet: Snippet, limit: int = RESULT_SNIPPET_CHARS) -> str:
    """``snippet`` as one mrkdwn line of at most ``limit`` characters, marks in bold.

    Each run is escaped with :func:`plain` (so ``*``, ``_``, ``~`` and backticks next to
    a mark become look-alikes and cannot pair with the bold markers) and a marked run is
    wrapped by :func:`_bold`, which closes what it opens. Marks cover whole words
    (:func:`bot.render.snippet_runs`), so Slack reads every pair as bold. Escaping can
    lengthen the text up to five times, so the raw text is cut shorter until the line fits.
    """
    room = limit
    while room > len(ELLIPSIS):
        runs = snippet_runs(snippet, room)
        line = "".join(_bold(plain(text)) if bold else plain(text) for text, bold in runs)
        if len(line) <= limit:
            return line
        room = min(room - 1, room * limit // len(line))
    return ""


def _result_lines(reply: Reply) -> list[str]:
    """The numbered result lines, each followed by its snippet's line (when it has one).

    A snippet is a piece of its own, so packing never splits one (and its bold) between
    sections."""
    lines: list[str] = []
    for number, paper in enumerate(reply.papers, start=1):
        lines.append(_paper_line(number, paper, signal_for(reply, number - 1)))
        snippet = snippet_for(reply, number - 1)
        shown = snippet_mrkdwn(snippet) if snippet is not None else ""
        if shown:
            lines.append(SNIPPET_INDENT + shown)
    return lines


def _paper_line(number: int, paper: Paper, signals: CommunitySignals | None = None) -> str:
    """A result's line: upvotes in bold before the title, its code repository last."""
    details = (
        f" — {_safe(author_line(paper.authors, 3), FIELD_CHARS)}"
        f" · {escape(paper.primary_category)} · {format_date(paper.submitted)}"
    )
    if code := code_piece(signals, _signal_link):
        details += f" · {code}"
    votes = votes_mark(signals)
    return _list_line(number, paper, details, f"{_bold(votes)} " if votes else "")


def _shareable(reply: Reply) -> bool:
    return bool(reply.papers or reply.posts) and reply.visibility is Visibility.PRIVATE


def reply_message(reply: Reply, *, share: str | None = None) -> SlackMessage:
    """A command's reply: title, lines, code, a result list and full cards.

    Results shown only to the caller (papers or cards) carry a "Share in channel"
    button (:data:`SHARE_ACTION`) when ``share`` is given: the command text to run again
    for the channel (searches are cached, so sharing costs no arXiv request). A reply
    with a next page (``reply.more``, at most 2,000 characters) has a "Next" button
    (:data:`NEXT_ACTION`) carrying that command.
    """
    head = [_section(_TONE_EMOJI[reply.tone] + _bold(_safe(reply.title, TITLE_CHARS)))]
    groups: list[list[BlockDict]] = []
    if reply.lines:
        lines = [plain(clean(line)) for line in reply.lines]
        groups.extend([_section(chunk)] for chunk in _pack(lines, MAX_SECTION, "\n"))
    if reply.code:
        code = [escape(line.rstrip().replace("`", _LOOKALIKES["`"])) for line in reply.code]
        for chunk in _pack(code, MAX_SECTION - 8, "\n"):
            groups.append([_section(f"```\n{chunk}\n```")])
    groups.extend(_list_sections(_result_lines(reply)))
    for post in reply.posts:
        groups.append([{"type": "divider"}, *_card_blocks(post, full_abstract=True)])
    tail: list[BlockDict] = []
    buttons: list[BlockDict] = []
    if share and _shareable(reply) and len(share) <= MAX_BUTTON_VALUE:
        buttons.append(_button("Share in channel", SHARE_ACTION, value=share))
    if reply.more and len(reply.more) <= MAX_BUTTON_VALUE and reply.tone is not Tone.ERROR:
        buttons.append(_button("Next", NEXT_ACTION, value=reply.more))
    if buttons:
        tail.append({"type": "actions", "elements": buttons})
    if reply.footer:
        tail.append(_context(_safe(reply.footer, FIELD_CHARS)))
    text = _TONE_EMOJI[reply.tone] + _fallback(reply.title)
    return SlackMessage(text, tuple(_fit(head, groups, tail)))
