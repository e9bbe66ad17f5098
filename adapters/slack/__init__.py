"""The Slack adapter: slash commands and paper posts through a Slack app (slack-bolt)."""
