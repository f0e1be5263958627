"""The lake directory, its tables as directories of immutable Parquet files, and atomic commits.

Files are content-addressed (`part-<sha256 prefix>.parquet`), so the same rows always produce the same
file name and a table's snapshot id is a hash of its file names. Writers stage files under
`_staging/<txid>/`; `Transaction.commit` writes a commit record there, then moves the files into place
and deletes replaced ones. A process that dies before the commit record leaves nothing visible (the
staging directory is discarded on the next open); one that dies after it is rolled forward on the next
open. Either way, running the command again finishes the work.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from lakehouse.tables import TableSpec, get

DEFAULT_LAKE = "lake"
LAKE_ENV = "FLYWHEEL_LAKE"
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1, "write_statistics": True}
ROW_GROUP_ROWS = 64_000
COMMIT_RECORD = "_COMMIT.json"


def resolve_lake_path(path: str | os.PathLike | None = None) -> Path:
    """`--lake` if given, else `$FLYWHEEL_LAKE`, else `./lake`; always absolute."""
    chosen = path if path is not None else os.environ.get(LAKE_ENV) or DEFAULT_LAKE
    return Path(chosen).expanduser().resolve()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class Lake:
    """A lake rooted at a directory. Cheap to construct; opening recovers interrupted commits."""

    def __init__(self, root: str | os.PathLike | None = None, *, recover: bool = True):
        self.root = resolve_lake_path(root)
        if recover and self.staging_root.exists():
            recover_staging(self)

    @property
    def staging_root(self) -> Path:
        return self.root / "_staging"

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def table_dir(self, table: str | TableSpec) -> Path:
        spec = get(table) if isinstance(table, str) else table
        return self.root / spec.name

    def files(self, table: str | TableSpec) -> list[Path]:
        """The table's live Parquet files, sorted (hidden and temporary files excluded)."""
        directory = self.table_dir(table)
        if not directory.exists():
            return []
        return sorted(
            p for p in directory.rglob("*.parquet") if not any(part.startswith((".", "_")) for part in p.relative_to(directory).parts)
        )

    def snapshot_id(self, table: str | TableSpec) -> str:
        """A hash over the table's file names; files are content-addressed, so this names the content."""
        directory = self.table_dir(table)
        names = "\n".join(str(p.relative_to(directory)) for p in self.files(table))
        return hashlib.sha256(names.encode()).hexdigest()[:16]

    def dataset(self, table: str | TableSpec, columns: list[str] | None = None):
        """A pyarrow dataset over the table (the `day` partition column added for partitioned tables)."""
        import pyarrow.dataset as ds

        spec = get(table) if isinstance(table, str) else table
        schema = spec.schema
        partitioning = None
        if spec.partitioned:
            partitioning = ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive")
            schema = schema.append(pa.field("day", pa.date32()))
        return ds.dataset([str(p) for p in self.files(spec)], schema=schema, format="parquet",
                          partitioning=partitioning, partition_base_dir=str(self.table_dir(spec)))

    def read(self, table: str | TableSpec, columns: list[str] | None = None, filter=None) -> pa.Table:
        return self.dataset(table).to_table(columns=columns, filter=filter)

    def read_file(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        """The rows of one live file as written (no partition column): what a row-level rewrite
        (`Transaction.rewrite_file`, used by erasure) reads, filters and writes back."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).read(columns=columns)

    def transaction(self) -> "Transaction":
        return Transaction(self)


class PartitionedWriter:
    """Streams record batches of one table into staged Parquet files, one file per day partition.

    Rows are buffered (up to `buffer_rows` over all partitions) so that row groups are not tiny, then
    flushed as one row group per partition; memory stays bounded whatever the input size. Files roll
    over every `max_rows_per_file` rows.
    """

    def __init__(self, tx: "Transaction", spec: TableSpec, buffer_rows: int = 25_000,
                 max_rows_per_file: int = 2_000_000):
        self.tx = tx
        self.spec = spec
        self.buffer_rows = buffer_rows
        self.max_rows_per_file = max_rows_per_file
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._executor = None
        self._pending = None
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
        for value, start, count in zip(values, starts, counts):
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
            from concurrent.futures import ThreadPoolExecutor

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
        writer, tmp, _ = self._open.pop(partition)
        writer.close()
        self.files.append(self.tx.add_staged(self.spec, partition, tmp))

    def close(self) -> None:
        self.flush()
        self._wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        for partition in sorted(self._open):
            self._close(partition)


class Transaction:
    """Stages new files for several tables and publishes them (and removals) in one commit."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.txid = uuid.uuid4().hex
        self.dir = lake.staging_root / self.txid
        self.dir.mkdir(parents=True)
        self.moves: list[tuple[str, str]] = []
        self.removals: list[str] = []
        self._writers: list[PartitionedWriter] = []
        self.committed = False

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self.committed:
            self.commit()
        elif not self.committed:
            self.abort()

    def stage_path(self, name: str) -> Path:
        return self.dir / name

    def writer(self, table: str | TableSpec, **kwargs) -> PartitionedWriter:
        spec = get(table) if isinstance(table, str) else table
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

    def replace(self, table: str | TableSpec, data: pa.Table) -> list[str]:
        """Make `data` the table's whole content: current files are removed at commit. Returns the new
        files' lake-relative paths."""
        spec = get(table) if isinstance(table, str) else table
        self.remove_files(self.lake.files(spec))
        return self.write(spec, data)

    def remove_files(self, files: Iterable[Path]) -> None:
        """Delete these lake files at commit."""
        self.removals.extend(str(Path(f).relative_to(self.lake.root)) for f in files)

    def rewrite_file(self, table: str | TableSpec, path: Path, data: pa.Table) -> list[str]:
        """Replace one live file of `table` by `data` at commit: a row-level delete or update. Files are
        immutable and content-addressed, so the rows go by writing a new file without them and removing the
        old one (its bytes leave the lake at commit, not only its rows from view). Returns the new file's
        lake-relative path(s): none when no row is left. The Delta Lake migration maps this onto a
        remove + add in one commit."""
        spec = get(table) if isinstance(table, str) else table
        self.remove_files([path])
        return self.write(spec, data) if data.num_rows else []

    def add_staged(self, spec: TableSpec, partition: str, tmp: Path) -> str:
        """Give a finished staged file its content-addressed name and schedule its move; returns the
        lake-relative path it will have."""
        digest = file_sha256(tmp)[:24]
        target = Path(spec.name) / partition / f"part-{digest}.parquet" if partition else Path(spec.name) / f"part-{digest}.parquet"
        named = self.dir / f"{digest}.parquet"
        os.replace(tmp, named)
        self.moves.append((named.name, str(target)))
        return str(target)

    def commit(self) -> list[str]:
        """Publish every staged file; returns the lake-relative paths that were added."""
        for writer in self._writers:
            writer.close()
        added = {target for _, target in self.moves}
        record = {"moves": self.moves, "removals": [r for r in self.removals if r not in added]}
        atomic_write_bytes(self.dir / COMMIT_RECORD, json.dumps(record).encode())
        apply_commit(self.lake, self.dir)
        self.committed = True
        return sorted(added)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.committed = True


def apply_commit(lake: Lake, staging: Path) -> None:
    """Carry out a commit record; idempotent, so an interrupted commit can simply be applied again."""
    record = json.loads((staging / COMMIT_RECORD).read_text())
    for staged, target in record["moves"]:
        src, dst = staging / staged, lake.root / target
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    for removal in record["removals"]:
        (lake.root / removal).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


def recover_staging(lake: Lake) -> None:
    """Roll forward committed transactions and discard uncommitted ones left by dead processes.

    A staging directory that is still being written by a live process has no commit record and must
    not be touched, so only directories whose owner is gone (older than a minute, no recent writes)
    are discarded.
    """
    import time

    for staging in sorted(lake.staging_root.iterdir()):
        if (staging / COMMIT_RECORD).exists():
            apply_commit(lake, staging)
            continue
        newest = max((p.stat().st_mtime for p in staging.rglob("*")), default=staging.stat().st_mtime)
        if time.time() - newest > 60:
            shutil.rmtree(staging, ignore_errors=True)
