"""``python -m bot`` runs the same command line as ``arxiv-bot``."""

from bot.cli import main

main()
