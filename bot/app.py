"""The application: wires settings, store, arXiv access and commands, and runs adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from bot import __version__
from bot.adapter import Adapter, AdapterFactory
from bot.clock import utc_now
from bot.commands.grammar import Command
from bot.commands.handlers import CommandContext, CommandHandler
from bot.config import Settings
from bot.models import Reply
from bot.sources.arxiv_api import ArxivApi
from bot.sources.gate import ArxivGate, build_user_agent
from bot.store import Store

log = logging.getLogger(__name__)


class BotApp:
    """Owns every long-lived resource; use as ``async with BotApp(settings) as app``."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._clock = clock
        self.gate = ArxivGate(
            interval=settings.arxiv_request_interval,
            timeout=settings.arxiv_timeout,
            user_agent=build_user_agent(__version__, settings.arxiv_contact),
        )
        self.arxiv = ArxivApi(
            self.gate,
            base_url=settings.arxiv_api_url,
            cache_seconds=settings.search_cache_seconds,
        )
        self._store: Store | None = None
        self._handler: CommandHandler | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("BotApp is not open; use `async with BotApp(...)`")
        return self._store

    async def __aenter__(self) -> BotApp:
        self._store = await Store.open(self.settings.database_path)
        self._handler = CommandHandler(
            settings=self.settings,
            store=self._store,
            arxiv=self.arxiv,
            gate=self.gate,
            clock=self._clock,
        )
        log.info("store ready at %s", self.settings.database_path)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None
        self.gate.close()

    async def execute(self, text: str, context: CommandContext) -> Reply:
        assert self._handler is not None, "BotApp is not open"
        return await self._handler.execute(text, context)

    async def handle(self, command: Command, context: CommandContext) -> Reply:
        assert self._handler is not None, "BotApp is not open"
        return await self._handler.handle(command, context)

    async def run(
        self, factories: Sequence[AdapterFactory], options: Mapping[str, str] | None = None
    ) -> None:
        """Run the adapters until all of them run out of input, or until SIGINT/SIGTERM."""
        adapters: list[Adapter] = []
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            for factory in factories:
                adapter = factory.create(self, options or {})
                await adapter.start()
                adapters.append(adapter)
                log.info("adapter %s started", adapter.name)
            waiters: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(asyncio.gather(*(a.wait_closed() for a in adapters))),
                asyncio.ensure_future(stop.wait()),
            ]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        finally:
            for adapter in reversed(adapters):
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter %s did not stop cleanly", adapter.name)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
