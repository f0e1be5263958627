"""The dedup engine: Arrow rows (key, text, started_at) in, the dedup attribute table and stage stats out.

1. Each batch is normalized and hashed; distinct normalized texts get dense ids (exact duplicates share
   one) and, for near dedup, one MinHash signature each (worker processes when `workers` > 1).
2. Signatures are cut into LSH bands; candidate pairs come from a group-by on (band, band hash).
3. With `verify`, candidates that are not near-duplicates are dropped: a pair of texts of at most
   `edit_words` words each by its word edit distance (`edits`), any other pair by its estimated Jaccard.
4. Connected components over the remaining pairs are the clusters; each cluster's representative is its
   earliest row (started_at, then key), and every row gets its estimated similarity to it.

With a `scope` column, rows are compared only within their scope (the dedup stage's prompts within a
character): a distinct text is a (normalized text, scope) pair and the scope salts every band hash, so
one pass serves any number of scopes instead of one engine run per scope.

The output has one row per input row, in input order: nothing is dropped here; a later filter keeps
`is_representative` rows. `dropped` in the stats counts the rows such a filter removes, by reason.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation.dedup.components import (
    connected_components,
    representatives,
    row_ranks,
    split_by_representative,
    text_ranks,
)
from curation.dedup.config import DedupConfig
from curation.dedup.edits import WordSequences
from curation.dedup.exact import ExactIndex, local_groups
from curation.dedup.lsh import candidate_pairs
from curation.dedup.minhash import estimated_jaccard
from curation.dedup.sketch import BatchSketch, sketch_batch
from curation.texthash import text_digest
from lakehouse.errors import InputError
from lakehouse.runs import StageStats

OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("norm_hash", pa.string(), nullable=False),
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("is_representative", pa.bool_(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
    ]
)
_PAIR_CHUNK = 200_000


class _Rows:
    """A 2-D array grown by appending rows, in large blocks: one copy of the signatures at any time, and
    blocks large enough that the allocator returns a replaced block to the system."""

    def __init__(self, width: int, dtype) -> None:
        self._data = np.empty((0, width), dtype=dtype)
        self.size = 0

    def append(self, rows: np.ndarray) -> None:
        needed = self.size + len(rows)
        if needed > len(self._data):
            grown = np.empty((max(needed, len(self._data) * 3 // 2 + 4096), self._data.shape[1]), self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : needed] = rows
        self.size = needed

    def array(self) -> np.ndarray:
        return self._data[: self.size]


@dataclass
class _Collected:
    """What the batches leave behind: per row its key, time and distinct-text id; per distinct text its
    digest and (near dedup) signature."""

    keys: list[pa.Array] = field(default_factory=list)
    times: list[pa.Array] = field(default_factory=list)
    row_ids: list[np.ndarray] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    signatures: _Rows | None = None
    has_shingles: list[np.ndarray] = field(default_factory=list)
    words: list[np.ndarray] = field(default_factory=list)
    sequences: list[WordSequences] = field(default_factory=list)
    bands: list[np.ndarray] = field(default_factory=list)  # band hashes per text, when the workers made them
    salts: list[np.ndarray] = field(default_factory=list)
    null_texts: int = 0
    index: ExactIndex = field(default_factory=ExactIndex)

    def add(
        self,
        keys: pa.Array,
        times: pa.Array | None,
        sketch: BatchSketch,
        scopes: list[str | None] | None,
        bands: np.ndarray | None = None,
    ) -> None:
        self.keys.append(keys)
        if times is not None:
            self.times.append(times)
        if scopes is None:
            index_keys, row_group, text_of = sketch.digests, sketch.row_group, np.arange(len(sketch.digests))
        else:  # a distinct text is a (text, scope) pair: the digest and the scope make its index key
            tags = [b"\x00" if s is None else b"\x01" + s.encode("utf-8") for s in scopes]
            pairs = [sketch.digests[g] + tag for g, tag in zip(sketch.row_group.tolist(), tags, strict=True)]
            firsts, row_group = local_groups(pairs)
            index_keys, text_of = [pairs[i] for i in firsts], sketch.row_group[firsts]
        ids, new = self.index.assign(index_keys)
        self.row_ids.append(ids[row_group])
        self.digests.extend(sketch.digests[t] for t in text_of[new].tolist())
        if scopes is not None:
            self.salts.append(scope_salts([scopes[i] for i in firsts])[new])
        near = sketch.near
        if near is not None:
            if self.signatures is None:
                self.signatures = _Rows(near.signatures.shape[1], near.signatures.dtype)
            self.signatures.append(near.signatures[text_of[new]])
            self.has_shingles.append(near.has_shingles[text_of[new]])
            self.words.append(near.words[text_of[new]])
            self.sequences.append(near.sequences.take(text_of[new]))
        if bands is not None:
            self.bands.append(bands[text_of[new]])


def scope_salts(scopes: list[str | None]) -> np.ndarray:
    """uint64 salt of each scope (0 for none), mixed into the band hashes so buckets never span scopes."""
    return np.array(
        [0 if s is None else int.from_bytes(text_digest(s)[:8], "little") | 1 for s in scopes], dtype=np.uint64
    )


def dedup(
    data: pa.Table | Iterable[pa.RecordBatch],
    config: DedupConfig | None = None,
    *,
    key: str = "key",
    text: str = "text",
    started_at: str | None = "started_at",
    scope: str | None = None,
    name: str = "dedup",
    executor=None,
) -> tuple[pa.Table, StageStats]:
    """Cluster the rows of `data` into exact or near-duplicate groups (see the module docstring).

    `started_at` may be None or absent from the data; representatives are then chosen by key alone.
    `scope` names a column: rows of different scopes (a null scope is one scope) never share a cluster.
    Raises ValueError on a missing key column or text column, a null key or a repeated key.
    `executor` (curation/pipeline/executor.py): on Ray, the signatures and band hashes are computed as
    tasks and the band buckets are shuffled across the workers (curation/dedup/shuffle.py); verification
    and connected components stay here. The result is the same on every executor.
    """
    config = config or DedupConfig()
    stats = StageStats(name)
    collected = _Collected()
    chunks = _chunks(data, config.batch_size, key, text, started_at, scope)
    for (keys, times, texts, scopes), (sketch, bands) in _sketched(chunks, config, executor):
        collected.null_texts += sum(t is None for t in texts)
        collected.add(keys, times, sketch, scopes, bands)

    keys = (
        pa.chunked_array(collected.keys, pa.string()).combine_chunks() if collected.keys else pa.array([], pa.string())
    )
    times = pa.chunked_array(collected.times).combine_chunks() if collected.times else None
    _check_keys(keys, key)
    row_ids = np.concatenate(collected.row_ids) if collected.row_ids else np.empty(0, dtype=np.int64)
    n_distinct = len(collected.digests)
    stats.rows_in = len(keys)
    details = {"method": config.method, "distinct_texts": n_distinct, "null_texts": collected.null_texts}
    if scope is not None:
        details["scopes"] = len(np.unique(np.concatenate(collected.salts))) if collected.salts else 0

    ranks = row_ranks(keys, times)
    if config.method == "near":
        sigs, labels = _near_clusters(collected, row_ids, ranks, config, details, executor)
    else:
        sigs, labels = None, np.arange(n_distinct, dtype=np.int64)
    rep_rows = representatives(labels[row_ids], ranks)
    table = _output(keys, row_ids, rep_rows, collected.digests, sigs)
    _fill_stats(stats, row_ids, rep_rows, details)
    return table, stats


def _chunks(data, batch_size: int, key: str, text: str, started_at: str | None, scope: str | None) -> Iterator[tuple]:
    """(keys, times or None, texts, scopes or None) per chunk of at most `batch_size` rows."""
    batches = data.to_batches(max_chunksize=batch_size) if isinstance(data, pa.Table) else data
    for batch in batches:
        names = batch.schema.names
        for column in (key, text) if scope is None else (key, text, scope):
            if column not in names:
                raise InputError(f"dedup input has no column {column!r} (columns: {', '.join(names)})")
        has_time = started_at is not None and started_at in names
        for offset in range(0, batch.num_rows, batch_size):
            part = batch.slice(offset, batch_size)
            keys = part.column(key).cast(pa.string())
            times = part.column(started_at) if has_time else None
            scopes = part.column(scope).cast(pa.string()).to_pylist() if scope is not None else None
            yield keys, times, part.column(text).cast(pa.string()).to_pylist(), scopes


def _sketched(chunks: Iterator[tuple], config: DedupConfig, executor=None) -> Iterator[tuple[tuple, tuple]]:
    """Each chunk with (its sketch, its band hashes or None), in order; with several workers at most 2
    chunks per worker in flight. On a cluster the workers compute the band hashes too."""
    if _distributed(executor):
        from curation.dedup.shuffle import sketch_with_bands

        listed = list(chunks)
        yield from zip(listed, executor.map_tasks(sketch_with_bands, (c[2] for c in listed), config), strict=True)
        return
    if config.workers == 1:
        for chunk in chunks:
            yield chunk, (sketch_batch(chunk[2], config), None)
        return

    with mp.get_context("spawn").Pool(config.workers) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append((chunk, pool.apply_async(sketch_batch, (chunk[2], config))))
            if len(pending) >= 2 * config.workers:
                done, result = pending.popleft()
                yield done, (result.get(), None)
        while pending:
            done, result = pending.popleft()
            yield done, (result.get(), None)


def _distributed(executor) -> bool:
    return executor is not None and executor.kind != "local"


def _check_keys(keys: pa.Array, column: str) -> None:
    import pyarrow.compute as pc

    if keys.null_count:
        raise InputError(f"dedup input has {keys.null_count} row(s) with a null {column!r}")
    if len(pc.unique(keys)) != len(keys):
        counts = pc.value_counts(keys)
        repeated = [v["values"] for v in counts.to_pylist() if v["counts"] > 1][:5]
        raise InputError(f"dedup input repeats {column!r} values, e.g. {repeated}")


def _near_clusters(
    collected: _Collected, row_ids: np.ndarray, ranks: np.ndarray, config: DedupConfig, details: dict, executor=None
) -> tuple[np.ndarray, np.ndarray]:
    """(signature, cluster label) of each distinct text."""
    sigs = collected.signatures.array() if collected.signatures else np.empty((0, config.num_perm), np.uint32)
    has = np.concatenate(collected.has_shingles) if collected.has_shingles else np.empty(0, bool)
    words = np.concatenate(collected.words) if collected.words else np.empty(0, np.int64)
    salts = np.concatenate(collected.salts) if collected.salts else None
    sequences = WordSequences.concat(collected.sequences)
    hashes = np.concatenate(collected.bands) if collected.bands and _distributed(executor) else None
    labels = _near_labels(
        sigs, has, sequences, text_ranks(row_ids, len(sigs), ranks), salts, config, details, (executor, hashes)
    )
    details.update(
        char_shingled_texts=int(((words < config.min_words) & has).sum()),
        texts_without_shingles=int((~has).sum()),
        edit_checked_texts=int((sequences.lengths >= 0).sum()),
    )
    return sigs, labels


def _near_labels(
    sigs: np.ndarray,
    has: np.ndarray,
    sequences: WordSequences,
    ranks: np.ndarray,
    salts: np.ndarray | None,
    config: DedupConfig,
    details: dict,
    shuffle: tuple = (None, None),
) -> np.ndarray:
    """Cluster label of each distinct text: LSH candidates, verified, connected components, then (with
    `split`) split so every member is similar to its representative. `shuffle`: (executor, band hashes
    per text) when the workers made the band hashes: the candidates then come from a shuffle of band
    buckets on the executor, with the same result."""

    def similar(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        by_edits = sequences.known(a) & sequences.known(b)
        result = np.empty(len(a), dtype=bool)
        result[by_edits] = sequences.within_edits(a[by_edits], b[by_edits], config.max_edit_rate)
        result[~by_edits] = _similarity(a[~by_edits], b[~by_edits], sigs) >= config.threshold
        return result

    bands, rows = config.lsh_params()
    docs = np.flatnonzero(has)
    with_shingles = sigs if len(docs) == len(sigs) else sigs[docs]
    verify = (lambda p: similar(p[:, 0], p[:, 1])) if config.verify else None
    doc_salts = None if salts is None else salts[docs]
    executor, hashes = shuffle
    if hashes is not None:
        from curation.dedup.shuffle import shuffled_candidate_pairs

        on_docs = hashes if len(docs) == len(hashes) else hashes[docs]
        pairs, candidates = shuffled_candidate_pairs(
            executor, on_docs, docs, config.max_bucket_pairs, keep=verify, salts=doc_salts
        )
    else:
        pairs, candidates = candidate_pairs(
            with_shingles, docs, bands, rows, config.max_bucket_pairs, keep=verify, salts=doc_salts
        )
    details.update(
        threshold=config.threshold,
        max_edit_rate=config.max_edit_rate,
        edit_words=config.edit_words,
        num_perm=config.num_perm,
        seed=config.seed,
        bands=bands,
        rows=rows,
        word_ngram=config.word_ngram,
        char_ngram=config.char_ngram,
        min_words=config.min_words,
        band_candidates=candidates,
    )
    details["pairs"] = len(pairs)
    labels = connected_components(len(sigs), pairs)
    return split_by_representative(labels, pairs, ranks, similar) if config.split else labels


def _similarity(row_ids: np.ndarray, rep_ids: np.ndarray, sigs: np.ndarray | None) -> np.ndarray:
    """Estimated Jaccard of each row's text to its representative's; 1.0 for the same normalized text."""
    similarity = np.ones(len(row_ids), dtype=np.float32)
    if sigs is None:
        return similarity
    differ = np.flatnonzero(row_ids != rep_ids)
    for i in range(0, len(differ), _PAIR_CHUNK):
        part = differ[i : i + _PAIR_CHUNK]
        similarity[part] = estimated_jaccard(sigs[row_ids[part]], sigs[rep_ids[part]])
    return similarity


def _output(
    keys: pa.Array, row_ids: np.ndarray, rep_rows: np.ndarray, digests: list[bytes], sigs: np.ndarray | None
) -> pa.Table:
    import polars as pl

    rep_ids = row_ids[rep_rows]
    hexes = pl.Series(digests, dtype=pl.Binary).bin.encode("hex").to_arrow()
    norm_hash = hexes.take(pa.array(row_ids)).cast(pa.string())
    return pa.table(
        {
            "key": keys,
            "norm_hash": norm_hash,
            "cluster": keys.take(pa.array(rep_rows)),
            "is_representative": pa.array(rep_rows == np.arange(len(rep_rows))),
            "similarity": pa.array(_similarity(row_ids, rep_ids, sigs)),
        },
        schema=OUTPUT_SCHEMA,
    )


def _fill_stats(stats: StageStats, row_ids: np.ndarray, rep_rows: np.ndarray, details: dict) -> None:
    is_rep = rep_rows == np.arange(len(rep_rows))
    exact_copy = ~is_rep & (row_ids == row_ids[rep_rows])
    stats.rows_out = int(is_rep.sum())
    stats.drop("exact_duplicate", int(exact_copy.sum()))
    stats.drop("near_duplicate", int((~is_rep & ~exact_copy).sum()))
    sizes = np.bincount(rep_rows, minlength=len(rep_rows)) if len(rep_rows) else np.zeros(1, dtype=np.int64)
    details.update(clusters=stats.rows_out, multi_row_clusters=int((sizes > 1).sum()), largest_cluster=int(sizes.max()))
    stats.details = details
