"""Vectorized validation of parsed conversations against the traffic contract (docs/architecture.md,
The traffic record).

Every check runs over whole Arrow columns (messages flattened with their parent row), and the first
failing check names the row's quarantine reason, with a detail that points at the field or message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.ingest.timestamps import parse_utc
from lakehouse import schemas

FUTURE_TOLERANCE = dt.timedelta(days=1)


@dataclass
class Verdict:
    """Per-row outcome: `reasons[i]` is None for a valid row."""

    reasons: np.ndarray
    details: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Verdict:
        return cls(np.full(n, None, dtype=object), np.full(n, None, dtype=object))

    def fail(self, mask: np.ndarray, reason: str, detail) -> None:
        """Mark rows in `mask` that have not failed yet; `detail` is a string or a per-row array."""
        new = mask & (self.reasons == None)  # noqa: E711 - elementwise comparison on an object array
        if not new.any():
            return
        self.reasons[new] = reason
        self.details[new] = detail[new] if isinstance(detail, np.ndarray) else detail

    @property
    def valid(self) -> np.ndarray:
        return self.reasons == None  # noqa: E711


def _np_bool(array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


BLANK_CHECK_BYTES = 64


def _missing_text(column) -> np.ndarray:
    """Null, empty or whitespace-only strings. Only short strings can be whitespace-only in practice, so
    only those are trimmed (trimming every message would copy all the text)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lengths = pc.binary_length(column).to_numpy(zero_copy_only=False)
    missing = np.isnan(lengths) if lengths.dtype.kind == "f" else np.zeros(len(column), dtype=bool)
    lengths = np.nan_to_num(lengths, nan=0).astype(np.int64)
    short = np.flatnonzero(~missing & (lengths <= BLANK_CHECK_BYTES))
    if short.size:
        trimmed = pc.binary_length(pc.utf8_trim_whitespace(column.take(pa.array(short)))).to_numpy(zero_copy_only=False)
        missing[short[trimmed == 0]] = True
    return missing


def _per_row(
    n: int, parents: np.ndarray, positions: np.ndarray, bad: np.ndarray, describe
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a message-level failure mask to rows, describing each row's first failing message."""
    rows = np.zeros(n, dtype=bool)
    details = np.full(n, None, dtype=object)
    idx = np.flatnonzero(bad)
    if idx.size:
        first_rows, first_at = np.unique(parents[idx], return_index=True)
        rows[first_rows] = True
        for row, flat in zip(first_rows, idx[first_at], strict=True):
            details[row] = describe(int(flat), int(positions[flat]))
    return rows, details


@dataclass
class Validated:
    verdict: Verdict
    started_at: pa.Array
    messages: pa.Array  # messages with parsed ts and narrowed types, ready for the bronze schema


def validate_conversations(table: pa.Table, *, now: dt.datetime, max_message_bytes: int) -> Validated:
    n = table.num_rows
    verdict = Verdict.empty(n)
    for name in ("conversation_id", "source"):
        verdict.fail(_missing_text(table[name]), "missing_field", f"{name} is missing or empty")
    source = table["source"]
    bad_source = _np_bool(pc.invert(pc.is_in(pc.fill_null(source, ""), pa.array(schemas.SOURCES))))
    verdict.fail(bad_source, "invalid_value", f"source must be one of {', '.join(schemas.SOURCES)}")

    started_raw = table["started_at"]
    started = parse_utc(started_raw)
    verdict.fail(_np_bool(pc.is_null(started_raw)), "missing_field", "started_at is missing")
    verdict.fail(_np_bool(pc.is_null(started)), "bad_timestamp", "started_at is not an RFC 3339 timestamp")
    limit = pa.scalar(now + FUTURE_TOLERANCE, pa.timestamp("us", tz="UTC"))
    verdict.fail(_np_bool(pc.greater(started, limit)), "future_timestamp", "started_at is in the future")

    messages = table["messages"].combine_chunks() if n else pa.array([], table.schema.field("messages").type)
    lengths = pc.fill_null(pc.list_value_length(messages), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    verdict.fail(_np_bool(pc.is_null(messages)), "missing_field", "messages is missing")
    verdict.fail(lengths == 0, "empty_messages", "messages is empty")

    flat = pc.list_flatten(messages)
    parents = pc.list_parent_indices(messages).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else np.zeros(0, dtype=np.int64)
    positions = np.arange(len(flat)) - starts[parents] if len(flat) else np.zeros(0, dtype=np.int64)
    ts_parsed = _check_messages(verdict, flat, parents, positions, n, max_message_bytes)
    return Validated(verdict, started, _rebuild_messages(messages, lengths, flat, ts_parsed))


def _check_messages(verdict: Verdict, flat: pa.StructArray, parents, positions, n: int, max_bytes: int) -> pa.Array:
    role, content = flat.field("role"), flat.field("content")
    checks = [
        (_missing_text(role), "missing_role", lambda f, p: f"messages[{p}] has no role"),
        (
            _np_bool(pc.invert(pc.is_in(pc.fill_null(role, ""), pa.array(schemas.ROLES)))) & ~_missing_text(role),
            "unknown_role",
            lambda f, p: f"messages[{p}].role {role[f].as_py()!r} is not one of {', '.join(schemas.ROLES)}",
        ),
        (_np_bool(pc.is_null(content)), "missing_content", lambda f, p: f"messages[{p}] has no content"),
        (_missing_text(content), "empty_content", lambda f, p: f"messages[{p}] content is empty"),
        (
            _np_bool(pc.greater(pc.binary_length(pc.fill_null(content, "")), max_bytes)),
            "message_too_large",
            lambda f, p: f"messages[{p}] is {len(content[f].as_py().encode()):,} bytes (limit {max_bytes:,})",
        ),
    ]
    ts_raw = flat.field("ts")
    ts = parse_utc(ts_raw) if len(flat) else pa.array([], pa.timestamp("us", tz="UTC"))
    checks.append(
        (
            _np_bool(pc.and_(pc.is_valid(ts_raw), pc.is_null(ts))),
            "bad_timestamp",
            lambda f, p: f"messages[{p}].ts {ts_raw[f].as_py()!r} is not an RFC 3339 timestamp",
        )
    )
    thumb = flat.field("signals").field("thumb")
    checks.append(
        (
            _np_bool(pc.invert(pc.is_in(pc.fill_null(thumb, 0), pa.array([-1, 0, 1])))),
            "invalid_value",
            lambda f, p: f"messages[{p}].signals.thumb must be -1, 0 or 1",
        )
    )
    for bad, reason, describe in checks:
        rows, details = _per_row(n, parents, positions, bad, describe)
        verdict.fail(rows, reason, details)
    return ts


def _rebuild_messages(messages: pa.Array, lengths: np.ndarray, flat: pa.StructArray, ts: pa.Array) -> pa.Array:
    """Messages in the bronze type: ts parsed, thumb narrowed to int8 (invalid rows are dropped later)."""
    signals = flat.field("signals")
    thumb = pc.if_else(
        pc.is_in(pc.fill_null(signals.field("thumb"), 0), pa.array([-1, 0, 1])),
        signals.field("thumb"),
        pa.scalar(None, pa.int64()),
    )
    signals = pa.StructArray.from_arrays(
        [signals.field(f.name) if f.name != "thumb" else thumb for f in schemas.SIGNALS],
        names=schemas.SIGNALS.names,
        mask=pc.is_null(signals) if len(signals) else None,
    ).cast(schemas.SIGNALS)
    values = pa.StructArray.from_arrays(
        [flat.field("role"), flat.field("content"), ts, signals], fields=list(schemas.MESSAGE)
    )
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, values, mask=pc.is_null(messages))
