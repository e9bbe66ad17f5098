"""systemd's notify protocol (sd_notify): readiness, status, stopping and watchdog pings.

Each message is one datagram to the unix socket named by ``NOTIFY_SOCKET`` (a path, or an
abstract name starting with ``@``). Outside systemd that variable is unset and every call
here does nothing, so the app calls them unconditionally. See deploy/arxiv-bot.service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)


def notify(*fields: str) -> bool:
    """Send ``fields`` (``READY=1``, ``STATUS=...``) to systemd in one message.

    True when sent; False outside systemd, or when the socket refused it (logged).
    """
    name = os.environ.get("NOTIFY_SOCKET", "")
    if not name:
        return False
    address = "\0" + name[1:] if name.startswith("@") else name
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(fields).encode(), address)
    except OSError as error:
        log.warning("could not notify systemd at %s: %s", name, error)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None when systemd
    expects none from this process."""
    owner = os.environ.get("WATCHDOG_PID", "")
    if not os.environ.get("NOTIFY_SOCKET") or (owner and owner != str(os.getpid())):
        return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


@contextlib.asynccontextmanager
async def serving(status: str) -> AsyncIterator[None]:
    """Say READY=1 (with ``status``), ping the watchdog while the block runs, and say
    STOPPING=1 when it ends.

    The pings come from a task on the event loop, so a loop stuck in blocking code misses
    them and systemd restarts the service.
    """
    notify("READY=1", f"STATUS={status}")
    interval = watchdog_interval()
    pinger = None
    if interval is not None:
        pinger = asyncio.create_task(_ping_watchdog(interval), name="systemd-watchdog")
    try:
        yield
    finally:
        notify("STOPPING=1", "STATUS=stopping")
        if pinger is not None:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)


async def _ping_watchdog(interval: float) -> None:
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
