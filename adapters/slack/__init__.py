"""The Slack adapter: ``/arxiv`` in any channel, Block Kit paper cards, Socket Mode or
HTTP mode (see :mod:`adapters.slack.settings`)."""

from adapters.slack.adapter import SlackAdapter, SlackFactory

factory = SlackFactory()

__all__ = ["SlackAdapter", "SlackFactory", "factory"]
