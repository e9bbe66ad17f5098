"""Tests of the Slack adapter, against the fake Slack in tests/fakes/slack_api.py."""
