"""Parsing blocks of JSON lines into Arrow with an explicit schema, isolating the lines that fail.

The fast path hands a whole block to pyarrow's multithreaded JSON reader. A block that fails is split in
half until each bad line stands alone (a handful of extra parses per bad line), so one broken record
costs almost nothing and never takes its neighbours down with it.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import pyarrow as pa

from lakehouse import schemas


def _parse_type(dtype: pa.DataType) -> pa.DataType:
    """The type a field is parsed as: timestamps stay strings (validated later, with a clear reason)
    and small integers are parsed wide so an out-of-range value is a validation error, not a crash."""
    if pa.types.is_timestamp(dtype):
        return pa.string()
    if pa.types.is_integer(dtype):
        return pa.int64()
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, _parse_type(f.type)) for f in dtype])
    if pa.types.is_list(dtype):
        return pa.list_(_parse_type(dtype.value_type))
    return dtype


def parse_schema(fields: list[pa.Field]) -> pa.Schema:
    return pa.schema([pa.field(f.name, _parse_type(f.type)) for f in fields])


CONVERSATION_PARSE_SCHEMA = parse_schema(schemas.CONVERSATION_FIELDS)
EXPOSURE_PARSE_SCHEMA = parse_schema([f for f in schemas.EXPOSURES if f.name != "origin"])

_TYPE_CHANGE = re.compile(r"Column\((?P<path>[^)]*)\) changed from (?P<expected>\w+) to (?P<got>\w+)")


@dataclass
class LineError:
    index: int  # position of the line in the block
    reason: str
    detail: str


def classify(exc: Exception) -> tuple[str, str]:
    """Map a parser exception to a quarantine reason and a human-readable detail."""
    if isinstance(exc, UnicodeDecodeError):
        return "invalid_utf8", f"invalid UTF-8 at byte {exc.start}"
    message = str(exc).replace("JSON parse error: ", "")
    match = _TYPE_CHANGE.search(message)
    if match:
        path = match["path"] or "/"
        if path == "/" or match["path"] == "":
            return "not_an_object", f"record is a JSON {match['got']}, not an object"
        return "wrong_type", f"field {path}: expected {match['expected']}, got {match['got']}"
    detail = message.split(" in row ")[0]
    if "was specified twice" in message:
        return "duplicate_key", detail
    if "Number too big" in message or "Failed to convert JSON to int64" in message:
        return "number_out_of_range", detail
    return "invalid_json", detail


def _non_objects(lines: list[bytes], positions: list[int]) -> tuple[list[int], list[LineError]]:
    """Lines that are not JSON objects, found before pyarrow sees them: its reader turns a `null` line
    into an all-null row and crashes the process when it re-reads such a line beside a broken one."""
    kept, errors = [], []
    for i in positions:
        line = lines[i]
        if line[:1] == b"{" or line.lstrip()[:1] == b"{":  # the first test avoids copying the line
            kept.append(i)
            continue
        try:
            value = json.loads(lines[i])
        except RecursionError:
            errors.append(LineError(i, "not_an_object", "record is a deeply nested JSON array, not an object"))
            continue
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            errors.append(LineError(i, "invalid_json", str(exc)))
            continue
        errors.append(LineError(i, "not_an_object", f"record is a JSON {type(value).__name__}, not an object"))
    return kept, errors


def _read(lines: list[bytes], schema: pa.Schema) -> pa.Table:
    import pyarrow.json as pj

    data = b"\n".join(lines) + b"\n"
    return pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(block_size=max(len(data) + 1, 1 << 20), use_threads=False),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


def parse_lines(lines: list[bytes], schema: pa.Schema) -> tuple[pa.Table, list[int], list[LineError]]:
    """Parse non-empty JSON lines. Returns the table of good lines, the block positions of its rows,
    and one LineError per bad line."""
    positions, errors = _utf8_check(lines)
    positions, not_objects = _non_objects(lines, positions)
    if not_objects:
        errors = sorted(errors + not_objects, key=lambda e: e.index)
    if errors:
        lines = [lines[i] for i in positions]
    try:
        return _read(lines, schema), positions, errors
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    tables: list[pa.Table] = []
    good: list[int] = []
    bad: list[LineError] = []
    _bisect(lines, 0, schema, tables, good, bad)
    errors += [LineError(positions[e.index], e.reason, e.detail) for e in bad]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return table, [positions[i] for i in good], sorted(errors, key=lambda e: e.index)


def _utf8_check(lines: list[bytes]) -> tuple[list[int], list[LineError]]:
    """Whole lines must be UTF-8, unknown fields included: one decode per block, per line only on failure."""
    try:
        b"\n".join(lines).decode("utf-8")
        return list(range(len(lines))), []
    except UnicodeDecodeError:
        pass
    good, errors = [], []
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
            good.append(i)
        except UnicodeDecodeError as exc:
            errors.append(LineError(i, *classify(exc)))
    return good, errors


def _bisect(lines, offset, schema, tables, good, errors) -> None:
    try:
        tables.append(_read(lines, schema))
        good.extend(range(offset, offset + len(lines)))
        return
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if len(lines) == 1:
            errors.append(LineError(offset, *classify(exc)))
            return
    middle = len(lines) // 2
    _bisect(lines[:middle], offset, schema, tables, good, errors)
    _bisect(lines[middle:], offset + middle, schema, tables, good, errors)
