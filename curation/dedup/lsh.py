"""LSH banding as a columnar group-by, with bands and rows derived from the similarity threshold.

A signature of `bands * rows` entries is cut into `bands` bands; two documents become candidates when
all `rows` entries of some band agree, which happens with probability 1 - (1 - s^rows)^bands for
Jaccard similarity s. Instead of datasketch's in-memory dict of buckets, each (document, band) becomes
one row (band, band hash, document) of a Polars frame, and candidates come from a group-by on
(band, band hash): memory stays proportional to the rows, and the same step is a shuffle by band key
when the data no longer fits one machine.
"""

from __future__ import annotations

import numpy as np

from curation.dedup.shingles import fmix64

_BAND_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_GRID = np.linspace(0.0, 1.0, 2001)


def optimal_bands_rows(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                       false_negative_weight: float = 0.5) -> tuple[int, int]:
    """The (bands, rows) minimizing the weighted false positive and false negative areas under the
    S-curve around `threshold`: the same criterion as datasketch's MinHashLSH."""
    below, above = _GRID <= threshold, _GRID >= threshold
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            probability = 1.0 - (1.0 - _GRID**rows) ** bands
            false_positive = np.trapezoid(probability[below], _GRID[below])
            false_negative = np.trapezoid(1.0 - probability[above], _GRID[above])
            error = false_positive * false_positive_weight + false_negative * false_negative_weight
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that a pair with this Jaccard similarity shares at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) uint64: one hash of each band's `rows` signature entries."""
    out = np.empty((signatures.shape[0], bands), dtype=np.uint64)
    for band in range(bands):  # one band at a time: temporaries of one band, not of the whole matrix
        h = np.zeros(signatures.shape[0], dtype=np.uint64)
        for k in range(band * rows, (band + 1) * rows):
            h = fmix64(h * _BAND_MULTIPLIER + signatures[:, k].astype(np.uint64))
        out[:, band] = h
    return out


def candidate_pairs(hashes: np.ndarray, docs: np.ndarray, max_bucket_pairs: int,
                    bands_per_pass: int = 4) -> np.ndarray:
    """Unique candidate pairs (a < b), shape (pairs, 2), of documents sharing a (band, band hash).

    A bucket of up to `max_bucket_pairs` documents yields all its pairs; a larger one (many variants of
    one spam prompt) yields a star around its smallest document, enough for connected components and
    linear in the bucket's size. Bands are grouped `bands_per_pass` at a time so that peak memory is
    that of a few bands, not of all of them.
    """
    import polars as pl

    n, bands = hashes.shape
    found = []
    for first in range(0, bands, bands_per_pass):
        last = min(bands, first + bands_per_pass)
        frame = pl.LazyFrame({
            "band": np.tile(np.arange(first, last, dtype=np.uint16), n),
            "hash": hashes[:, first:last].ravel(),
            "doc": np.repeat(docs.astype(np.int64), last - first),
        })
        found.append(_bucket_pairs(frame, max_bucket_pairs).collect())
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = pl.concat(found).unique().sort("a", "b")
    return pairs.to_numpy().astype(np.int64).reshape(-1, 2)


def _bucket_pairs(frame, max_bucket_pairs: int):
    import polars as pl

    buckets = (frame.group_by("band", "hash").agg(pl.col("doc"))
               .filter(pl.col("doc").list.len() > 1)
               .with_row_index("bucket"))
    small = buckets.filter(pl.col("doc").list.len() <= max_bucket_pairs).select("bucket", "doc").explode("doc")
    all_pairs = (small.join(small, on="bucket", suffix="_b")
                 .filter(pl.col("doc") < pl.col("doc_b"))
                 .select(a=pl.col("doc"), b=pl.col("doc_b")))
    stars = (buckets.filter(pl.col("doc").list.len() > max_bucket_pairs)
             .select(a=pl.col("doc").list.min(), b=pl.col("doc"))
             .explode("b")
             .filter(pl.col("a") != pl.col("b")))
    return pl.concat([all_pairs, stars]).unique()
