"""Ingest throughput and peak memory: the ingest stage vs the naive way, on simulated traffic.

Naive: gzip line by line, `json.loads` per line, timestamps parsed per value, dicts collected and handed
to pyarrow (`Table.from_pylist` with the explicit schema) in batches of 10,000, written to one Parquet
file. It validates nothing beyond what pyarrow enforces, quarantines nothing and writes no partitions,
so it does strictly less work than the stage.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import CACHE_DIR, measure, report, scale, table
from benchmarks.simdata import simulated, traffic_files


def naive(files: list[str], out: str) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakehouse import schemas

    schema = pa.schema([f for f in schemas.CONVERSATION_FIELDS])
    writer = pq.ParquetWriter(out, schema)
    batch, rows = [], 0

    def ts(value):
        return dt.datetime.fromisoformat(value) if value else None

    for name in files:
        with gzip.open(name, "rt", encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                record["started_at"] = ts(record["started_at"])
                for message in record["messages"]:
                    message["ts"] = ts(message.get("ts"))
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
    big = scale(1_000_000)
    files = [str(p) for p in traffic_files(big)]
    small_files = files[:1] if big >= 200_000 else files  # the first shard holds 100,000 conversations
    small = 100_000 if big >= 200_000 else big
    work = Path(tempfile.mkdtemp(dir=CACHE_DIR))
    try:
        baseline = measure("naive json.loads + from_pylist", naive, files, str(work / "naive.parquet"),
                           items=big, unit="conversations")
        ours = measure("flywheel ingest stage", stage, files, str(work / "lake-big"), items=big, unit="conversations")
        ours_small = measure(f"flywheel ingest stage ({small:,})", stage, small_files, str(work / "lake-small"),
                             items=small, unit="conversations")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    growth = ours.peak_rss_mb / ours_small.peak_rss_mb - 1
    text = table(f"Ingest of {big:,} simulated conversations", baseline, [ours, ours_small])
    text += (f"\n\nPeak RSS at {big:,} is {growth:+.0%} vs at {small:,} "
             f"(target: within 20% and under 2 GB). Input: {simulated(big)}")
    report("ingest", text)


if __name__ == "__main__":
    main()
