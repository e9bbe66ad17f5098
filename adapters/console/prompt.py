"""Keep log lines off the console's prompt line.

While the console waits at its prompt, a log line written to the same terminal would
land after ``arxiv> `` and whatever was typed. :class:`PromptLine` knows when the
prompt is showing; the log handlers' stream is wrapped (:meth:`PromptLine.guard_logs`)
so that a log line first clears the prompt line, and the prompt (with what was typed,
when ``readline`` is in use) is drawn again below it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

__all__ = ["CLEAR_LINE", "PromptLine"]

CLEAR_LINE = "\r\x1b[K"
"""Back to the start of the line, and erase it."""


class PromptLine:
    """Whether the prompt is showing, and the log streams that respect it."""

    def __init__(self, prompt: str, *, stdout: TextIO | None = None) -> None:
        self.prompt = prompt
        self._stdout = stdout or sys.stdout
        self._showing = False
        self._closed = False
        self.lock = threading.Lock()
        self._guarded: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        """Around the read at the prompt (``input(prompt)``)."""
        with self.lock:
            self._showing = not self._closed
        try:
            yield
        finally:
            with self.lock:
                self._showing = False

    def write_around(self, stream: TextIO, text: str) -> None:
        """Write ``text`` (a log line) to ``stream`` without mixing it into the prompt."""
        with self.lock:
            if not self._showing:
                stream.write(text)
                return
            self._stdout.flush()
            stream.write(CLEAR_LINE + text)
            if text.endswith("\n"):
                stream.write(self.prompt + _typed_so_far())
            stream.flush()

    def guard_logs(self, logger: logging.Logger | None = None) -> None:
        """Route the terminal log handlers of ``logger`` (the root) through this line."""
        for handler in (logger or logging.getLogger()).handlers:
            if isinstance(handler, logging.StreamHandler) and _is_terminal(handler.stream):
                self._guarded.append((handler, handler.stream))
                handler.setStream(_GuardedStream(self, handler.stream))

    def close(self) -> None:
        """The prompt is not drawn again: give the log handlers their own streams back."""
        with self.lock:
            self._closed = True
            self._showing = False
        for handler, stream in self._guarded:
            handler.setStream(stream)
        self._guarded.clear()


class _GuardedStream:
    """A terminal stream whose writes go through :meth:`PromptLine.write_around`."""

    def __init__(self, line: PromptLine, stream: TextIO) -> None:
        self._line = line
        self._stream = stream

    def write(self, text: str) -> int:
        self._line.write_around(self._stream, text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return True


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


def _typed_so_far() -> str:
    """What was typed at the prompt, when ``readline`` keeps it (else the terminal does)."""
    readline = sys.modules.get("readline")
    get_line_buffer = getattr(readline, "get_line_buffer", None)
    return str(get_line_buffer()) if callable(get_line_buffer) else ""
