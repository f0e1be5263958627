"""The ledger of file-to-file stages (`meta/processed_files`): which input file a stage turned into which
output files, under which config.

It makes such stages incremental: a rerun processes only input files it has not seen under the current
config, and drops the outputs of inputs that are gone (retention) or were made under another config. An
input file's output is committed together with its ledger row, so an interrupted run resumes where it
stopped and produces the same files.

Whole-table stages (dedup, cluster, sample: every output row may depend on every input row) record each
input file against all their output files (`record_table`); `current` then says whether the outputs were
made from exactly these inputs under this config, so a rerun over unchanged inputs does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse import schemas, tables
from lakehouse.lake import Lake, Transaction
from lakehouse.location import ObjectPath
from lakehouse.runs import utc_now

TABLE = tables.PROCESSED_FILES  # the ledger table (a stage that commits partially completes it too)


@dataclass
class Plan:
    pending: list[str]  # input files (lake-relative) still to process, sorted
    reused: list[str]  # input files whose outputs are current
    stale_outputs: list[str]  # outputs of inputs that are gone or were made under another config


def _rows(lake: Lake, tx: Transaction | None = None) -> list[dict]:
    """The ledger's rows; inside a transaction, at the version it pinned and guarded, so two writers that
    rewrite the ledger at once conflict instead of losing each other's rows."""
    if tx is not None:
        tx.guard(tables.PROCESSED_FILES)
        table = tx.read(tables.PROCESSED_FILES)
        return table.drop_columns([c for c in table.column_names if c not in schemas.PROCESSED_FILES.names]).to_pylist()
    if not lake.files(tables.PROCESSED_FILES):
        return []
    return lake.read(tables.PROCESSED_FILES).to_pylist()


def plan(lake: Lake, stage: str, config_hash: str, inputs: Sequence[Path | ObjectPath]) -> Plan:
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


def forget_stale(
    lake: Lake, stage: str, config_hash: str, inputs: Sequence[Path | ObjectPath], tx: Transaction
) -> None:
    """Remove, in `tx`, the outputs of inputs that are gone or were made under another config, and
    their ledger rows."""
    current = {str(p.relative_to(lake.root)) for p in inputs}
    keep = []
    for row in _rows(lake, tx):
        if row["stage"] != stage or (row["config_hash"] == config_hash and row["input_file"] in current):
            keep.append(row)
        else:
            tx.remove_files([lake.root / f for f in row["output_files"]])
    tx.replace(tables.PROCESSED_FILES, pa.Table.from_pylist(keep, schema=schemas.PROCESSED_FILES))


def record(
    lake: Lake,
    tx: Transaction,
    stage: str,
    config_hash: str,
    input_file: str,
    output_files: list[str],
    rows: int,
    run_id: str,
) -> None:
    """Add one processed input file to the ledger in `tx` (the ledger table is rewritten whole: it is small)."""
    entries = [r for r in _rows(lake, tx) if not (r["stage"] == stage and r["input_file"] == input_file)]
    entries.append(
        {
            "stage": stage,
            "config_hash": config_hash,
            "input_file": input_file,
            "output_files": output_files,
            "rows": rows,
            "run_id": run_id,
            "processed_at": utc_now(),
        }
    )
    entries.sort(key=lambda r: (r["stage"], r["input_file"]))
    tx.replace(tables.PROCESSED_FILES, pa.Table.from_pylist(entries, schema=schemas.PROCESSED_FILES))


def current(lake: Lake, stage: str, config_hash: str, inputs: Sequence[Path | ObjectPath]) -> bool:
    """Whether a whole-table stage's recorded outputs come from exactly `inputs` under `config_hash` and
    are all still there."""
    names = {str(p.relative_to(lake.root)) for p in inputs}
    rows = [r for r in _rows(lake) if r["stage"] == stage]
    if not rows or {r["input_file"] for r in rows} != names or any(r["config_hash"] != config_hash for r in rows):
        return False
    live = {
        str(p.relative_to(lake.root))
        for spec in {lake.table_of(f).name for r in rows for f in r["output_files"]}
        for p in lake.files(spec)
    }
    return all(f in live for r in rows for f in r["output_files"])


def skip_if_current(ctx, stage: str, config_hash: str, inputs: Sequence[Path | ObjectPath], stats, note: str) -> bool:
    """The "input unchanged, skip" check of a whole-table stage: when its outputs are `current`, mark the
    stage's stats up to date, say so on the console (`STAGE: up to date (NOTE)`) and return True, so the
    stage returns without reading anything else. `ctx` is the stage's context (its lake and console)."""
    if not current(ctx.lake, stage, config_hash, inputs):
        return False
    stats.details = {"up_to_date": True, "config_hash": config_hash}
    ctx.console.print(f"{stage}: up to date ({note})", highlight=False, markup=False)
    return True


def record_table(
    lake: Lake,
    tx: Transaction,
    stage: str,
    config_hash: str,
    inputs: Sequence[Path | ObjectPath],
    output_files: list[str],
    rows: int,
    run_id: str,
) -> None:
    """Replace, in `tx`, a whole-table stage's ledger rows: every input file maps to all of `output_files`
    (`rows` is the number of rows the stage read)."""
    now = utc_now()
    entries = [r for r in _rows(lake, tx) if r["stage"] != stage]
    entries += [
        {
            "stage": stage,
            "config_hash": config_hash,
            "input_file": str(p.relative_to(lake.root)),
            "output_files": sorted(output_files),
            "rows": rows,
            "run_id": run_id,
            "processed_at": now,
        }
        for p in inputs
    ]
    entries.sort(key=lambda r: (r["stage"], r["input_file"]))
    tx.replace(tables.PROCESSED_FILES, pa.Table.from_pylist(entries, schema=schemas.PROCESSED_FILES))
