"""LSH banding as a columnar group-by, with bands and rows derived from the similarity threshold.

A signature of `bands * rows` entries is cut into `bands` bands; two documents become candidates when
all `rows` entries of some band agree, which happens with probability 1 - (1 - s^rows)^bands for
Jaccard similarity s. Instead of datasketch's in-memory dict of buckets, each (document, band) is a row
(band, band hash, document) of a Polars frame, and candidates come from a group-by on (band, band hash),
one band at a time: memory stays that of one band's rows, and the same step is a shuffle by band key
when the data no longer fits one machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from curation.dedup.shingles import fmix64

_BAND_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_GRID = np.linspace(0.0, 1.0, 2001)


@functools.lru_cache(maxsize=64)
def optimal_bands_rows(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """The (bands, rows) minimizing the weighted false positive and false negative areas under the
    S-curve around `threshold`: the same criterion as datasketch's MinHashLSH."""
    below, above = threshold >= _GRID, threshold <= _GRID
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            probability = 1.0 - (1.0 - _GRID**rows) ** bands
            false_positive = np.trapezoid(probability[below], _GRID[below])
            false_negative = np.trapezoid(1.0 - probability[above], _GRID[above])
            error = false_positive * false_positive_weight + false_negative * false_negative_weight
            if error < best_error:
                best, best_error = (bands, rows), float(error)
    return best


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that a pair with this Jaccard similarity shares at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def band_hash(signatures: np.ndarray, band: int, rows: int) -> np.ndarray:
    """uint64 hash of each document's signature entries [band * rows, (band + 1) * rows)."""
    h = np.zeros(signatures.shape[0], dtype=np.uint64)
    for k in range(band * rows, (band + 1) * rows):
        h = fmix64(h * _BAND_MULTIPLIER + signatures[:, k].astype(np.uint64))
    return h


def candidate_pairs(
    signatures: np.ndarray,
    docs: np.ndarray,
    bands: int,
    rows: int,
    max_bucket_pairs: int,
    keep: Callable[[np.ndarray], np.ndarray] | None = None,
    salts: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Unique pairs (a < b), shape (pairs, 2), of documents sharing a (band, band hash), and the number
    of band candidates (a pair counts once per band it shares) before `keep`.

    `signatures[i]` belongs to document `docs[i]`. One band at a time, so peak memory is that of one
    band whatever the number of bands: the band's hashes are computed, a cheap `is_duplicated` pass keeps
    the rows whose hash occurs more than once, and a group-by on the hash lists each bucket. A bucket of
    up to `max_bucket_pairs` documents yields all its pairs; a larger one (many variants of one spam
    prompt) yields a star around its smallest document, enough for connected components and linear in
    the bucket's size. `keep` (the verification) judges each pair once, in the first band it appears in.
    `salts` (uint64 per document) is mixed into every band hash: documents of different salts (scopes)
    never share a bucket.
    """
    import polars as pl

    found, candidates = [], 0
    width = int(docs.max()) + 1 if len(docs) else 1
    seen = np.empty(0, dtype=np.int64)  # codes of the pairs an earlier band already judged
    for band in range(bands):
        hashes = band_hash(signatures, band, rows)
        if salts is not None:
            hashes = fmix64(hashes ^ salts)
        frame = pl.DataFrame({"hash": hashes, "doc": docs.astype(np.int64)})
        shared = frame.filter(pl.col("hash").is_duplicated())
        if not shared.height:
            continue
        pairs = _bucket_pairs(shared.lazy(), max_bucket_pairs).collect().to_numpy().astype(np.int64).reshape(-1, 2)
        candidates += len(pairs)
        codes = np.unique(pairs[:, 0] * width + pairs[:, 1])
        codes = codes[~_sorted_contains(seen, codes)]
        seen = np.sort(np.concatenate((seen, codes)))
        pairs = np.stack([codes // width, codes % width], axis=1)
        found.append(pairs[keep(pairs)] if keep is not None and len(pairs) else pairs)
    stacked = np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)
    order = np.argsort(stacked[:, 0] * width + stacked[:, 1], kind="stable")
    return stacked[order], candidates


def _sorted_contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each query is in the sorted array (a binary search each, no hashing)."""
    if len(sorted_values) == 0:
        return np.zeros(len(queries), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, queries), len(sorted_values) - 1)
    return sorted_values[at] == queries


def _bucket_pairs(shared, max_bucket_pairs: int, keys: tuple[str, ...] = ("hash",), keep: tuple[str, ...] = ()):
    """The pairs (a, b) of every bucket (rows grouped by `keys`), with the `keep` columns of their bucket:
    one band's buckets here, any band's in a shuffle partition (curation/dedup/shuffle.py)."""
    import polars as pl

    buckets = shared.group_by(list(keys)).agg(pl.col("doc")).with_row_index("bucket")
    small = buckets.filter(pl.col("doc").list.len() <= max_bucket_pairs).select("bucket", *keep, "doc").explode("doc")
    all_pairs = (
        small.join(small.select("bucket", "doc"), on="bucket", suffix="_b")
        .filter(pl.col("doc") < pl.col("doc_b"))
        .select(*keep, a=pl.col("doc"), b=pl.col("doc_b"))
    )
    stars = (
        buckets.filter(pl.col("doc").list.len() > max_bucket_pairs)
        .select(*keep, a=pl.col("doc").list.min(), b=pl.col("doc"))
        .explode("b")
        .filter(pl.col("a") != pl.col("b"))
    )
    return pl.concat([all_pairs, stars]).unique()
