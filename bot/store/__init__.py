"""SQLite storage (aiosqlite, WAL, versioned migrations) for papers, channels and more."""

from bot.store.database import MigrationError
from bot.store.migrations import LATEST_VERSION, MIGRATIONS, Migration
from bot.store.store import (
    DEFAULT_SUBSCRIPTION_LIMIT,
    Channel,
    DuplicateSubscriptionError,
    HarvestCounts,
    Store,
    StoreCounts,
    fts_query,
)

__all__ = [
    "DEFAULT_SUBSCRIPTION_LIMIT",
    "LATEST_VERSION",
    "MIGRATIONS",
    "Channel",
    "DuplicateSubscriptionError",
    "HarvestCounts",
    "Migration",
    "MigrationError",
    "Store",
    "StoreCounts",
    "fts_query",
]
