"""The one text hash of the platform: md5 of the UTF-8 text, as a hex string.

DuckDB's `md5(text)` returns the same string, so SQL can join attribute tables keyed by text hash
(embeddings, exact-dedup groups) against any text column without Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def text_digest(text: str) -> bytes:
    """The 16 raw bytes of the text hash (compact as a dict key; `.hex()` gives `text_hash`)."""
    return hashlib.md5(text.encode("utf-8")).digest()


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def text_hashes(texts: Iterable[str]) -> list[str]:
    return [text_hash(t) for t in texts]
