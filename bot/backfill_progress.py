"""How ``arxiv-bot backfill`` shows its progress: a rich bar on a terminal, plain lines
(one per window) when piped."""

from __future__ import annotations

from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from bot.backfill import BackfillProgress

__all__ = ["ProgressView", "summary"]


def summary(progress: BackfillProgress) -> str:
    """Records, requests and records per request so far, in one phrase."""
    return (
        f"{progress.records:,} records ({progress.counts.new:,} new) in "
        f"{progress.requests:,} requests, {progress.records_per_request:,.0f} a request"
    )


class ProgressView:
    """Shows a backfill's :class:`BackfillProgress`; a context manager around the run."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._console = Console(file=stream)
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._done = -1

    def __enter__(self) -> ProgressView:
        if self._console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} windows"),
                TextColumn("{task.fields[figures]}"),
                TimeRemainingColumn(),
                console=self._console,
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, progress: BackfillProgress) -> None:
        """Show ``progress`` (called after every page and window)."""
        if self._bar is not None:
            self._update_bar(progress)
        elif progress.done != self._done:  # piped: one line per completed window
            self._done = progress.done
            self._stream.write(_line(progress) + "\n")
            self._stream.flush()

    def _update_bar(self, progress: BackfillProgress) -> None:
        assert self._bar is not None
        figures = f"{progress.records:,} records, {progress.requests:,} requests"
        description = str(progress.current) if progress.current else "backfill"
        if self._task is None:
            self._task = self._bar.add_task(description, total=progress.windows, figures=figures)
        self._bar.update(
            self._task, completed=progress.done, description=description, figures=figures
        )


def _line(progress: BackfillProgress) -> str:
    left = progress.seconds_left
    eta = "" if left is None or progress.done == progress.windows else f", about {left:,.0f} s left"
    where = f" ({progress.current} done)" if progress.current else ""
    return f"{progress.done}/{progress.windows} windows{where}: {summary(progress)}{eta}"
