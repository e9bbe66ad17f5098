"""What the bot needs in a channel to post papers there.

Discord does not refuse embeds from a bot without Embed Links: it drops them and posts
the rest. So the bot checks its own permissions before posting (from the gateway's
cache) and when a channel subscribes (from the interaction), instead of posting
empty messages.
"""

from __future__ import annotations

import discord

__all__ = ["INVITE_PERMISSIONS", "can_read_history", "missing_permissions", "missing_text"]

INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
    use_application_commands=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)
"""What the invite URL asks for (docs/discord.md): posting papers, their threads, the
command, and reading back its own recent messages after a crash so none is posted twice."""


def missing_permissions(permissions: discord.Permissions, *, in_thread: bool) -> list[str]:
    """The names of the permissions the bot lacks for posting papers, in Discord's words."""
    needed = {
        "View Channel": permissions.view_channel,
        "Send Messages in Threads" if in_thread else "Send Messages": (
            permissions.send_messages_in_threads if in_thread else permissions.send_messages
        ),
        "Embed Links": permissions.embed_links,
    }
    return [name for name, granted in needed.items() if not granted]


def missing_text(missing: list[str]) -> str:
    return (
        f"The bot lacks {', '.join(missing)} in this Discord channel; grant "
        f"{'it' if len(missing) == 1 else 'them'} to the bot (or its role)"
    )


def can_read_history(permissions: discord.Permissions) -> bool:
    """Read Message History: without it the bot cannot look for what it already posted
    (Discord then lists no messages rather than refusing)."""
    return permissions.read_message_history
