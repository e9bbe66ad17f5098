"""Strict parsing of what arXiv sends as XML (API feeds, OAI-PMH pages).

Strict, because a lenient parser turns a cut-off answer into a shorter one that looks
complete. Safe, because any DOCTYPE is refused: without a DTD there are no entity
declarations, so no entity expansion ("billion laughs") and no external entities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

__all__ = ["parse_xml"]


class _DoctypeRefused(ValueError):
    pass


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that refuses documents with a DOCTYPE (and so any entity)."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise _DoctypeRefused("has a DOCTYPE, which is refused")


def parse_xml(body: bytes) -> ET.Element:
    """The root element of ``body``.

    Raises ``ValueError`` whose message completes "the answer ...": "is not well-formed
    XML (...)" or "has a DOCTYPE, which is refused".
    """
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(body)
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        raise ValueError(f"is not well-formed XML ({exc})") from None
    return root
