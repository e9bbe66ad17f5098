"""Work an adapter finishes after telling the core a message was delivered (thread
replies), kept track of so that a stop can wait for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks"]

log = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self, label: str) -> None:
        self._label = label
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=self._label)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %s", self._label, task.exception())

    async def wait(self, grace: float | None = None) -> None:
        """Wait for the tasks started so far; after ``grace`` seconds, cancel the rest."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning("%s: %s unfinished at stop, cancelled", self._label, len(late))
            await asyncio.gather(*late, return_exceptions=True)
