"""`flywheel dedup --in IN.jsonl --out OUT.jsonl`: lines {"id", "text"[, "started_at"]} in, lines
{"id", "cluster", "representative"} out, in input order.

`cluster` is the id of the cluster's representative (so a singleton's cluster is its own id); an
optional RFC 3339 `started_at` makes the earliest copy the representative, else the smallest id wins.
Input is read in batches, so memory grows with the number of documents, not with their text.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from curation.dedup.clusters import dedup
from curation.dedup.config import DedupConfig
from lakehouse.errors import InputError
from lakehouse.jsonl import text_records
from lakehouse.lake import atomic_write_bytes
from lakehouse.runs import PeakMemory, StageStats

_READ_BATCH = 10_000
_INPUT_SCHEMA = pa.schema([("key", pa.string()), ("text", pa.string()), ("started_at", pa.timestamp("us", tz="UTC"))])


def _parse_time(value, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: started_at {value!r} is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def read_batches(path: Path, raw_ids: list) -> Iterator[pa.RecordBatch]:
    """Record batches (key, text, started_at) of the input; each line's original id value is appended to
    `raw_ids` so the output can repeat ids with their JSON type. Blank lines are skipped."""
    keys, texts, times = [], [], []
    for number, record in text_records(path):
        raw_ids.append(record["id"])
        keys.append(str(record["id"]))
        texts.append(record["text"])
        times.append(_parse_time(record.get("started_at"), f"{path}:{number}"))
        if len(keys) >= _READ_BATCH:
            yield pa.record_batch([keys, texts, times], schema=_INPUT_SCHEMA)
            keys, texts, times = [], [], []
    if keys:
        yield pa.record_batch([keys, texts, times], schema=_INPUT_SCHEMA)


def write_clusters(path: Path, result: pa.Table, raw_ids: list) -> None:
    """One line per input document, in input order, written atomically."""
    position = {key: i for i, key in enumerate(result.column("key").to_pylist())}
    clusters = result.column("cluster").to_pylist()
    representative = result.column("is_representative").to_pylist()
    lines = [
        json.dumps(
            {"id": raw_ids[i], "cluster": raw_ids[position[clusters[i]]], "representative": representative[i]},
            ensure_ascii=False,
        )
        for i in range(len(raw_ids))
    ]
    atomic_write_bytes(path, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))


def dedup_jsonl(in_path: Path, out_path: Path, config: DedupConfig) -> StageStats:
    """Read, cluster and write; the code path of `flywheel dedup` and of the quality evaluation."""
    raw_ids: list = []
    start = time.perf_counter()
    with PeakMemory() as memory:
        result, stats = dedup(read_batches(in_path, raw_ids), config)
        write_clusters(out_path, result, raw_ids)
    stats.seconds, stats.peak_rss_mb = time.perf_counter() - start, memory.peak_mb
    return stats
