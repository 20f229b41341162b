"""Small helpers for the sentences ganforge prints."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """'1 unreadable file', '3 unreadable files', '1,200 images': the count with the noun in its number."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
