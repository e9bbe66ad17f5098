"""The plug point for chat platforms.

Adapters live outside the core (``adapters/``) and are found through the
``arxiv_bot.adapters`` entry-point group, so the core never imports them and a
third-party package can add a platform by declaring one entry point.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.delivery import Sender
from bot.errors import ConfigError
from bot.feedback import FeedbackEvent
from bot.link_previews import LinkPreview
from bot.models import ChannelRef, Reply, Subscription

if TYPE_CHECKING:
    from aiohttp.web import RouteDef

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "arxiv_bot.adapters"


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who sent a command and where. Adapters fill it from the platform payload."""

    channel: ChannelRef
    user: str = ""
    can_manage_channel: bool = True
    progress: Callable[[str], Awaitable[None]] | None = None
    """Shows the asker a note while the command waits (a search queued for arXiv: how
    many requests are ahead, about how long); the reply comes after. None: no notes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdapterOptions:
    """What the core tells every adapter it creates (built once from the settings)."""

    database: Path | str
    """The bot's database, an SQLite file or a ``postgresql://`` URL; the Slack adapter
    keeps its OAuth installs there."""
    commands: bool = True
    """False when the adapter only posts (``arxiv-bot run --once``)."""
    channel: str | None = None
    """The console's channel name; None for the adapter's default."""
    probe_routes: Sequence[RouteDef] = ()
    """``/healthz``, ``/readyz`` and ``/metrics``, for an adapter that runs its own HTTP
    server (Slack's HTTP mode) to answer as well."""


class Core(Protocol):
    """What an adapter may ask of the core."""

    async def execute(self, text: str, context: CommandContext) -> Reply:
        """Parse and run one command line, answering with a reply."""

    async def channel_subscriptions(self, channel: ChannelRef) -> list[Subscription]:
        """The channel's subscriptions, oldest first (for autocomplete)."""

    async def feedback(self, event: FeedbackEvent) -> bool:
        """Record (or, for a removed reaction, forget) feedback on a message the bot sent.

        True when it counted: a feedback emoji (``FEEDBACK_POSITIVE``/``NEGATIVE``; a
        button's ``+1``/``-1`` always) on a message that shows exactly one paper. False,
        logged at debug, for anything else. Never raises; safe to call for every
        reaction the platform reports (filter out the bot's own first).
        """


@runtime_checkable
class PreviewsLinks(Protocol):
    """A core that previews pasted links (:class:`bot.app.BotApp` does); adapters check
    for it with ``isinstance`` so that test cores need not."""

    async def link_previews(self, urls: Sequence[str], channel: ChannelRef) -> list[LinkPreview]:
        """The cards for the arXiv papers ``urls`` link to (at most 5, each paper once;
        other links left out), from the index when it holds them, else from arXiv
        through the ``/arxiv paper`` queue. Never raises for a bad or unknown link."""


class Adapter(Sender, Protocol):
    """A running connection to one chat platform."""

    name: str

    async def start(self) -> None:
        """Connect; return once the adapter is ready to receive commands."""

    async def wait_closed(self) -> None:
        """Return when the adapter has no more input (the console at end of input)."""

    async def stop(self) -> None:
        """Finish pending work and disconnect."""


@runtime_checkable
class ReportsConnection(Protocol):
    """An adapter that can tell whether it is connected now (for ``/readyz``); one that
    cannot counts as connected from its start to its stop."""

    async def is_connected(self) -> bool: ...


class AdapterFactory(Protocol):
    """Registered under the ``arxiv_bot.adapters`` entry-point group."""

    name: str
    interactive: bool
    """True for adapters driven from the terminal (started when no platform is configured)."""

    def is_configured(self) -> bool:
        """True when its credentials are set (read from the environment or ``.env``)."""

    def create(self, core: Core, options: AdapterOptions) -> Adapter: ...


def discover_factories() -> dict[str, AdapterFactory]:
    """Every installed adapter factory, by name."""
    factories: dict[str, AdapterFactory] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            factory = entry.load()
        except Exception as error:  # a broken plug-in must not stop the others
            log.warning("adapter %s could not be loaded: %s", entry.name, error)
            continue
        factories[entry.name] = factory
    return factories


def runs_as_service(factories: Sequence[AdapterFactory]) -> bool:
    """True when a chat platform (Slack, Discord) is among ``factories``, not only the
    terminal: the log says more and the health server is on by default."""
    return any(not factory.interactive for factory in factories)


def choose_factories(
    factories: Mapping[str, AdapterFactory], *, console: bool | None = None
) -> list[AdapterFactory]:
    """Configured platforms, plus the terminal one when asked or when nothing else is set."""
    chosen = [f for f in factories.values() if not f.interactive and f.is_configured()]
    want_console = console if console is not None else not chosen
    if want_console:
        chosen.extend(f for f in factories.values() if f.interactive)
    if not chosen:
        raise ConfigError(
            "no chat adapter is available: set Slack or Discord credentials in .env, "
            "or reinstall arxiv-bot to get the console adapter"
        )
    return chosen
