"""Notes for an asker while a command waits: where a search stands in the queue for arXiv.

The words are written here, with the handlers; the adapter shows them through
:attr:`~bot.adapter.CommandContext.progress` (and the final reply replaces or follows
them, depending on the platform).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from types import TracebackType

from bot.render import plural
from bot.sources.gate import QueuePlace

__all__ = ["NOTE_SETTLE_SECONDS", "QueueNotes", "queue_note"]

log = logging.getLogger(__name__)

NOTE_SETTLE_SECONDS = 2.0
"""How long the reply waits for a note still being shown, so no note lands after it."""


def queue_note(place: QueuePlace) -> str:
    """``3 searches ahead of yours, about 9 s``, as the asker reads it."""
    seconds = max(1, math.ceil(place.wait))
    return (
        f"Waiting for our turn at arXiv: {plural(place.ahead, 'search', 'searches')} "
        f"ahead of yours, about {seconds} s."
    )


class QueueNotes:
    """Tells one asker where their request stands, through ``show`` (the adapter's
    progress hook; None: the adapter shows nothing). Used as ``async with``: on leaving,
    a note still on its way is waited for, and none is sent after, so the reply that
    follows is the last word. Notes that pile up while one is being shown collapse into
    the newest."""

    def __init__(self, show: Callable[[str], Awaitable[None]] | None) -> None:
        self._show = show
        self._pending: str | None = None
        self._sending: asyncio.Task[None] | None = None
        self._closed = False

    def heard(self, place: QueuePlace) -> None:
        """A :data:`~bot.sources.arxiv_api.QueueListener`: show where the request stands."""
        if self._show is None or self._closed:
            return
        self._pending = queue_note(place)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send(self._show))

    async def _send(self, show: Callable[[str], Awaitable[None]]) -> None:
        while self._pending is not None and not self._closed:
            text, self._pending = self._pending, None
            try:
                await show(text)
            except Exception as error:  # a note is a courtesy; the answer still comes
                log.warning("could not show a progress note: %s", error)

    async def __aenter__(self) -> QueueNotes:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed = True
        if self._sending is not None and not self._sending.done():
            await asyncio.wait({self._sending}, timeout=NOTE_SETTLE_SECONDS)
            self._sending.cancel()  # still not shown: the reply goes first
