"""Tests of the Discord adapter, against the fake Discord REST API in tests/fakes/discord_api.py."""
