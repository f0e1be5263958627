"""MinHash signatures for a batch of documents, vectorized with numpy.

The definition is datasketch's `MinHash` with its default "affine32" scheme: each shingle hash h is
pre-mixed with the 32-bit MurmurHash3 finalizer, permutation k maps it to a_k * h + b_k mod 2^32, and
the signature keeps the minimum per permutation. The (a, b) parameters are taken from datasketch itself
for the configured seed, so a signature here equals `MinHash(num_perm, seed, hashfunc=<shingle hash>)`
after `update_batch` over the same shingles (tests/curation/test_dedup_minhash_lsh.py checks it). Instead of one
Python call per document, the batch's shingles are permuted as one matrix and reduced per document.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from curation.dedup.shingles import Shingles

EMPTY = np.uint32(0xFFFFFFFF)
_CHUNK_ELEMENTS = 1 << 20  # shingles x permutations per matrix: about 4 MB, stays in cache


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b), each uint32 of length num_perm."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(shingles: Shingles, num_perm: int, seed: int) -> np.ndarray:
    """(documents, num_perm) uint32 signatures; a document without shingles gets all `EMPTY`.

    The permuted matrix is laid out (permutations, shingles) so that the per-document minimum runs along
    contiguous memory: several times faster than reducing over rows.
    """
    a, b = permutations(num_perm, seed)
    a, b = a[:, None], b[:, None]
    counts = shingles.counts
    out = np.full((len(counts), num_perm), EMPTY, dtype=np.uint32)
    mixed = fmix32(shingles.hashes)
    docs = np.flatnonzero(counts > 0)
    offsets = shingles.offsets
    per_chunk = max(1, _CHUNK_ELEMENTS // num_perm)
    i = 0
    while i < len(docs):
        # Whole documents until the chunk holds about `per_chunk` shingles (at least one document).
        j = max(i + 1, int(np.searchsorted(offsets[docs + 1], offsets[docs[i]] + per_chunk, side="right")))
        chunk = docs[i:j]
        lo, hi = offsets[chunk[0]], offsets[chunk[-1] + 1]
        permuted = a * mixed[None, lo:hi] + b
        out[chunk] = np.minimum.reduceat(permuted, offsets[chunk] - lo, axis=1).T
        i = j
    return out


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise share of equal signature entries: the MinHash estimate of Jaccard similarity."""
    return (sig_a == sig_b).mean(axis=1)
