"""Discord messages (embeds, link buttons) from the core's neutral models (pure functions, no I/O).

Every piece of untrusted text (titles, authors, abstracts, comments, queries) is cleaned,
cut to fit, then passed through :func:`escape`, which neutralises Discord markdown
(``**``, ``__``, ``~~``, ``||``, backticks, masked ``[text](url)`` links, quotes, headings
and lists at the start of a line) and mentions (``@everyone``, ``@here``, ``<@id>``,
``<@&id>``, ``<#id>``, ``</cmd:id>``, ``<t:…>``). Escaping is belt and braces: the adapter
also sends every message with ``AllowedMentions.none()`` (:meth:`DiscordMessage.send_kwargs`).
Footers and thread names are plain text in Discord (no markdown, no mentions), so they
are only cleaned and cut.

Every message stays within Discord's limits, which discord.py does not check (it only
counts embeds): title 256, description 4,096, 25 fields (name 256, value 1,024), footer
2,048, author 256, 6,000 characters over all embeds of a message (as ``len(embed)``
counts them), 10 embeds, content 2,000. :func:`fit_message` is the last guard.

A result's snippet (:class:`~bot.models.Snippet`) shows on a line under it, the marked
words in bold (:func:`snippet_markdown`); snippets are shortened so every listed paper
keeps its line within the description.

A card shows what the core knows beyond arXiv (:mod:`bot.signals`): a top pick has
"⭐ " before its title and, when it resembles a liked paper, a "Top pick" field ("like …
that you liked"); the TL;DR opens the description; the Hugging Face line is a field. A
result list puts a paper's upvotes ("▲ 123") before its title and its code repository
after; a digest's list marks top picks with ⭐.

Digests (:func:`digest_parts`) are one message of up to 10 embeds when they all fit;
otherwise messages listing every paper (the first in the channel, the rest in a thread
started from it) and the full cards of the first few in that thread (see
:class:`DiscordPart`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.link_previews import first_sentence
from bot.models import CommunitySignals, Digest, Paper, PaperPost, Reply, Snippet, Tone
from bot.render import (
    ELLIPSIS,
    MAX_AUTHORS,
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
    TLDR_LABEL,
    TOP_PICK,
    Link,
    code_piece,
    community_line,
    like_link,
    signal_for,
    tldr_text,
    votes_mark,
)

__all__ = [
    "ARXIV_RED",
    "CITE_PREFIX",
    "FEEDBACK_BUTTONS",
    "FEEDBACK_PREFIX",
    "MAX_AUTHOR",
    "MAX_BUTTON_LABEL",
    "MAX_BUTTON_URL",
    "MAX_CONTENT",
    "MAX_DESCRIPTION",
    "MAX_EMBEDS",
    "MAX_FIELDS",
    "MAX_FIELD_NAME",
    "MAX_FIELD_VALUE",
    "MAX_FOOTER",
    "MAX_THREAD_NAME",
    "MAX_TITLE",
    "MAX_TOTAL",
    "DiscordMessage",
    "DiscordPart",
    "clamp_embed",
    "digest_parts",
    "escape",
    "escape_code",
    "fit_message",
    "link_preview_embed",
    "link_preview_message",
    "message_fingerprint",
    "pack_embeds",
    "paper_buttons",
    "paper_embed",
    "post_parts",
    "reply_message",
    "snippet_markdown",
]

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_EMBEDS = 10
MAX_TOTAL = 6000
"""Characters over all embeds of one message, counted as ``len(embed)`` counts them."""
MAX_CONTENT = 2000
MAX_BUTTON_LABEL = 80
MAX_BUTTON_URL = 512
MAX_THREAD_NAME = 100
MAX_BUTTONS = 25

ARXIV_RED = discord.Colour(0xB31B1B)
REVISED_GREY = discord.Colour(0x99AAB5)
_TONE_COLOUR = {
    Tone.INFO: discord.Colour.blurple(),
    Tone.SUCCESS: discord.Colour.green(),
    Tone.ERROR: discord.Colour.red(),
}
_TONE_MARK = {Tone.INFO: "", Tone.SUCCESS: "✅ ", Tone.ERROR: "⚠️ "}

LIST_TITLE_CHARS = 150
AUTHORS_CHARS = MAX_FIELD_VALUE
CATEGORY_CHARS = 512
COMMENT_CHARS = 512
JOURNAL_CHARS = 256
MATCHED_CHARS = 512
COMPACT_CHARS = 256
TLDR_CHARS = 400
"""The TL;DR at most, as sent (escaped, label and all)."""
COMMUNITY_CHARS = 512
"""The Hugging Face line at most; it is left out rather than cut (a cut link would break)."""
FOOTER_CHARS = 300
CODE_LINKS_MAX = 3
SNIPPET_MIN = 200
"""A card keeps all its fields only if at least this much of the abstract still fits."""
MIN_DESCRIPTION = 100
""":func:`fit_message` cuts a description no shorter than this; it drops it instead."""
NOTE_RESERVE = 40
RESULT_SNIPPET_CHARS = 300
"""A result's snippet line at most, as sent (escaped, bold markers and all)."""
SNIPPET_MIN_LINE = 60
"""A snippet is left out rather than shortened below this."""
SNIPPET_INDENT = "\N{EM SPACE}"

ZWSP = "\u200b"

# A URL is left as it is (escaping would break it), but it may not contain characters
# that could open markdown or a masked link, so those end the URL and get escaped.
_URL = re.compile(r"https?://[^\s<>\[\]()*|`\\\"']*[^\s<>\[\]()*|`\\\"'.,:;!?]")
_MARKDOWN = re.compile(r"([\\*_~|`\[\]])")
_LINE_START = re.compile(r"^([ \t]*)(>+|#{1,3}|-#?|\d+\.)(?=\s)", re.MULTILINE)
_ANGLE = re.compile(r"<(?=[@#:/]|a:|t:|id:)")
_OWN_URL = re.compile(r"https://[^\s<>()\[\]]+")


def _escape_plain(text: str) -> str:
    text = _MARKDOWN.sub(r"\\\1", text)
    text = discord.utils.escape_mentions(text)
    return _ANGLE.sub("<" + ZWSP, text)


def _escape_line_start(match: re.Match[str]) -> str:
    """Quotes, headings, lists and subtext at a line's start get a backslash before their
    marker, ``1.`` one before its dot (a backslash before a digit would show)."""
    indent, marker = match.group(1), match.group(2)
    if marker[0].isdigit():
        return f"{indent}{marker[:-1]}\\."
    return f"{indent}\\{marker}"  # the first character is enough: ``\>>>``, ``\##``


def escape(text: str) -> str:
    r"""Neutralise Discord markdown and mentions in untrusted text; URLs stay clickable.

    Markdown characters get a backslash (Discord shows ``\*`` as ``*``), so do both
    brackets, which kills every masked link (``discord.utils.escape_markdown`` escapes
    only the first of several); ``@everyone``, ``@here`` and raw ids get a zero-width
    space after the ``@`` (as ``discord.utils.escape_mentions`` does), and ``<`` before
    ``@``, ``#``, ``:``, ``/``, ``a:``, ``t:`` gets one after it (channel, user, role,
    command mentions, emoji and timestamps).
    """
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        parts.append(_escape_plain(text[position : match.start()]))
        parts.append(match.group())
        position = match.end()
    parts.append(_escape_plain(text[position:]))
    return _LINE_START.sub(_escape_line_start, "".join(parts))


def escape_code(line: str) -> str:
    """A line for a code block: markdown does not render there, but backticks could close
    it; mentions get the same zero-width space as elsewhere, to be safe."""
    line = discord.utils.escape_mentions(line.rstrip().replace("`", "`" + ZWSP))
    return _ANGLE.sub("<" + ZWSP, line)


def _cut(text: str, limit: int) -> str:
    """Already-escaped or plain text cut at a word to ``limit`` characters."""
    if limit <= 0:
        return ""
    return cut_at_word(text, limit)


def _safe(text: str, limit: int) -> str:
    """Untrusted text as one escaped line of at most ``limit`` characters (after escaping).

    The raw text is cut first and escaped after, so no escape is ever split; escaping
    can lengthen it, so the cut shrinks until the escaped text fits.
    """
    if limit <= 0:
        return ""
    raw = clean(text)
    room = limit
    while True:
        escaped = escape(cut_at_word(raw, room))
        if len(escaped) <= limit:
            return escaped
        room = min(room - 1, room * limit // len(escaped))


@dataclass(frozen=True, slots=True, eq=False)
class DiscordMessage:
    """One Discord message: ``content`` (at most 2,000) and ``embeds`` (within the limits)."""

    content: str = ""
    embeds: tuple[discord.Embed, ...] = ()

    @property
    def embed_chars(self) -> int:
        """Characters over all embeds, as Discord counts them for its 6,000 limit."""
        return sum(len(embed) for embed in self.embeds)

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Messageable.send``, ``followup.send`` and
        ``discord.http.handle_message_parameters``: never pings anyone."""
        return {
            "content": self.content or None,
            "embeds": list(self.embeds),
            "allowed_mentions": discord.AllowedMentions.none(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class DiscordPart:
    """One message of a planned post or digest.

    ``shows`` names the papers it lists or shows; ``in_thread`` parts go in a thread
    named ``thread_name`` started from the plan's first message (or, where no thread can
    be started, in the channel after it). ``view`` holds link buttons.
    """

    message: DiscordMessage
    shows: tuple[str, ...] = ()
    in_thread: bool = False
    thread_name: str = ""
    view: discord.ui.View | None = None
    cards: tuple[str, ...] = ()
    """Papers shown as full cards, delivered by another message (a digest's list)."""

    def to_payload(self) -> dict[str, Any]:
        """The JSON body of ``POST /channels/{id}/messages`` (no nonce yet): pings nobody.

        ``thread_name`` rides along for the adapter, which removes it before sending.
        """
        payload: dict[str, Any] = {
            "content": self.message.content or None,
            "embeds": [embed.to_dict() for embed in self.message.embeds],
            "allowed_mentions": {"parse": []},
        }
        if self.view is not None:
            payload["components"] = self.view.to_components()
        if self.in_thread:
            payload["thread_name"] = self.thread_name
        return payload


# -- limits


def clamp_embed(embed: discord.Embed) -> discord.Embed:
    """A copy of ``embed`` with every part within its own limit (25 fields, 256, ...)."""
    data = embed.to_dict()
    if "title" in data:
        data["title"] = _cut(data["title"], MAX_TITLE)
    if "description" in data:
        data["description"] = _cut(data["description"], MAX_DESCRIPTION)
    if "footer" in data and "text" in data["footer"]:
        data["footer"]["text"] = _cut(data["footer"]["text"], MAX_FOOTER)
    if "author" in data and "name" in data["author"]:
        data["author"]["name"] = _cut(data["author"]["name"], MAX_AUTHOR)
    if "fields" in data:
        data["fields"] = [
            {
                **field,
                "name": _cut(field["name"], MAX_FIELD_NAME),
                "value": _cut(field["value"], MAX_FIELD_VALUE),
            }
            for field in data["fields"][:MAX_FIELDS]
        ]
    return discord.Embed.from_dict(data)


def _shrink(embed: discord.Embed, room: int) -> discord.Embed | None:
    """``embed`` cut to at most ``room`` characters, or None if too little would be left.

    The description is cut first (at a word); below :data:`MIN_DESCRIPTION` it is dropped,
    then fields from the end.
    """
    excess = len(embed) - room
    if excess <= 0:
        return embed
    data = embed.to_dict()
    description = data.get("description", "")
    if len(description) - excess >= MIN_DESCRIPTION:
        data["description"] = _cut(description, len(description) - excess)
        return discord.Embed.from_dict(data)
    data.pop("description", None)
    excess -= len(description)
    fields = data.get("fields", [])
    while excess > 0 and fields:
        dropped = fields.pop()
        excess -= len(dropped["name"]) + len(dropped["value"])
    if excess > 0 or not (data.get("title") or fields):
        return None
    return discord.Embed.from_dict(data)


def _more_note(count: int) -> str:
    return f"… and {count:,} more not shown"


def fit_message(content: str = "", embeds: Iterable[discord.Embed] = ()) -> DiscordMessage:
    """A message within every Discord limit, from content and embeds that may not be.

    Content is cut to 2,000 characters; each embed is clamped (:func:`clamp_embed`);
    embeds are kept in order while there are at most 10 and at most 6,000 characters over
    them; the first that does not fit is cut (:func:`_shrink`) or dropped with all after
    it, and the content then says how many were left out. Content and embeds should be
    escaped already; cutting happens only at words, so no escape is split.
    """
    wanted = [clamp_embed(embed) for embed in embeds]
    kept: list[discord.Embed] = []
    used = 0
    for embed in wanted:
        if len(kept) == MAX_EMBEDS:
            break
        fitted = _shrink(embed, MAX_TOTAL - used)
        if fitted is None:
            break
        kept.append(fitted)
        used += len(fitted)
    dropped = len(wanted) - len(kept)
    if dropped:
        note = _more_note(dropped)
        head = _cut(content, MAX_CONTENT - len(note) - 1)
        content = f"{head}\n{note}" if head else note
    content = _cut(content, MAX_CONTENT)
    if not content and not kept:
        content = "…"
    return DiscordMessage(content, tuple(kept))


def pack_embeds(embeds: Iterable[discord.Embed]) -> list[tuple[discord.Embed, ...]]:
    """Embeds grouped, in order, into messages of at most 10 and 6,000 characters."""
    groups: list[tuple[discord.Embed, ...]] = []
    current: list[discord.Embed] = []
    used = 0
    for embed in embeds:
        fitted = _shrink(clamp_embed(embed), MAX_TOTAL)
        if fitted is None:  # pragma: no cover - a clamped embed with a title always fits
            continue
        size = len(fitted)
        if current and (len(current) == MAX_EMBEDS or used + size > MAX_TOTAL):
            groups.append(tuple(current))
            current, used = [], 0
        current.append(fitted)
        used += size
    if current:
        groups.append(tuple(current))
    return groups


# -- paper cards


def _add_field(
    embed: discord.Embed, name: str, text: str, limit: int, *, inline: bool = False
) -> None:
    """A field of untrusted ``text`` (escaped, cut); skipped when empty."""
    value = _safe(text, min(limit, MAX_FIELD_VALUE))
    if value:
        embed.add_field(name=name, value=value, inline=inline)


def _code_links(post: PaperPost) -> list[str]:
    """Code URLs safe to put in a masked link or a button (``https``, no brackets)."""
    return [
        link for link in post.code_links if len(link) <= MAX_BUTTON_URL and _OWN_URL.fullmatch(link)
    ][:CODE_LINKS_MAX]


def _links(post: PaperPost) -> str:
    """Masked links the bot builds itself: abstract, PDF, HTML, code."""
    paper = post.paper
    links = [("Abstract", paper.abs_url), ("PDF", paper.pdf_url), ("HTML", paper.html_url)]
    for number, url in enumerate(_code_links(post), start=1):
        links.append(("Code" if number == 1 else f"Code {number}", url))
    value = ""
    for label, url in links:
        joined = f"{value} · [{label}]({url})" if value else f"[{label}]({url})"
        if len(joined) > MAX_FIELD_VALUE:
            break
        value = joined
    return value


def _footer(paper: Paper) -> str:
    return _cut(clean(f"arXiv:{paper.versioned_id} · {date_line(paper)}"), FOOTER_CHARS)


def _title(paper: Paper, limit: int = MAX_TITLE) -> str:
    return _safe(shown_title(paper), limit) or escape(paper.versioned_id)


def _card_title(post: PaperPost) -> str:
    """The card's title, with "⭐ " before it for a top pick."""
    if not post.top_pick:
        return _title(post.paper)
    mark = f"{TOP_PICK} "
    return mark + _title(post.paper, MAX_TITLE - len(mark))


def _signal_link(link: Link) -> str:
    """A masked link from :mod:`bot.signals`: its URL is safe, its label untrusted."""
    return f"[{escape(link.label)}]({link.url})"


def _add_signals(embed: discord.Embed, post: PaperPost) -> None:
    """The "Top pick" field (when it resembles a liked paper) and the Hugging Face line."""
    liked = like_link(post) if post.top_pick else None
    if liked is not None:
        value = f"like {_signal_link(liked)} that you liked"
        embed.add_field(name=f"{TOP_PICK} Top pick", value=value, inline=False)
    line = community_line(post.community, _signal_link)
    if line and len(line) <= COMMUNITY_CHARS:
        embed.add_field(name="Hugging Face", value=line, inline=False)


def _tldr(post: PaperPost) -> str:
    """``*TL;DR:* One sentence.``, escaped and cut to :data:`TLDR_CHARS`; "" without one.

    Only the label is in italics: a cut of the description can never leave an open ``*``.
    """
    label = f"*{TLDR_LABEL}* "
    text = _safe(tldr_text(post), TLDR_CHARS - len(label))
    return label + text if text else ""


def _card(post: PaperPost, *, compact: bool, timestamp: bool) -> discord.Embed:
    """A card without its description; ``compact`` keeps only the essential fields, short."""
    paper = post.paper
    embed = discord.Embed(
        title=_card_title(post),
        url=paper.abs_url,
        colour=ARXIV_RED,
        timestamp=paper.updated if timestamp else None,
    )
    if compact:
        _add_field(embed, "Authors", author_line(paper.authors, 3), COMPACT_CHARS)
        _add_field(embed, "Categories", category_line(paper), COMPACT_CHARS // 2, inline=True)
    else:
        _add_field(embed, "Authors", author_line(paper.authors, MAX_AUTHORS), AUTHORS_CHARS)
        _add_field(embed, "Categories", category_line(paper), CATEGORY_CHARS, inline=True)
        if paper.comment:
            _add_field(embed, "Comment", paper.comment, COMMENT_CHARS, inline=True)
        if paper.journal_ref:
            _add_field(embed, "Journal", paper.journal_ref, JOURNAL_CHARS, inline=True)
    embed.add_field(name="Links", value=_links(post), inline=False)
    _add_signals(embed, post)
    if post.matched:
        limit = COMPACT_CHARS if compact else MATCHED_CHARS
        _add_field(embed, "Matched", matched_line(post), limit)
    embed.set_footer(text=_footer(paper))
    return embed


def _revision_embed(post: PaperPost, *, timestamp: bool) -> discord.Embed:
    """The compact note for a revision of a paper the channel already received."""
    paper = post.paper
    embed = discord.Embed(
        title=_safe(f"Revised: {shown_title(paper)}", MAX_TITLE),
        url=paper.abs_url,
        colour=REVISED_GREY,
        description=f"{escape(paper.versioned_id)} · updated {format_date(paper.updated)}",
        timestamp=paper.updated if timestamp else None,
    )
    if post.matched:
        _add_field(embed, "Matched", matched_line(post), COMPACT_CHARS)
    return embed


PREVIEW_AUTHORS = 3
PREVIEW_SENTENCE_CHARS = 400


def link_preview_embed(post: PaperPost) -> discord.Embed:
    """The compact card for a pasted arXiv link: the linked title, the first authors, the
    abstract's first sentence; the id, primary category and submission date in the footer."""
    paper = post.paper
    lines = [_safe(author_line(paper.authors, PREVIEW_AUTHORS), COMPACT_CHARS)]
    sentence = first_sentence(shown_abstract(paper), PREVIEW_SENTENCE_CHARS)
    lines.append(_safe(sentence, PREVIEW_SENTENCE_CHARS))
    footer = [f"arXiv:{paper.versioned_id}", paper.primary_category]
    footer.append(f"submitted {format_date(paper.submitted)}")
    embed = discord.Embed(
        title=_title(paper),
        url=paper.abs_url,
        colour=ARXIV_RED,
        description="\n".join(line for line in lines if line) or None,
    )
    embed.set_footer(text=_cut(clean(" · ".join(p for p in footer if p)), FOOTER_CHARS))
    return embed


def link_preview_message(posts: Sequence[PaperPost]) -> DiscordMessage:
    """One message with the compact cards of ``posts`` (within every Discord limit)."""
    return fit_message(embeds=[link_preview_embed(post) for post in posts])


def paper_embed(
    post: PaperPost, *, budget: int = MAX_TOTAL, timestamp: bool = False
) -> discord.Embed:
    """A paper card: linked title, abstract, authors, categories, comment, links, footer.

    The abstract fills what ``budget`` (characters, as ``len(embed)`` counts them) leaves,
    cut at a word within 4,096. When not even :data:`SNIPPET_MIN` characters of it would
    fit, the card turns compact (three authors, no comment or journal) before the
    abstract is cut. A full card without its abstract is under 4,500 characters, so with
    the default budget every card fits a message alone; with a small budget a compact card
    can still exceed it (the caller checks ``len``). ``timestamp`` sets the embed's
    timestamp to the paper's last update. A revision (``post.revised``) is a compact
    "Revised: …" note.
    """
    if post.revised:
        return _revision_embed(post, timestamp=timestamp)
    budget = min(budget, MAX_TOTAL)
    abstract = shown_abstract(post.paper)
    tldr = _tldr(post)
    head = len(tldr) + 2 if tldr else 0  # the TL;DR and a blank line open the description
    wanted = min(len(abstract), SNIPPET_MIN) + head
    embed = _card(post, compact=False, timestamp=timestamp)
    room = min(MAX_DESCRIPTION, budget - len(embed))
    if room < wanted:
        embed = _card(post, compact=True, timestamp=timestamp)
        room = min(MAX_DESCRIPTION, budget - len(embed))
    parts = [tldr] if tldr and room >= len(tldr) else []
    parts.append(_safe(abstract, room - head if parts else room))
    description = "\n\n".join(part for part in parts if part)
    if description:
        embed.description = description
    return embed


FEEDBACK_PREFIX = "arxiv:fb:"
FEEDBACK_BUTTONS = (("👍 relevant", "up"), ("👎 not for us", "down"))
"""The feedback buttons of a paper's own post: label and the end of the custom id
(``arxiv:fb:up``, ``arxiv:fb:down``), which the bot's dynamic item answers (after a
restart too)."""


CITE_PREFIX = "arxiv:cite:"
"""The "Cite" button next to the feedback buttons: ``arxiv:cite:<arXiv id>``."""


def paper_buttons(post: PaperPost, *, feedback: bool = False) -> discord.ui.View:
    """Link buttons: Abstract, PDF, and Code (up to three) when the paper has code; with
    ``feedback``, "👍 relevant" and "👎 not for us" in a row of their own.

    Link buttons need no callback and the view no timeout. discord.py 2.7 builds a
    ``View`` outside a running event loop too (its "stopped" future is created lazily).
    """
    paper = post.paper
    view = discord.ui.View(timeout=None)
    links = [("Abstract", paper.abs_url), ("PDF", paper.pdf_url)]
    for number, url in enumerate(_code_links(post), start=1):
        links.append(("Code" if number == 1 else f"Code {number}", url))
    for label, url in links[:MAX_BUTTONS]:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            style=discord.ButtonStyle.link, label=label[:MAX_BUTTON_LABEL], url=url
        )
        view.add_item(button)
    if feedback:
        for label, direction in FEEDBACK_BUTTONS:
            vote: discord.ui.Button[discord.ui.View] = discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=label,
                custom_id=FEEDBACK_PREFIX + direction,
                row=1,
            )
            view.add_item(vote)
        cite: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label="Cite",
            custom_id=(CITE_PREFIX + paper.arxiv_id)[:100],
            row=1,
        )
        view.add_item(cite)
    return view


# -- digests


def _list_line(number: int, paper: Paper, extra: str = "", mark: str = "") -> str:
    """``1. [title](link) · id``, then ``extra``; ``mark`` (markdown) goes before the title."""
    title = _title(paper, LIST_TITLE_CHARS)
    return f"{number}. {mark}[{title}]({paper.abs_url}) · {escape(paper.versioned_id)}{extra}"


def _digest_line(number: int, post: PaperPost) -> str:
    mark = f"{TOP_PICK} " if post.top_pick else ""
    return _list_line(number, post.paper, digest_line_suffix(post), mark)


class _Lines:
    """Lines joined by newlines within ``limit`` characters, keeping room for a note."""

    def __init__(self, limit: int) -> None:
        self.limit = limit - NOTE_RESERVE
        self.lines: list[str] = []
        self.size = 0
        self.full = False

    def add(self, line: str) -> bool:
        """Add ``line`` if it fits (and nothing was refused before); report whether it did."""
        size = self.size + len(line) + (1 if self.lines else 0)
        if self.full or size > self.limit:
            self.full = True
            return False
        self.lines.append(line)
        self.size = size
        return True

    def text(self, note: str = "") -> str:
        return "\n".join([*self.lines, note] if note else self.lines)


def _digest_single(title: str, posts: Sequence[PaperPost]) -> DiscordMessage | None:
    """All cards in one message, the budget shared greedily, or None if they do not fit."""
    embeds: list[discord.Embed] = []
    used = 0
    for index, post in enumerate(posts):
        share = (MAX_TOTAL - used) // (len(posts) - index)
        embed = paper_embed(post, budget=share)
        used += len(embed)
        if used > MAX_TOTAL:
            return None
        embeds.append(embed)
    return fit_message(escape(title), embeds)


def post_parts(post: PaperPost) -> list[DiscordPart]:
    """A paper card with its link and feedback buttons, one message."""
    message = DiscordMessage(embeds=(paper_embed(post),))
    view = paper_buttons(post, feedback=not post.revised)
    return [DiscordPart(message, (post.paper.arxiv_id,), view=view)]


def digest_parts(digest: Digest, *, cards: int) -> list[DiscordPart]:
    """A digest as messages that together list every paper.

    Up to ``cards`` (and at most 10) posts that share the 6,000 characters of one message
    (:func:`paper_embed` with a budget each) are one message of cards. Otherwise the
    papers are listed as numbered links: the first message in the channel, the rest of
    the list in a thread started from it, as many messages as the 4,096-character
    descriptions need; then full cards of the first ``cards`` papers in the thread,
    packed up to 10 and 6,000 characters a message (:func:`pack_embeds`).
    """
    title = digest_title(digest)
    posts = digest.posts
    every = tuple(post.paper.arxiv_id for post in posts)
    if posts and len(posts) <= min(cards, MAX_EMBEDS):
        single = _digest_single(title, posts)
        if single is not None:
            return [DiscordPart(single, every)]
    thread_name = _cut(title, MAX_THREAD_NAME)
    parts: list[DiscordPart] = []
    lines = [_digest_line(number, post) for number, post in enumerate(posts, start=1)]
    for start, stop in _line_chunks(lines, MAX_DESCRIPTION - NOTE_RESERVE) or [(0, 0)]:
        first = not parts
        heading = title if first else f"{title}, continued ({start + 1:,} to {stop:,})"
        listing = discord.Embed(
            title=_cut(heading, MAX_TITLE),
            colour=ARXIV_RED,
            description="\n".join(lines[start:stop]) or None,
        )
        if first and (stop < len(posts) or cards):
            listing.set_footer(text="More in the thread.")
        message = fit_message(escape(title) if first else "", [listing])
        parts.append(DiscordPart(message, every[start:stop], not first, thread_name))
    carded = posts[:cards]
    shown = 0
    for group in pack_embeds(map(paper_embed, carded)):
        ids = every[shown : shown + len(group)]
        shown += len(group)
        parts.append(DiscordPart(DiscordMessage("", group), (), True, thread_name, cards=ids))
    return parts


def message_fingerprint(message: Mapping[str, Any]) -> tuple[object, ...]:
    """What identifies a message the bot posted, as sent or as Discord returns it: its
    text and each embed's title, link and description (nonces are not returned)."""
    embeds = message.get("embeds") or ()
    return (
        str(message.get("content") or "").strip(),
        tuple(
            (
                str(e.get("title") or "").strip(),
                str(e.get("url") or ""),
                str(e.get("description") or "").strip(),
            )
            for e in embeds
        ),
    )


def _line_chunks(lines: Sequence[str], limit: int) -> list[tuple[int, int]]:
    """Index ranges of ``lines`` whose newline-joined text fits ``limit`` characters."""
    chunks: list[tuple[int, int]] = []
    start = size = 0
    for index, line in enumerate(lines):
        grown = size + len(line) + (1 if index > start else 0)
        if index > start and grown > limit:
            chunks.append((start, index))
            start, grown = index, len(line)
        size = grown
    if lines:
        chunks.append((start, len(lines)))
    return chunks


# -- command replies


def _paper_line(number: int, paper: Paper, signals: CommunitySignals | None = None) -> str:
    """A result's line: upvotes in bold before the title, its code repository last."""
    details = (
        f" — {_safe(author_line(paper.authors, 3), COMPACT_CHARS)}"
        f" · {escape(paper.primary_category)} · {format_date(paper.submitted)}"
    )
    if code := code_piece(signals, _signal_link):
        details += f" · {code}"
    votes = votes_mark(signals)
    return _list_line(number, paper, details, f"**{votes}** " if votes else "")


def snippet_markdown(snippet: Snippet, limit: int = RESULT_SNIPPET_CHARS) -> str:
    """``snippet`` as one markdown line of at most ``limit`` characters, marks in bold.

    Every run is escaped with :func:`escape` (markdown characters next to a mark get a
    backslash, so they cannot pair with the ``**`` around it, and mentions are
    neutralised) and a marked run is wrapped in ``**``, always closed. Escaping lengthens
    the text, so the raw text is cut shorter (with "…") until the line fits.
    """
    room = limit
    while room > len(ELLIPSIS):
        runs = snippet_runs(snippet, room)
        line = "".join(f"**{escape(text)}**" if bold else escape(text) for text, bold in runs)
        if len(line) <= limit:
            return line
        room = min(room - 1, room * limit // len(line))
    return ""


def _result_entries(reply: Reply, room: int) -> list[str]:
    """Each paper's line, with its snippet's line under it when it has one.

    The snippets share what ``room`` leaves after the papers' lines, each at most
    :data:`RESULT_SNIPPET_CHARS`; below :data:`SNIPPET_MIN_LINE` each they are left out.
    """
    lines = [
        _paper_line(number, paper, signal_for(reply, number - 1))
        for number, paper in enumerate(reply.papers, start=1)
    ]
    snippets = [snippet_for(reply, index) for index in range(len(lines))]
    count = sum(snippet is not None for snippet in snippets)
    left = room - sum(len(line) + 1 for line in lines)
    share = left // count - 1 - len(SNIPPET_INDENT) if count else 0
    limit = min(RESULT_SNIPPET_CHARS, share)
    entries = []
    for line, snippet in zip(lines, snippets, strict=True):
        shown = snippet_markdown(snippet, limit) if snippet and limit >= SNIPPET_MIN_LINE else ""
        entries.append(f"{line}\n{SNIPPET_INDENT}{shown}" if shown else line)
    return entries


def _code_block(code: Sequence[str], room: int) -> tuple[str, int]:
    """A code block of the lines that fit in ``room`` characters, and how many did."""
    lines = _Lines(room - 8 + NOTE_RESERVE)  # the fences and newlines take 8
    count = 0
    for line in code:
        if not lines.add(_cut(escape_code(line), room - 8)):
            break
        count += 1
    if not count:
        return "", 0
    return f"```\n{lines.text()}\n```", count


def reply_message(reply: Reply) -> DiscordMessage:
    """A command's reply: one embed with the title (marked and coloured by tone), the
    lines, a code block and a numbered paper list (each paper's snippet under it), then a
    full card per post.

    Without cards, a paper list too long for the description (4,096) goes on in further
    embeds, the snippets shortened so the papers share the message's 6,000 characters;
    with cards it stays in the first embed and the cards share what it leaves. Whatever
    does not fit is counted in a closing "… and N more not shown". The footer goes under
    the list's last embed.
    """
    mark = _TONE_MARK[reply.tone]
    title = mark + (_safe(reply.title, MAX_TITLE - len(mark)) or "arxiv-bot")
    footer = _cut(clean(reply.footer), MAX_FOOTER) if reply.footer else ""
    lines = _Lines(min(MAX_DESCRIPTION, MAX_TOTAL - len(title) - len(footer)))
    wanted = len(reply.lines) + len(reply.code) + len(reply.papers)
    shown = 0
    for line in reply.lines:
        shown += lines.add(_safe(line, MAX_DESCRIPTION - NOTE_RESERVE))
    if reply.code and not lines.full:
        room = lines.limit - lines.size - (1 if lines.lines else 0)
        block, count = _code_block(reply.code, room)
        if block and lines.add(block):
            shown += count
        if count < len(reply.code):
            lines.full = True
    pages = [lines]
    if reply.papers and not lines.full:
        budget = lines.limit - lines.size - (1 if lines.lines else 0)
        if not reply.posts:  # the list may go on in more embeds, 6,000 characters in all
            budget = MAX_TOTAL - len(title) - len(footer) - lines.size - NOTE_RESERVE - 1
        for entry in _result_entries(reply, budget):
            if len(entry) + 1 > budget:
                break
            if not pages[-1].add(entry):
                if reply.posts or len(pages) == MAX_EMBEDS:
                    break
                pages.append(_Lines(MAX_DESCRIPTION))
                if not pages[-1].add(entry):
                    break
            budget -= len(entry) + 1
            shown += 1
    rest = wanted - shown
    listing: list[discord.Embed] = []
    for number, page in enumerate(pages):
        last = number == len(pages) - 1
        embed = discord.Embed(
            title=None if number else title,
            colour=_TONE_COLOUR[reply.tone],
            description=page.text(_more_note(rest) if rest and last else "") or None,
        )
        if footer and last:
            embed.set_footer(text=footer)
        listing.append(embed)
    cards: list[discord.Embed] = []
    used = sum(len(embed) for embed in listing)
    posts = reply.posts[: MAX_EMBEDS - len(listing)]
    for index, post in enumerate(posts):
        share = (MAX_TOTAL - used) // (len(posts) - index)
        card = paper_embed(post, budget=share)
        cards.append(card)
        used += len(card)
    message = fit_message("", [*listing, *cards])
    hidden = len(reply.posts) - len(posts)
    if hidden:
        kept = len(message.embeds) - len(listing)
        note = _more_note(len(reply.posts) - kept)
        return DiscordMessage(note, message.embeds)
    return message
