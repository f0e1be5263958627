"""The lake directory and its tables, every one a Delta Lake table (delta-rs, the `deltalake` package).

Layout: `<lake>/<table name>/` is a Delta table: `_delta_log/` holds its versions, Parquet data files sit
beside it (under `day=YYYY-MM-DD/` for day-partitioned tables). Data files are content-addressed
(`part-<sha256 prefix>.parquet`): the same rows give the same file name. Any Delta reader (Polars,
DuckDB's delta extension, Spark, delta-rs) can read a table directly; docs/architecture.md shows how.

Writes. A `Transaction` streams rows into files staged under `_staging/<txid>/` and moved into the table
directory under their content-addressed name, where no reader looks (a Delta reader sees only the files
its log lists). `commit` takes the lake's commit lock, validates every written table against the version
the transaction pinned when it first touched it (optimistic concurrency: a table the transaction replaces, removes files from or
`guard`s that another writer changed meanwhile raises `ConflictError`, and nothing is committed; blind
appends commute), checks the schema, writes an intent record `_txlog/<seq>.json` and commits one Delta
transaction per table, tagged with the Delta app transaction ("flywheel", seq). A process killed between
two tables' commits leaves the intent; the next writer rolls it forward, each table exactly once.
Readers never write: opening a lake deletes nothing.

Reads. A `Lake` reads each table's latest version; `Lake(..., pinned=True)` is a session that pins each
table at the version it first reads (`refresh` moves the pins to the latest versions, its own commits to
what it wrote). A transaction pins every table it touches at first touch: `replace` removes the files of
that version, and the conflict check compares with it.
Old versions stay readable (time travel: `files(table, version=...)`) until `vacuum` deletes files that
no version newer than the retention period uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa

from lakehouse import location
from lakehouse.errors import UserError
from lakehouse.location import ObjectPath
from lakehouse.tables import TABLES, TableSpec, get

DEFAULT_LAKE = "lake"
LAKE_ENV = "FLYWHEEL_LAKE"
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1, "write_statistics": True}
ROW_GROUP_ROWS = 64_000
APP_ID = "flywheel"  # the Delta app transaction id every commit of ours carries, with the lake's sequence number
PARTIAL_KEY = "flywheel.partial"  # commitInfo key: True on the commits a stage makes before it has finished
TXLOG = "_txlog"
# A checkpoint every 10 commits (Delta's default is 100): a stage that commits per input file makes many
# small commits, and every table load replays the JSON commits since the last checkpoint.
TABLE_CONFIGURATION = {"delta.checkpointInterval": "10"}
VACUUM_RETENTION_HOURS = 168  # a week, Delta's default: time travel reaches at least this far back


class LakeError(UserError):
    """A lake operation that cannot proceed; the message says why and what to do."""


class LakeNotFoundError(LakeError, FileNotFoundError):
    """A command that only reads was pointed at a directory that holds no lake."""


class ConflictError(LakeError):
    """Another writer changed a table this transaction depends on; nothing of it was committed."""

    exit_code = 1  # not the user's mistake: rerun the command


class SchemaMismatchError(LakeError):
    """The rows or the table on disk do not have the schema the table registry declares."""


def resolve_lake_path(path: str | os.PathLike | None = None) -> Path | ObjectPath:
    """`--lake` if given, else `$FLYWHEEL_LAKE`, else `./lake`; always absolute. A URI
    (`s3://bucket/prefix`) is a lake on object storage (lakehouse/location.py)."""
    chosen = path if path is not None else os.environ.get(LAKE_ENV) or DEFAULT_LAKE
    if isinstance(chosen, ObjectPath):
        return chosen
    if location.is_uri(chosen):
        return location.parse(str(chosen))
    return Path(chosen).expanduser().resolve()


def atomic_write_bytes(path: Path | ObjectPath, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and a rename (on object storage
    one PUT, which is atomic by itself)."""
    if isinstance(path, ObjectPath):
        path.write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def file_sha256(path: Path | ObjectPath, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") if isinstance(path, ObjectPath) else open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def delta_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of the Delta table: the registry's schema plus the `day` partition column."""
    return spec.schema.append(pa.field("day", pa.date32())) if spec.partitioned else spec.schema


def _partition_values(spec: TableSpec, relative: str) -> dict[str, str | None]:
    """Partition values of a table-relative file path (`day=2026-10-01/part-....parquet`)."""
    if not spec.partitioned:
        return {}
    first = relative.split("/", 1)[0]
    return {"day": first.removeprefix("day=")} if first.startswith("day=") else {"day": None}


@dataclass(frozen=True)
class Snapshot:
    """One version of a table: its live files (table-relative paths, sorted) and their sizes."""

    version: int | None  # None: the table does not exist yet
    files: tuple[str, ...] = ()
    sizes: dict = field(default_factory=dict)


class Lake:
    """A lake rooted at a directory. Cheap to construct; constructing it reads and changes nothing.

    `recover` is accepted for compatibility and ignored: interrupted commits are rolled forward by the
    next writer, never by a reader. `pinned`: see the module docstring."""

    def __init__(self, root: str | os.PathLike | None = None, *, recover: bool = False, pinned: bool = False):
        self.root = resolve_lake_path(root)
        self.pinned = pinned
        self._pins: dict[str, Snapshot] = {}
        self._versions: dict[tuple[str, int], Snapshot] = {}
        self._commit_infos: dict[tuple[str, int], dict] = {}

    def exists(self) -> bool:
        return self.root.is_dir()

    def require(self) -> Lake:
        """This lake, or LakeNotFoundError when its directory does not exist (read-only commands use it so
        that a mistyped `--lake` is an error, never a new empty lake)."""
        if not self.exists():
            raise LakeNotFoundError(
                f"no lake at {self.root} (check --lake / $FLYWHEEL_LAKE, or create one with "
                "`flywheel ingest` or `make curate`)"
            )
        return self

    @property
    def staging_root(self) -> Path:
        return location.local_dir(self.root) / "_staging"

    @property
    def remote(self) -> bool:
        """Whether the lake is on object storage (`--lake s3://...`) rather than a local directory."""
        return isinstance(self.root, ObjectPath)

    @property
    def catalog_path(self) -> Path:
        """Always a local file (DuckDB opens local files only): in the lake, or for a lake on object
        storage in its local directory (`location.local_dir`)."""
        return location.local_dir(self.root) / "catalog.duckdb"

    @property
    def runs_dir(self) -> Path | ObjectPath:
        return self.root / "runs"

    def path(self, *parts: str) -> Path | ObjectPath:
        return self.root.joinpath(*parts)

    def table_dir(self, table: str | TableSpec) -> Path | ObjectPath:
        spec = get(table) if isinstance(table, str) else table
        return self.root / spec.name

    def is_table(self, table: str | TableSpec) -> bool:
        return (self.table_dir(table) / "_delta_log").is_dir()

    # -- snapshots --------------------------------------------------------------------------------

    def load(self, table: str | TableSpec, version: int | None = None) -> Snapshot:
        """The table at `version` (the latest when None), read from its Delta log; pins nothing. A given
        version never changes, so it is read once per Lake."""
        spec = get(table) if isinstance(table, str) else table
        if not self.is_table(spec):
            if version is not None:
                raise LakeError(f"table {spec.name} has no version {version}: it does not exist in {self.root}")
            return Snapshot(None)
        if version is not None and (spec.name, version) in self._versions:
            return self._versions[(spec.name, version)]
        return self._remember(spec, self._open(spec, version))

    def _open(self, spec: TableSpec, version: int | None = None, without_files: bool = False):
        from deltalake import DeltaTable

        try:
            return DeltaTable(str(self.table_dir(spec)), version=version, without_files=without_files)
        except Exception as exc:
            raise LakeError(
                f"cannot read version {version if version is not None else 'latest'} of table {spec.name}: {exc}"
            ) from exc

    def _remember(self, spec: TableSpec, delta) -> Snapshot:
        actions = pa.table(delta.get_add_actions(flatten=True)).select(["path", "size_bytes"])
        paths = actions.column("path").to_pylist()
        version: int = delta.version()
        snap = Snapshot(
            version,
            tuple(sorted(paths)),
            dict(zip(paths, actions.column("size_bytes").to_pylist(), strict=True)),
        )
        self._versions[(spec.name, version)] = snap
        return snap

    def snapshot(self, table: str | TableSpec) -> Snapshot:
        """The table's latest snapshot (in a pinned session: the one pinned on first use)."""
        spec = get(table) if isinstance(table, str) else table
        if not self.pinned:
            return self.load(spec)
        if spec.name not in self._pins:
            self._pins[spec.name] = self.load(spec)
        return self._pins[spec.name]

    def refresh(self) -> Lake:
        """Forget the pins: the next read of each table sees its latest version."""
        self._pins.clear()
        return self

    def version(self, table: str | TableSpec) -> int | None:
        """The table's latest Delta version, or in a pinned session the pinned one (None while the table
        does not exist)."""
        spec = get(table) if isinstance(table, str) else table
        if self.pinned or not self.is_table(spec):
            return self.snapshot(spec).version
        return self._open(spec, without_files=True).version()  # the log only, not every file's entry

    def versions(self) -> dict[str, int]:
        """The pinned version of every existing registered table."""
        found = {name: self.version(name) for name in sorted(TABLES)}
        return {name: v for name, v in found.items() if v is not None}

    def complete_version(self, table: str | TableSpec) -> int | None:
        """The latest version not committed as a stage's partial output (`Transaction(partial=True)`):
        what the catalog shows, so a stage's output appears only once the stage has finished."""
        spec = get(table) if isinstance(table, str) else table
        if not self.is_table(spec):
            return None
        delta = self._open(spec)
        for version in range(delta.version(), -1, -1):
            if not self._commit_info(spec, version).get(PARTIAL_KEY):
                if version == delta.version():
                    self._remember(spec, delta)  # the catalog reads this version's files next
                return version
        return None

    def _commit_info(self, spec: TableSpec, version: int) -> dict:
        """The commitInfo of one version, read from its JSON commit file (what `DeltaTable.history` reads,
        without the listing that hangs against some S3-compatible servers); {} when the file is gone."""
        known = self._commit_infos.get((spec.name, version))
        if known is not None:
            return known  # a version never changes: each commit file is read once per Lake
        path = self.table_dir(spec) / "_delta_log" / f"{version:020d}.json"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return {}
        info: dict = next(
            (json.loads(line)["commitInfo"] for line in text.splitlines() if '"commitInfo"' in line[:16]), {}
        )
        self._commit_infos[(spec.name, version)] = info
        return info

    def complete(self, *tables: str | TableSpec) -> None:
        """End a stage's partial commits: make each table's latest version complete (one commit without
        files) unless it already is. A stage that commits in pieces calls this once all its input is done."""
        pending = [t for t in tables if self.is_table(t) and self.complete_version(t) != self.load(t).version]
        if pending:
            with self.transaction() as tx:
                for table in pending:
                    tx.mark_complete(table)

    def files(self, table: str | TableSpec, version: int | None = None) -> list[Path | ObjectPath]:
        """The table's live Parquet files at the pinned version (or at `version`), sorted."""
        spec = get(table) if isinstance(table, str) else table
        snap = self.snapshot(spec) if version is None else self.load(spec, version)
        directory = self.table_dir(spec)
        return [directory / name for name in snap.files]

    def snapshot_id(self, table: str | TableSpec) -> str:
        """A hash over the table's file names; files are content-addressed, so this names the content."""
        spec = get(table) if isinstance(table, str) else table
        names = "\n".join(self.snapshot(spec).files)
        return hashlib.sha256(names.encode()).hexdigest()[:16]

    def table_of(self, path: str | os.PathLike) -> TableSpec:
        """The registered table a lake file belongs to."""
        relative = self.relative(path)
        owners = [spec for name, spec in TABLES.items() if relative.startswith(name + "/")]
        if not owners:
            raise LakeError(f"{path} is not a file of any table of {self.root}")
        return max(owners, key=lambda spec: len(spec.name))

    def relative(self, path: str | os.PathLike) -> str:
        """A lake file's path relative to the lake root (given absolute, or already relative)."""
        if isinstance(path, ObjectPath):
            return path.relative_to(self.root).as_posix()
        if location.is_uri(path):
            return location.parse(str(path)).relative_to(self.root).as_posix()
        return Path(path).resolve().relative_to(self.root).as_posix() if Path(path).is_absolute() else str(path)

    def absolute(self, path: str | os.PathLike) -> Path | ObjectPath:
        """A lake file's absolute path (given absolute, or relative to the lake root)."""
        return self.root / self.relative(path)

    def dataset(self, table: str | TableSpec, columns: list[str] | None = None, version: int | None = None):
        """A pyarrow dataset over the table (the `day` partition column added for partitioned tables)."""
        import pyarrow.dataset as ds

        spec = get(table) if isinstance(table, str) else table
        schema = spec.schema
        partitioning = None
        if spec.partitioned:
            partitioning = ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive")
            schema = schema.append(pa.field("day", pa.date32()))
        root = self.root
        filesystem, strip = (root.fs, lambda p: p.key) if isinstance(root, ObjectPath) else (None, str)
        return ds.dataset(
            [strip(p) for p in self.files(spec, version)],
            schema=schema,
            format="parquet",
            partitioning=partitioning,
            partition_base_dir=strip(self.table_dir(spec)),
            filesystem=filesystem,
        )

    def read(
        self, table: str | TableSpec, columns: list[str] | None = None, filter=None, version: int | None = None
    ) -> pa.Table:
        return self.dataset(table, version=version).to_table(columns=columns, filter=filter)

    def read_file(self, path: Path | ObjectPath, columns: list[str] | None = None) -> pa.Table:
        """The rows of one live file as written (no partition column): what a row-level rewrite
        (`Transaction.rewrite_file`, used by erasure) reads, filters and writes back."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(str(path)).read(columns=columns)

    def transaction(self, *, partial: bool = False) -> Transaction:
        """A new transaction; `partial=True` marks its commits as a stage's unfinished output (hidden from
        the catalog until a later commit of the same tables is not partial)."""
        return Transaction(self, partial=partial)


class PartitionedWriter:
    """Streams record batches of one table into staged Parquet files, one file per day partition.

    Rows are buffered (up to `buffer_rows` over all partitions) so that row groups are not tiny, then
    flushed as one row group per partition; memory stays bounded whatever the input size. Files roll
    over every `max_rows_per_file` rows.
    """

    def __init__(self, tx: Transaction, spec: TableSpec, buffer_rows: int = 25_000, max_rows_per_file: int = 2_000_000):
        self.tx = tx
        self.spec = spec
        self.buffer_rows = buffer_rows
        self.max_rows_per_file = max_rows_per_file
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._open: dict[str, tuple] = {}
        self.rows_written = 0
        self.files: list[str] = []  # lake-relative paths of the files this writer staged

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if table.num_rows == 0:
            return
        if table.schema != self.spec.schema:
            table = table.select(self.spec.schema.names).cast(self.spec.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows_written += table.num_rows
        if self._buffered >= self.buffer_rows:
            self.flush()

    def _split(self, table: pa.Table) -> Iterable[tuple[str, pa.Table]]:
        """One slice per day: a stable sort by day and contiguous slices (one copy, not one per day)."""
        if not self.spec.partitioned:
            yield "", table
            return
        import numpy as np
        import pyarrow.compute as pc

        days = pc.cast(table[self.spec.time_column], pa.date32()).combine_chunks()
        day_numbers = days.cast(pa.int32()).to_numpy(zero_copy_only=False)
        if not (np.diff(day_numbers) >= 0).all():
            order = np.argsort(day_numbers, kind="stable")
            table, day_numbers = table.take(pa.array(order)), day_numbers[order]
        values, starts, counts = np.unique(day_numbers, return_index=True, return_counts=True)
        for value, start, count in zip(values, starts, counts, strict=True):
            day = (np.datetime64(0, "D") + int(value)).astype(object)
            yield f"day={day.isoformat()}", table.slice(int(start), int(count))

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread (which sorts, splits and encodes them while the
        caller produces the next rows); at most one flush is in flight, so memory stays bounded."""
        if self._buffer:
            self._wait()
            self._pending = self._pool().submit(self._write_buffer, pa.concat_tables(self._buffer))
        self._buffer = []
        self._buffered = 0

    def _write_buffer(self, table: pa.Table) -> None:
        for partition, part in self._split(table):
            self._write_part(partition, part)

    def _pool(self):
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{self.spec.view}")
        return self._executor

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _write_part(self, partition: str, part: pa.Table) -> None:
        import pyarrow.parquet as pq

        entry = self._open.get(partition)
        if entry is None:
            tmp = self.tx.stage_path(f"{uuid.uuid4().hex}.parquet")
            writer = pq.ParquetWriter(tmp, self.spec.schema, **PARQUET_OPTIONS)
            entry = self._open[partition] = (writer, tmp, [0])
        writer, tmp, rows = entry
        writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
        rows[0] += part.num_rows
        if rows[0] >= self.max_rows_per_file:
            self._close(partition)

    def _close(self, partition: str) -> None:
        writer, tmp, rows = self._open.pop(partition)
        writer.close()
        self.files.append(self.tx.add_staged(self.spec, partition, tmp, rows[0]))

    def discard(self) -> None:
        """Stop without publishing anything (the transaction aborts): close open files, drop buffers."""
        self._buffer, self._buffered = [], 0
        with contextlib.suppress(Exception):
            self._wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        for writer, _, _ in self._open.values():
            with contextlib.suppress(Exception):
                writer.close()
        self._open.clear()

    def close(self) -> None:
        self.flush()
        self._wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        for partition in sorted(self._open):
            self._close(partition)


def commit_lock(lake: Lake):
    """The lake's commit lock: held only while a transaction validates and commits (milliseconds). On
    object storage a lease object taken with a conditional write (lakehouse/location.py)."""
    return location.exclusive_lock(lake.root / TXLOG / "commit.lock")


class Transaction:
    """Stages new files for several tables and publishes them (and removals) at commit, one Delta commit
    per table, after checking that no other writer changed what this transaction depends on."""

    def __init__(self, lake: Lake, *, partial: bool = False):
        self.lake = lake
        self.partial = partial
        self.txid = uuid.uuid4().hex
        self.dir = lake.staging_root / self.txid
        self.dir.mkdir(parents=True)
        # A shared lock on the writers lock for the transaction's lifetime: `vacuum` takes it exclusively,
        # so it never runs while a writer is alive (the liveness check), and a dead writer holds nothing.
        # (A lake on object storage has no such lock, and vacuum refuses to run there: docs/scale.md.)
        self._alive: IO[str] | None = None
        if not lake.remote:
            (lake.root / TXLOG).mkdir(parents=True, exist_ok=True)
            self._alive = open(lake.root / TXLOG / "writers.lock", "a+")  # noqa: SIM115 - held for the transaction, closed at its end
            fcntl.flock(self._alive.fileno(), fcntl.LOCK_SH)
        self.adds: dict[str, dict[str, int]] = {}  # table -> {table-relative path: rows}
        self.removals: dict[str, set[str]] = {}  # table -> table-relative paths
        self.purge: set[str] = set()  # lake-relative paths whose bytes are deleted at commit
        self.strict: set[str] = set()  # tables whose changes by other writers are a conflict
        self.touched: set[str] = set()  # tables that get a commit even without file changes
        self.base: dict[str, int | None] = {}  # version of each written table this transaction read
        self.created: list[Path | ObjectPath] = []
        self.sizes: dict[str, int | None] = {}  # lake-relative path -> bytes, known when placed remotely
        self._opened: dict = {}  # DeltaTables read at commit, reused to commit
        self._writers: list[PartitionedWriter] = []
        self.committed = False

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self.committed:
            self.commit()
        elif not self.committed:
            self.abort()

    def _spec(self, table: str | TableSpec) -> TableSpec:
        spec = get(table) if isinstance(table, str) else table
        if spec.name not in self.base:  # pinned at first touch
            self.base[spec.name] = self.lake.version(spec)
        return spec

    def stage_path(self, name: str) -> Path:
        return self.dir / name

    def files(self, table: str | TableSpec) -> list[Path | ObjectPath]:
        """The table's files at the version this transaction pinned (on first touch)."""
        spec = self._spec(table)
        return self.lake.files(spec, version=self.base[spec.name]) if self.base[spec.name] is not None else []

    def read(self, table: str | TableSpec, columns: list[str] | None = None) -> pa.Table:
        """The table at the version this transaction pinned: read through here what the transaction's
        writes depend on, and add `guard(table)` when another writer's commit must be a conflict."""
        spec = self._spec(table)
        if self.base[spec.name] is None:
            return delta_schema(spec).empty_table().select(columns or delta_schema(spec).names)
        return self.lake.read(spec, columns=columns, version=self.base[spec.name])

    def writer(self, table: str | TableSpec, **kwargs) -> PartitionedWriter:
        spec = self._spec(table)
        writer = PartitionedWriter(self, spec, **kwargs)
        self._writers.append(writer)
        return writer

    def write(self, table: str | TableSpec, data: pa.Table) -> list[str]:
        """Write a whole Arrow table (split into day partitions) as new files of `table`; returns their
        lake-relative paths."""
        writer = self.writer(table)
        writer.write(data)
        writer.close()
        return writer.files

    def replace(self, table: str | TableSpec, data: pa.Table, *, purge: bool = False) -> list[str]:
        """Make `data` the table's whole content: the files of the version this transaction pinned are
        removed at commit (a conflict if another writer changed the table since); `purge` deletes their
        bytes too (see `remove_files`). Returns the new files' lake-relative paths."""
        spec = self._spec(table)
        self.remove_files(self.files(spec), purge=purge)
        self.strict.add(spec.name)
        return self.write(spec, data)

    def remove_files(self, files: Iterable[Path | ObjectPath], *, purge: bool = False) -> None:
        """Remove these live files from their tables at commit. `purge` also deletes their bytes then (an
        erasure or retention: older versions then lose them too); otherwise `vacuum` deletes them once
        no version inside the retention period uses them."""
        for f in files:
            spec = self._spec(self.lake.table_of(f))
            path = self.lake.absolute(f)
            self.removals.setdefault(spec.name, set()).add(path.relative_to(self.lake.table_dir(spec)).as_posix())
            self.strict.add(spec.name)
            if purge:
                self.purge.add(path.relative_to(self.lake.root).as_posix())

    def rewrite_file(self, table: str | TableSpec, path: Path | ObjectPath, data: pa.Table) -> list[str]:
        """Replace one live file of `table` by `data` at commit: a row-level delete or update, as a Delta
        remove + add in one commit. The old file's bytes are deleted at commit (they leave the lake, not
        only the current version). Returns the new file's lake-relative path(s): none when no row is left."""
        spec = self._spec(table)
        self.remove_files([path], purge=True)
        return self.write(spec, data) if data.num_rows else []

    def guard(self, *tables: str | TableSpec) -> None:
        """Declare that what this transaction writes depends on these tables as this lake read them (ingest
        checks new ids against bronze): a commit by another writer to any of them is a conflict."""
        for table in tables:
            self.strict.add(self._spec(table).name)

    def mark_complete(self, table: str | TableSpec) -> None:
        """Commit to `table` even without new files: in a transaction that is not partial, this ends a run
        of partial commits, so the catalog shows the stage's whole output."""
        self.touched.add(self._spec(table).name)

    def add_staged(self, spec: TableSpec, partition: str, tmp: Path, rows: int | None = None) -> str:
        """Move a finished staged file into its table under its content-addressed name (invisible until
        commit); returns its lake-relative path."""
        import pyarrow.parquet as pq

        digest = file_sha256(tmp)[:24]
        relative = f"{partition}/part-{digest}.parquet" if partition else f"part-{digest}.parquet"
        target = self.lake.table_dir(spec) / relative
        if rows is None:
            rows = pq.read_metadata(tmp).num_rows
        if target.exists():
            tmp.unlink()  # the same bytes are already there (content-addressed)
        else:
            location.place(tmp, target)
            self.created.append(target)
        self._spec(spec)
        self.sizes[f"{spec.name}/{relative}"] = target.stat().st_size if self.lake.remote else None
        self.adds.setdefault(spec.name, {})[relative] = rows
        return f"{spec.name}/{relative}"

    def commit(self) -> list[str]:
        """Publish every staged file; returns the lake-relative paths that were added."""
        for writer in self._writers:
            writer.close()
        names = sorted(set(self.adds) | set(self.removals) | self.touched | self.strict)
        try:
            with commit_lock(self.lake):
                roll_forward(self.lake)
                plan = {name: self._plan(get(name)) for name in names}
                plan = {name: entry for name, entry in plan.items() if entry is not None}
                if plan:
                    record = {
                        "seq": _next_sequence(self.lake),
                        "txid": self.txid,
                        "partial": self.partial,
                        "tables": plan,
                        "purge": sorted(self.purge),
                    }
                    intent = self.lake.root / TXLOG / f"{record['seq']:020d}.json"
                    atomic_write_bytes(intent, json.dumps(record).encode())
                    self.created = []  # the intent now refers to them: the next writer commits them
                    apply_intent(self.lake, record, self._opened)
                    intent.unlink()
                if self.lake.pinned:
                    for name in names:
                        self.lake._pins[name] = self.lake.load(name)
        except BaseException:
            self.abort()
            raise
        self._finish()
        return sorted(f"{name}/{path}" for name, added in self.adds.items() for path in added)

    def _plan(self, spec: TableSpec) -> dict | None:
        """This table's Delta actions, after the conflict and schema checks (under the commit lock)."""
        delta = self.lake._open(spec) if self.lake.is_table(spec) else None
        latest = self.lake._remember(spec, delta) if delta is not None else Snapshot(None)
        if delta is not None:
            self._opened[spec.name] = delta
        base = self.base.get(spec.name)
        if latest.version != base and spec.name in self.strict:
            raise ConflictError(
                f"{spec.name} changed while this command ran: it read version {base} and another writer has "
                f"since committed version {latest.version}. Nothing was committed; run the command again "
                "(it will build on the other writer's data)."
            )
        if delta is not None:
            _check_schema(self.lake, spec, delta)
        live = set(latest.files)
        adds = self.adds.get(spec.name, {})
        removes = self.removals.get(spec.name, set()) & live
        unchanged = removes & set(adds)  # removed and re-added with the same content: the file stays
        add_paths = sorted(p for p in adds if p not in live or p in unchanged)
        add_paths = [p for p in add_paths if p not in unchanged]
        removes -= unchanged
        if not add_paths and not removes and spec.name not in self.touched:
            return None
        directory = self.lake.table_dir(spec)
        return {
            "add": [{"path": p, "size": self._size(directory, spec, p), "rows": adds[p]} for p in add_paths],
            "remove": [{"path": p, "size": latest.sizes.get(p)} for p in sorted(removes)],
            "read_version": base,
        }

    def _size(self, directory, spec: TableSpec, path: str) -> int:
        known = self.sizes.get(f"{spec.name}/{path}")
        return known if known is not None else (directory / path).stat().st_size

    def _finish(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._alive is not None:
            self._alive.close()
            self._alive = None
        self.committed = True

    def abort(self) -> None:
        """Discard the transaction: close its writers and delete the files it placed, none of which any
        version lists (a file that was already there, with the same content, stays)."""
        for writer in self._writers:
            writer.discard()
        for path in self.created:
            path.unlink(missing_ok=True)
        self._finish()


def _check_schema(lake: Lake, spec: TableSpec, delta) -> None:
    from deltalake.schema import Schema

    on_disk = delta.schema()
    expected = Schema.from_arrow(delta_schema(spec))
    if json.loads(on_disk.to_json()) != json.loads(expected.to_json()):
        raise SchemaMismatchError(
            f"table {spec.name} in {lake.root} has another schema than lakehouse/schemas.py declares "
            f"(on disk: {on_disk.to_json()}; expected: {expected.to_json()}); rebuild the lake or migrate it"
        )


def _next_sequence(lake: Lake) -> int:
    """The lake's commit sequence number, advanced under the commit lock."""
    path = lake.root / TXLOG / "SEQUENCE"
    current = int(path.read_text()) if path.exists() else 0
    atomic_write_bytes(path, str(current + 1).encode())
    return current + 1


FAULT_ENV = "FLYWHEEL_FAULT_KILL_AT"
_fault_stage: str | None = None


def fault_point(stage: str | None = None, at: str = "commit") -> None:
    """The crash tests' kill switch (tests/lakehouse/test_crash_recovery.py), because only a real SIGKILL at a known
    point proves recovery: with FLYWHEEL_FAULT_KILL_AT=<stage> the process kills itself as the runner
    starts that stage; with <stage>@commit, in that stage's first commit after its intent record and its
    first table's Delta commit (the half-done commit that roll-forward finishes); with <stage>@publish,
    right after the stage publishes its first release. Unset: one env lookup."""
    global _fault_stage
    target = os.environ.get(FAULT_ENV)
    if not target:
        return
    if stage is not None:
        _fault_stage = stage
    if target == (stage if stage is not None else f"{_fault_stage}@{at}"):
        os.kill(os.getpid(), signal.SIGKILL)


def apply_intent(lake: Lake, record: dict, opened: dict | None = None) -> None:
    """Commit an intent record's actions, one Delta commit per table; a table whose log already carries
    this sequence number (app transaction "flywheel") is skipped, so applying twice commits once."""
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction, CommitProperties, RemoveAction
    from deltalake.transaction import Transaction as AppTransaction

    now_ms = int(time.time() * 1000)
    for name, entry in sorted(record["tables"].items()):
        spec = get(name)
        uri = str(lake.table_dir(spec))
        partition_by = ["day"] if spec.partitioned else None
        if not lake.is_table(spec):
            DeltaTable.create(
                uri, delta_schema(spec), partition_by=partition_by, mode="ignore", configuration=TABLE_CONFIGURATION
            )
        delta = (opened or {}).get(name) or DeltaTable(uri)
        done = delta.transaction_version(APP_ID)
        if done is not None and done >= record["seq"]:
            continue
        actions: list[AddAction | RemoveAction] = [
            AddAction(
                a["path"],
                a["size"],
                _partition_values(spec, a["path"]),
                now_ms,
                True,
                json.dumps({"numRecords": a["rows"]}),
            )
            for a in entry["add"]
        ]
        actions += [
            RemoveAction(r["path"], True, now_ms, r["size"], _partition_values(spec, r["path"]))
            for r in entry["remove"]
        ]
        metadata = {PARTIAL_KEY: bool(record["partial"]), "flywheel.txid": record["txid"]}
        if entry.get("read_version") is not None:
            metadata["readVersion"] = int(entry["read_version"])
        delta.create_write_transaction(
            actions,
            "append",
            delta.schema(),
            partition_by=partition_by,
            commit_properties=CommitProperties(
                custom_metadata=metadata, app_transactions=[AppTransaction(APP_ID, record["seq"])]
            ),
        )
        fault_point()
    for relative in record.get("purge", []):
        (lake.root / relative).unlink(missing_ok=True)


def roll_forward(lake: Lake) -> int:
    """Finish the commits that a killed writer left half done (its intent records); call under the commit
    lock. Returns how many were rolled forward."""
    directory = lake.root / TXLOG
    intents = sorted(directory.glob("*.json")) if directory.is_dir() else []
    for intent in intents:
        apply_intent(lake, json.loads(intent.read_text()))
        intent.unlink()
    return len(intents)


def vacuum(lake: Lake, retention_hours: float = VACUUM_RETENTION_HOURS, dry_run: bool = False) -> dict[str, list[str]]:
    """Delete data files that no table version of the last `retention_hours` uses, and staging left by
    dead writers. Refuses while a writer is alive (it holds the writers lock), so it never deletes a live
    writer's files; time travel to versions older than the retention period stops working."""
    from deltalake import DeltaTable

    from lakehouse import catalog  # noqa: F401 - registers every table (safety, erasure) before the loop

    lake.require()
    if lake.remote:
        raise LakeError(
            f"vacuum of a lake on object storage ({lake.root}) is not supported yet: it needs a writers' "
            "liveness check that object stores do not give (docs/scale.md); use the store's lifecycle rules "
            "on files no Delta version lists, or run vacuum from a single maintenance job"
        )
    if retention_hours < 0:
        raise LakeError("--retention-hours must be >= 0")
    (lake.root / TXLOG).mkdir(exist_ok=True)
    with open(lake.root / TXLOG / "writers.lock", "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeError(
                "a writer is running on this lake; vacuum deletes nothing while one is "
                "(run it again when the other command has finished)"
            ) from None
        try:
            with commit_lock(lake):
                roll_forward(lake)
            removed = {}
            for name in sorted(TABLES):
                if lake.is_table(name):
                    found = DeltaTable(str(lake.table_dir(name))).vacuum(
                        retention_hours=int(retention_hours),
                        dry_run=dry_run,
                        enforce_retention_duration=False,
                        full=True,
                    )
                    if found:
                        removed[name] = sorted(found)
            if lake.staging_root.is_dir() and not dry_run:
                cutoff = time.time() - retention_hours * 3600
                for staging in lake.staging_root.iterdir():
                    # release staging belongs to a ReleaseWriter, not a transaction: only very old ones go
                    if not staging.name.startswith("release-") or staging.stat().st_mtime < cutoff:
                        shutil.rmtree(staging, ignore_errors=True)
            return removed
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def migrate(lake: Lake) -> dict[str, int]:
    """Turn a lake of the earlier format (plain directories of content-addressed Parquet files) into Delta
    tables in place: each table directory without a `_delta_log` gets version 0 plus one commit listing
    the files it holds. The files are neither read nor rewritten (their schema is checked). Returns the
    number of files adopted per table."""
    import pyarrow.parquet as pq

    from lakehouse import catalog  # noqa: F401 - registers every table (safety, erasure) before the loop

    lake.require()
    adopted: dict[str, int] = {}
    with Transaction(lake) as tx:
        for name in sorted(TABLES):
            spec = get(name)
            directory = lake.table_dir(spec)
            if lake.is_table(spec) or not directory.is_dir():
                continue
            found = sorted(
                p
                for p in directory.rglob("*.parquet")
                if not any(part.startswith((".", "_")) for part in p.relative_to(directory).parts)
            )
            for path in found:
                if not pq.read_schema(path).equals(spec.schema, check_metadata=False):
                    raise SchemaMismatchError(f"{path} does not have the schema of table {name}; not migrated")
                tx._spec(spec)
                tx.adds.setdefault(name, {})[path.relative_to(directory).as_posix()] = pq.read_metadata(path).num_rows
            tx.touched.add(tx._spec(spec).name)
            adopted[name] = len(found)
    old_staging = lake.staging_root
    if old_staging.is_dir():  # the earlier format's staging: committed records were rolled forward on open
        for entry in old_staging.iterdir():
            if (entry / "_COMMIT.json").exists():
                raise LakeError(
                    f"{entry} holds an unfinished commit of the earlier format: open the lake with "
                    "the earlier version of flywheel once, then migrate"
                )
    return adopted
