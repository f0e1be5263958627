"""Exact duplicates: documents whose normalized texts (NFKC, case-folded, whitespace collapsed) are equal.

Every distinct normalized text gets a dense id across all batches, keyed by its 16-byte md5 digest (the
platform text hash, as bytes); near-duplicate detection then sketches each distinct text once, so a
prompt pasted by ten thousand users costs one signature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curation.dedup.normalize import normalize


def normalize_texts(texts: Sequence[str | None]) -> list[str]:
    """Normalized texts; a missing text is the empty text."""
    return [normalize(t) if t else "" for t in texts]


def local_groups(digests: list[bytes]) -> tuple[list[int], np.ndarray]:
    """The positions of each digest's first occurrence, and for every row the index of its digest among
    those firsts."""
    first_of: dict[bytes, int] = {}
    firsts: list[int] = []
    row_group = np.empty(len(digests), dtype=np.int64)
    for row, digest in enumerate(digests):
        group = first_of.get(digest)
        if group is None:
            group = first_of[digest] = len(firsts)
            firsts.append(row)
        row_group[row] = group
    return firsts, row_group


class ExactIndex:
    """Assigns each distinct normalized text (by digest) a dense id in order of first appearance."""

    def __init__(self) -> None:
        self._ids: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def assign(self, digests: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Global ids of `digests` (distinct within the call) and which of them are new."""
        ids = np.empty(len(digests), dtype=np.int64)
        new = np.zeros(len(digests), dtype=bool)
        for i, digest in enumerate(digests):
            found = self._ids.get(digest)
            if found is None:
                found = self._ids[digest] = len(self._ids)
                new[i] = True
            ids[i] = found
        return ids, new
