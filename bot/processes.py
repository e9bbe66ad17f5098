"""Processes as outbox claims and leases name them (host, pid, incarnation), and whether
one that ran on this host is gone."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProcessId", "process_is_alive"]

_BOOT = uuid.uuid4().hex[:12]
"""This process's incarnation: tells a restarted process from its dead predecessor
even when both got the same pid (pid 1 in a container)."""


def process_is_alive(pid: int) -> bool:
    """True if a process with this id exists on this host (it may belong to anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but another user's
        return True
    return True


@dataclass(frozen=True, slots=True)
class ProcessId:
    host: str
    pid: int
    boot: str

    @classmethod
    def current(cls) -> ProcessId:
        return cls(socket.gethostname(), os.getpid(), _BOOT)

    @classmethod
    def parse(cls, text: str) -> ProcessId | None:
        """The process ``host:pid:boot`` names; None for another text."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.boot}"

    def is_gone(self, alive: Callable[[int], bool] = process_is_alive) -> bool:
        """True when this process is known to be gone: only said of one on this host
        (its pid runs no more, or is this process's under another incarnation)."""
        me = ProcessId.current()
        if self.host != me.host or self.boot == me.boot:
            return False
        return self.pid == me.pid or not alive(self.pid)
