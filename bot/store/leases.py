"""Leases: one process of several on a database holds a named job until a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.base import StoreBase
from bot.store.values import from_text, to_text

__all__ = ["Lease", "LeaseStore"]


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    expires_at: datetime
    acquired_at: datetime


class LeaseStore(StoreBase):
    """The lease methods of :class:`~bot.store.store.Store`."""

    async def take_lease(
        self,
        name: str,
        holder: str,
        *,
        now: datetime,
        until: datetime,
        replacing: str | None = None,
    ) -> bool:
        """Take the lease ``name`` for ``holder`` until ``until``, or renew it: True when
        ``holder`` holds it now; False while another holder's lease runs, unless that
        holder is ``replacing`` (known to be dead)."""
        changed = await self.execute(
            "INSERT INTO leases (name, holder, expires_at, acquired_at)"
            " VALUES (:name, :holder, :until, :now)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " expires_at = excluded.expires_at,"
            " acquired_at = CASE WHEN leases.holder = excluded.holder"
            " THEN leases.acquired_at ELSE excluded.acquired_at END"
            " WHERE leases.holder = excluded.holder OR leases.expires_at <= excluded.acquired_at"
            " OR leases.holder = :replacing",
            {
                "name": name,
                "holder": holder,
                "until": to_text(until),
                "now": to_text(now),
                "replacing": replacing,
            },
        )
        return changed == 1

    async def drop_lease(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop), so another process need not wait it out."""
        await self.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def lease(self, name: str) -> Lease | None:
        row = await self.fetchone(
            "SELECT holder, expires_at, acquired_at FROM leases WHERE name = ?", (name,)
        )
        if row is None:
            return None
        return Lease(str(row[0]), from_text(row[1]), from_text(row[2]))
