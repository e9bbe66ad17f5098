"""The Discord adapter: the ``/arxiv`` command group, paper embeds, posting with
failures mapped to the core's (see :mod:`adapters.discord.settings`)."""

from adapters.discord.adapter import DiscordAdapter, DiscordFactory

factory = DiscordFactory()

__all__ = ["DiscordAdapter", "DiscordFactory", "factory"]
