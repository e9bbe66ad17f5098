"""Storage for papers, channels and more: an SQLite file (aiosqlite, WAL) or PostgreSQL
(psycopg 3), one set of versioned migrations for both."""

from bot.store.channels import DEFAULT_SUBSCRIPTION_LIMIT, Channel
from bot.store.database import MigrationError
from bot.store.migrations import LATEST_VERSION, MIGRATIONS, Migration
from bot.store.paper_index import IndexHit
from bot.store.papers import HarvestCounts
from bot.store.store import Store, StoreBacklog, StoreCounts

__all__ = [
    "DEFAULT_SUBSCRIPTION_LIMIT",
    "LATEST_VERSION",
    "MIGRATIONS",
    "Channel",
    "HarvestCounts",
    "IndexHit",
    "Migration",
    "MigrationError",
    "Store",
    "StoreBacklog",
    "StoreCounts",
]
