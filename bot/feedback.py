"""Feedback on the bot's paper posts: reactions and buttons, as per-channel signals.

Adapters translate a platform event (Slack ``reaction_added``/``reaction_removed``, a
Discord reaction add/remove, a "👍 relevant" / "👎 not for us" button) into a
:class:`FeedbackEvent` and hand it to :meth:`bot.adapter.Core.feedback`. The core finds
the paper the message shows (:meth:`bot.store.feedback.FeedbackStore.paper_shown_by`:
only a message that shows exactly one paper counts, so a digest's list does not),
reads the emoji as positive, negative or neither (``FEEDBACK_POSITIVE`` and
``FEEDBACK_NEGATIVE``), and records or removes one row per channel, paper, user, source
and emoji. ``/arxiv top`` reads them back.

Emoji arrive in two spellings: Slack sends names (``+1``, ``thumbsup``, ``heart``,
optionally ``+1::skin-tone-2``), Discord the characters themselves (``👍``, ``❤️`` with
the variation selector U+FE0F, ``👍🏽`` with a skin tone). :func:`normalize_emoji` reads
both as one name. A small table maps the characters of the usual feedback emoji to
Slack's names; the ``emoji`` package (thousands of names, several per character, none
of them always Slack's: it calls 👍 ``thumbs_up`` and knows ``+1`` only as an alias)
would add a dependency and still need this table's choice of name, so it is not used.
A character outside the table keeps its own spelling: listing ``🧠`` in a setting
matches Discord's 🧠 (Slack's ``brain`` would need listing too).

Events come from the network: every text is bounded, and :meth:`FeedbackRecorder.record`
never raises (it answers False and logs at debug for anything it does not count).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.errors import StorageError
from bot.models import ChannelRef

if TYPE_CHECKING:
    from bot.store import Store

__all__ = [
    "BUTTON_SIGNALS",
    "DEFAULT_NEGATIVE",
    "DEFAULT_POSITIVE",
    "FeedbackEvent",
    "FeedbackRecorder",
    "FeedbackSource",
    "normalize_emoji",
    "parse_emoji_names",
]

log = logging.getLogger(__name__)

FeedbackSource = Literal["reaction", "button"]

DEFAULT_POSITIVE = "+1,heart,fire,star,tada,eyes"
"""Reactions that mean "more like this" unless ``FEEDBACK_POSITIVE`` says otherwise."""
DEFAULT_NEGATIVE = "-1"
"""Reactions that mean "not for us" unless ``FEEDBACK_NEGATIVE`` says otherwise."""

BUTTON_SIGNALS: Mapping[str, int] = {"+1": 1, "-1": -1}
"""What a card's buttons send (``source="button"``); they count whatever the settings."""

MAX_EMOJI_CHARS = 64
"""The longest emoji name (Slack allows 100 for custom ones; ours are short)."""
MAX_RAW_EMOJI_CHARS = 200
"""Longer raw text is not an emoji at all: it is dropped before any work."""
MAX_REF_CHARS = 128
"""Platform ids (a Slack ts, a Discord snowflake, a user id) are far shorter."""

_SKIN_TONES = {chr(code) for code in range(0x1F3FB, 0x1F400)}
_VARIATION_SELECTORS = {"\ufe0e", "\ufe0f"}
_NAME = re.compile(r"[\w+'\-]+")

_CHARACTERS: Mapping[str, str] = {
    "\U0001f44d": "+1",  # 👍
    "\U0001f44e": "-1",  # 👎
    "\u2764": "heart",  # ❤ (usually sent as ❤️, with U+FE0F)
    "\U0001f525": "fire",  # 🔥
    "\u2b50": "star",  # ⭐
    "\U0001f31f": "star2",  # 🌟
    "\U0001f389": "tada",  # 🎉
    "\U0001f440": "eyes",  # 👀
    "\U0001f4af": "100",  # 💯
    "\U0001f680": "rocket",  # 🚀
    "\U0001f44f": "clap",  # 👏
    "\U0001f64c": "raised_hands",  # 🙌
    "\U0001f60d": "heart_eyes",  # 😍
    "\U0001f92f": "exploding_head",  # 🤯
    "\U0001f4a1": "bulb",  # 💡
    "\U0001f9e0": "brain",  # 🧠
    "\u2705": "white_check_mark",  # ✅
    "\u274c": "x",  # ❌
    "\U0001f615": "confused",  # 😕
    "\U0001f634": "sleeping",  # 😴
}
"""The usual feedback emoji, by character, with Slack's name for each."""

_ALIASES: Mapping[str, str] = {
    "thumbsup": "+1",
    "thumbs_up": "+1",
    "thumbsdown": "-1",
    "thumbs_down": "-1",
    "red_heart": "heart",
    "glowing_star": "star2",
    "party_popper": "tada",
    "hundred_points": "100",
    "clapping_hands": "clap",
    "raising_hands": "raised_hands",
    "light_bulb": "bulb",
    "check_mark_button": "white_check_mark",
    "cross_mark": "x",
}
"""Other names Slack (or a person writing a setting) uses for the same emoji."""


def normalize_emoji(raw: object) -> str | None:
    """One name for an emoji however a platform spells it, or None when it is not one.

    ``"+1"``, ``":thumbsup:"``, ``"+1::skin-tone-2"``, ``"👍"`` and ``"👍🏽"`` are all
    ``"+1"``; ``"❤️"`` (with U+FE0F) and ``"heart"`` are ``"heart"``. Names are lower
    case; a character outside the table stays itself, without variation selectors or
    skin tones. Never raises, whatever ``raw`` is.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_RAW_EMOJI_CHARS:
        return None
    text = raw.strip()
    if text.startswith(":") and text.endswith(":") and len(text) > 2:
        text = text[1:-1]  # ":fire:" as typed in a setting
    text = text.split("::", 1)[0]  # Slack's "+1::skin-tone-2"
    text = "".join(c for c in text if c not in _VARIATION_SELECTORS and c not in _SKIN_TONES)
    if not text or len(text) > MAX_EMOJI_CHARS:
        return None
    if text in _CHARACTERS:
        return _CHARACTERS[text]
    if _NAME.fullmatch(text):
        name = text.lower()
        return _ALIASES.get(name, name)
    if any(c.isspace() or not c.isprintable() for c in text) or len(text) > 8:
        return None  # not a pictograph (or sequence of a few) either
    return text


def parse_emoji_names(value: str) -> tuple[str, ...]:
    """A setting's comma-separated emoji (``"+1, :fire:, 👀"``) as normalised names, in
    order and without repeats; :class:`ValueError` naming the first that is not one."""
    names: list[str] = []
    for item in value.split(","):
        if not item.strip():
            continue
        name = normalize_emoji(item)
        if name is None:
            raise ValueError(f"{item.strip()[:40]!r} is not an emoji name such as +1 or fire")
        if name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """A reaction or button press on a message the bot posted, as an adapter saw it.

    ``message_ref`` is the platform's reference of the message (a Slack ts, a Discord
    message id: what the adapter's ``send`` returned); ``user`` the platform's id of the
    person; ``emoji`` as the platform sent it (a Slack name or a Unicode character; a
    button sends ``+1`` or ``-1``); ``added`` False for a removed reaction.
    """

    channel: ChannelRef
    message_ref: str
    user: str
    emoji: str
    added: bool = True
    source: FeedbackSource = "reaction"


class FeedbackRecorder:
    """Turns :class:`FeedbackEvent` into stored feedback rows (see the module doc)."""

    def __init__(
        self,
        store: Store,
        *,
        positive: Iterable[str] = parse_emoji_names(DEFAULT_POSITIVE),
        negative: Iterable[str] = parse_emoji_names(DEFAULT_NEGATIVE),
    ) -> None:
        """``positive`` and ``negative`` are normalised names (:func:`parse_emoji_names`);
        a name in both counts as negative."""
        self._store = store
        self._signals: dict[str, int] = {name: 1 for name in positive}
        self._signals.update({name: -1 for name in negative})

    def signal(self, emoji: str, source: FeedbackSource = "reaction") -> int | None:
        """+1, -1, or None when this emoji from this source is not feedback."""
        name = normalize_emoji(emoji)
        if name is None:
            return None
        return BUTTON_SIGNALS.get(name) if source == "button" else self._signals.get(name)

    async def record(self, event: FeedbackEvent) -> bool:
        """Store (or, for a removal, delete) the feedback ``event`` gives; True when it is
        feedback on a message showing one paper, False (logged at debug) otherwise.

        Idempotent: the same reaction added twice is one row, removing a reaction never
        stored changes nothing (and still answers True). A button press replaces the
        user's earlier button press on the paper. Never raises.
        """
        try:
            return await self._record(event)
        except StorageError as error:
            log.warning("feedback could not be stored: %s", error)
            return False
        except Exception:  # untrusted input must never take an adapter's handler down
            log.debug("feedback event not understood: %.300r", event, exc_info=True)
            return False

    async def _record(self, event: FeedbackEvent) -> bool:
        if not _bounded(event):
            log.debug("feedback ignored: malformed event %.300r", event)
            return False
        emoji = normalize_emoji(event.emoji)
        signal = self.signal(event.emoji, event.source)
        if emoji is None or signal is None:
            log.debug("feedback ignored: %.80r is not a feedback emoji", event.emoji)
            return False
        shown = await self._store.paper_shown_by(event.channel, event.message_ref)
        if shown is None:
            log.debug(
                "feedback ignored: message %.80r in %s shows no single paper",
                event.message_ref,
                event.channel.label,
            )
            return False
        if event.added:
            await self._store.add_feedback(
                shown.channel_id,
                shown.arxiv_id,
                user=event.user,
                source=event.source,
                emoji=emoji,
                signal=signal,
                exclusive=event.source == "button",
            )
        else:
            await self._store.remove_feedback(
                shown.channel_id, shown.arxiv_id, user=event.user, source=event.source, emoji=emoji
            )
        return True


def _bounded(event: object) -> bool:
    """The event has the expected types, and its ids are non-empty and short."""
    if not isinstance(event, FeedbackEvent) or not isinstance(event.channel, ChannelRef):
        return False
    texts = (
        event.message_ref,
        event.user,
        event.channel.platform,
        event.channel.workspace,
        event.channel.channel,
    )
    if not all(isinstance(text, str) and len(text) <= MAX_REF_CHARS for text in texts):
        return False
    return (
        bool(event.message_ref and event.user and event.channel.channel)
        and isinstance(event.added, bool)
        and event.source in ("reaction", "button")
    )
