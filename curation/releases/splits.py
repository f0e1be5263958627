"""Train/validation/test by group, never by row.

Rows are linked when they share a conversation (a later turn's prompt contains the earlier turns) or a
cluster (`dedup_cluster`: near-duplicate prompts; `topic_cluster`: one topic). A group is a connected
component of those links, so near-copies and turns of one conversation never straddle train and
evaluation. A group's split is a hash of its smallest member key (salted, seed-independent), so it does
not depend on which other rows the release holds: a conversation in `test` stays in `test` in the next
version and in every other release built with the same salt, which keeps evaluation honest across
releases and versions. Fractions are therefore of groups, approximately of rows.

Method `auto` uses dedup clusters when the `samples` view carries them, else conversations; the manifest
records the method actually used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.releases.config import ReleaseEntry
from curation.releases.inputs import Inputs
from curation.releases.rows import quote, scalar

U64_MAX = np.iinfo(np.uint64).max


@dataclass
class SplitResult:
    method: str
    groups: int
    rows: dict[str, int]
    largest_group: int


def choose_method(entry: ReleaseEntry, inputs: Inputs, notes: list[str]) -> str:
    wanted = entry.split.by
    if wanted == "auto":
        return "dedup_cluster" if inputs.has("dedup_cluster") else "conversation"
    if wanted in ("dedup_cluster", "topic_cluster") and not inputs.has(wanted):
        notes.append(f"split by {wanted} asked for, but the samples view has no {wanted} yet: split by conversation")
        return "conversation"
    return wanted


def _codes(array: pa.ChunkedArray) -> np.ndarray:
    """Integer codes of a string column; each null gets a code of its own (a group of one)."""
    encoded = pc.dictionary_encode(array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    codes = np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, indices).astype(np.int64)
    nulls = codes < 0
    codes[nulls] = len(encoded.dictionary) + np.arange(int(nulls.sum()))
    return codes


def components(start: np.ndarray, links: list[np.ndarray]) -> np.ndarray:
    """Label propagation: every row ends with the smallest `start` value of its connected component."""
    label = start.copy()
    while True:
        before = label
        for codes in links:
            smallest = np.full(int(codes.max()) + 1 if len(codes) else 0, U64_MAX, dtype=np.uint64)
            np.minimum.at(smallest, codes, label)
            label = smallest[codes]
        if np.array_equal(label, before):
            return label


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective mix of 64-bit keys into uniformly spread ones (the minimum of hashes is not uniform)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def assign(con, entry: ReleaseEntry, inputs: Inputs, notes: list[str]) -> SplitResult:
    """Set `cand.split` for every live candidate."""
    if entry.frozen_eval:
        con.execute("UPDATE cand SET split = 'test' WHERE drop_reason IS NULL")
        rows = scalar(con, "SELECT count(*) FROM cand WHERE drop_reason IS NULL")
        return SplitResult("frozen evaluation set: every row in test", rows, {"test": rows}, 1)
    method = choose_method(entry, inputs, notes)
    salt = quote(entry.split.salt + ":")
    table = con.sql(f"""
        SELECT rowid AS rid, coalesce(conversation_id, sample_id) AS conversation,
               {"NULL::VARCHAR" if method == "conversation" else f"{method}::VARCHAR"} AS cluster,
               (md5_number({salt} || coalesce(conversation_id, sample_id)) >> 64)::UBIGINT AS start
        FROM cand WHERE drop_reason IS NULL""").to_arrow_table()
    if table.num_rows == 0:
        return SplitResult(method, 0, {}, 0)
    links = [_codes(table["conversation"])]
    if method != "conversation":
        links.append(_codes(table["cluster"]))
    label = components(table["start"].to_numpy(), links)
    u = splitmix64(label).astype(np.float64) / 2.0**64
    test, validation = entry.split.test, entry.split.validation
    split = np.where(u < test, "test", np.where(u < test + validation, "validation", "train"))
    con.register("assignment", pa.table({"rid": table["rid"], "split": pa.array(split)}))
    con.execute("UPDATE cand SET split = a.split FROM assignment a WHERE cand.rowid = a.rid")
    con.unregister("assignment")
    _, sizes = np.unique(label, return_counts=True)
    names, counts = np.unique(split, return_counts=True)
    return SplitResult(
        method, len(sizes), {str(n): int(c) for n, c in zip(names, counts, strict=True)}, int(sizes.max())
    )
