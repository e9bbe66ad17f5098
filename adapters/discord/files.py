"""A reply's file (an export) as a Discord attachment, within the upload limit the
interaction reports (``attachment_size_limit``; 10 MiB where it says none)."""

from __future__ import annotations

import io

import discord

from bot.models import ReplyFile

__all__ = ["DEFAULT_LIMIT", "attachment"]

DEFAULT_LIMIT = 10 * 1024 * 1024


def _limit(interaction: discord.Interaction) -> int:
    reported = getattr(interaction, "attachment_size_limit", None)
    if isinstance(reported, int) and reported > 0:
        return reported
    data = getattr(interaction, "_attachment_size_limit", None)  # older discord.py
    return data if isinstance(data, int) and data > 0 else DEFAULT_LIMIT


def attachment(
    file: ReplyFile, interaction: discord.Interaction
) -> tuple[discord.File | None, str]:
    """The attachment, or None and why not (too large for this server)."""
    limit = _limit(interaction)
    if len(file.content) > limit:
        return None, (
            f"The file ({len(file.content):,} bytes) is over this server's upload limit "
            f"({limit:,} bytes); try --since or --subscription, or arxiv-bot export on "
            "the bot's host."
        )
    return discord.File(io.BytesIO(file.content), filename=file.name), ""
