"""The ledger of file-to-file stages (`meta/processed_files`): which input file a stage turned into which
output files, under which config.

It makes such stages incremental: a rerun processes only input files it has not seen under the current
config, and drops the outputs of inputs that are gone (retention) or were made under another config. An
input file's output is committed together with its ledger row, so an interrupted run resumes where it
stopped and produces the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse import schemas, tables
from lakehouse.lake import Lake, Transaction
from lakehouse.runs import utc_now


@dataclass
class Plan:
    pending: list[str]  # input files (lake-relative) still to process, sorted
    reused: list[str]  # input files whose outputs are current
    stale_outputs: list[str]  # outputs of inputs that are gone or were made under another config


def _rows(lake: Lake) -> list[dict]:
    if not lake.files(tables.PROCESSED_FILES):
        return []
    return lake.read(tables.PROCESSED_FILES).to_pylist()


def plan(lake: Lake, stage: str, config_hash: str, inputs: list[Path]) -> Plan:
    names = sorted(str(p.relative_to(lake.root)) for p in inputs)
    current = set(names)
    done, stale = set(), []
    for row in _rows(lake):
        if row["stage"] != stage:
            continue
        if row["config_hash"] == config_hash and row["input_file"] in current:
            done.add(row["input_file"])
        else:
            stale.extend(row["output_files"])
    return Plan([n for n in names if n not in done], sorted(done), sorted(stale))


def forget_stale(lake: Lake, stage: str, config_hash: str, inputs: list[Path], tx: Transaction) -> None:
    """Remove, in `tx`, the outputs of inputs that are gone or were made under another config, and
    their ledger rows."""
    current = {str(p.relative_to(lake.root)) for p in inputs}
    keep = []
    for row in _rows(lake):
        if row["stage"] != stage or (row["config_hash"] == config_hash and row["input_file"] in current):
            keep.append(row)
        else:
            tx.remove_files([lake.root / f for f in row["output_files"]])
    tx.replace(tables.PROCESSED_FILES, pa.Table.from_pylist(keep, schema=schemas.PROCESSED_FILES))


def record(lake: Lake, tx: Transaction, stage: str, config_hash: str, input_file: str, output_files: list[str],
           rows: int, run_id: str) -> None:
    """Add one processed input file to the ledger in `tx` (the ledger table is rewritten whole: it is small)."""
    entries = [r for r in _rows(lake) if not (r["stage"] == stage and r["input_file"] == input_file)]
    entries.append({"stage": stage, "config_hash": config_hash, "input_file": input_file,
                    "output_files": output_files, "rows": rows, "run_id": run_id, "processed_at": utc_now()})
    entries.sort(key=lambda r: (r["stage"], r["input_file"]))
    tx.replace(tables.PROCESSED_FILES, pa.Table.from_pylist(entries, schema=schemas.PROCESSED_FILES))
