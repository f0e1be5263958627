"""Versioned, immutable training releases: `releases/<name>/<version>/` (docs/architecture.md: Release rows,
Releases).

A release directory holds `data/<split>-00000.parquet` files, `manifest.json` and `README.md` (a dataset
card whose `configs` header lets `datasets.load_dataset(<release dir>)` load it). This module is the
storage half: staging a release, publishing it atomically under the next version, refusing to overwrite
a version, resolving `NAME[@VERSION]`, listing and verifying. What goes into a release is decided by
curation's release builders; the manifest fields they add go through `extra`.

The leak gate lives here, at the lowest layer, so that no publisher can go around it: `publish` refuses
unless a leak scan of the staged data files passed (`finalize` runs it; `publish` checks that the files it
renames are the ones scanned). The scanner comes from the packages above through the entry-point group
`flywheel.leak_scanners` (lakehouse never imports them); with none registered, nothing is published.
Opting out is explicit (`leak_scan="skip"` with a reason), recorded in the manifest with who asked, and
shown by the `releases` view.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse import location, superseded
from lakehouse.errors import CheckFailed, UserError
from lakehouse.lake import Lake, fault_point, file_sha256
from lakehouse.manifest import ReleaseManifest
from lakehouse.runs import package_versions, stable_hash

TRL_TYPES = ("sft", "preference", "unpaired", "prompt", "signals")
SPLITS = ("train", "validation", "test")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# Manifest fields that describe when and with what code a release was made, not what it contains:
# they are left out of the content hash so that the same inputs and recipe give the same hash.
VOLATILE_FIELDS = ("version", "created_at", "code_version", "packages", "content_hash")
STREAM_ROW_GROUP = 50_000
PACKAGES = (
    "pyarrow",
    "duckdb",
    "polars",
    "datasets",
    "trl",
    "transformers",
    "datasketch",
    "presidio-analyzer",
    "sentence-transformers",
)

LEAK_SCANNER_GROUP = "flywheel.leak_scanners"
LEAK_SCAN_MODES = ("required", "skip")
SHOWN_ROWS = 20
# Column semantics for the leak gate, declared once: every string column of a release is user text and is
# scanned. These hold ids, which are scanned too (a client's own conversation id, and the sample ids built
# from it, may hold an e-mail address or a phone number), except for the parts that cannot carry user text:
# the record hashes ingest makes (`<source>-<16 hex digits of xxh3>`: `hh-cb5545ca83f02695-chosen:1`, which
# would otherwise pass for an IBAN now and then), the simulator's numbered ids (`sim-0000123`) and UUIDs.
# Masking them also keeps a million ids full of digits away from the detector.
ID_COLUMNS = frozenset(
    {
        "sample_id",
        "conversation_id",
        "chosen_sample_id",
        "rejected_sample_id",
        "dedup_cluster",
        "character_id",
        "prompt_ref",
    }
)
OPAQUE_ID = (
    r"\b(?:(?:hh|openai|sharegpt|persona-chat|persona)-[0-9a-f]{16}|sim-[0-9]{7,}"
    r"|(?i:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))\b"
)


class ReleaseError(UserError):
    """A release cannot be written, found or verified; the message says why."""


class LeakScanRefused(ReleaseError, CheckFailed):
    """The leak gate refused the release: the message names the types and rows (never a value)."""

    exit_code = 1  # a check that ran and failed (the release stays unpublished)

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


def leak_scanners() -> list[tuple[str, Callable]]:
    """Every registered leak scanner (entry-point group `flywheel.leak_scanners`, each a zero-argument
    factory returning `scan(files, options) -> report`), by name. A report has `clean`, `texts`, `rows`,
    `entities`, `scanner` and `leaks` (each with `row_ref`, `column`, `entity_type`)."""
    found = sorted(importlib.metadata.entry_points(group=LEAK_SCANNER_GROUP), key=lambda e: e.name)
    return [(entry.name, entry.load()()) for entry in found]


def refusal(name: str, report) -> str:
    """The gate's error: types and counts, and the rows by the scanner's safe names, never a value."""
    rows: dict[str, list[str]] = {}
    for leak in report.leaks:
        rows.setdefault(leak.row_ref, [])
        entry = f"{leak.entity_type} in {leak.column}"
        if entry not in rows[leak.row_ref]:
            rows[leak.row_ref].append(entry)
    kinds = Counter(leak.entity_type for leak in report.leaks)
    shown = "; ".join(f"{ref} ({', '.join(found)})" for ref, found in list(rows.items())[:SHOWN_ROWS])
    more = f"; and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    return (
        f"release {name} refused: the leak scan found high-risk identifiers "
        f"({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}) in {len(rows)} rows: {shown}{more}. "
        "Nothing was published; exclude the rows (`sample_id NOT IN (...)`) or fix the scrubbing"
    )


@dataclass(frozen=True)
class Release:
    name: str
    version: int
    path: Path | location.ObjectPath

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    @property
    def manifest_model(self) -> ReleaseManifest:
        """The manifest, typed (lakehouse/manifest.py)."""
        return ReleaseManifest.model_validate(self.manifest)

    def data_files(self, split: str | None = None) -> list[Path | location.ObjectPath]:
        pattern = f"{split}-*.parquet" if split else "*.parquet"
        return sorted((self.path / "data").glob(pattern))

    def read(self, split: str | None = None) -> pa.Table:
        import pyarrow.parquet as pq

        files = self.data_files(split)
        if not files:
            raise ReleaseError(f"{self.ref} has no {split or 'data'} files")
        return pa.concat_tables([pq.read_table(f) for f in files])


def releases_root(lake: Lake) -> Path | location.ObjectPath:
    return lake.root / "releases"


def versions(lake: Lake, name: str) -> list[int]:
    directory = releases_root(lake) / name
    if not directory.exists():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit() and (p / "manifest.json").exists())


def list_releases(lake: Lake) -> list[Release]:
    root = releases_root(lake)
    if not root.exists():
        return []
    return [
        Release(d.name, v, d / str(v)) for d in sorted(root.iterdir()) if d.is_dir() for v in versions(lake, d.name)
    ]


def resolve(lake: Lake, ref: str) -> Release:
    """`NAME`, `NAME@latest` or `NAME@VERSION` -> the published release (a clear error otherwise).
    `latest` skips versions an erasure superseded (lakehouse/superseded.py)."""
    name, _, version = ref.partition("@")
    available = versions(lake, name)
    if not available:
        known = ", ".join(sorted({r.name for r in list_releases(lake)})) or "none"
        raise ReleaseError(f"no release named {name!r} in {releases_root(lake)} (known: {known})")
    if version in ("", "latest"):
        chosen = superseded.latest_current(releases_root(lake) / name, available)
    elif version.lstrip("v").isdigit() and int(version.lstrip("v")) in available:
        chosen = int(version.lstrip("v"))
        superseded.warn_if_superseded(releases_root(lake) / name, chosen)
    else:
        raise ReleaseError(f"{name} has no version {version!r} (versions: {', '.join(map(str, available))})")
    return Release(name, chosen, releases_root(lake) / name / str(chosen))


def content_hash(manifest: dict) -> str:
    """sha256 over the manifest without its volatile fields (file hashes included, so it covers the data).
    The input tables' versions (`parents.tables`, `parents.catalog_versions`) are left out too: they say
    where the rows came from, not what they are, so two clean runs over the same input give the same hash."""
    stable = {k: v for k, v in manifest.items() if k not in VOLATILE_FIELDS}
    if isinstance(stable.get("parents"), dict):
        stable["parents"] = {k: v for k, v in stable["parents"].items() if k not in ("tables", "catalog_versions")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


def dataset_card(
    name: str, version: int, trl_type: str, splits: dict[str, int], description: str, config_name: str = "default"
) -> str:
    """README.md with the `configs` header `datasets.load_dataset(<dir>)` reads. Give each release its own
    `config_name`: `datasets` caches a local dataset under the directory's base name (the version number
    here) and the config name, so two releases sharing both can be served from each other's cache."""
    data_files = "\n".join(f"  - split: {s}\n    path: data/{s}-*.parquet" for s in SPLITS if splits.get(s))
    counts = "\n".join(f"| {s} | {splits.get(s, 0):,} |" for s in SPLITS)
    return (
        f"---\nconfigs:\n- config_name: {config_name}\n  default: true\n  data_files:\n" + data_files + "\n---\n\n"
        f"# {name} v{version}\n\n{description}\n\nTRL dataset type: `{trl_type}`.\n\n"
        "| split | rows |\n|---|---:|\n" + counts + "\n\n"
        'Load it with `datasets.load_dataset("<this directory>")`. `manifest.json` holds the lineage: '
        "inputs, recipe, code version, per-file sha256 and the content hash (`flywheel releases verify`).\n"
    )


class ReleaseWriter:
    """Stages one release, then publishes it under the next free version in one rename.

    Use: `w = ReleaseWriter(lake, name, trl_type)`, `w.write_split("train", table)` for each split,
    `w.finalize(...)` to run the leak gate and write manifest and card into the staging directory, and
    `w.publish()`. Nothing is visible under `releases/` before `publish`, and `publish` refuses unless the
    gate passed on exactly the files it publishes. `leak_scan="skip"` (with a `reason`) publishes without
    a scan; the manifest's `leak_scan` section records that, the reason and who asked.
    """

    def __init__(
        self,
        lake: Lake,
        name: str,
        trl_type: str,
        *,
        leak_scan: str = "required",
        reason: str | None = None,
        requested_by: str | None = None,
        scan_options: dict | None = None,
        card: Callable[[dict, Path, int], str] | None = None,
    ):
        if not NAME_PATTERN.match(name):
            raise ReleaseError(f"release name {name!r} must match {NAME_PATTERN.pattern}")
        if trl_type not in TRL_TYPES:
            raise ReleaseError(f"release type {trl_type!r} is not one of {', '.join(TRL_TYPES)}")
        if leak_scan not in LEAK_SCAN_MODES:
            raise ReleaseError(f"leak_scan {leak_scan!r} is not one of {', '.join(LEAK_SCAN_MODES)}")
        if leak_scan == "skip" and not (reason or "").strip():
            raise ReleaseError(f"release {name}: leak_scan='skip' needs a reason (it is recorded in the manifest)")
        self.leak_scan, self.skip_reason = leak_scan, (reason or "").strip() or None
        self.requested_by = requested_by or _user()
        self.scan_options = dict(scan_options or {})  # handed to each scanner as is (curation: {"scrub": {...}})
        self.scanned = False  # whether the gate passed (or a recorded skip) over the files hashed in the manifest
        self.scan_report = None
        self.lake, self.name, self.trl_type = lake, name, trl_type
        self.card = card  # (manifest, staged directory, version) -> README.md; default: dataset_card
        self.staging = lake.staging_root / f"release-{uuid.uuid4().hex}"
        (self.staging / "data").mkdir(parents=True)
        self.splits: dict[str, int] = {}
        self.manifest: dict | None = None
        self._streams: dict[str, tuple] = {}  # split -> (ParquetWriter, buffered tables, buffered rows)

    def write_split(self, split: str, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        self._check_split(split)
        if split in self._streams:
            raise ReleaseError(f"split {split!r} is being streamed with append(); write it one way only")
        self.splits[split] = table.num_rows
        if table.num_rows:
            pq.write_table(table, self.staging / "data" / f"{split}-00000.parquet", compression="zstd")

    def append(self, split: str, data: pa.Table | pa.RecordBatch) -> None:
        """Stream rows into `split` (for releases too large to hold in memory at once).

        Rows are written in row groups of exactly STREAM_ROW_GROUP rows (the last one shorter), so the
        file's bytes depend only on the rows and their order, never on how the caller batched them.
        """
        import pyarrow.parquet as pq

        self._check_split(split)
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if split not in self._streams:
            if split in self.splits:
                raise ReleaseError(f"split {split!r} was already written with write_split()")
            path = self.staging / "data" / f"{split}-00000.parquet"
            self._streams[split] = (pq.ParquetWriter(path, table.schema, compression="zstd"), [], 0)
            self.splits[split] = 0
        writer, buffered, rows = self._streams[split]
        buffered.append(table)
        rows += table.num_rows
        self.splits[split] += table.num_rows
        if rows >= STREAM_ROW_GROUP:
            whole = pa.concat_tables(buffered)
            cut = rows - rows % STREAM_ROW_GROUP
            writer.write_table(whole.slice(0, cut), row_group_size=STREAM_ROW_GROUP)
            buffered, rows = [whole.slice(cut)], rows - cut
        self._streams[split] = (writer, buffered, rows)

    def _close_streams(self) -> None:
        for split, (writer, buffered, rows) in sorted(self._streams.items()):
            if rows:
                writer.write_table(pa.concat_tables(buffered), row_group_size=STREAM_ROW_GROUP)
            writer.close()
            if self.splits[split] == 0:
                (self.staging / "data" / f"{split}-00000.parquet").unlink()
        self._streams.clear()

    @staticmethod
    def _check_split(split: str) -> None:
        if split not in SPLITS:
            raise ReleaseError(f"split {split!r} is not one of {', '.join(SPLITS)}")

    def finalize(
        self,
        *,
        parents: dict,
        recipe: dict,
        split_method: str,
        dropped: dict[str, int],
        description: str = "",
        code_version: str = "",
        extra: dict | None = None,
    ) -> dict:
        """Run the leak gate over the staged data files, then write manifest.json (with the gate's
        `leak_scan` section) and README.md into the staging directory; returns the manifest. A refused
        release is discarded (LeakScanRefused): nothing of it is left."""
        self._close_streams()
        if "leak_scan" in (extra or {}):
            raise ReleaseError("the manifest's leak_scan section is the writer's own; do not pass it in `extra`")
        gate = self._leak_gate()
        files = [
            {
                "path": f"data/{p.name}",
                "split": p.name.split("-")[0],
                "rows": self.splits[p.name.split("-")[0]],
                "sha256": file_sha256(p),
            }
            for p in sorted((self.staging / "data").glob("*.parquet"))
        ]
        manifest = {
            "name": self.name,
            "version": None,
            "type": self.trl_type,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "parents": parents,
            "recipe": recipe,
            "recipe_hash": stable_hash(recipe),
            "code_version": code_version,
            "packages": package_versions(PACKAGES),
            "files": files,
            "splits": {s: self.splits.get(s, 0) for s in SPLITS},
            "split_method": split_method,
            "dropped": dict(sorted(dropped.items())),
            **(extra or {}),
            "leak_scan": gate,
        }
        manifest["content_hash"] = content_hash(manifest)
        ReleaseManifest.model_validate(manifest)  # the writer and the typed model never drift apart
        self.manifest, self.description = manifest, description
        self._write_meta(version=None)
        return manifest

    def _write_meta(self, version: int | None) -> None:
        if self.manifest is None:
            raise ReleaseError("finalize() must run before the manifest is written")
        self.manifest["version"] = version
        (self.staging / "manifest.json").write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
        if self.card is not None:
            card = self.card(self.manifest, self.staging, version or 0)
        else:
            config_name = f"{self.name}-v{version or 0}-{self.manifest['content_hash'][:12]}"
            card = dataset_card(self.name, version or 0, self.trl_type, self.splits, self.description, config_name)
        (self.staging / "README.md").write_text(card)

    def publish(self) -> Release:
        """Move the staged release to `releases/<name>/<next version>/`; refuses to overwrite."""
        if self.manifest is None:
            raise ReleaseError("finalize() must run before publish()")
        self._check_scanned()
        for _ in range(5):  # another process may publish the same version first: take the next one
            version = (versions(self.lake, self.name) or [0])[-1] + 1
            self._write_meta(version)
            target = releases_root(self.lake) / self.name / str(version)
            if not location.publish_dir(self.staging, target):  # a version is never overwritten
                continue
            fault_point(at="publish")
            return Release(self.name, version, target)
        raise ReleaseError(f"could not publish {self.name}: versions kept being taken by other writers")

    def _leak_gate(self) -> dict:
        """Scan the staged data files with every registered scanner; the manifest section, or refuse."""
        if self.leak_scan == "skip":
            self.scanned = True
            return {"mode": "skip", "reason": self.skip_reason, "requested_by": self.requested_by}
        scanners = leak_scanners()
        if not scanners:
            self.discard()
            raise ReleaseError(
                f"release {self.name} refused: no leak scanner is registered (entry-point group "
                f"{LEAK_SCANNER_GROUP}; the flywheel package registers curation's), so nothing can be published. "
                "Install the package, or publish with leak_scan='skip' and a reason"
            )
        files = sorted((self.staging / "data").glob("*.parquet"))
        section: dict = {"mode": "required", "scanners": [], "texts": 0, "hits": 0}
        for name, scan in scanners:
            report = scan(files, self.scan_options)
            if not report.clean:
                self.discard()
                raise LeakScanRefused(refusal(self.name, report), report)
            section["scanners"].append({"name": name, "scanner": report.scanner, "entities": list(report.entities)})
            section["texts"] = max(section["texts"], report.texts)
            self.scan_report = report
        self.scanned = True
        return section

    def _check_scanned(self) -> None:
        """The gate: refuse unless the leak scan (or a recorded skip) passed, and the data files are still
        exactly those it read (finalize hashed them into the manifest right after the scan)."""
        if not self.scanned or self.manifest is None:
            raise LeakScanRefused(f"release {self.name} refused: no leak scan ran over it (finalize() runs the gate)")
        listed = {f["path"]: f["sha256"] for f in self.manifest["files"]}
        staged = {f"data/{p.name}": p for p in (self.staging / "data").iterdir()}
        if set(staged) != set(listed) or any(file_sha256(staged[k]) != v for k, v in listed.items()):
            raise LeakScanRefused(f"release {self.name} refused: its data files changed after the leak scan")

    def discard(self) -> None:
        for writer, _, _ in self._streams.values():
            writer.close()
        self._streams.clear()
        shutil.rmtree(self.staging, ignore_errors=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return os.environ.get("USER") or "unknown"


def verify(release: Release) -> list[str]:
    """Recompute every file hash and the content hash, and check each file's row count against the
    manifest; returns the problems found (empty when intact)."""
    import pyarrow.parquet as pq

    manifest = release.manifest
    problems = []
    listed = {f["path"] for f in manifest["files"]}
    for entry in manifest["files"]:
        path = release.path / entry["path"]
        if not path.exists():
            problems.append(f"missing file {entry['path']}")
        elif file_sha256(path) != entry["sha256"]:
            problems.append(f"sha256 mismatch for {entry['path']}")
        elif pq.ParquetFile(path).metadata.num_rows != entry["rows"]:
            problems.append(
                f"{entry['path']} has {pq.ParquetFile(path).metadata.num_rows} rows, the manifest says {entry['rows']}"
            )
    for path in release.data_files():
        if f"data/{path.name}" not in listed:
            problems.append(f"unlisted file data/{path.name}")
    if content_hash(manifest) != manifest.get("content_hash"):
        problems.append("content hash does not match the manifest")
    return problems
