"""The ``/arxiv`` slash-command group: typed options in, the core's grammar out.

Each subcommand turns its options into the core's command text (``search ti:x --limit
5``), so Discord, Slack and the console share one grammar and one set of messages. The
interaction is deferred at once (Discord allows 3 seconds) and the answer follows: only
to the caller, or, for changes to the channel's subscriptions, to the whole channel.

A result list with a next page has a "Next" button. Its custom id (at most 100
characters) holds a short key for the command that shows that page, kept in memory
(:data:`NEXTS_KEPT` of the latest), and the page number, so that after a restart the
button can say which ``--page`` to ask for. A click runs the command for the person who
clicked, in the same channel, and the answer replaces the list it was clicked in.

A paper card's "👍 relevant" / "👎 not for us" buttons (custom ids ``arxiv:fb:up`` and
``arxiv:fb:down``, a dynamic item, so they work after a restart) are feedback
(docs/feedback.md): the click goes to :meth:`bot.adapter.Core.feedback` with the card's
message id, and the clicker gets a private "Noted".

In a direct message with the bot every subcommand works for that person alone: the DM
is their own channel (:func:`channel_ref`), which they manage without any permission.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import discord
from discord import app_commands

from adapters.discord.buttons import DynamicButton, dynamic_button
from adapters.discord.files import attachment
from adapters.discord.permissions import missing_permissions, missing_text
from adapters.discord.render import CITE_PREFIX, FEEDBACK_BUTTONS, FEEDBACK_PREFIX, reply_message
from adapters.discord.settings import DiscordSettings
from bot.adapter import CommandContext, Core
from bot.categories import ALL_CATEGORIES, category_name
from bot.commands.grammar import MAX_LIMIT, MAX_PAGE, SPECS
from bot.feedback import FeedbackEvent
from bot.models import ChannelRef, Reply, Tone, Visibility

__all__ = [
    "DM_WORKSPACE",
    "PLATFORM",
    "ArxivGroup",
    "CommandRunner",
    "make_cite_button",
    "make_feedback_button",
    "make_next_button",
    "make_share_button",
]

log = logging.getLogger(__name__)

PLATFORM = "discord"
DM_WORKSPACE = "dm"
MAX_CHOICES = 25
"""Discord shows at most 25 autocomplete choices."""
SHARE_PREFIX = "arxiv:share:"
SHARES_KEPT = 2000
NEXT_PREFIX = "arxiv:next:"
NEXTS_KEPT = 2000
EDIT_WITHIN = 2.0
"""Seconds a Next click waits for its page before answering: Discord allows 3 for the
message to be edited in place; a slower page comes as a new message after "thinking"."""

DONE_NOTE = "✅ Done; the answer is posted in the channel."
FAILED_NOTE = (
    "⚠️ Something went wrong on the bot's side. Try again; if it keeps failing, "
    "tell the bot's admin."
)
STRAY_OPTION_NOTE = (
    "{option} belongs in its own field of /arxiv {name}, not in the text: remove it and "
    "pick the option from the list Discord shows."
)
_OPTION = re.compile(r"(?:^|\s)(--[a-z]+)")
SHARE_EXPIRED = "This result is too old to share; run the search again and share that."
NEXT_EXPIRED = (
    "This Next button has expired (the bot keeps them for a while only). "
    "Run your /arxiv command again with page {page} to see that page."
)
NEXT_EXPIRED_NO_PAGE = (
    "This Next button has expired (the bot keeps them for a while only). "
    "Run your /arxiv command again with page 2, 3, … to see later pages."
)
FEEDBACK_NOTES = {"+1": "Noted: relevant", "-1": "Noted: not for us"}
FEEDBACK_NOT_COUNTED = "This post no longer takes feedback (it may be too old)."
_PAGE = re.compile(r"(?:^|\s)--page[ =]+(\d{1,3})(?!\S)")


def _remember(kept: OrderedDict[str, str], text: str, most: int) -> str:
    """A short key for ``text`` in ``kept``, which holds the ``most`` newest."""
    key = hashlib.sha256(text.encode()).hexdigest()[:20]
    kept[key] = text
    kept.move_to_end(key)
    while len(kept) > most:
        kept.popitem(last=False)
    return key


class CommandRunner:
    """Runs the core's commands for interactions and answers them."""

    def __init__(self, core: Core, settings: DiscordSettings) -> None:
        self.core = core
        self._manager_role = settings.manager_role.strip()
        self._shares: OrderedDict[str, str] = OrderedDict()
        self._nexts: OrderedDict[str, str] = OrderedDict()
        self.share_button = make_share_button(self)
        """The share button's class, registered once with the client."""
        self.next_button = make_next_button(self)
        """The next button's class, registered once with the client."""
        self.feedback_button = make_feedback_button(self)
        """The feedback buttons' class, registered once with the client."""
        self.cite_button = make_cite_button(self)
        """The "Cite" button's class, registered once with the client."""

    # -- running commands

    async def run(
        self,
        interaction: discord.Interaction,
        name: str,
        text: str,
        *,
        manages: bool = False,
        typed: Sequence[str | None] = (),
    ) -> None:
        """Run ``text`` (the core's grammar) for the subcommand ``name``; ``typed`` are
        the free-text options it was built from."""
        stray = next((m for value in typed if value and (m := _OPTION.search(value))), None)
        if stray is not None:
            note = STRAY_OPTION_NOTE.format(option=stray.group(1), name=name)
            await interaction.response.send_message(note, ephemeral=True)
            return
        allowed = self.can_manage(interaction)
        if manages and not allowed:
            await interaction.response.send_message(self.permission_note(), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)

        async def show_progress(text: str) -> None:  # in place of "thinking…" while queued
            await interaction.edit_original_response(content=f"⏳ {text}")

        context = CommandContext(
            channel=channel_ref(interaction),
            user=str(interaction.user.id),
            can_manage_channel=allowed,
            progress=show_progress,
        )
        reply = await self.core.execute(text, context)
        await self.answer(interaction, reply, share=text)
        if name == "subscribe" and reply.tone is Tone.SUCCESS:
            await self._warn_if_unable_to_post(interaction)

    async def _warn_if_unable_to_post(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:  # the person's DM with the bot: it can post there
            return
        in_thread = isinstance(interaction.channel, discord.Thread)
        missing = missing_permissions(interaction.app_permissions, in_thread=in_thread)
        if missing:
            warning = f"⚠️ {missing_text(missing)}, or no papers will arrive here."
            await interaction.followup.send(warning, ephemeral=True)

    async def failed(self, interaction: discord.Interaction, error: Exception) -> None:
        """A command crashed: say so to the caller instead of "thinking" for 15 minutes."""
        log.error("Discord: /arxiv failed: %s", error, exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(FAILED_NOTE, ephemeral=True)
            else:
                await interaction.response.send_message(FAILED_NOTE, ephemeral=True)
        except discord.HTTPException as unsent:
            log.warning("Discord: could not report the failure: %s", unsent)

    async def answer(
        self, interaction: discord.Interaction, reply: Reply, *, share: str | None = None
    ) -> None:
        """Follow up a deferred interaction with ``reply``, privately or for the channel."""
        message = reply_message(reply)
        if reply.visibility is Visibility.CHANNEL:
            await interaction.edit_original_response(content=DONE_NOTE)
            await interaction.followup.send(**message.send_kwargs(), ephemeral=False)
            return
        extra: dict[str, Any] = {}
        if reply.file is not None:  # an export: attached to the answer
            file, note = attachment(reply.file, interaction)
            if file is not None:
                extra["file"] = file
            else:
                message = reply_message(dataclasses.replace(reply, lines=(*reply.lines, note)))
        view = self.buttons(reply, share)
        if view is not None:
            extra["view"] = view
        await interaction.followup.send(**message.send_kwargs(), ephemeral=True, **extra)

    def buttons(self, reply: Reply, share: str | None) -> discord.ui.View | None:
        """The buttons under a private reply: "Share in channel" for results when
        ``share`` (the command's text) is given, and "Next" when there is a next page."""
        if reply.tone is Tone.ERROR:
            return None
        items: list[discord.ui.Item[Any]] = []
        if share and (reply.papers or reply.posts):
            items.append(self.share_button(self.remember_share(share)))
        if reply.more:
            items.append(
                self.next_button(f"{self.remember_next(reply.more)}:{_page_of(reply.more)}")
            )
        if not items:
            return None
        view = discord.ui.View(timeout=None)
        for item in items:
            view.add_item(item)
        return view

    # -- permissions

    def can_manage(self, interaction: discord.Interaction) -> bool:
        """Manage Channels in this channel, or the role named by DISCORD_MANAGER_ROLE;
        in a direct message with the bot, always: the person manages their own feed."""
        if interaction.guild_id is None:
            return True
        if interaction.permissions.manage_channels:
            return True
        member = interaction.user
        if not self._manager_role or not isinstance(member, discord.Member):
            return False
        return any(
            str(role.id) == self._manager_role or role.name == self._manager_role
            for role in member.roles
        )

    def permission_note(self) -> str:
        need = "the Manage Channels permission in this channel"
        if self._manager_role:
            need += f" or the {self._manager_role} role"
        return (
            f"Changing what this channel receives needs {need}. Ask someone who has it, "
            "or use /arxiv search to look things up."
        )

    # -- sharing

    def remember_share(self, text: str) -> str:
        """A short key for ``text``, kept for the share button (custom ids hold 100)."""
        return _remember(self._shares, text, SHARES_KEPT)

    async def share(self, interaction: discord.Interaction, key: str) -> None:
        text = self._shares.get(key)
        if text is None:
            await interaction.response.send_message(SHARE_EXPIRED, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        context = CommandContext(channel=channel_ref(interaction), user=str(interaction.user.id))
        reply = await self.core.execute(text, context)
        if reply.tone is not Tone.ERROR:
            reply = dataclasses.replace(
                reply, visibility=Visibility.CHANNEL, footer=f"Shared by {interaction.user.name}"
            )
        await self.answer(interaction, reply)

    # -- feedback

    async def feedback(self, interaction: discord.Interaction, emoji: str) -> None:
        """A card's feedback button (``emoji`` ``+1`` or ``-1``): count it, say so privately."""
        message = interaction.message
        counted = False
        if message is not None:
            event = FeedbackEvent(
                channel=channel_ref(interaction),
                message_ref=str(message.id),
                user=str(interaction.user.id),
                emoji=emoji,
                source="button",
            )
            counted = await self.core.feedback(event)
        note = FEEDBACK_NOTES.get(emoji, "Noted") if counted else FEEDBACK_NOT_COUNTED
        await interaction.response.send_message(note, ephemeral=True)

    async def cite(self, interaction: discord.Interaction, arxiv_id: str) -> None:
        """A card's "Cite" button: the paper's BibTeX, for the clicker only."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        context = CommandContext(channel=channel_ref(interaction), user=str(interaction.user.id))
        reply = await self.core.execute(f"bib {arxiv_id}", context)
        await self.answer(interaction, reply)

    # -- the next page

    def remember_next(self, text: str) -> str:
        """A short key for the next page's command ``text``, for the Next button."""
        return _remember(self._nexts, text, NEXTS_KEPT)

    async def next_page(self, interaction: discord.Interaction, key: str, page: int) -> None:
        """Run the command behind a Next button for whoever clicked it, as a slash command
        would (their channel, their permissions), and show its answer in place of the
        message clicked; slower than :data:`EDIT_WITHIN`, or a failure, as a new private
        message. An unknown key (a restart, or an old button) says which page to ask for."""
        text = self._nexts.get(key)
        if text is None:
            note = NEXT_EXPIRED.format(page=page) if page > 1 else NEXT_EXPIRED_NO_PAGE
            await interaction.response.send_message(note, ephemeral=True)
            return
        context = CommandContext(
            channel=channel_ref(interaction),
            user=str(interaction.user.id),
            can_manage_channel=self.can_manage(interaction),
        )
        running = asyncio.ensure_future(self.core.execute(text, context))
        try:
            done, _ = await asyncio.wait({running}, timeout=EDIT_WITHIN)
            if not done:
                await interaction.response.defer(ephemeral=True, thinking=True)
            reply = await running
        except Exception as error:
            await self.failed(interaction, error)
            return
        if done and reply.tone is not Tone.ERROR and reply.visibility is Visibility.PRIVATE:
            message = reply_message(reply)
            await interaction.response.edit_message(
                **message.send_kwargs(), view=self.buttons(reply, text)
            )
            return
        if done:
            await interaction.response.defer(ephemeral=True, thinking=True)
        await self.answer(interaction, reply, share=text)

    # -- autocomplete

    async def subscription_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        subscriptions = await self.core.channel_subscriptions(channel_ref(interaction))
        wanted = current.strip().lstrip("#").lower()
        choices = [
            app_commands.Choice(name=_choice_name(f"#{s.id} {s.query}"), value=s.id)
            for s in subscriptions
            if wanted in f"{s.id} {s.query}".lower()
        ]
        return choices[:MAX_CHOICES]


def category_choices(current: str) -> list[app_commands.Choice[str]]:
    """Category codes starting with what was typed, then those whose name contains it."""
    wanted = current.strip().lower()
    by_code = [code for code in ALL_CATEGORIES if code.lower().startswith(wanted)]
    by_name = [
        code
        for code in ALL_CATEGORIES
        if code not in by_code and wanted in (category_name(code) or "").lower()
    ]
    codes = (by_code + by_name)[:MAX_CHOICES]
    return [
        app_commands.Choice(name=_choice_name(f"{c} — {category_name(c) or c}"), value=c)
        for c in codes
    ]


def _choice_name(text: str) -> str:
    return text if len(text) <= 100 else text[:99] + "…"


def channel_ref(interaction: discord.Interaction) -> ChannelRef:
    """Where the interaction happened: the server and the channel, thread or forum post.

    In a direct message with the bot: the DM channel, under :data:`DM_WORKSPACE`. A
    Discord account has one DM with the bot whichever servers it shares with it, so a
    person's personal subscriptions are the same from every server (one account, one
    feed); two accounts are two people."""
    channel = interaction.channel
    name = getattr(channel, "name", None) or ""
    if interaction.guild_id is None:
        name = f"DM with {interaction.user.name}"
    return ChannelRef(
        platform=PLATFORM,
        workspace=str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE,
        channel=str(interaction.channel_id or ""),
        name=str(name),
    )


def with_category(query: str, category: str | None) -> str:
    """``query`` narrowed to ``category`` (either may be empty); the result is shown back
    as the query, so a single word is not put in parentheses."""
    query = query.strip()
    if not category:
        return query
    scope = f"cat:{category.strip()}"
    if not query:
        return scope
    return f"{query} AND {scope}" if len(query.split()) == 1 else f"({query}) AND {scope}"


def _page_of(text: str) -> int:
    """The ``--page`` a command asks for (1 without one)."""
    found = _PAGE.search(text)
    return int(found[1]) if found else 1


def make_share_button(runner: CommandRunner) -> type[DynamicButton]:
    """The "Share in channel" button class, bound to ``runner``: ``button(key)``. The key
    stands for the command's text, which is kept in memory, so after a restart the button
    says to run the search again."""
    return dynamic_button(
        "ShareButton",
        SHARE_PREFIX,
        r"(?P<key>[0-9a-f]+)",
        label="Share in channel",
        on_click=lambda interaction, match: runner.share(interaction, match["key"]),
    )


def make_next_button(runner: CommandRunner) -> type[DynamicButton]:
    """The "Next" button class, bound to ``runner``: ``button(f"{key}:{page}")``, its
    custom id ``arxiv:next:<key>:<page>``."""
    return dynamic_button(
        "NextButton",
        NEXT_PREFIX,
        r"(?P<key>[0-9a-f]+):(?P<page>[0-9]{1,3})",
        label="Next",
        style=discord.ButtonStyle.primary,
        on_click=lambda interaction, match: runner.next_page(
            interaction, match["key"], int(match["page"])
        ),
    )


_FEEDBACK_LABELS = {direction: label for label, direction in FEEDBACK_BUTTONS}
_FEEDBACK_EMOJIS = {"up": "+1", "down": "-1"}


def make_feedback_button(runner: CommandRunner) -> type[DynamicButton]:
    """The feedback buttons' class, bound to ``runner``: answers the custom ids
    ``arxiv:fb:up`` and ``arxiv:fb:down`` that paper cards carry."""
    return dynamic_button(
        "FeedbackButton",
        FEEDBACK_PREFIX,
        r"(?P<direction>up|down)",
        label=lambda match: _FEEDBACK_LABELS[match["direction"]],
        on_click=lambda interaction, match: runner.feedback(
            interaction, _FEEDBACK_EMOJIS[match["direction"]]
        ),
    )


def make_cite_button(runner: CommandRunner) -> type[DynamicButton]:
    """The "Cite" button's class, bound to ``runner``: answers the custom id
    ``arxiv:cite:<arXiv id>`` that paper cards carry."""
    return dynamic_button(
        "CiteButton",
        CITE_PREFIX,
        r"(?P<arxiv_id>[A-Za-z0-9./-]{1,80})",
        label="Cite",
        on_click=lambda interaction, match: runner.cite(interaction, match["arxiv_id"]),
    )


_QUERY = 'arXiv query, e.g. ti:"diffusion model" AND cat:cs.CV, or words to find anywhere'
_CATEGORY = "Only papers in this arXiv category (type to search, e.g. cs.CL)"


class ArxivGroup(app_commands.Group):
    """``/arxiv``: search arXiv and subscribe channels to new papers."""

    def __init__(self, runner: CommandRunner) -> None:
        super().__init__(
            name="arxiv",
            description="Search arXiv and get new papers in this channel",
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
        )
        self.runner = runner

    @app_commands.command(description="Search arXiv (only you see the results)")
    @app_commands.describe(
        query=_QUERY,
        sort="Most relevant first, or newest first",
        limit=f"How many results (1 to {MAX_LIMIT})",
        category=_CATEGORY,
        page=f"Which page of results (1 to {MAX_PAGE}); the Next button shows the next",
    )
    async def search(
        self,
        interaction: discord.Interaction,
        query: str,
        sort: Literal["relevance", "date"] = "relevance",
        limit: app_commands.Range[int, 1, MAX_LIMIT] = 10,
        category: str | None = None,
        page: app_commands.Range[int, 1, MAX_PAGE] = 1,
    ) -> None:
        text = f"search {with_category(query, category)} --sort {sort} --limit {limit}"
        if page > 1:
            text += f" --page {page}"
        await self.runner.run(interaction, "search", text, typed=(query, category))

    @app_commands.command(description="Show one paper by its arXiv id or link")
    @app_commands.describe(id="An arXiv id such as 2506.11674 or 2506.11674v2, or its URL")
    async def paper(self, interaction: discord.Interaction, id: str) -> None:
        await self.runner.run(interaction, "paper", f"paper {id}", typed=(id,))

    @app_commands.command(description="Papers in the bot's index most like one paper")
    @app_commands.describe(
        id="An arXiv id such as 2506.11674, or its URL",
        limit=f"How many results (1 to {MAX_LIMIT})",
    )
    async def similar(
        self,
        interaction: discord.Interaction,
        id: str,
        limit: app_commands.Range[int, 1, MAX_LIMIT] = 10,
    ) -> None:
        await self.runner.run(interaction, "similar", f"similar {id} --limit {limit}", typed=(id,))

    @app_commands.command(description="This channel's most-liked papers of the week or month")
    @app_commands.describe(period="Count the feedback of the last 7 days (week) or 30 (month)")
    async def top(
        self, interaction: discord.Interaction, period: Literal["week", "month"] | None = None
    ) -> None:
        await self.runner.run(interaction, "top", f"top {period}" if period else "top")

    @app_commands.command(description="Hugging Face's daily papers, most upvoted first")
    @app_commands.describe(
        period="Today's daily papers, or the past 7 days'",
        query="Only papers matching this query, e.g. diffusion (Hugging Face has no cat:)",
    )
    async def trending(
        self,
        interaction: discord.Interaction,
        period: Literal["today", "week"] = "today",
        query: str = "",
    ) -> None:
        text = f"trending {period} {query}".rstrip()
        await self.runner.run(interaction, "trending", text, typed=(query,))

    @app_commands.command(description="Post new papers matching a query in this channel")
    @app_commands.describe(
        query=_QUERY,
        category=_CATEGORY,
        mode="Each paper as its own post, or one digest per announcement (the channel's mode)",
    )
    async def subscribe(
        self,
        interaction: discord.Interaction,
        query: str = "",
        category: str | None = None,
        mode: Literal["each", "digest"] | None = None,
    ) -> None:
        text = f"subscribe {with_category(query, category)}".rstrip()
        if mode:
            text += f" --mode {mode}"
        await self.runner.run(interaction, "subscribe", text, manages=True, typed=(query, category))

    @app_commands.command(description="Stop one of this channel's subscriptions")
    @app_commands.describe(id="The subscription (type to pick from this channel's list)")
    async def unsubscribe(self, interaction: discord.Interaction, id: int) -> None:
        await self.runner.run(interaction, "unsubscribe", f"unsubscribe {id}", manages=True)

    @app_commands.command(name="list", description="This channel's subscriptions")
    async def list_(self, interaction: discord.Interaction) -> None:
        await self.runner.run(interaction, "list", "list")

    @app_commands.command(description="What a query would have posted in the last 7 days")
    @app_commands.describe(query=_QUERY, category=_CATEGORY)
    async def preview(
        self, interaction: discord.Interaction, query: str = "", category: str | None = None
    ) -> None:
        text = f"preview {with_category(query, category)}"
        await self.runner.run(interaction, "preview", text, typed=(query, category))

    @app_commands.command(description="Show or set how this channel gets papers")
    @app_commands.describe(
        mode="each: a post per paper; digest: one message per announcement",
        cards="Full cards in a digest, after its list of every paper (0 to 100)",
    )
    async def mode(
        self,
        interaction: discord.Interaction,
        mode: Literal["each", "digest"] | None = None,
        cards: app_commands.Range[int, 0, 100] | None = None,
    ) -> None:
        if mode is None and cards is None:
            await self.runner.run(interaction, "mode", "mode")
            return
        text = " ".join(
            [
                "mode",
                *([mode] if mode else []),
                *([f"--cards {cards}"] if cards is not None else []),
            ]
        )
        await self.runner.run(interaction, "mode", text, manages=True)

    @app_commands.command(description="Show or set how this channel's new papers are ordered")
    @app_commands.describe(
        setting="on: by what the channel liked (top picks marked); off: title matches, newest"
    )
    async def ranking(
        self, interaction: discord.Interaction, setting: Literal["on", "off"] | None = None
    ) -> None:
        if setting is None:
            await self.runner.run(interaction, "ranking", "ranking")
            return
        await self.runner.run(interaction, "ranking", f"ranking {setting}", manages=True)

    @app_commands.command(description="The papers this channel received, as a file")
    @app_commands.describe(
        format="Daily Papers markdown tables, BibTeX, CSV or JSON",
        since="Only papers posted on or after this day, YYYY-MM-DD",
        subscription="Only this subscription's papers (type to pick from this channel's list)",
    )
    async def export(
        self,
        interaction: discord.Interaction,
        format: Literal["markdown", "bibtex", "csv", "json"] = "markdown",
        since: str | None = None,
        subscription: int | None = None,
    ) -> None:
        text = f"export --format {format}"
        if since:
            text += f" --since {since}"
        if subscription is not None:
            text += f" --subscription {subscription}"
        await self.runner.run(interaction, "export", text, typed=(since,))

    @app_commands.command(description="A paper's BibTeX entry, as arXiv formats it")
    @app_commands.describe(id="An arXiv id such as 2506.11674, or its URL")
    async def bib(self, interaction: discord.Interaction, id: str) -> None:
        await self.runner.run(interaction, "bib", f"bib {id}", typed=(id,))

    @app_commands.command(description="Show or set when this channel gets papers")
    @app_commands.describe(
        when="asap (after each harvest), daily 09:00 [Europe/Berlin], or weekly mon 09:00 [UTC]"
    )
    async def schedule(self, interaction: discord.Interaction, when: str | None = None) -> None:
        if not when:
            await self.runner.run(interaction, "schedule", "schedule")
            return
        await self.runner.run(
            interaction, "schedule", f"schedule {when}", manages=True, typed=(when,)
        )

    @app_commands.command(description="Harvests, deliveries and this channel's state")
    async def status(self, interaction: discord.Interaction) -> None:
        await self.runner.run(interaction, "status", "status")

    @app_commands.command(description="How to use /arxiv")
    @app_commands.describe(command="A command to explain, e.g. subscribe")
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        text = f"help {command or ''}".strip()
        await self.runner.run(interaction, "help", text, typed=(command,))

    @help.autocomplete("command")
    async def _command_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.strip().lower()
        return [
            app_commands.Choice(name=f"{name}: {spec.summary}"[:100], value=name)
            for name, spec in SPECS.items()
            if name.startswith(wanted)
        ][:MAX_CHOICES]

    @unsubscribe.autocomplete("id")
    @export.autocomplete("subscription")
    async def _subscription_ids(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self.runner.subscription_choices(interaction, current)

    @search.autocomplete("category")
    @subscribe.autocomplete("category")
    @preview.autocomplete("category")
    async def _categories(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return category_choices(current)
