"""`lineage.json` in every checkpoint, and the same record as a row of the lake's `meta/models` table.

The lineage answers "which data trained this checkpoint?" without a database: the release (name, version,
content hash), the base model and its own lineage, the config and its hash, the code and package
versions, the metrics. `ancestry` flattens the chain: the run's own release at depth 0, then the releases
of the model it started from (depth 1), and so on, so a DPO checkpoint names its SFT data too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pyarrow as pa

from lakehouse import tables
from lakehouse.lake import Lake, atomic_write_bytes
from lakehouse.releases import Release
from lakehouse.runs import package_versions
from train.models import LINEAGE_FILE, ModelRef, read_lineage

PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "pyarrow")


class ReleaseRecord(TypedDict):
    """The release a run trained on, pinned by its content hash."""

    name: str
    version: int
    ref: str
    type: str
    content_hash: str
    path: str


class ModelRecord(TypedDict):
    """A model a run started from (or compared against): a checkpoint of ours (run_id set) or a hub/local name."""

    path: str
    run_id: str | None
    kind: str | None


class RewardModelRecord(ModelRecord):
    """A reward term of an online run (GRPO, online DPO): the reward model and its weight in the sum."""

    weight: float


class AncestryEntry(TypedDict):
    run_id: str
    kind: str
    release: str
    release_content_hash: str
    depth: int  # 0: this run's release; 1: the release of the model it started from; ...


class Lineage(TypedDict):
    """`lineage.json` of a checkpoint and the result of `trainers.train` (the keys `to_row` reads)."""

    run_id: str
    kind: str
    output_dir: str
    release: ReleaseRecord
    base_model: ModelRecord
    ref_model: ModelRecord | None
    config: dict[str, Any]
    config_hash: str
    code_version: str
    packages: dict[str, str]
    device: str
    metrics: dict[str, float]
    notes: list[str]
    train_rows: int
    dropped: dict[str, int]
    steps: int
    seconds: float
    weights_sha256: str
    ancestry: list[AncestryEntry]
    started_at: str
    finished_at: str
    reward_models: NotRequired[list[RewardModelRecord]]  # online runs only


def ancestry(run_id: str, kind: str, release: Release, base_path: str | None) -> list[AncestryEntry]:
    """This run's release, then the ancestry recorded in the base model's lineage, one level deeper."""
    own: AncestryEntry = {
        "run_id": run_id,
        "kind": kind,
        "release": release.ref,
        "release_content_hash": release.manifest["content_hash"],
        "depth": 0,
    }
    parent = read_lineage(base_path) if base_path else None
    inherited: list[AncestryEntry] = [{**a, "depth": a["depth"] + 1} for a in parent["ancestry"]] if parent else []
    return [own, *inherited]


def build(
    *,
    run_id: str,
    kind: str,
    output_dir: Path,
    release: Release,
    base: ModelRef | str,
    ref_model: ModelRef | None,
    settings: dict[str, Any],
    settings_hash: str,
    code_version: str,
    metrics: dict[str, float],
    notes: list[str],
    device: str,
    train_rows: int,
    dropped: dict[str, int],
    steps: int,
    seconds: float,
    weights_sha256: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
) -> Lineage:
    manifest = release.manifest
    base_path = base.path if isinstance(base, ModelRef) else None
    return {
        "run_id": run_id,
        "kind": kind,
        "output_dir": str(output_dir),
        "release": {
            "name": release.name,
            "version": release.version,
            "ref": release.ref,
            "type": manifest["type"],
            "content_hash": manifest["content_hash"],
            "path": str(release.path),
        },
        "base_model": (
            {"path": base.path, "run_id": base.run_id, "kind": base.kind}
            if isinstance(base, ModelRef)
            else {"path": base, "run_id": None, "kind": base}
        ),
        "ref_model": (
            {"path": ref_model.path, "run_id": ref_model.run_id, "kind": ref_model.kind} if ref_model else None
        ),
        "config": settings,
        "config_hash": settings_hash,
        "code_version": code_version,
        "packages": package_versions(PACKAGES),
        "device": device,
        "metrics": metrics,
        "notes": notes,
        "train_rows": train_rows,
        "dropped": dropped,
        "steps": steps,
        "seconds": round(seconds, 3),
        "weights_sha256": weights_sha256,
        "ancestry": ancestry(run_id, kind, release, base_path),
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
    }


def write(directory: Path, lineage: Lineage) -> Path:
    path = directory / LINEAGE_FILE
    atomic_write_bytes(path, (json.dumps(lineage, indent=2, sort_keys=True, default=str) + "\n").encode())
    return path


def to_row(lineage: Lineage) -> dict[str, Any]:
    release = lineage["release"]
    return {
        "run_id": lineage["run_id"],
        "kind": lineage["kind"],
        "output_dir": lineage["output_dir"],
        "release": release["ref"],
        "release_name": release["name"],
        "release_version": release["version"],
        "release_type": release["type"],
        "release_content_hash": release["content_hash"],
        "base_model": lineage["base_model"]["path"],
        "base_model_run_id": lineage["base_model"]["run_id"],
        "ref_model": lineage["ref_model"]["path"] if lineage["ref_model"] else None,
        "config": json.dumps(lineage["config"], sort_keys=True),
        "config_hash": lineage["config_hash"],
        "code_version": lineage["code_version"],
        "packages": list(lineage["packages"].items()),
        "metrics": [(k, float(v)) for k, v in sorted(lineage["metrics"].items())],
        "lora": bool(lineage["config"].get("lora", {}).get("enabled")),
        "device": lineage["device"],
        "train_rows": lineage["train_rows"],
        "steps": lineage["steps"],
        "seconds": lineage["seconds"],
        "weights_sha256": lineage["weights_sha256"],
        "ancestry": lineage["ancestry"],
        "started_at": dt.datetime.fromisoformat(lineage["started_at"]),
        "finished_at": dt.datetime.fromisoformat(lineage["finished_at"]),
    }


def record(lake: Lake, lineage: Lineage) -> None:
    """Append the run to `meta/models` (one transaction)."""
    table = pa.Table.from_pylist([to_row(lineage)], schema=tables.MODELS.schema)
    with lake.transaction() as tx:
        tx.write(tables.MODELS, table)
