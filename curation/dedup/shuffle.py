"""Fuzzy dedup split into stages for a cluster, the way NeMo Curator and datatrove split it.

1. *Signatures and bands* (`sketch_with_bands`, one task per chunk of texts): the chunk's MinHash
   signatures and, from them, every text's band hashes, so the workers do all the per-text hashing.
2. *Shuffle of band buckets* (`shuffled_candidate_pairs`): the rows (band, band hash, text) are
   hash-partitioned by (band, band hash) across the workers (`partition_rows`, one map task per block of
   rows), so each worker receives every row of the buckets it owns, wherever the rows were made; each
   worker groups its rows by (band, band hash) and emits the candidate pairs of its buckets
   (`bucket_candidates`: all pairs of a bucket of up to `max_bucket_pairs` texts, a star around the
   smallest text of a larger one, exactly as `lsh.candidate_pairs` does band by band on one machine).
3. *Verification and connected components* on the driver, which holds the signatures: the candidate
   pairs are deduplicated across bands, verified and clustered by the same code as on one machine.

The result (the pairs, in code order, and the number of band candidates) equals `lsh.candidate_pairs`'
for the same signatures, so the clusters and the release hashes do not depend on the executor.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from curation.dedup.config import DedupConfig
from curation.dedup.lsh import _bucket_pairs, band_hash
from curation.dedup.shingles import fmix64
from curation.dedup.sketch import BatchSketch, sketch_batch

BLOCK_TEXTS = 50_000  # texts per map task of the shuffle (their rows: texts x bands)
_PARTITION_MIX = np.uint64(0xD6E8FEB86659FD93)


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(texts, bands) uint64: `lsh.band_hash` of every band of every signature."""
    out = np.empty((signatures.shape[0], bands), dtype=np.uint64)
    for band in range(bands):
        out[:, band] = band_hash(signatures, band, rows)
    return out


def sketch_with_bands(texts: list[str | None], config: DedupConfig) -> tuple[BatchSketch, np.ndarray | None]:
    """A worker's whole share of stage 1: the chunk's sketch and its distinct texts' band hashes."""
    sketch = sketch_batch(texts, config)
    if sketch.near is None:
        return sketch, None
    bands, rows = config.lsh_params()
    return sketch, band_hashes(sketch.near.signatures, bands, rows)


def band_rows(hashes: np.ndarray, docs: np.ndarray, salts: np.ndarray | None) -> list[pa.Table]:
    """The shuffle's input: tables of rows (band, hash, doc), one per block of BLOCK_TEXTS texts. `salts`
    (a scope's, per text) is mixed into every band hash as `lsh.candidate_pairs` mixes it."""
    if salts is not None:
        hashes = fmix64(hashes ^ salts[:, None])
    bands = hashes.shape[1]
    blocks = []
    for start in range(0, len(docs), BLOCK_TEXTS):
        part = hashes[start : start + BLOCK_TEXTS]
        blocks.append(
            pa.table(
                {
                    "band": pa.array(np.tile(np.arange(bands, dtype=np.int32), len(part))),
                    "hash": pa.array(part.reshape(-1)),
                    "doc": pa.array(np.repeat(docs[start : start + BLOCK_TEXTS].astype(np.int64), bands)),
                }
            )
        )
    return blocks


def partition_rows(block: pa.Table, partitions: int) -> list[pa.Table]:
    """The map side of the shuffle: the block's rows split by the partition that owns their bucket."""
    import pyarrow.compute as pc

    hashes = block.column("hash").to_numpy()
    bands = block.column("band").to_numpy().astype(np.uint64)
    owner = (fmix64(hashes ^ (bands * _PARTITION_MIX)) % np.uint64(partitions)).astype(np.int64)
    return [block.filter(pc.equal(pa.array(owner), p)) for p in range(partitions)]


def bucket_candidates(max_bucket_pairs: int, *parts: pa.Table) -> np.ndarray:
    """The reduce side: every row of the buckets this partition owns, grouped by (band, hash); returns
    the (band, a, b) candidates of each bucket, shape (n, 3)."""
    import polars as pl

    rows = pl.from_arrow(pa.concat_tables(parts))
    assert isinstance(rows, pl.DataFrame)
    shared = rows.filter(pl.struct("band", "hash").is_duplicated())
    if not shared.height:
        return np.empty((0, 3), dtype=np.int64)
    pairs = _bucket_pairs(shared.lazy(), max_bucket_pairs, keys=("band", "hash"), keep=("band",))
    return pairs.select("band", "a", "b").collect().to_numpy().astype(np.int64).reshape(-1, 3)


def shuffled_candidate_pairs(
    executor,
    hashes: np.ndarray,
    docs: np.ndarray,
    max_bucket_pairs: int,
    keep: Callable[[np.ndarray], np.ndarray] | None = None,
    salts: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """`lsh.candidate_pairs`' result, computed by a shuffle of band buckets on the executor.

    `hashes[i]` are the band hashes of document `docs[i]`. Candidates are pairs of documents sharing a
    bucket in some band (counted once per band, as there); each distinct pair is judged once by `keep`.
    """
    blocks = band_rows(hashes, docs, salts)
    per_partition = executor.shuffle(blocks, partition_rows, bucket_candidates, max_bucket_pairs)
    found = [p for p in per_partition if len(p)]
    if not found:
        return np.empty((0, 2), dtype=np.int64), 0
    candidates = np.concatenate(found)
    width = int(docs.max()) + 1
    codes = np.unique(candidates[:, 1] * width + candidates[:, 2])
    pairs = np.stack([codes // width, codes % width], axis=1)
    return (pairs[keep(pairs)] if keep is not None else pairs), len(candidates)
