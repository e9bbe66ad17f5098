"""The console adapter: the terminal as one chat channel (the embedded default)."""

from adapters.console.adapter import ConsoleAdapter, ConsoleFactory

factory = ConsoleFactory()

__all__ = ["ConsoleAdapter", "ConsoleFactory", "factory"]
