"""Semantic pruning inside a topic (SemDeDup-style): a text whose embedding is within the cosine threshold
of an earlier text of its topic is a semantic duplicate of that text's representative.

"Earlier" is the deterministic representative order of the dedup stage: earliest started_at, then
smallest key. The first text of each group of paraphrases is therefore kept, on every rerun.
"""

from __future__ import annotations

import numpy as np

_ROWS = 1024


def prune_topic(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """For unit vectors in representative order: the index of each row's representative (itself when
    kept) and its highest similarity to any earlier row (0 for the first)."""
    n = len(vectors)
    first_similar = np.full(n, -1, dtype=np.int64)
    best = np.zeros(n, dtype=np.float32)
    for start in range(0, n, _ROWS):
        stop = min(n, start + _ROWS)
        similarity = vectors[start:stop] @ vectors[:stop].T
        earlier = np.arange(stop)[None, :] < np.arange(start, stop)[:, None]
        similarity = np.where(earlier, similarity, -np.inf)
        best[start:stop] = np.maximum(similarity.max(axis=1), 0)
        above = similarity >= threshold
        found = above.any(axis=1)
        first_similar[start:stop][found] = above[found].argmax(axis=1)
    representative = np.arange(n)
    for row in np.flatnonzero(first_similar >= 0):  # ascending, so the earlier row is already resolved
        representative[row] = representative[first_similar[row]]
    return representative, best
