"""Finding input files, detecting their format, and reading them as bounded blocks of lines.

Blocks are bounded in bytes, so memory does not grow with file size. A gzip stream that is truncated or
corrupt does not abort the file: the lines read before the damage are processed and the damage itself
is reported as a `StreamError` so it can be quarantined.
"""

from __future__ import annotations

import gzip
import json
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.errors import InputError, UserError

FORMATS = ("native", "openai", "sharegpt", "hh", "persona-chat", "exposures")
INPUT_SUFFIXES = (".jsonl", ".json", ".ndjson", ".gz", ".csv", ".parquet")
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 8 << 20


@dataclass
class LineBlock:
    first_line: int  # 1-based line number of lines[0]
    lines: list[bytes]  # every line, empty ones included, so numbering stays exact
    end_offset: int  # compressed bytes consumed so far (for progress)


@dataclass
class StreamError:
    line: int
    reason: str
    detail: str
    raw: bytes = b""


@dataclass
class InputFile:
    path: Path
    format: str
    sha256: str = field(default="")


def discover(paths: list[Path]) -> list[Path]:
    """Files under the given paths (directories recursively), sorted, hidden files skipped. Entries with an
    input suffix that are not regular files (a FIFO, a symlink loop, a dangling link) are listed too, so
    ingest quarantines them with a reason instead of skipping them silently."""
    found: list[Path] = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise InputError(f"input path {path} does not exist")
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if not p.is_dir()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.name.lower().endswith(INPUT_SUFFIXES)
            )
        else:
            found.append(path)
    return sorted(dict.fromkeys(_absolute(p) for p in found))


def _absolute(path: Path) -> Path:
    """The resolved path; a symlink loop cannot be resolved and is kept as given (absolute)."""
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):
        return path.absolute()


def not_readable(path: Path) -> tuple[str, str] | None:
    """Why `path` cannot be read as an input file, as (reason, detail); None when it can. Only regular
    files are read, so a FIFO or a device can never block the run."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return "unreadable_file", f"cannot open {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return (
            "not_a_regular_file",
            f"{path} is not a regular file (a FIFO, a device or a socket); only regular files are read",
        )
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return "unreadable_file", f"cannot open {path}: {exc.strerror or exc}"
    return None


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_binary(path: Path):
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def is_json_array(path: Path) -> bool:
    return head(path, 4096).removeprefix(BOM).lstrip().startswith(b"[")


def head(path: Path, size: int = 1 << 20) -> bytes:
    """Up to `size` decompressed bytes from the start of a file, even of a damaged gzip."""
    with open(path, "rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            raw.seek(0)
            return raw.read(size)
        raw.seek(0)
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            return decoder.decompress(raw.read(size), size)
        except zlib.error:
            return b""


FIRST_LINE_LIMIT = 64 << 20  # how far format detection reads for a first record that ends its line


def first_lines(path: Path, limit: int = FIRST_LINE_LIMIT) -> bytes:
    """The start of the decompressed file: at least the first 1 MB and then on to the end of a line (a
    first record over 1 MB is still whole), at most `limit` bytes; a leading UTF-8 BOM is dropped."""
    data = b""
    try:
        for block in read_blocks(path, 1 << 20):
            if isinstance(block, StreamError):
                data += block.raw
                break
            data += b"\n".join(block.lines) + b"\n"
            if len(data) >= (1 << 20) or len(data) >= limit:
                break
    except OSError:
        return b""
    return data[:limit]


def _first_record(path: Path) -> dict | list | None:
    """The first parseable JSON value of a JSON-lines or JSON-array file (None if none in the head)."""
    text = first_lines(path).decode("utf-8", "replace").lstrip()
    if text.startswith("["):
        try:
            return json.JSONDecoder().raw_decode(text[1:].lstrip())[0]
        except (json.JSONDecodeError, RecursionError):
            return None
    for line in text.splitlines():
        try:
            return json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
    return None


def damaged_from_the_start(path: Path) -> bool:
    """A compressed file whose very first block cannot be decoded (its format cannot be known)."""
    return isinstance(next(iter(read_blocks(path, 1 << 20)), None), StreamError)


def is_blank(path: Path) -> bool:
    """An empty file, or one holding only whitespace (a BOM included): nothing to ingest, nothing to
    quarantine."""
    for block in read_blocks(path, 1 << 20):
        if isinstance(block, StreamError) or any(line.strip() for line in block.lines):
            return False
    return True


def detect_format(path: Path) -> str:
    """Guess a file's format from its name and first record; raise InputError when it cannot."""
    name = path.name.lower()
    if name.endswith(".csv"):
        return "persona-chat"
    if name.endswith(".parquet"):
        return "native"
    record = _first_record(path)
    if not isinstance(record, dict):
        raise InputError(f"cannot detect the format of {path}: no JSON object in its first lines; pass --format")
    keys = set(record)
    if {"conversation_id", "messages"} <= keys:
        return "native"
    if {"chosen", "rejected"} <= keys and isinstance(record.get("chosen"), str):
        return "hh"
    if "conversations" in keys:
        return "sharegpt"
    if "messages" in keys:
        return "openai"
    if {"experiment_id", "arm", "user_id"} <= keys:
        return "exposures"
    raise InputError(f"cannot detect the format of {path} from keys {sorted(keys)[:8]}; pass --format")


class Damaged(UserError):
    """The compressed stream ends early or is corrupt; `reason` is truncated_file or corrupt_file."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def _chunks(raw, chunk_bytes: int) -> Iterator[bytes]:
    """Decompressed chunks of a gzip stream (multi-member too), keeping everything before any damage.

    Python's GzipFile raises on a truncated stream and loses the data of that read; a decompressor
    object fed compressed chunks hands over every byte it could decode first. ISA-L's inflate is a
    drop-in for zlib's and about three times faster.
    """
    from isal import isal_zlib

    decoder = isal_zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending, emitted = b"", 0
    while True:
        if not pending:
            pending = raw.read(1 << 20)
            if not pending:
                if not decoder.eof:
                    raise Damaged("truncated_file", "gzip stream ends before its end-of-stream marker")
                return
        if decoder.eof:  # the next member of a concatenated gzip file, or trailing padding
            if not pending.strip(b"\x00"):
                pending = b""
                continue
            decoder = isal_zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = decoder.decompress(pending, chunk_bytes)
        except isal_zlib.error as exc:  # type: ignore[misc]  # isal's stub declares `error: Exception`, an instance
            yield from _salvage(raw, emitted)
            raise Damaged("corrupt_file", f"gzip data is corrupt: {exc}") from None
        pending = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
        if data:
            emitted += len(data)
            yield data


SALVAGE_STEP = 256


def _salvage(raw, emitted: int) -> Iterator[bytes]:
    """The bytes after the first `emitted` that still decode before the damage. ISA-L's inflate raises
    without handing over the output of the failing call (up to a megabyte of input), so the stream is
    inflated again from its start with zlib in small steps, which loses at most one step's output."""
    raw.seek(0)
    decoder, seen = zlib.decompressobj(16 + zlib.MAX_WBITS), 0
    while piece := raw.read(SALVAGE_STEP):
        out = b""
        try:
            while piece:
                out += decoder.decompress(piece)
                piece = b""
                if decoder.eof and decoder.unused_data.strip(b"\x00"):
                    piece, decoder = decoder.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error:
            piece = None
        if len(out) and seen + len(out) > emitted:
            yield out[max(0, emitted - seen) :]
        seen += len(out)
        if piece is None:
            return


def read_blocks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[LineBlock | StreamError]:
    """Yield the file's lines in blocks of about `block_bytes`; a damaged stream ends with a StreamError."""
    with open(path, "rb") as raw:
        gz = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        chunks = _chunks(raw, block_bytes) if gz else iter(lambda: raw.read(block_bytes), b"")
        line_no, carry, first = 1, b"", True
        try:
            for chunk in chunks:
                data = carry + chunk
                if first and len(data) >= len(BOM):
                    data, first = data.removeprefix(BOM), False
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                lines = data[:cut].split(b"\n")
                carry = data[cut + 1 :]
                yield LineBlock(line_no, lines, raw.tell())
                line_no += len(lines)
        except Damaged as exc:
            yield StreamError(line_no, exc.reason, f"{exc} (after line {line_no - 1})", carry)
            return
        if carry:
            yield LineBlock(line_no, carry.split(b"\n"), raw.tell())
