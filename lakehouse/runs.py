"""The runs ledger (`runs/<run_id>.json`) and the per-stage statistics every command records.

A stage's statistics are the same everywhere: rows in, rows out, rows dropped by reason, seconds and
peak memory. The catalog's `runs` and `run_stages` views read these files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from lakehouse import __version__
from lakehouse.lake import Lake, atomic_write_bytes
from lakehouse.location import ObjectPath


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run_id(command: str) -> str:
    stamp = utc_now().strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{command.replace(' ', '-')}-{os.urandom(3).hex()}"


def stable_hash(obj) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys): the hash of a recipe or config."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of `packages` (those not installed are left out), for lineage records."""
    found = {}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def code_version() -> str:
    """The git commit of the code (with `+dirty` when the tree has changes), else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"{sha}+dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        return __version__


def release_free_memory() -> None:
    """Hand memory freed by the C heap back to the OS (glibc's malloc_trim; a no-op elsewhere).

    Streaming stages free large blocks (decompressed input, Arrow buffers) at a steady rate; glibc keeps
    freed heap pages mapped, so without this the resident size creeps up with input size even though the
    live data does not.
    """
    import ctypes.util

    name = ctypes.util.find_library("c")
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(name).malloc_trim(0)


class PeakMemory:
    """Samples the resident memory of this process and its children; `peak_mb` is the maximum seen."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss_mb(self) -> float:
        import psutil

        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._rss_mb())
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self.peak_mb = self._rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())


@dataclass
class StageStats:
    """What one stage did. `dropped` counts rows removed or quarantined, by reason."""

    name: str
    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    details: dict = field(default_factory=dict)

    def drop(self, reason: str, rows: int = 1) -> None:
        if rows:
            self.dropped[reason] += rows

    def summary(self) -> str:
        drops = ", ".join(f"{reason}={n}" for reason, n in sorted(self.dropped.items()))
        tail = f"; dropped {drops}" if drops else ""
        return (
            f"{self.name}: {self.rows_in:,} in -> {self.rows_out:,} out{tail} "
            f"({self.seconds:.1f}s, peak {self.peak_rss_mb:,.0f} MB)"
        )

    def to_json(self) -> dict:
        record = asdict(self)
        record["dropped"] = [{"reason": r, "rows": n} for r, n in sorted(self.dropped.items())]
        return record


@dataclass
class RunRecord:
    run_id: str
    command: str
    lake: str
    started_at: dt.datetime = field(default_factory=utc_now)
    finished_at: dt.datetime | None = None
    status: str = "running"
    recipe: dict | None = None
    recipe_hash: str | None = None
    code_version: str = field(default_factory=code_version)
    error: str | None = None
    stages: list[StageStats] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "command": self.command,
            "lake": self.lake,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "recipe": self.recipe,
            "recipe_hash": self.recipe_hash,
            "code_version": self.code_version,
            "error": self.error,
            "stages": [s.to_json() for s in self.stages],
        }


def write_run(lake: Lake, record: RunRecord) -> Path | ObjectPath:
    path = lake.runs_dir / f"{record.run_id}.json"
    atomic_write_bytes(path, json.dumps(record.to_json(), indent=2, default=str).encode())
    return path


class timed_stage:
    """Context manager that fills a StageStats' seconds and peak memory around a block of work."""

    def __init__(self, stats: StageStats):
        self.stats = stats
        self._memory = PeakMemory()

    def __enter__(self) -> StageStats:
        self._start = time.perf_counter()
        self._memory.__enter__()
        return self.stats

    def __exit__(self, *exc) -> None:
        self._memory.__exit__(*exc)
        self.stats.seconds = time.perf_counter() - self._start
        self.stats.peak_rss_mb = self._memory.peak_mb


@contextmanager
def recorded_run(lake: Lake, command: str, recipe: dict | None = None, recipe_hash: str | None = None):
    """Record a command in the runs ledger whatever happens, then refresh the catalog.

    Yields the RunRecord: the block appends its StageStats and may mark the run failed itself (a stage
    that failed without raising). On a normal exit the run succeeded; an exception marks it failed with
    the reason (a FlywheelError's message as is, anything else with its type) and goes on to the caller.
    A catalog that cannot be refreshed fails a successful command; after a failure it is only a warning,
    so the command's own error is the one reported.
    """
    import sys
    import traceback

    from lakehouse import catalog
    from lakehouse.errors import FlywheelError

    if recipe is not None and recipe_hash is None:
        recipe_hash = stable_hash(recipe)
    record = RunRecord(new_run_id(command), command, str(lake.root), recipe=recipe, recipe_hash=recipe_hash)
    lake.root.mkdir(parents=True, exist_ok=True)
    try:
        yield record
        if record.status == "running":
            record.status = "succeeded"
    except FlywheelError as exc:
        record.status, record.error = "failed", str(exc)
        raise
    except BaseException as exc:
        record.status, record.error = "failed", "".join(traceback.format_exception_only(exc)).strip()
        raise
    finally:
        record.finished_at = utc_now()
        write_run(lake, record)
        try:
            catalog.refresh(lake)
        except Exception as exc:
            if record.status == "succeeded":
                raise
            print(f"warning: catalog not refreshed: {exc}", file=sys.stderr)
