"""Thin translators between chat platforms and the core."""
