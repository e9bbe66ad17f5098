"""Persistent buttons whose state lives in their custom id (discord.py dynamic items).

:func:`dynamic_button` makes a :class:`DynamicButton` class from a custom id prefix, a
regular expression for the rest of the id, a label, a style and what a click does. The
client registers the class once (``client.add_dynamic_items``); discord.py matches the
custom id of every click against the class's template, so no view has to be kept alive
and the buttons of old messages still work after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import discord

__all__ = ["DynamicButton", "OnClick", "dynamic_button"]

OnClick = Callable[[discord.Interaction, re.Match[str]], Awaitable[None]]
"""What a click does: given the interaction and the match of the button's custom id."""


class DynamicButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A button with the custom id ``prefix + value``; :func:`dynamic_button` makes its
    subclasses (this base's template matches nothing, so it is never registered)."""

    prefix: ClassVar[str] = ""
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary

    def __init__(self, value: str) -> None:
        custom_id = self.prefix + value
        match = self.template.fullmatch(custom_id)
        if match is None:
            raise ValueError(f"custom id {custom_id!r} must match {self.template.pattern!r}")
        super().__init__(
            discord.ui.Button(label=self.label_for(match), style=self.style, custom_id=custom_id)
        )
        self.match = match
        """The custom id matched against the template: its named groups are the state."""

    def label_for(self, match: re.Match[str]) -> str:
        """The button's label, given the match of its custom id."""
        raise NotImplementedError

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> DynamicButton:
        return cls(match.string[len(cls.prefix) :])

    async def callback(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError


def dynamic_button(
    name: str,
    prefix: str,
    pattern: str,
    *,
    label: str | Callable[[re.Match[str]], str],
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    on_click: OnClick,
) -> type[DynamicButton]:
    """The class (named ``name``) of the buttons with the custom id ``prefix`` followed
    by ``pattern`` (a regular expression with named groups); ``button(value)`` makes one
    with the custom id ``prefix + value``. ``label`` may depend on the match; a click
    awaits ``on_click(interaction, match)``."""

    class Button(DynamicButton, template=re.escape(prefix) + pattern):
        def label_for(self, match: re.Match[str]) -> str:
            return label if isinstance(label, str) else label(match)

        async def callback(self, interaction: discord.Interaction) -> None:
            await on_click(interaction, self.match)

    Button.prefix = prefix
    Button.style = style
    Button.__name__ = Button.__qualname__ = name
    return Button
