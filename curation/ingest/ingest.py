"""The ingest stage: input files -> bronze conversations, exposures, preference pairs and quarantine.

Records flow in bounded blocks: parse (pyarrow JSON, bad lines isolated), validate (vectorized),
de-duplicate against the lake by conversation id, pseudonymize user ids, write. Each input file is
recorded by sha256 in `meta/ingested_files`, so ingesting it again adds nothing. The whole run is one
lake transaction: a run that dies leaves nothing behind, and running it again does all the work.
Reconciliation holds for every file: records read = accepted + quarantined. No record can abort the run:
a record that cannot be read, converted or validated is quarantined with its reason and raw bytes (the
first `RAW_KEEP_BYTES` of a larger one, with its size), and a file that cannot be read to its end (a
damaged gzip or Parquet file) keeps what was read and is not recorded as ingested.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curation.ingest import adapters, background, parse, pseudonymize, sources
from curation.ingest.config import IngestConfig
from curation.ingest.known import KnownIds, id_hashes
from curation.ingest.timestamps import parse_utc
from curation.ingest.validate import Verdict, validate_conversations
from lakehouse import schemas, tables
from lakehouse.errors import UserError
from lakehouse.lake import Lake, Transaction, file_sha256
from lakehouse.runs import release_free_memory, utc_now

RAW_KEEP_BYTES = 1 << 20  # quarantine keeps this much of a record's bytes, and its full size
# Reasons that mean the file could not be read to its end: it is not recorded in meta/ingested_files.
DAMAGE_REASONS = frozenset({"truncated_file", "corrupt_file", "file_error"})


class IngestRefused(UserError):
    """The run cannot go on (e.g. user ids without a pseudonymization key); nothing is written."""


@dataclass
class Unit:
    """One native record to validate, traced back to its source record."""

    line: int
    raw: bytes
    native: bytes
    record: int  # source record number; a record is accepted only if all its units are


@dataclass
class FileReport:
    path: str
    format: str
    status: str  # ingested | skipped
    records: int = 0
    accepted: int = 0
    quarantined: Counter = field(default_factory=Counter)
    conversations: int = 0
    note: str = ""

    @property
    def complete(self) -> bool:
        """Read to its end: false for a damaged file, which is then not marked as ingested."""
        return not DAMAGE_REASONS & set(self.quarantined)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())


@dataclass
class Quarantined:
    line: int | None
    raw: bytes
    reason: str
    detail: str
    size: int | None = None  # the full size when `raw` is only a prefix


# (line, raw bytes, record) read from a source file: the record is a parsed JSON value (an object unless the
# source is damaged), or None when `raw` is still to be parsed; damage found while reading is a Quarantined.
SourceRecord = tuple[int, bytes, object] | Quarantined


class Ingestor:
    def __init__(
        self,
        lake: Lake,
        config: IngestConfig,
        run_id: str,
        tx: Transaction,
        key: bytes | None,
        advance: Callable[[int], None] = lambda n: None,
    ):
        self.lake, self.config, self.run_id, self.tx = lake, config, run_id, tx
        self.pseudonymizer = pseudonymize.Pseudonymizer(key) if key is not None else None
        self.advance = advance
        self.now = utc_now()
        self.defaults = adapters.Defaults(
            source=config.source,
            started_at=config.started_at or self.now.isoformat(),
            started_at_from="recipe" if config.started_at else "ingest_time",
        )
        # what is known is checked again at commit: another writer's commit to these tables is a conflict
        tx.guard(tables.BRONZE_CONVERSATIONS, tables.INGESTED_FILES)
        self.known = _load_known(lake)
        self.ingested_shas = _load_ingested_shas(lake)
        self.bronze = tx.writer(tables.BRONZE_CONVERSATIONS)
        self.quarantine = tx.writer(tables.QUARANTINE)
        self.pairs = tx.writer(tables.BRONZE_PREFERENCE_PAIRS)
        self.exposures = tx.writer(tables.BRONZE_EXPOSURES)
        self.ledger: list[dict] = []
        self._pending_pairs: dict[int, dict] = {}
        self._offset = 0

    # -- files ---------------------------------------------------------------------------------

    def ingest_file(self, path: Path) -> FileReport:
        self._current_path, self._current_format, self._offset = display_path(path), "unknown", 0
        problem = sources.not_readable(path)
        if problem:
            report = FileReport(self._current_path, "unknown", "ingested")
            self._quarantine(report, [Quarantined(None, b"", *problem)], "unknown")
            return report
        sha = file_sha256(path)
        if sha in self.ingested_shas:
            self.advance(path.stat().st_size)
            return FileReport(self._current_path, "-", "skipped", note="already ingested (same sha256)")
        if sources.is_blank(path):
            report = FileReport(self._current_path, "-", "ingested", note="empty file")
            return self._done(path, sha, "empty", report)
        try:
            fmt = self.config.format if self.config.format != "auto" else sources.detect_format(path)
        except sources.InputError as exc:
            return self._undetected(path, exc)
        report = FileReport(self._current_path, fmt, "ingested")
        self._current_format = fmt
        try:
            self._read_file(path, fmt, report)
        except IngestRefused:
            raise
        except Exception as exc:
            detail = f"reading stopped after {report.records:,} records: {type(exc).__name__}: {exc}"
            self._quarantine(report, [Quarantined(None, b"", "file_error", detail)], fmt)
        return self._done(path, sha, fmt, report)

    def _undetected(self, path: Path, exc: sources.InputError) -> FileReport:
        """A file whose format cannot be told: one quarantined record with its first bytes (`corrupt_file`
        when its compressed stream is damaged from the start). Not marked as ingested: rerun it with
        --format."""
        report = FileReport(self._current_path, "unknown", "ingested")
        size = path.stat().st_size
        if sources.damaged_from_the_start(path):
            with open(path, "rb") as fh:
                found = Quarantined(
                    None,
                    fh.read(RAW_KEEP_BYTES),
                    "corrupt_file",
                    "the compressed stream is damaged before its first line",
                    size,
                )
        else:
            found = Quarantined(None, sources.head(path, RAW_KEEP_BYTES), "unknown_format", str(exc), size)
        self._quarantine(report, [found], "unknown")
        self.advance(size)
        return report

    def _read_file(self, path: Path, fmt: str, report: FileReport) -> None:
        if fmt == "exposures":
            self._ingest_exposures(path, report)
            return
        for units, rejected, parsed in self._units(path, fmt):
            self._quarantine(report, rejected, fmt)
            if units:
                self._process(units, report, parsed)

    def _done(self, path: Path, sha: str, fmt: str, report: FileReport) -> FileReport:
        """Reconcile the file and record it in the ledger, unless it could not be read to its end."""
        release_free_memory()
        if report.records != report.accepted + report.quarantined_total:
            raise AssertionError(f"reconciliation failed for {path}: {report}")
        if not report.complete:
            report.note = "damaged: what was read is kept; not marked as ingested"
            return report
        self.ingested_shas.add(sha)
        self.ledger.append(
            {
                "file_sha256": sha,
                "path": self._current_path,
                "format": fmt,
                "records": report.records,
                "accepted": report.accepted,
                "quarantined": report.quarantined_total,
                "run_id": self.run_id,
                "ingested_at": self.now,
            }
        )
        return report

    def finish(self) -> None:
        if self.ledger:
            self.tx.write(tables.INGESTED_FILES, pa.Table.from_pylist(self.ledger, schema=schemas.INGESTED_FILES))

    # -- reading units ----------------------------------------------------------------------------

    def _units(self, path: Path, fmt: str) -> Iterator[tuple[list[Unit], list[Quarantined], tuple | None]]:
        """Blocks of units, the records rejected before validation, and (for native JSON lines, parsed in
        a background thread) the parse result of the block."""
        if fmt == "persona-chat":
            yield from self._batched(self._csv_records(path), fmt)
        elif path.name.lower().endswith(".parquet"):
            yield from self._batched(self._parquet_records(path), fmt)
        elif sources.is_json_array(path):
            yield from self._batched(self._array_records(path), fmt)
        elif fmt == "native":
            blocks = background.ahead(lambda: sources.read_blocks(path, self.config.block_bytes))
            for block, units, parsed in background.ordered_map(self._parse_block, blocks, self.config.threads):
                if isinstance(block, sources.StreamError):
                    yield [], [Quarantined(block.line, block.raw, block.reason, block.detail)], None
                    continue
                yield units, [], parsed
                self.advance_to(block.end_offset)
        else:
            for block in sources.read_blocks(path, self.config.block_bytes):
                if isinstance(block, sources.StreamError):
                    yield [], [Quarantined(block.line, block.raw, block.reason, block.detail)], None
                    continue
                records = [(block.first_line + i, line) for i, line in enumerate(block.lines) if line.strip()]
                yield *self._convert(((n, raw, None) for n, raw in records), fmt), None
                self.advance_to(block.end_offset)

    def _parse_block(self, block):
        """Native JSON lines: split, parse and validate one block (runs in a worker thread)."""
        if isinstance(block, sources.StreamError):
            return block, [], None
        units = [
            Unit(block.first_line + i, line, line, block.first_line + i)
            for i, line in enumerate(block.lines)
            if line.strip()
        ]
        return block, units, self._parse_and_validate(units)

    def _parse_and_validate(self, units: list[Unit]) -> tuple:
        table, good, errors = parse.parse_lines([u.native for u in units], parse.CONVERSATION_PARSE_SCHEMA)
        checked = validate_conversations(table, now=self.now, max_message_bytes=self.config.max_message_bytes)
        return table, good, errors, checked, self._user_ids(table["user_id"])

    def advance_to(self, offset: int) -> None:
        delta = offset - getattr(self, "_offset", 0)
        self._offset = offset
        self.advance(max(delta, 0))

    def _batched(self, records: Iterator[SourceRecord], fmt: str, size: int = 5000):
        batch: list[SourceRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield *self._convert(iter(batch), fmt), None
                batch = []
        if batch:
            yield *self._convert(iter(batch), fmt), None

    def _convert(self, records: Iterator[SourceRecord], fmt: str):
        """Source records -> native units; records an adapter rejects are quarantined directly."""
        units: list[Unit] = []
        rejected: list[Quarantined] = []
        for item in records:
            if isinstance(item, Quarantined):  # damage found while reading (a corrupt Parquet file, ...)
                rejected.append(item)
                continue
            line, raw, record = item
            if record is None:
                record, problem = _loads(raw)
                if problem:
                    rejected.append(Quarantined(line, raw, *problem))
                    continue
            if not isinstance(record, dict):  # _loads returns only objects; this catches the other sources
                rejected.append(
                    Quarantined(line, raw, "not_an_object", f"record is a JSON {_json_type(record)}, not an object")
                )
                continue
            try:
                natives, pair = self._native(record, raw, fmt)
            except adapters.RecordRejected as exc:
                rejected.append(Quarantined(line, raw, exc.reason, exc.detail))
                continue
            except RecursionError:
                rejected.append(Quarantined(line, raw, "too_deeply_nested", "record is nested too deeply to convert"))
                continue
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                rejected.append(
                    Quarantined(line, raw, "wrong_type", f"cannot convert the record: {type(exc).__name__}: {exc}")
                )
                continue
            units += [Unit(line, raw, native, line) for native in natives]
            if pair:
                self._pending_pairs[line] = pair
        return units, rejected

    def _native(self, record: dict, raw: bytes, fmt: str) -> tuple[list[bytes], dict | None]:
        """The native JSON lines of one source record, and its preference pair (hh)."""
        if fmt == "native":
            return [json.dumps(record, default=str).encode()], None
        converted = adapters.ADAPTERS[fmt](record, raw, self.defaults)
        return [json.dumps(c).encode() for c in converted.conversations], converted.pair

    def _csv_records(self, path: Path) -> Iterator[SourceRecord]:
        """CSV rows as dicts. Text is decoded with `surrogateescape`, so a row with invalid UTF-8 is
        quarantined with its original bytes (never U+FFFD); a leading BOM is not part of the header."""
        csv.field_size_limit(max(csv.field_size_limit(), 2 * self.config.max_message_bytes))
        with sources.open_binary(path) as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.DictReader(text)
            row_number = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    row_number += 1
                    yield Quarantined(
                        row_number, b"", "invalid_csv", f"row {row_number} (line {reader.line_num}): {exc}"
                    )
                    if "field larger than field limit" not in str(exc):
                        break  # the reader cannot resynchronize; the error says where it stopped
                    continue
                except (OSError, EOFError, zlib_errors()) as exc:
                    yield Quarantined(row_number + 1, b"", "corrupt_file", f"unreadable after row {row_number}: {exc}")
                    break
                row_number += 1
                values = [v if isinstance(v, str) else ",".join(v or []) for v in row.values()]
                out = io.StringIO()
                csv.writer(out).writerow(values)
                raw = out.getvalue().encode("utf-8", "surrogateescape")
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield Quarantined(row_number, raw, "invalid_utf8", f"invalid UTF-8 at byte {exc.start} of the row")
                    continue
                yield row_number, raw, {k: v for k, v in row.items() if k is not None}
        self.advance_to(path.stat().st_size)

    def _parquet_records(self, path: Path) -> Iterator[SourceRecord]:
        """Parquet rows as dicts; a file whose footer or a row group does not read keeps the rows before
        the damage, and the damage is quarantined with the file's first bytes."""
        import pyarrow.parquet as pq

        row_number = 0
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
                for row in batch.to_pylist():
                    row_number += 1
                    text = json.dumps(row, default=_iso)
                    yield row_number, text.encode(), json.loads(text)
        except (pa.ArrowException, OSError, ValueError, OverflowError) as exc:
            with open(path, "rb") as fh:
                head = fh.read(RAW_KEEP_BYTES)
            yield Quarantined(
                row_number + 1,
                head,
                "corrupt_file",
                f"unreadable Parquet after row {row_number}: {exc}",
                path.stat().st_size,
            )
        self.advance_to(path.stat().st_size)

    def _array_records(self, path: Path) -> Iterator[SourceRecord]:
        """A JSON file holding one array of records (common for ShareGPT dumps), decoded one element at a
        time: the elements before a broken or truncated one are kept, and the rest of the array from the
        broken element on is quarantined as one record (JSON cannot be resynchronized inside an array)."""
        try:
            with sources.open_binary(path) as fh:
                text = fh.read().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        except (OSError, EOFError, zlib_errors()) as exc:
            yield Quarantined(
                None,
                sources.head(path, RAW_KEEP_BYTES),
                "corrupt_file",
                f"cannot decompress: {exc}",
                path.stat().st_size,
            )
            return
        yield from _array_elements(text)
        self.advance_to(path.stat().st_size)

    # -- validating and writing ---------------------------------------------------------------------

    def _process(self, units: list[Unit], report: FileReport, parsed: tuple | None = None) -> None:
        table, good, errors, checked, user_ids = parsed or self._parse_and_validate(units)
        reasons = np.full(len(units), None, dtype=object)
        details = np.full(len(units), None, dtype=object)
        for error in errors:
            reasons[error.index], details[error.index] = error.reason, error.detail
        good = np.asarray(good, dtype=np.int64)
        reasons[good], details[good] = checked.verdict.reasons, checked.verdict.details
        ids = table["conversation_id"].to_pylist()
        contents = np.array([xxhash.xxh3_128_intdigest(units[i].native) for i in good], dtype=object)
        self._check_duplicates(ids, contents, good, reasons, details)
        records = np.array([u.record for u in units])
        failed = _failed_records(records, reasons)
        accepted_rows = np.flatnonzero(~np.isin(records[good], list(failed)))
        self._write_accepted(table, checked, user_ids, accepted_rows, good, units, contents, ids)
        rejected = [Quarantined(units[i].line, units[i].raw, reasons[i], details[i]) for i in failed.values()]
        self._quarantine(report, rejected, self._current_format)
        accepted_records = set(records.tolist()) - set(failed)
        report.records += len(accepted_records)
        report.accepted += len(accepted_records)
        report.conversations += len(accepted_rows)
        self._write_pairs(accepted_records)

    def _check_duplicates(self, ids, contents, good, reasons, details) -> None:
        """Mark ids already in the lake or earlier in the batch: same bytes -> duplicate_record,
        different bytes -> conflicting_duplicate."""
        candidates = [k for k, i in enumerate(good) if reasons[i] is None]
        if not candidates:
            return
        hashes = id_hashes([ids[k] for k in candidates])
        low = np.array([contents[k] & 0xFFFFFFFFFFFFFFFF for k in candidates], dtype=np.uint64)
        found, known_content = self.known.lookup(hashes)
        first_seen: dict[int, int] = {}
        for j, k in enumerate(candidates):
            row = good[k]
            if found[j]:
                same = known_content[j] == low[j]
            elif int(hashes[j]) in first_seen:
                same = low[first_seen[int(hashes[j])]] == low[j]
            else:
                first_seen[int(hashes[j])] = j
                continue
            reasons[row] = "duplicate_record" if same else "conflicting_duplicate"
            details[row] = (
                f"conversation_id {ids[k]!r} already ingested with identical content"
                if same
                else f"conversation_id {ids[k]!r} already ingested with different content"
            )

    def _write_accepted(self, table, checked, user_ids, rows, good, units, contents, ids) -> None:
        if len(rows) == 0:
            return
        every_row = len(rows) == table.num_rows
        take = pa.array(rows)
        accepted = table if every_row else table.take(take)
        user_ids = user_ids if every_row else user_ids.take(take)
        origin = self._origin([units[good[r]].line for r in rows])
        columns = {name: accepted[name] for name in schemas.BRONZE_CONVERSATIONS.names if name in accepted.column_names}
        columns.update(
            started_at=checked.started_at if every_row else checked.started_at.take(take),
            messages=checked.messages if every_row else checked.messages.take(take),
            user_id=user_ids,
            content_hash=pa.array([f"{contents[r]:032x}" for r in rows]),
            origin=origin,
            started_at_from=pa.array([self._started_at_from()] * len(rows), pa.string()),
        )
        self.bronze.write(pa.table(columns))
        self._remember(rows, ids, contents)

    def _started_at_from(self) -> str:
        """Native records carry started_at (a record without one is quarantined); the other formats
        take the recipe's `started_at` or the ingest time."""
        return "record" if self._current_format == "native" else self.defaults.started_at_from

    def _remember(self, rows, ids, contents) -> None:
        hashes = id_hashes([ids[r] for r in rows])
        low = np.array([contents[r] & 0xFFFFFFFFFFFFFFFF for r in rows], dtype=np.uint64)
        self.known.add(hashes, low)

    def _user_ids(self, user_ids: pa.ChunkedArray) -> pa.Array:
        if self.config.drop_user_ids or user_ids.null_count == len(user_ids):
            return pa.nulls(len(user_ids), pa.string())
        return self._require_key()(user_ids)

    def _require_key(self) -> pseudonymize.Pseudonymizer:
        if self.pseudonymizer is None:
            raise IngestRefused(
                "the input has user ids but no pseudonymization key is configured: set FLYWHEEL_HMAC_KEY or "
                f"create a key file ({pseudonymize.key_file_path()}, e.g. with `flywheel keygen`), "
                "or pass --drop-user-ids"
            )
        return self.pseudonymizer

    def _write_pairs(self, accepted_records: set[int]) -> None:
        lines = [r for r in sorted(accepted_records) if r in self._pending_pairs]
        rows = [self._pending_pairs[r] for r in lines]
        self._pending_pairs.clear()
        if not rows:
            return
        fields = [f for f in schemas.PREFERENCE_PAIRS if f.name != "origin"]
        table = pa.Table.from_pylist(rows, schema=parse.parse_schema(fields))
        table = table.set_column(
            table.schema.get_field_index("started_at"), "started_at", parse_utc(table["started_at"])
        )
        self.pairs.write(table.append_column("origin", self._origin(lines)))

    def _origin(self, lines: list[int]) -> pa.StructArray:
        n = len(lines)
        return pa.StructArray.from_arrays(
            [
                pa.array([self.run_id] * n),
                pa.array([self._current_path] * n),
                pa.array(lines, pa.int64()),
                pa.array([self._current_format] * n),
            ],
            fields=list(schemas.ORIGIN),
        )

    def _quarantine(self, report: FileReport, rejected: list[Quarantined], fmt: str) -> None:
        if not rejected:
            return
        for q in rejected:
            report.quarantined[q.reason] += 1
        report.records += len(rejected)
        self.quarantine.write(
            pa.table(
                {
                    "reason": [q.reason for q in rejected],
                    "detail": [q.detail for q in rejected],
                    "source_file": [getattr(self, "_current_path", report.path)] * len(rejected),
                    "line": pa.array([q.line for q in rejected], pa.int64()),
                    "format": [fmt] * len(rejected),
                    "raw": pa.array([q.raw[:RAW_KEEP_BYTES] for q in rejected], pa.binary()),
                    "raw_size": pa.array([q.size if q.size is not None else len(q.raw) for q in rejected], pa.int64()),
                    "run_id": [self.run_id] * len(rejected),
                    "quarantined_at": pa.array([self.now] * len(rejected), pa.timestamp("us", tz="UTC")),
                }
            )
        )

    # -- exposures ---------------------------------------------------------------------------------

    def _ingest_exposures(self, path: Path, report: FileReport) -> None:
        if self.config.drop_user_ids:
            raise IngestRefused(
                f"{path} holds experiment exposures, which are keyed by user id: "
                "they cannot be ingested with --drop-user-ids"
            )
        for block in sources.read_blocks(path, self.config.block_bytes):
            if isinstance(block, sources.StreamError):
                self._quarantine(report, [Quarantined(block.line, block.raw, block.reason, block.detail)], "exposures")
                continue
            records = [(block.first_line + i, line) for i, line in enumerate(block.lines) if line.strip()]
            self._process_exposures(records, report)
            self.advance_to(block.end_offset)

    def _process_exposures(self, records: list[tuple[int, bytes]], report: FileReport) -> None:
        table, good, errors = parse.parse_lines([raw for _, raw in records], parse.EXPOSURE_PARSE_SCHEMA)
        rejected = [Quarantined(records[e.index][0], records[e.index][1], e.reason, e.detail) for e in errors]
        verdict = Verdict.empty(table.num_rows)
        for name in ("experiment_id", "arm", "user_id"):
            missing = pc.fill_null(pc.equal(pc.utf8_length(pc.fill_null(table[name], "")), 0), True)
            verdict.fail(missing.to_numpy(zero_copy_only=False), "missing_field", f"{name} is missing or empty")
        exposed = parse_utc(table["exposed_at"])
        verdict.fail(
            pc.is_null(exposed).to_numpy(zero_copy_only=False),
            "bad_timestamp",
            "exposed_at is missing or not an RFC 3339 timestamp",
        )
        valid = verdict.valid
        for k in np.flatnonzero(~valid):
            line, raw = records[good[k]]
            rejected.append(Quarantined(line, raw, verdict.reasons[k], verdict.details[k]))
        self._quarantine(report, rejected, "exposures")
        keep = pa.array(np.flatnonzero(valid))
        if len(keep):
            key = self._require_key()
            accepted = table.take(keep)
            origin = self._origin([records[good[k]][0] for k in keep.to_pylist()])
            self.exposures.write(
                pa.table(
                    {
                        "experiment_id": accepted["experiment_id"],
                        "arm": accepted["arm"],
                        "user_id": key(accepted["user_id"]),
                        "exposed_at": exposed.take(keep),
                        "origin": origin,
                    }
                )
            )
        report.records += int(valid.sum())
        report.accepted += int(valid.sum())


def _loads(raw: bytes) -> tuple[dict | None, tuple[str, str] | None]:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        return None, ("invalid_utf8", f"invalid UTF-8 at byte {exc.start}")
    except json.JSONDecodeError as exc:
        return None, ("invalid_json", str(exc))
    except RecursionError:
        return None, ("too_deeply_nested", f"JSON nested deeper than Python's limit ({sys.getrecursionlimit()})")
    if not isinstance(value, dict):
        return None, ("not_an_object", f"record is a JSON {_json_type(value)}, not an object")
    return value, None


def _json_type(value) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def zlib_errors() -> type[Exception]:
    return zlib.error


def display_path(path: Path) -> str:
    """The path as text that can be stored: bytes of a non-UTF-8 file name are kept as \\xNN escapes."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _array_elements(text: str) -> Iterator[SourceRecord]:
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if text[position : position + 1] != "[":
        yield Quarantined(
            1,
            text[:RAW_KEEP_BYTES].encode("utf-8", "surrogateescape"),
            "invalid_json",
            "a JSON array file must start with '['",
            len(text),
        )
        return
    position, index = position + 1, 0
    while True:
        position = _skip_space(text, position)
        if text[position : position + 1] == "]":
            return
        if index and text[position : position + 1] == ",":
            position = _skip_space(text, position + 1)
        index += 1
        try:
            value, end = decoder.raw_decode(text, position)
            problem = None
        except RecursionError:
            problem = ("too_deeply_nested", "nested deeper than Python's limit")
        except json.JSONDecodeError as exc:
            problem = ("invalid_json" if text.rstrip().endswith("]") else "truncated_file", str(exc))
        if problem:
            rest = text[position:].encode("utf-8", "surrogateescape")
            reason, detail = problem
            yield Quarantined(
                index,
                rest[:RAW_KEEP_BYTES],
                reason,
                f"array element {index} and the rest of the array: {detail}",
                len(rest),
            )
            return
        yield index, text[position:end].encode("utf-8", "surrogateescape"), value
        position = end


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _iso(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def _failed_records(records: np.ndarray, reasons: np.ndarray) -> dict[int, int]:
    """Source record -> index of its first failing unit."""
    failed: dict[int, int] = {}
    for i in np.flatnonzero(reasons != None):  # noqa: E711
        failed.setdefault(int(records[i]), int(i))
    return failed


def _load_known(lake: Lake) -> KnownIds:
    known = KnownIds()
    if lake.files(tables.BRONZE_CONVERSATIONS):
        existing = lake.read(tables.BRONZE_CONVERSATIONS, columns=["conversation_id", "content_hash"])
        hashes = id_hashes(existing["conversation_id"].to_pylist())
        contents = np.array([int(h[-16:], 16) for h in existing["content_hash"].to_pylist()], dtype=np.uint64)
        known.add(hashes, contents)
    return known


def _load_ingested_shas(lake: Lake) -> set[str]:
    if not lake.files(tables.INGESTED_FILES):
        return set()
    return set(lake.read(tables.INGESTED_FILES, columns=["file_sha256"])["file_sha256"].to_pylist())
