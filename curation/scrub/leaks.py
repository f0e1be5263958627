"""The leak scan that guards every release (DESIGN 4): find high-risk identifiers left in text.

`scan_texts` works on any iterable of (row_id, text); `scan_paths` walks Parquet files or release
directories and scans every text column, including nested message lists (TRL conversational columns
`messages`, `prompt`, `chosen`, `rejected`, `completion` are list<struct<role, content>>). Row ids come
from `sample_id`, else `conversation_id`, else `<file>#<row>`.

The scan reports types and row ids, never the values: its output must not itself leak. Surrogates the
scrubber writes are not leaks: they come from reserved ranges (e-mail at example.com/.net/.org, NANP
555-01xx phone numbers, documentation IP networks) or fail their check digit (cards, IBANs); see replace.py.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from curation.scrub.config import ScrubConfig

ROW_ID_COLUMNS = ("sample_id", "conversation_id")
# Needs NER (and the model) only if someone adds PERSON/LOCATION/DATE_TIME to scan_entities.
_RESERVED_EMAIL = re.compile(r"@(?:[\w-]+\.)*example\.(?:com|net|org)$|@example$", re.IGNORECASE)
_FICTION_PHONE = re.compile(r"^1?[2-9]\d{2}55501\d{2}$")
_DOC_NETWORKS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


@dataclass(frozen=True)
class Leak:
    row_id: str
    column: str
    entity_type: str
    score: float


@dataclass
class ScanReport:
    rows: int = 0
    texts: int = 0
    files: list[str] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.leaks

    def by_row(self) -> dict[str, list[str]]:
        rows: dict[str, list[str]] = {}
        for leak in self.leaks:
            types = rows.setdefault(leak.row_id, [])
            if leak.entity_type not in types:
                types.append(leak.entity_type)
        return rows

    def summary(self) -> str:
        counts = Counter(leak.entity_type for leak in self.leaks)
        detail = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        verdict = "clean" if self.clean else f"{len(self.by_row())} row(s) with leaks ({detail})"
        return f"scan-leaks: {len(self.files)} file(s), {self.rows:,} rows, {self.texts:,} texts: {verdict}"


def is_harmless_value(entity_type: str, value: str) -> bool:
    """A value that cannot be a real person's: from a range reserved for examples and fiction, or a card
    number or IBAN whose check digit fails (the scrubber removes those too, when a context word says what
    they are, but they cannot be used: a release is not refused for them)."""
    if entity_type == "CREDIT_CARD":
        from curation.scrub.recognizers import luhn_ok

        return not luhn_ok(re.sub(r"\D", "", value))
    if entity_type == "IBAN_CODE":
        from curation.scrub.recognizers import iban_checksum_ok

        return not iban_checksum_ok(value)
    if entity_type == "EMAIL_ADDRESS":
        return bool(_RESERVED_EMAIL.search(value.strip()))
    if entity_type == "PHONE_NUMBER":
        return bool(_FICTION_PHONE.match(re.sub(r"\D", "", value)))
    if entity_type == "IP_ADDRESS":
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        return any(address in network for network in _DOC_NETWORKS)
    return False


class LeakScanner:
    """Scans texts for the config's `scan_entities` with the scrubber's own detectors and thresholds."""

    def __init__(self, config: ScrubConfig | None = None, entities: Sequence[str] | None = None):
        from curation.scrub.engine import get_detector

        self.config = config or ScrubConfig()
        self.entities = list(entities or self.config.scan_entities)
        self.detector = get_detector(self.config, self.entities)
        self.texts_scanned = 0

    def scan(self, items: Iterable[tuple[str, str]], column: str = "text") -> Iterator[Leak]:
        """Leaks in (row_id, text) pairs."""
        return self.scan_columns((row_id, column, text) for row_id, text in items)

    def scan_columns(self, items: Iterable[tuple[str, str, str]], batch: int = 2_000) -> Iterator[Leak]:
        """Leaks in (row_id, column, text) triples, detected in batches."""
        from curation.scrub.resolve import resolve

        pending: list[tuple[str, str, str]] = []

        def flush() -> Iterator[Leak]:
            found = self.detector.detect([text for _, _, text in pending])
            for (row_id, column, text), detections in zip(pending, found):
                for f in resolve(text, detections, self.config):
                    if f.entity_type in self.entities and not is_harmless_value(f.entity_type, text[f.start:f.end]):
                        yield Leak(row_id, column, f.entity_type, f.score)
            pending.clear()

        for row_id, column, text in items:
            if text:
                self.texts_scanned += 1
                pending.append((str(row_id), column, text))
            if len(pending) >= batch:
                yield from flush()
        if pending:
            yield from flush()


def scan_texts(items: Iterable[tuple[str, str]], config: ScrubConfig | None = None,
               entities: Sequence[str] | None = None) -> list[Leak]:
    """Leaks in (row_id, text) pairs."""
    return list(LeakScanner(config, entities).scan(items))


def parquet_files(paths: Iterable[str | Path]) -> list[Path]:
    """The Parquet files named or found under the given paths (a release directory, a table, files)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.parquet")
                            if not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


def _string_leaves(array, path: str) -> Iterator[tuple[str, object, object]]:
    """(column path, parent row index per value, string values) for every string inside `array`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield path, pa.array(range(len(array)), pa.int64()), array
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        parents = pc.list_parent_indices(array)
        for sub_path, rows, values in _string_leaves(pc.list_flatten(array), f"{path}[]"):
            yield sub_path, pc.take(parents, rows), values
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            field_array = pc.struct_field(array, [i])
            yield from _string_leaves(field_array, f"{path}.{kind.field(i).name}")


def iter_parquet_texts(path: Path) -> Iterator[tuple[str, str, str]]:
    """(row id, column path, text) for every non-empty string in a Parquet file, nested ones included."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    offset = 0
    for batch in file.iter_batches(batch_size=4_096):
        id_column = next((c for c in ROW_ID_COLUMNS if c in batch.schema.names), None)
        ids = batch.column(id_column).to_pylist() if id_column else None
        for name in batch.schema.names:
            column = batch.column(name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            for column_path, rows, values in _string_leaves(column, name):
                for row, value in zip(rows.to_pylist(), values.to_pylist()):
                    if value:
                        row_id = ids[row] if ids and ids[row] is not None else f"{path.name}#{offset + row}"
                        yield str(row_id), column_path, value
        offset += batch.num_rows


def scan_paths(paths: Iterable[str | Path], config: ScrubConfig | None = None,
               entities: Sequence[str] | None = None) -> ScanReport:
    """Scan every text in the Parquet files under `paths`."""
    import pyarrow.parquet as pq

    scanner = LeakScanner(config, entities)
    report = ScanReport()
    for path in parquet_files(paths):
        report.files.append(str(path))
        report.rows += pq.ParquetFile(path).metadata.num_rows
        report.leaks.extend(scanner.scan_columns(iter_parquet_texts(path)))
    report.texts = scanner.texts_scanned
    return report
