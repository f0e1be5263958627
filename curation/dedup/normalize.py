"""Text normalization for exact duplicates: Unicode NFKC, case folding, whitespace collapsed.

Two texts are exact duplicates when their normalized forms are equal; the exact key is the platform
text hash (`curation.texthash`) of the normalized form, so SQL can recompute it.
"""

from __future__ import annotations

import unicodedata

from curation.texthash import text_hash


def normalize(text: str) -> str:
    """NFKC, then casefold, then runs of whitespace to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def exact_key(text: str) -> str:
    """The exact-duplicate key: the text hash of the normalized text."""
    return text_hash(normalize(text))
