"""Reads ``/arxiv`` commands line by line from standard input; prints replies and posts.

Works interactively (with a prompt) and from a pipe, where it exits at end of input
once every command has been answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from adapters.console.prompt import PromptLine
from bot.adapter import AdapterOptions, CommandContext, Core
from bot.models import (
    ChannelRef,
    Digest,
    OutgoingMessage,
    PaperPost,
    ReplyFile,
    SentCandidate,
)
from bot.render import channel_prefix, digest_text, post_text, reply_text

log = logging.getLogger(__name__)

PLATFORM = "console"
DEFAULT_CHANNEL = "console"
PROMPT = "arxiv> "


class ConsoleAdapter:
    name = PLATFORM

    def __init__(
        self,
        core: Core,
        *,
        channel: str = DEFAULT_CHANNEL,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        user: str = "you",
        commands: bool = True,
    ) -> None:
        self._core = core
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self.channel = ChannelRef(
            platform=PLATFORM, workspace="local", channel=channel, name=channel
        )
        self._context = CommandContext(channel=self.channel, user=user, progress=self._note)
        self._commands = commands
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._prompt = PromptLine(PROMPT, stdout=self._stdout)
        """Log lines and posts that arrive while the prompt shows go above it."""
        # Interactive only: the next prompt appears once the last command is answered.
        self._answered = threading.Event()
        self._answered.set()

    @property
    def interactive(self) -> bool:
        return self._stdin.isatty() and self._stdout.isatty()

    async def start(self) -> None:
        if not self._commands:  # only posting (arxiv-bot run --once)
            return
        loop = asyncio.get_running_loop()
        if isinstance(self._stdin, io.TextIOWrapper):
            # Undecodable bytes become U+FFFD (the reply says so) instead of ending the input.
            self._stdin.reconfigure(errors="replace")
        if self.interactive:
            self._prompt.guard_logs()
            self._print(
                f"arxiv-bot console, channel #{self.channel.name}. "
                "Type /arxiv help for commands; Ctrl-D quits.\n"
            )
        # A daemon thread, not asyncio.to_thread: a read blocked on a terminal must not
        # keep the process alive at shutdown.
        threading.Thread(
            target=self._read_lines, args=(loop,), name="console-stdin", daemon=True
        ).start()
        self._worker = asyncio.create_task(self._answer_lines(), name="console-commands")

    def _read_lines(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while True:
                if self.interactive:
                    self._answered.wait()
                    self._answered.clear()
                    try:
                        with self._prompt.showing():
                            line = input(PROMPT)
                    except EOFError:
                        self._print("")
                        break
                else:
                    line = self._stdin.readline()
                    if not line:
                        break
                loop.call_soon_threadsafe(self._lines.put_nowait, line)
        except (OSError, ValueError) as error:  # stdin closed under us
            log.debug("console input ended: %s", error)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(self._lines.put_nowait, None)

    async def _answer_lines(self) -> None:
        while (line := await self._lines.get()) is not None:
            try:
                if line.strip() and not line.lstrip().startswith("#"):
                    reply = await self._core.execute(line, self._context)
                    async with self._write_lock:
                        self._print(reply_text(reply) + "\n")
                        if reply.file is not None:  # an export: printed whole
                            self._print(file_text(reply.file))
            finally:
                self._answered.set()

    async def wait_closed(self) -> None:
        if self._worker is not None:
            await asyncio.shield(self._worker)

    async def stop(self) -> None:
        self._prompt.close()
        if self._worker is not None and not self._worker.done():
            if self.interactive:
                self._print("")  # end the line the interrupted prompt was on
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    def plan(self, item: PaperPost | Digest, *, cards: int) -> list[OutgoingMessage]:
        """One block of text: a paper card, or a digest listing every paper."""
        if isinstance(item, Digest):
            shows = tuple(post.paper.arxiv_id for post in item.posts)
            return [OutgoingMessage({"text": digest_text(item)}, shows)]
        return [OutgoingMessage({"text": post_text(item)}, (item.paper.arxiv_id,))]

    async def send(
        self, channel: ChannelRef, message: OutgoingMessage, *, key: str, thread: str | None
    ) -> str:
        async with self._write_lock:
            self._print(f"{channel_prefix(channel.label)}{message.payload['text']}\n")
        return key

    async def find_sent(
        self, channel: ChannelRef, candidates: Sequence[SentCandidate]
    ) -> dict[str, str]:
        """A terminal keeps no record to read back: a message cut short may repeat."""
        return {}

    async def _note(self, text: str) -> None:
        """A note while a command waits (a search queued for arXiv), before its answer."""
        async with self._write_lock:
            self._print(f"… {text}")

    def _print(self, text: str) -> None:
        self._prompt.write_around(self._stdout, text + "\n")
        self._stdout.flush()


def file_text(file: ReplyFile) -> str:
    """A reply's file as the terminal shows it: its name, then its text."""
    return f"── {file.name} ──\n{file.content.decode('utf-8', 'replace').rstrip()}\n"


class ConsoleFactory:
    name = PLATFORM
    interactive = True

    def is_configured(self) -> bool:
        return True

    def create(self, core: Core, options: AdapterOptions) -> ConsoleAdapter:
        return ConsoleAdapter(
            core, channel=options.channel or DEFAULT_CHANNEL, commands=options.commands
        )
