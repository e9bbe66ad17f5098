"""arxiv-bot: the platform-free core."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("arxiv-bot")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+source"
