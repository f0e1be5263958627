"""Reading JSONL files of texts (`{"id", "text", ...}` per line), the input format of `flywheel dedup` and
`flywheel scrub`: one validation, so both commands reject the same lines with the same messages.

A line that is not a JSON object with an `id` (a string or an integer) and a string `text` is an
`InputError` naming the file and the line; blank lines are skipped. A `.gz` file is read decompressed.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from lakehouse.errors import InputError, UserError


def open_text(path: Path) -> io.TextIOBase:
    """The file as UTF-8 text, decompressed when its name ends in `.gz`."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def json_line(line: str, where: str, error: type[UserError] = InputError) -> object:
    """The JSON value of one line; else `error("WHERE: not valid JSON (...)")`."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise error(f"{where}: not valid JSON ({err.msg})") from None


def text_record(line: str, where: str, error: type[InputError] = InputError) -> dict:
    """The JSON object of one line, checked to have an `id` and a string `text`; else `error(where: ...)`."""
    record = json_line(line, where, error)
    if not isinstance(record, dict):
        raise error(f"{where}: expected a JSON object with 'id' and 'text', got {type(record).__name__}")
    doc_id = record.get("id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        raise error(f"{where}: 'id' must be a string or an integer, got {doc_id!r}")
    if not isinstance(record.get("text"), str):
        raise error(f"{where}: 'text' must be a string, got {type(record.get('text')).__name__}")
    return record


def text_records(path: Path, error: type[InputError] = InputError) -> Iterator[tuple[int, dict]]:
    """(line number, record) of every non-blank line of `path`, each checked by `text_record`."""
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, text_record(line, f"{path}:{number}", error)
