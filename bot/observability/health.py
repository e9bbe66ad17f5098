"""Readiness: the checks behind ``/readyz``, each saying in words what it found.

The bot is ready when its store answers, every adapter it started is connected, and the
last successful harvest is not older than the schedule allows (:func:`harvest_check`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.schedule import HarvestSchedule

__all__ = ["HARVEST_GRACE", "Check", "Readiness", "adapters_check", "harvest_check"]

HARVEST_GRACE = timedelta(hours=1)
"""How long a scheduled harvest may take before the bot counts as behind; the retry
after a failure (``HARVEST_RETRY_MINUTES``) is allowed on top."""


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Readiness:
    """The named checks; ready when every one passed."""

    checks: Mapping[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
        }


def adapters_check(expected: Sequence[str], connected: Mapping[str, bool]) -> Check:
    """``expected`` adapters by name; ``connected`` says which of those running are."""
    if not expected:
        return Check(False, "no chat adapter runs")
    missing = [name for name in expected if not connected.get(name, False)]
    if not missing:
        return Check(True, f"connected: {', '.join(expected)}")
    starting = [name for name in missing if name not in connected]
    parts = []
    if starting:
        parts.append(f"not started yet: {', '.join(starting)}")
    if lost := [name for name in missing if name in connected]:
        parts.append(f"disconnected: {', '.join(lost)}")
    return Check(False, "; ".join(parts))


def harvest_check(
    schedule: HarvestSchedule,
    last_success: datetime | None,
    now: datetime,
    last_error: str | None = None,
) -> Check:
    """Whether the last successful harvest covers the last scheduled run, allowing it
    :data:`HARVEST_GRACE` plus the schedule's retry delay to finish."""
    failed = f"; last attempt: {last_error}" if last_error else ""
    if last_success is None:
        return Check(False, f"no harvest has succeeded yet{failed}")
    grace = HARVEST_GRACE + (schedule.retry_delay or timedelta())
    when = _utc_text(last_success)
    if schedule.is_overdue(last_success, now - grace):
        missed = schedule.last_scheduled_before(now - grace)
        due = f" due {_utc_text(missed)}" if missed is not None else ""
        return Check(False, f"last success {when} is older than the harvest{due}{failed}")
    return Check(True, f"last success {when}")


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
