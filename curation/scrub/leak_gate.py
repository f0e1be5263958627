"""The leak scan: one function (`scan_paths`) that is both `flywheel scan-leaks` and the release gate.

Every release is published through `lakehouse.releases.ReleaseWriter`, whose `publish` refuses without a
passing scan; this module is the scanner it finds through the entry-point group `flywheel.leak_scanners`
(`release_gate`), so `flywheel releases build`, train's rejection sampling and any later publisher are
gated by exactly what `scan-leaks` reports. (docs/scrub.md, "The leak scan"; docs/releases.md, "Fail closed".)

What is scanned: every string in a Parquet file, nested ones included (TRL conversational columns are
list<struct<role, content>>). The columns `lakehouse.releases.ID_COLUMNS` declares as ids are scanned
too (a client's own conversation id may be an e-mail address), with the ids that cannot carry user text
masked (`OPAQUE_ID`: our record hashes such as `hh-cb5545ca83f02695-chosen:1`, simulator ids, UUIDs).

What is found: the config's `scan_entities` (structured identifiers and ID numbers by default), by the
scrubber's own detection (`Scrubber.detect`, then `resolve`, with the config narrowed to the scanned
types), so improvements to the recognizers and the normalization reach the gate unchanged. Surrogates the scrubber writes are not leaks: they come from ranges
reserved for fiction or fail their check digit (replace.py).

Why it is fast without skipping anything: a text reaches the detector unless a vectorized test (RE2 in
Arrow) shows that no scanned type can occur in it. Each type's test is a necessary condition of its
format (`NECESSARY`: a card has at least 12 digits, an e-mail an `@` or a spelled "at" and a dot...),
evaluated after a normalization at least as strong as the detector's (NFKC, format characters removed)
with Unicode classes (`\\p{N}` counts every character that is or normalizes to a digit; tests check
this for every code point). A type without a declared condition sends every text to the detector.

The scan reports types, columns and rows, never a value; a row is named by its id only where the id
itself holds nothing the scan flags, else by `<file>#<row>`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from curation.scrub.config import ScrubConfig, TierPolicy
from curation.scrub.resolve import resolve
from curation.scrub.scrubber import Scrubber
from lakehouse.releases import ID_COLUMNS, OPAQUE_ID

if TYPE_CHECKING:
    import pyarrow as pa

SCANNER = "curation.scrub.leak_gate"
ROW_ID_COLUMNS = ("sample_id", "conversation_id")
_RESERVED_EMAIL = re.compile(r"@(?:[\w-]+\.)*example\.(?:com|net|org)$|@example$", re.IGNORECASE)
_FICTION_PHONE = re.compile(r"^1?[2-9]\d{2}55501\d{2}$")
_DOC_NETWORKS = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
_MASK = "<id>"
_BATCH_ROWS = 65_536

# RE2 classes, over NFKC-normalized text without format characters (Cf).
NUMBER = r"\p{N}"  # every character that is, or normalizes to, a digit (tests check all of Unicode)
AT_SIGN = "@"  # NFKC maps the full-width and small commercial at to it
# a spelled "at" as a word, later followed by the domain's dot: a dot right before a letter (`gmail.com`),
# a spaced dot (`gmail . com`) or a spelled "dot"
_SPELLED_AT = r"(?is:(?:^|[^\pL\pN])at[^\pL\pN].*(?:\.\pL|[\s\pZ]\.[\s\pZ]|dot))"


@dataclass(frozen=True)
class Condition:
    """A necessary condition for a type to occur in a (normalized) text: at least `min_numbers` number
    characters and a match of every pattern in `all_of`; or, when `alternatives` are given, any of them."""

    min_numbers: int = 0
    all_of: tuple[str, ...] = ()
    alternatives: tuple[Condition, ...] = ()


# Why each holds (a detection of the type cannot exist in a text that fails it):
NECESSARY: dict[str, Condition] = {
    # NANP and national formats alike have at least 7 digits (the engine's own phone gate)
    "PHONE_NUMBER": Condition(min_numbers=7),
    # card numbers are 12-19 digits
    "CREDIT_CARD": Condition(min_numbers=12),
    # nine digits
    "US_SSN": Condition(min_numbers=9),
    # 2 check digits and a national account number; every registered IBAN has at least 8 digits
    "IBAN_CODE": Condition(min_numbers=8),
    # IPv4: four numbers and three dots; IPv6: at least two colons
    "IP_ADDRESS": Condition(
        alternatives=(Condition(min_numbers=4, all_of=(r"\..*\..*\.",)), Condition(all_of=(r":.*:",)))
    ),
    # an `@` (spaced or not), or a spelled "at" as a word followed by a domain with a dot or a spelled "dot"
    "EMAIL_ADDRESS": Condition(alternatives=(Condition(all_of=(AT_SIGN,)), Condition(all_of=(_SPELLED_AT,)))),
    # a house number or a postcode: the engine runs its address recognizer only where a digit is
    "STREET_ADDRESS": Condition(min_numbers=1),
    # every passport, licence and national id format detected has digits
    "ID_NUMBER": Condition(min_numbers=1),
}


@dataclass(frozen=True)
class Leak:
    """One identifier found: where (file, row, column) and what type; never the value. `row_ref` is the
    row's id where the id is clean, else `<file>#<row>` (an id is never printed when it holds one)."""

    row_ref: str
    column: str
    entity_type: str
    score: float
    file: str = ""
    row: int = -1

    @property
    def row_id(self) -> str:  # the name the older callers used
        return self.row_ref


@dataclass
class ScanReport:
    rows: int = 0
    texts: int = 0
    suspects: int = 0  # distinct texts the detector read (the rest failed every type's necessary condition)
    files: list[str] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    scanner: str = SCANNER

    @property
    def clean(self) -> bool:
        return not self.leaks

    def by_row(self) -> dict[str, list[str]]:
        rows: dict[str, list[str]] = {}
        for leak in self.leaks:
            types = rows.setdefault(leak.row_ref, [])
            if leak.entity_type not in types:
                types.append(leak.entity_type)
        return rows

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(leak.entity_type for leak in self.leaks).items()))

    def summary(self) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        verdict = "clean" if self.clean else f"{len(self.by_row())} row(s) with leaks ({detail})"
        return f"scan-leaks: {len(self.files)} file(s), {self.rows:,} rows, {self.texts:,} texts: {verdict}"


def gate_entities(config: ScrubConfig) -> list[str]:
    """The types the scan looks for: the config's `scan_entities` (a recipe or `--entities` may set them).
    The default is the structured identifiers and ID numbers, not the whole high tier: addresses and dates
    of birth need context a single release string lacks, and one imprecise hit would refuse a release."""
    return list(config.scan_entities)


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


# -- the pre-filter -------------------------------------------------------------------------------------


def normalize(values):
    """NFKC without format characters (zero-width spaces and joiners, BOM, bidi marks, soft hyphens): at
    least what the detector does to a text before it looks, so a condition true after the detector's
    normalization is true after this one. ASCII text is its own normal form and is not copied."""
    import pyarrow.compute as pc

    return pc.replace_substring_regex(pc.utf8_normalize(values, "NFKC"), r"\p{Cf}", "")


def _simple(condition: Condition) -> Iterator[Condition]:
    """The condition as alternatives without alternatives of their own."""
    if condition.alternatives:
        for alternative in condition.alternatives:
            yield from _simple(alternative)
    else:
        yield condition


def _held(texts, numbers, conditions: list[Condition]):
    """A numpy mask: the texts meeting any of the simple conditions. Count-only conditions are one
    comparison, pattern-only ones one fused regex pass, and patterns behind a count run only on the
    texts with enough number characters."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = numbers.to_numpy(zero_copy_only=False)
    held = np.zeros(len(texts), dtype=bool)
    fused = sorted({c.all_of[0] for c in conditions if c.min_numbers == 0 and len(c.all_of) == 1})
    if fused:
        pattern = "|".join(f"(?:{p})" for p in fused)
        held |= pc.fill_null(pc.match_substring_regex(texts, pattern), False).to_numpy(zero_copy_only=False)
    for condition in conditions:
        if condition.min_numbers == 0 and len(condition.all_of) == 1:
            continue
        enough = (counts >= condition.min_numbers) & ~held
        if not condition.all_of or not enough.any():
            held |= enough
            continue
        where = np.flatnonzero(enough)
        subset = pc.take(texts, pa.array(where))
        ok = np.ones(len(where), dtype=bool)
        for pattern in condition.all_of:
            ok &= pc.fill_null(pc.match_substring_regex(subset, pattern), False).to_numpy(zero_copy_only=False)
        held[where[ok]] = True
    return held


def suspects(values, entities: Sequence[str]):
    """A boolean mask over a string array: the texts in which some type of `entities` may occur (null
    and empty texts never). Every text is a suspect when a type has no declared necessary condition."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    present = pc.fill_null(pc.greater(pc.utf8_length(values), 0), False)
    if any(e not in NECESSARY for e in entities):
        return present
    conditions = [simple for entity in entities for simple in _simple(NECESSARY[entity])]
    non_ascii = pc.fill_null(pc.invert(pc.string_is_ascii(values)), False).to_numpy(zero_copy_only=False)
    where = np.flatnonzero(non_ascii)
    # ASCII text is its own normal form; the rest is tested after normalization (and before: both count)
    mask = _held(values, pc.fill_null(pc.count_substring_regex(values, NUMBER), 0), conditions)
    if len(where):
        part = normalize(pc.take(values, pa.array(where)))
        mask[where] |= _held(part, pc.fill_null(pc.count_substring_regex(part, NUMBER), 0), conditions)
    return pc.and_(present, pa.array(mask))


# -- detection ------------------------------------------------------------------------------------------


def scan_config(config: ScrubConfig, entities: Sequence[str]) -> ScrubConfig:
    """`config` narrowed to the scanned types: each tier keeps its threshold for the types it holds (a
    scanned type in no tier gets a tier of its own at the default threshold), detection runs on every
    core (a publish waits for it), and no other type is detected (no NER model unless a NER type is
    scanned)."""
    wanted = set(entities)
    tiers = {
        name: policy.model_copy(update={"entities": [e for e in policy.entities if e in wanted], "action": "replace"})
        for name, policy in config.tiers.items()
        if wanted & set(policy.entities)
    }
    homeless = [e for e in entities if config.tier_of(e) is None]
    if homeless:
        tiers["scanned"] = TierPolicy(entities=homeless)
    return config.model_copy(update={"tiers": tiers, "workers": max(config.workers, os.cpu_count() or 1)})


class _Detect:
    """The scrubber's own detection (`Scrubber.detect`, in worker processes when there are many texts)
    and resolution, for the scanned types."""

    def __init__(self, config: ScrubConfig, entities: Sequence[str]):
        self.config, self.entities = scan_config(config, entities), set(entities)
        self.scrubber = Scrubber(self.config)

    def __call__(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        found = self.scrubber.detect(texts)
        return [
            [
                (f.entity_type, f.score)
                for f in resolve(text, found[text], self.config)
                if f.entity_type in self.entities and not is_harmless_value(f.entity_type, text[f.start : f.end])
            ]
            for text in texts
        ]


@dataclass
class _Pending:
    """Suspect texts gathered over a scan: each distinct text is detected once at the end, and only the
    texts with a finding are traced back to their rows (kept as Arrow arrays until then)."""

    texts: dict[str, None] = field(default_factory=dict)  # distinct suspect texts, first seen first
    chunks: list[tuple[int, str, object, object]] = field(default_factory=list)  # (source, column, rows, texts)

    def add(self, source: int, column: str, rows, texts) -> None:
        import pyarrow.compute as pc

        self.chunks.append((source, column, rows, texts))
        self.texts.update(dict.fromkeys(pc.unique(texts).to_pylist()))

    def places(self, flagged: dict[str, list[tuple[str, float]]]) -> Iterator[tuple[int, str, int, str, float]]:
        """(source, column, row, type, score) for every occurrence of a flagged text."""
        import pyarrow as pa
        import pyarrow.compute as pc

        value_set = pa.array(list(flagged), pa.string())
        for source, column, rows, texts in self.chunks:
            hit = pc.is_in(texts, value_set=value_set)
            for row, text in zip(pc.filter(rows, hit).to_pylist(), pc.filter(texts, hit).to_pylist(), strict=True):
                for entity, score in flagged[text]:
                    yield source, column, row, entity, score


def _string_leaves(array: pa.Array, path: str) -> Iterator[tuple[str, pa.Array, pa.Array]]:
    """(column path, parent row index per value, string values) for every string inside `array`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        yield from _string_leaves(array.cast(kind.value_type), path)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield path, pa.array(np.arange(len(array), dtype=np.int64)), array
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        parents = pc.list_parent_indices(array)
        for sub_path, rows, values in _string_leaves(pc.list_flatten(array), f"{path}[]"):
            yield sub_path, pc.take(parents, rows), values
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            yield from _string_leaves(pc.struct_field(array, [i]), f"{path}.{kind.field(i).name}")


def _top(column: str) -> str:
    """The top-level column of a column path (`messages[].content` -> `messages`)."""
    return column.split(".")[0].split("[")[0]


def _masked(column: str, values):
    """An id column's values with the opaque ids (our record hashes, simulator ids, UUIDs) masked; other
    columns as they are."""
    import pyarrow.compute as pc

    if _top(column) not in ID_COLUMNS:
        return values
    return pc.replace_substring_regex(values, OPAQUE_ID, _MASK)


def _scan_table(table, file: int, offset: int, entities: Sequence[str], pending: _Pending, report: ScanReport) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in table.schema.names:
        column = table.column(name)
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        for path, rows, values in _string_leaves(column, name):
            report.texts += len(values) - values.null_count
            # each distinct value is masked and tested once: a conversation's messages recur in its later rows
            encoded = values.dictionary_encode()
            distinct = _masked(path, encoded.dictionary)
            mask = suspects(distinct, entities)
            if pc.any(mask).as_py():
                codes = pc.filter(pa.array(np.arange(len(distinct), dtype=np.int32)), mask)
                in_rows = pc.is_in(encoded.indices, value_set=codes)
                picked = pc.take(distinct, pc.filter(encoded.indices, in_rows))
                pending.add(file, path, pc.add(pc.filter(rows, in_rows), offset), picked)


@dataclass
class _Source:
    """A Parquet file or an in-memory table: its name in row references, its batches and its row ids."""

    name: str
    batches: Callable[[], Iterable]
    ids: Callable[[], list | None]
    rows: int

    @classmethod
    def file(cls, path: Path) -> _Source:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path)
        column = next((c for c in ROW_ID_COLUMNS if c in meta.schema_arrow.names), None)
        ids = (lambda: pq.read_table(path, columns=[column]).column(column).to_pylist()) if column else (lambda: None)
        return cls(
            path.name, lambda: pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS), ids, meta.metadata.num_rows
        )

    @classmethod
    def table(cls, table, name: str) -> _Source:
        column = next((c for c in ROW_ID_COLUMNS if c in table.schema.names), None)
        ids = (lambda: table.column(column).to_pylist()) if column else (lambda: None)
        return cls(name, lambda: table.to_batches(max_chunksize=_BATCH_ROWS), ids, table.num_rows)


def _resolve(pending: _Pending, detect: _Detect, sources: list[_Source], report: ScanReport) -> None:
    """Detect each distinct suspect text once and turn the findings into leaks with safe row names."""
    texts = list(pending.texts)
    report.suspects += len(texts)
    flagged = {text: hits for text, hits in zip(texts, detect(texts), strict=True) if hits}
    found = list(pending.places(flagged)) if flagged else []  # (source, column, row, type, score)
    if not found:
        return
    dirty = {(source, row) for source, column, row, _, _ in found if _top(column) in ID_COLUMNS}
    ids = {i: sources[i].ids() for i in sorted({f[0] for f in found})}
    seen = set()
    for source, column, row, entity, score in sorted(found, key=lambda f: (f[0], f[2], f[1], f[3])):
        if (source, column, row, entity) in seen:
            continue
        seen.add((source, column, row, entity))
        source_ids = ids[source]
        row_id = source_ids[row] if source_ids is not None else None
        clean_id = row_id is not None and (source, row) not in dirty
        ref = str(row_id) if clean_id else f"{sources[source].name}#{row}"
        report.leaks.append(Leak(ref, column, entity, score, sources[source].name, row))


def _scan_sources(sources: list[_Source], config: ScrubConfig | None, entities: Sequence[str] | None) -> ScanReport:
    config = config or ScrubConfig()
    wanted = list(entities) if entities is not None else gate_entities(config)
    report = ScanReport(entities=wanted)
    pending = _Pending()
    for index, source in enumerate(sources):
        report.files.append(source.name)
        report.rows += source.rows
        offset = 0
        for batch in source.batches():
            _scan_table(batch, index, offset, wanted, pending, report)
            offset += batch.num_rows
    if pending.texts:
        _resolve(pending, _Detect(config, wanted), sources, report)
    return report


# -- the one function -----------------------------------------------------------------------------------


def parquet_files(paths: Iterable[str | Path]) -> list[Path]:
    """The Parquet files named or found under the given paths (a release directory, a table, files)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*.parquet")
                if not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


def scan_paths(
    paths: Iterable[str | Path], config: ScrubConfig | None = None, entities: Sequence[str] | None = None
) -> ScanReport:
    """Scan every string in the Parquet files under `paths`: `flywheel scan-leaks` and the release gate."""
    files = parquet_files(paths)
    report = _scan_sources([_Source.file(p) for p in files], config, entities)
    report.files = [str(p) for p in files]
    return report


def scan_table(
    table, config: ScrubConfig | None = None, entities: Sequence[str] | None = None, name: str = "table"
) -> ScanReport:
    """The same scan over an in-memory Arrow table (rows named `<name>#<row>` where the id is not clean)."""
    return _scan_sources([_Source.table(table, name)], config, entities)


def scan_texts(
    items: Iterable[tuple[str, str]], config: ScrubConfig | None = None, entities: Sequence[str] | None = None
) -> list[Leak]:
    """Leaks in (row id, text) pairs, by the same scan (the ids as a `sample_id` column, scanned too)."""
    import pyarrow as pa

    pairs = [(str(row_id), text) for row_id, text in items]
    table = pa.table({"sample_id": [p[0] for p in pairs], "text": pa.array([p[1] for p in pairs], pa.string())})
    return [leak for leak in scan_table(table, config, entities, "texts").leaks if leak.column == "text"]


def entities(text: str, config: ScrubConfig | None = None) -> list[str]:
    """The types the scan finds in one text (each once, sorted)."""
    return list(dict.fromkeys(leak.entity_type for leak in scan_texts([("text", text)], config)))


def release_gate() -> Callable[[list[Path], dict], ScanReport]:
    """The entry point `lakehouse.releases` loads from `flywheel.leak_scanners`: a scan of a staged
    release's data files, the same call as `flywheel scan-leaks [--recipe]`, with the scrub config the
    publisher passes (`options["scrub"]`: the recipe's scrub section as set) or the default one."""

    def gate(files: list[Path], options: dict | None = None) -> ScanReport:
        section = (options or {}).get("scrub")
        return scan_paths(files, ScrubConfig.model_validate(section) if section is not None else None)

    return gate
