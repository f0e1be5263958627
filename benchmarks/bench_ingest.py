"""Ingest throughput and peak memory: the ingest stage vs the naive way, on simulated traffic.

Baseline (the issue's naive way): gzip line by line, `json.loads` per line, timestamps parsed per value,
and one dict at a time into pyarrow (`RecordBatch.from_pylist([record])`), the one-row batches written
10,000 at a time to one Parquet file. A stronger reference does the same but hands pyarrow 10,000 dicts
per `Table.from_pylist` call. Neither validates beyond what pyarrow enforces, quarantines, de-duplicates,
pseudonymizes or partitions, so both do strictly less work than the stage.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import tempfile
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, scale, table
from benchmarks.simdata import simulated, traffic_files


def _records(files: list[str]):
    def ts(value):
        return dt.datetime.fromisoformat(value) if value else None

    for name in files:
        with gzip.open(name, "rt", encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                record["started_at"] = ts(record["started_at"])
                for message in record["messages"]:
                    message["ts"] = ts(message.get("ts"))
                yield record


def _schema():
    import pyarrow as pa

    from lakehouse import schemas

    return pa.schema(schemas.CONVERSATION_FIELDS)


def naive(files: list[str], out: str) -> dict:
    """json.loads per line, one dict at a time into pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    writer = pq.ParquetWriter(out, schema)
    batches, rows = [], 0
    for record in _records(files):
        batches.append(pa.RecordBatch.from_pylist([record], schema=schema))
        if len(batches) == 10_000:
            writer.write_table(pa.Table.from_batches(batches).combine_chunks())
            rows += len(batches)
            batches = []
    if batches:
        writer.write_table(pa.Table.from_batches(batches).combine_chunks())
        rows += len(batches)
    writer.close()
    return {"rows": rows}


def naive_batched(files: list[str], out: str) -> dict:
    """json.loads per line, 10,000 dicts per from_pylist call."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    writer = pq.ParquetWriter(out, schema)
    batch, rows = [], 0
    for record in _records(files):
        batch.append(record)
        if len(batch) == 10_000:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            rows += len(batch)
            batch = []
    if batch:
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        rows += len(batch)
    writer.close()
    return {"rows": rows}


def stage(files: list[str], lake_dir: str) -> dict:
    import os

    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "benchmark-key-" + "x" * 32)
    recipe = parse({"name": "bench", "stages": [{"stage": "ingest", "paths": files}]})
    record = runner.run(recipe, Lake(lake_dir), Console(quiet=True), command="ingest")
    ingest = record.stages[0]
    return {"rows": ingest.rows_out, "quarantined": sum(ingest.dropped.values())}


def main() -> None:
    from curation.simulator.config import DEFAULT_SHARD_SIZE

    big = scale(1_000_000)
    files = [str(p) for p in traffic_files(big)]
    small = min(big, 100_000)
    small_files = files[: -(-small // DEFAULT_SHARD_SIZE)]  # shards hold DEFAULT_SHARD_SIZE conversations
    work = Path(tempfile.mkdtemp(dir=CACHE_DIR))
    try:
        baseline = measure(
            "naive: json.loads, one dict at a time into pyarrow",
            naive,
            files,
            str(work / "naive.parquet"),
            items=big,
            unit="conversations",
        )
        batched = measure(
            "reference: json.loads, 10,000 dicts per from_pylist",
            naive_batched,
            files,
            str(work / "batched.parquet"),
            items=big,
            unit="conversations",
        )
        ours = measure("flywheel ingest stage", stage, files, str(work / "lake-big"), items=big, unit="conversations")
        ours_small = measure(
            f"flywheel ingest stage ({small:,})",
            stage,
            small_files,
            str(work / "lake-small"),
            items=small,
            unit="conversations",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    growth = ours.peak_rss_mb / ours_small.peak_rss_mb - 1
    text = table(f"Ingest of {big:,} simulated conversations", baseline, [batched, ours, ours_small])
    text += (
        f"\n\nPeak RSS at {big:,} is {growth:+.0%} vs at {small:,} "
        f"(target: within 20% and under 2 GB). Input: {simulated(big)}"
    )
    report("ingest", text)


if __name__ == "__main__":
    main()
