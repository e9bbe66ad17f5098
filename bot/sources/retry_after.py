"""Reading a ``Retry-After`` header, which every polite client here honours."""

from __future__ import annotations

import logging

from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

__all__ = ["retry_after"]

log = logging.getLogger(__name__)


def retry_after(header: str | None) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date, 0 when past), or None when
    absent or unreadable."""
    if not header:
        return None
    try:
        return max(float(Retry().parse_retry_after(header)), 0.0)
    except InvalidHeader:
        log.info("ignoring unparsable Retry-After header %r", header)
        return None
