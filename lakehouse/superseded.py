"""Superseded releases: a published version that holds rows an erasure removed from the lake.

Releases are immutable (their files, manifest and content hash never change), so the mark is a sidecar,
`releases/<name>/<version>/superseded.json`, listing each erasure that superseded the version (erasure
id, when, reason, how many rows). The manifest and `verify` are untouched; the catalog's `releases` and
`release_rows` views show the mark.

Resolving `NAME` or `NAME@latest` skips superseded versions (and warns that it did): a trainer asking for
the latest data must not get data a user asked to have erased. When every version is superseded it
falls back to the newest, with a warning, so builds and lookups keep working until the next
`flywheel releases build` publishes a clean version (which the erasure already made the lake produce).
An explicit `NAME@VERSION` resolves to that version, with a warning when it is superseded (reproducing an
old run stays possible).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

from lakehouse.lake import atomic_write_bytes
from lakehouse.location import ObjectPath

SIDECAR = "superseded.json"


class SupersededReleaseWarning(UserWarning):
    """A release that holds erased rows was resolved or skipped."""


def sidecar(release_dir: Path | ObjectPath) -> dict | None:
    path = release_dir / SIDECAR
    return json.loads(path.read_text()) if path.exists() else None


def is_superseded(release_dir: Path | ObjectPath) -> bool:
    return (release_dir / SIDECAR).exists()


def erasure_ids(release_dir: Path | ObjectPath) -> set[str]:
    mark_ = sidecar(release_dir)
    return {e["erasure_id"] for e in mark_["erasures"]} if mark_ else set()


def mark(lake, ref: str, *, erasure_id: str, reason: str, rows: int, at: dt.datetime) -> Path:
    """Add an erasure to the version's sidecar (written atomically; marking twice with one id is a no-op)."""
    name, _, version = ref.partition("@")
    directory = lake.root / "releases" / name / version
    if not (directory / "manifest.json").exists():
        raise FileNotFoundError(f"no published release {ref} at {directory}")
    current = sidecar(directory) or {"name": name, "version": int(version), "superseded": True, "erasures": []}
    if erasure_id not in {e["erasure_id"] for e in current["erasures"]}:
        current["erasures"].append({"erasure_id": erasure_id, "at": at.isoformat(), "reason": reason, "rows": rows})
    path = directory / SIDECAR
    atomic_write_bytes(path, (json.dumps(current, indent=2, sort_keys=True) + "\n").encode())
    return path


def latest_current(directory: Path | ObjectPath, available: list[int]) -> int:
    """The newest version not superseded; the newest of all (with a warning) when every one is."""
    name = directory.name
    current = [v for v in available if not is_superseded(directory / str(v))]
    if not current:
        warn(
            f"every version of {name} is superseded by an erasure; using {name}@{available[-1]} until "
            "`flywheel releases build` publishes a clean one"
        )
        return available[-1]
    if current[-1] != available[-1]:
        skipped = ", ".join(f"{name}@{v}" for v in available if v > current[-1])
        warn(f"{skipped} superseded by an erasure: using {name}@{current[-1]} (rebuild with `flywheel releases build`)")
    return current[-1]


def warn_if_superseded(directory: Path | ObjectPath, version: int) -> None:
    if is_superseded(directory / str(version)):
        warn(f"{directory.name}@{version} is superseded by an erasure: it holds rows of an erased user")


def warn(message: str) -> None:
    warnings.warn(message, SupersededReleaseWarning, stacklevel=3)
