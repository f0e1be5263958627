"""`flywheel dedup --in IN.jsonl --out OUT.jsonl`: lines {"id", "text"[, "started_at"]} in, lines
{"id", "cluster", "representative"} out, in input order.

`cluster` is the id of the cluster's representative (so a singleton's cluster is its own id); an
optional RFC 3339 `started_at` makes the earliest copy the representative, else the smallest id wins.
Input is read in batches, so memory grows with the number of documents, not with their text.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from curation.dedup.config import DedupConfig
from curation.dedup.engine import dedup
from lakehouse.lake import atomic_write_bytes
from lakehouse.runs import PeakMemory, StageStats

_READ_BATCH = 10_000
_INPUT_SCHEMA = pa.schema([("key", pa.string()), ("text", pa.string()), ("started_at", pa.timestamp("us", tz="UTC"))])


class InputError(ValueError):
    """A line of the input that is not a {"id", "text"} object; the message names file and line."""


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _parse_time(value, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: started_at {value!r} is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _parse_line(line: str, where: str) -> tuple[str | int, str, dt.datetime | None]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not valid JSON ({err.msg})") from None
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object with 'id' and 'text'")
    doc_id, text = record.get("id"), record.get("text")
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        raise InputError(f"{where}: 'id' must be a string or an integer, got {doc_id!r}")
    if not isinstance(text, str):
        raise InputError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    return doc_id, text, _parse_time(record.get("started_at"), where)


def read_batches(path: Path, raw_ids: list) -> Iterator[pa.RecordBatch]:
    """Record batches (key, text, started_at) of the input; each line's original id value is appended to
    `raw_ids` so the output can repeat ids with their JSON type. Blank lines are skipped."""
    keys, texts, times = [], [], []
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            doc_id, text, started = _parse_line(line, f"{path}:{number}")
            raw_ids.append(doc_id)
            keys.append(str(doc_id))
            texts.append(text)
            times.append(started)
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
