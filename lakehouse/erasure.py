"""Erasure: delete everything of one user from the lake, physically, and record that it happened.

A user is named by their pseudonym (the keyed HMAC that ingest stores as `user_id`); the caller that holds
the key (curation) turns a clear id into it. Their conversation ids are found from the tables with a
`user_id` column, and from there every row derived from those conversations, in every table:

- each package that owns tables contributes an `Eraser` (entry-point group `flywheel.erasers`, so this
  module never imports curation, labeling_app or train): rules for its tables (`TableRule`: which rows
  are the user's, which references to them to replace), work on stores outside the Parquet tables (the
  SQLite label store) and bookkeeping in the same commit (the scrub ledger's file names);
- every registered table no eraser claims gets the generic rule (`user_id`, `*conversation_id`,
  `*sample_id` columns), and a table without such columns that nobody claims or exempts is reported as
  unchecked, so a new table cannot silently escape erasure (tests assert there are none);
- files are content-addressed and immutable, so a file holding any of the user's rows is rewritten
  without them (`Transaction.rewrite_file`) and the old file is deleted: the bytes leave the lake, not
  only the rows from view. Files without the user's rows are not touched, which is what makes an
  erasure cheap next to rewriting the lake. Every table changes in one commit;
- published releases are immutable: each version holding the user's rows is marked superseded
  (`lakehouse.superseded`), and the next build leaves the user out on its own;
- the erasure is recorded in `meta/erasures` (who, when, counts per table, which releases) with a salted
  hash of the pseudonym, never the id or the pseudonym itself (docs/erasure.md says why).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.metadata
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse import superseded, tables
from lakehouse.errors import UserError
from lakehouse.lake import Lake, atomic_write_bytes
from lakehouse.location import ObjectPath
from lakehouse.releases import list_releases
from lakehouse.schemas import UTC_TS
from lakehouse.tables import TableSpec

ERASER_GROUP = "flywheel.erasers"
ERASED_TEXT = "<erased>"
SAMPLE_SUFFIX = r":[0-9]+$"  # sample id = <conversation_id>:<turn>

COUNT = pa.struct([("table", pa.string()), ("rows", pa.int64()), ("redacted", pa.int64())])
ERASURES_SCHEMA = pa.schema(
    [
        pa.field("erasure_id", pa.string(), nullable=False),
        pa.field("requested_by", pa.string(), nullable=False),
        pa.field("requested_at", UTC_TS, nullable=False),
        pa.field("erased_at", UTC_TS, nullable=False),
        pa.field("reason", pa.string()),
        pa.field("request_id", pa.string()),
        pa.field("subject_salt", pa.string(), nullable=False),
        pa.field("subject_hash", pa.string(), nullable=False),
        pa.field("counts", pa.list_(COUNT), nullable=False),
        pa.field("rows_deleted", pa.int64(), nullable=False),
        pa.field("files_rewritten", pa.int64(), nullable=False),
        pa.field("superseded_releases", pa.list_(pa.string()), nullable=False),
        pa.field("models_affected", pa.list_(pa.string()), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
    ]
)
REQUESTS_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("requested_by", pa.string(), nullable=False),
        pa.field("requested_at", UTC_TS, nullable=False),
        pa.field("reason", pa.string()),
        pa.field("pseudonym", pa.string()),  # only while pending; cleared when applied
        pa.field("subject_salt", pa.string(), nullable=False),
        pa.field("subject_hash", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("erasure_id", pa.string()),
        pa.field("applied_at", UTC_TS),
    ]
)
ERASURES = tables.register(
    TableSpec(
        "meta/erasures",
        ERASURES_SCHEMA,
        description="One row per erasure: who, when, rows per table, superseded releases; a salted hash, never the id.",
    )
)
ERASURE_REQUESTS = tables.register(
    TableSpec(
        "meta/erasure_requests",
        REQUESTS_SCHEMA,
        description="Queued erasure requests (`flywheel erase --queue`), applied by the `erase` recipe stage.",
    )
)


class ErasureError(UserError):
    """An erasure cannot be planned or applied; the message says why."""


class UnknownUser(ErasureError):
    """Nothing in the lake belongs to the user and no erasure of them is recorded."""


# -- the subject ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The user being erased. `clear_id` and `nonce` live only in memory: neither is ever written."""

    pseudonym: str
    conversation_ids: frozenset[str]
    clear_id: str | None = None
    is_clear_id: Callable[[str], bool] | None = None  # the lake key's HMAC check, when a key is configured
    nonce: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)

    def owns_user_id(self, value: str | None) -> bool:
        """Whether a user id, pseudonymized or (with the key) in clear, is this user's."""
        if not value:
            return False
        return value == self.pseudonym or value == self.clear_id or bool(self.is_clear_id and self.is_clear_id(value))

    def needles(self) -> list[str]:
        """Strings that identify the user in free text (raw bytes, messages, run records)."""
        return sorted({self.pseudonym, *self.conversation_ids, *([self.clear_id] if self.clear_id else [])})

    def needle_pattern(self) -> re.Pattern[str]:
        """The needles as whole tokens: `u-1` must not match inside `u-12`."""
        words = "|".join(re.escape(n) for n in sorted(self.needles(), key=len, reverse=True))
        return re.compile(rf"(?<![\w-])(?:{words})(?![\w-])")

    def token(self, value: str) -> str:
        """What replaces a reference to an erased row in someone else's row: the same for the same value
        within this erasure (so clusters stay distinct), unlinkable to it afterwards (the nonce is dropped)."""
        return "erased-" + hmac.new(self.nonce, value.encode(), hashlib.sha256).hexdigest()[:16]


def subject_hash(pseudonym: str, salt: str) -> str:
    """The only trace of a user in the erasure log: HMAC(salt, pseudonym) with a random salt per row.
    Whoever holds the pseudonym (the key and the clear id) can check a row; rows cannot be joined with
    each other or with anything else."""
    return hmac.new(bytes.fromhex(salt), pseudonym.encode(), hashlib.sha256).hexdigest()


def salted(pseudonym: str) -> tuple[str, str]:
    salt = secrets.token_hex(16)
    return salt, subject_hash(pseudonym, salt)


def identity_tables() -> list[TableSpec]:
    """The tables that say who a user is: every registered table with a `user_id` column."""
    return [spec for _, spec in sorted(tables.TABLES.items()) if "user_id" in spec.schema.names]


def find_pseudonyms(lake: Lake, candidates: Iterable[str]) -> list[str]:
    """The candidates that occur as a `user_id` in the lake."""
    wanted = pa.array(sorted(set(candidates)), pa.string())
    found: set[str] = set()
    for spec in identity_tables():
        if lake.files(spec):
            ids = lake.read(spec, columns=["user_id"], filter=pc.field("user_id").isin(wanted))["user_id"]
            found.update(pc.unique(ids).to_pylist())
    return sorted(found)


def subject_for(
    lake: Lake, pseudonym: str, *, clear_id: str | None = None, is_clear_id: Callable[[str], bool] | None = None
) -> Subject:
    """The subject with every conversation id the identity tables give for the pseudonym."""
    conversations: set[str] = set()
    for spec in identity_tables():
        if lake.files(spec) and "conversation_id" in spec.schema.names:
            rows = lake.read(spec, columns=["conversation_id"], filter=pc.field("user_id") == pseudonym)
            conversations.update(rows["conversation_id"].to_pylist())
    return Subject(pseudonym, frozenset(conversations), clear_id, is_clear_id)


# -- rules -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRule:
    """How one table gives up a user's rows. `delete` marks the user's rows of a file (a boolean mask);
    `redact`, when set, rewrites the kept rows' references to erased rows and says how many it changed.
    `columns` are all the columns both read (planning reads only those); empty means every column."""

    table: str
    delete: Callable[[pa.Table], pa.Array]
    columns: tuple[str, ...] = ()
    redact: Callable[[pa.Table], tuple[pa.Table, int]] | None = None


def id_columns(schema: pa.Schema) -> list[str]:
    """Columns the generic rule understands: `user_id`, `*conversation_id`, `*sample_id` (strings)."""
    return [
        f.name
        for f in schema
        if pa.types.is_string(f.type)
        and (f.name == "user_id" or f.name.endswith("conversation_id") or f.name.endswith("sample_id"))
    ]


def conversation_of(sample_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """`<conversation_id>:<turn>` -> `<conversation_id>` (other ids pass through unchanged)."""
    return pc.replace_substring_regex(sample_ids, SAMPLE_SUFFIX, "")


def _false(n: int) -> pa.Array:
    return pa.array([False] * n, pa.bool_())


def owned(subject: Subject, column: str, values) -> pa.Array:
    """Whether each value of an id column points at the subject (nulls: no)."""
    conversations = pa.array(sorted(subject.conversation_ids), pa.string())
    if column == "user_id":
        mask = pc.equal(values, subject.pseudonym)
    elif column.endswith("conversation_id"):
        mask = pc.is_in(values, value_set=conversations)
    else:
        mask = pc.is_in(conversation_of(values), value_set=conversations)
    return pc.fill_null(mask, False)


def generic_delete(subject: Subject, columns: Iterable[str]) -> Callable[[pa.Table], pa.Array]:
    """Rows where any of the id columns points at the subject."""
    names = list(columns)

    def delete(table: pa.Table) -> pa.Array:
        mask = _false(table.num_rows)
        for name in names:
            mask = pc.or_(mask, owned(subject, name, table[name]))
        return mask

    return delete


def generic_rule(subject: Subject, spec: TableSpec) -> TableRule | None:
    names = id_columns(spec.schema)
    return TableRule(spec.name, generic_delete(subject, names), tuple(names)) if names else None


def redact_references(subject: Subject, columns: Iterable[str]) -> Callable[[pa.Table], tuple[pa.Table, int]]:
    """Replace, in kept rows, values of these columns that name an erased conversation or sample (a
    cluster's representative, a semantic duplicate's original) by `Subject.token`."""
    names = list(columns)

    def redact(table: pa.Table) -> tuple[pa.Table, int]:
        changed = _false(table.num_rows)
        for name in names:
            values = table[name]
            hit = pc.fill_null(
                pc.or_(owned(subject, "conversation_id", values), owned(subject, "sample_id", values)), False
            )
            if not pc.any(hit).as_py():
                continue
            tokens = [subject.token(v) if h else v for v, h in zip(values.to_pylist(), hit.to_pylist(), strict=True)]
            index = table.schema.get_field_index(name)
            table = table.set_column(index, table.schema.field(name), pa.array(tokens, values.type))
            changed = pc.or_(changed, hit)
        return table, int(pc.sum(changed).as_py() or 0)

    return redact


# -- erasers ----------------------------------------------------------------------------------------------


class Eraser:
    """What a package contributes to an erasure; subclass and override what applies.

    `exempt`: tables of the package that hold nothing of a user, with the reason (shown by `--dry-run`);
    `handles`: tables it keeps consistent itself in `after` (ledgers); `rules`: one `TableRule` per table
    whose rows can be a user's (tables with id columns it does not name get the generic rule);
    `outside`: stores that are not lake tables (counts; deletes only when `apply`); `after`: bookkeeping
    in the erasure's own transaction, given every rewritten file's new paths.
    """

    name = "eraser"
    exempt: dict[str, str] = {}
    handles: tuple[str, ...] = ()

    def rules(self, lake: Lake, subject: Subject) -> list[TableRule]:
        return []

    def outside(self, lake: Lake, subject: Subject, *, apply: bool) -> dict[str, int]:
        return {}

    def after(self, lake: Lake, tx, renames: dict[str, list[str]]) -> None:
        return None


class LakehouseEraser(Eraser):
    """The lake's own share: the erasure tables themselves and the run records (JSON files that may
    quote ids in an error message). The traffic tables get the generic rule."""

    name = "lakehouse"
    handles = (ERASURES.name, ERASURE_REQUESTS.name)

    def outside(self, lake: Lake, subject: Subject, *, apply: bool) -> dict[str, int]:
        pattern, redacted = subject.needle_pattern(), 0
        for path in sorted(lake.runs_dir.glob("*.json")) if lake.runs_dir.exists() else []:
            text = path.read_text()
            if not pattern.search(text):
                continue
            redacted += 1
            if apply:
                record = _redact_json(json.loads(text), pattern)
                atomic_write_bytes(path, json.dumps(record, indent=2, default=str).encode())
        return {"run records redacted": redacted} if redacted else {}


def _redact_json(value, pattern: re.Pattern[str]):
    if isinstance(value, str):
        return pattern.sub(ERASED_TEXT, value)
    if isinstance(value, list):
        return [_redact_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {pattern.sub(ERASED_TEXT, k): _redact_json(v, pattern) for k, v in value.items()}
    return value


def erasers() -> list[Eraser]:
    """The lake's own eraser and every package's (entry-point group `flywheel.erasers`, each naming a
    zero-argument factory), sorted by name so every run applies them in the same order."""
    found: list[Eraser] = [LakehouseEraser()]
    for entry in sorted(importlib.metadata.entry_points(group=ERASER_GROUP), key=lambda e: e.name):
        found.append(entry.load()())
    return found


# -- planning ---------------------------------------------------------------------------------------------


@dataclass
class FilePlan:
    rule: TableRule
    path: Path | ObjectPath
    deleted: int
    redacted: int


@dataclass
class Plan:
    """What an erasure deletes, before anything is deleted: `flywheel erase --dry-run` prints it."""

    subject: Subject
    erasers: list[Eraser]
    files: list[FilePlan]
    outside: dict[str, int]
    releases: dict[str, int]  # release ref -> the subject's rows in it
    unchecked: list[str]  # tables with files that no rule covers and no eraser exempts
    exempt: dict[str, str]
    erasure_id: str = field(default_factory=lambda: new_erasure_id())

    def counts(self) -> dict[str, tuple[int, int]]:
        """Table -> (rows deleted, rows whose references were redacted)."""
        out: dict[str, tuple[int, int]] = {}
        for item in self.files:
            deleted, redacted = out.get(item.rule.table, (0, 0))
            out[item.rule.table] = (deleted + item.deleted, redacted + item.redacted)
        return dict(sorted(out.items()))

    @property
    def rows(self) -> int:
        """Rows deleted from lake tables."""
        return sum(item.deleted for item in self.files)

    @property
    def empty(self) -> bool:
        return not self.files and not any(self.outside.values()) and not self.releases

    def lines(self, verb: str = "would delete") -> list[str]:
        out = [
            f"{verb} {d:,} rows from {t}" + (f" (and redact {r:,} references)" if r else "")
            for t, (d, r) in self.counts().items()
        ]
        out += [f"{verb} {n:,} {what}" for what, n in self.outside.items() if n]
        out += [
            f"{'would mark' if verb.startswith('would') else 'marked'} superseded: {ref} ({n:,} rows)"
            for ref, n in sorted(self.releases.items())
        ]
        out += [f"warning: table {t} has files but no eraser covers it" for t in self.unchecked]
        return out or ["nothing of this user is in the lake"]


def new_erasure_id() -> str:
    return f"er-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def _collect_rules(
    lake: Lake, subject: Subject, found: list[Eraser]
) -> tuple[list[TableRule], set[str], dict[str, str]]:
    rules: dict[str, TableRule] = {}
    handled: set[str] = set()
    exempt: dict = {}
    for eraser in found:
        handled.update(eraser.handles)
        exempt.update(eraser.exempt)
        for rule in eraser.rules(lake, subject):
            if rule.table in rules:
                raise ErasureError(f"two erasers claim table {rule.table} ({eraser.name} and another)")
            rules[rule.table] = rule
    return list(rules.values()), handled, exempt


def _generic_rules(lake: Lake, subject: Subject, claimed: set[str]) -> tuple[list[TableRule], list[str]]:
    """The generic rule for every registered table nobody claimed; tables it cannot read are unchecked."""
    rules, unchecked = [], []
    for name, spec in sorted(tables.TABLES.items()):
        if name in claimed or not lake.files(spec):
            continue
        rule = generic_rule(subject, spec)
        if rule is None:
            unchecked.append(name)
        else:
            rules.append(rule)
    return rules, unchecked


def table_rules(lake: Lake, subject: Subject, found: list[Eraser]) -> tuple[list[TableRule], list[str], dict[str, str]]:
    """Every table's rule (the erasers' own, the generic one for the rest), the unchecked tables and the
    exempt ones with their reasons."""
    rules, handled, exempt = _collect_rules(lake, subject, found)
    claimed = {r.table for r in rules} | handled | set(exempt)
    generic, unchecked = _generic_rules(lake, subject, claimed)
    return rules + generic, unchecked, exempt


def _plan_file(lake: Lake, rule: TableRule, path: Path | ObjectPath) -> FilePlan | None:
    table = lake.read_file(path, columns=list(rule.columns) or None)
    mask = rule.delete(table)
    deleted = int(pc.sum(mask).as_py() or 0)
    redacted = rule.redact(table.filter(pc.invert(mask)))[1] if rule.redact else 0
    return FilePlan(rule, path, deleted, redacted) if deleted or redacted else None


def plan(lake: Lake, subject: Subject, found: list[Eraser] | None = None) -> Plan:
    """Every file to rewrite, every count, every release to supersede; reads only, writes nothing."""
    found = erasers() if found is None else found
    rules, unchecked, exempt = table_rules(lake, subject, found)
    files = [
        fp for rule in rules for path in lake.files(rule.table) if (fp := _plan_file(lake, rule, path)) is not None
    ]
    outside: dict[str, int] = {}
    for eraser in found:
        outside.update(eraser.outside(lake, subject, apply=False))
    releases = releases_with(lake, subject, skip=previous_erasure_ids(lake, [subject.pseudonym]))
    return Plan(subject, found, files, outside, releases, unchecked, exempt)


def releases_with(lake: Lake, subject: Subject, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, int]:
    """Release ref -> how many of its rows come from the subject's conversations (by the provenance
    columns every release row carries), leaving out versions a previous erasure of them already marked."""
    import pyarrow.parquet as pq

    found = {}
    for release in list_releases(lake):
        if superseded.erasure_ids(release.path) & skip:
            continue
        rows = 0
        for path in release.data_files():
            columns = id_columns(pq.read_schema(path))
            if columns:
                table = pq.ParquetFile(path).read(columns=columns)
                rows += int(pc.sum(generic_delete(subject, columns)(table)).as_py() or 0)
        if rows:
            found[release.ref] = rows
    return found


# -- applying ---------------------------------------------------------------------------------------------


@dataclass
class Erasure:
    """The outcome: the log row as written (no id in it) and the plan that was carried out."""

    record: dict
    plan: Plan


def _rewrite(lake: Lake, tx, item: FilePlan) -> list[str]:
    table = lake.read_file(item.path)
    kept = table.filter(pc.invert(item.rule.delete(table)))
    if item.rule.redact:
        kept, _ = item.rule.redact(kept)
    return tx.rewrite_file(item.rule.table, item.path, kept)


def _models_trained_on(lake: Lake, refs: list[str]) -> list[str]:
    """Run ids of checkpoints trained on a release this erasure supersedes (they are not retrained
    automatically; the record names them)."""
    spec = tables.TABLES.get("meta/models")
    if not refs or spec is None or not lake.files(spec):
        return []
    rows = lake.read(spec, columns=["run_id"], filter=pc.field("release").isin(pa.array(refs, pa.string())))
    return sorted(rows["run_id"].to_pylist())


def apply(
    lake: Lake,
    the_plan: Plan,
    *,
    requested_by: str,
    reason: str | None = None,
    request_id: str | None = None,
    requested_at: dt.datetime | None = None,
) -> Erasure:
    """Carry out a plan: stores outside the lake first (idempotent), releases marked superseded, then every
    table rewrite, the bookkeeping, the log row and the requests' status in one lake commit. An
    interruption before the commit leaves the user in the lake, so running the erasure again finishes it."""
    start, now = time.perf_counter(), dt.datetime.now(dt.UTC)
    subject, erasure_id = the_plan.subject, the_plan.erasure_id
    outside: dict[str, int] = {}
    for eraser in the_plan.erasers:
        outside.update(eraser.outside(lake, subject, apply=True))
    the_plan.outside = outside  # what was deleted, not what was counted
    for ref, rows in sorted(the_plan.releases.items()):
        superseded.mark(lake, ref, erasure_id=erasure_id, reason=reason or "erasure", rows=rows, at=now)
    with lake.transaction() as tx:
        renames = {str(item.path.relative_to(lake.root)): _rewrite(lake, tx, item) for item in the_plan.files}
        for eraser in the_plan.erasers:
            eraser.after(lake, tx, renames)
        record = _record(
            lake,
            the_plan,
            outside,
            requested_by=requested_by,
            reason=reason,
            request_id=request_id,
            requested_at=requested_at or now,
            erased_at=now,
            seconds=time.perf_counter() - start,
        )
        tx.write(ERASURES, pa.Table.from_pylist([record], schema=ERASURES_SCHEMA))
        _close_requests(lake, tx, subject.pseudonym, erasure_id, now)
    return Erasure(record, the_plan)


def _record(lake: Lake, the_plan: Plan, outside: dict[str, int], **fields) -> dict:
    salt, digest = salted(the_plan.subject.pseudonym)
    counts = [{"table": t, "rows": d, "redacted": r} for t, (d, r) in the_plan.counts().items()]
    counts += [{"table": what, "rows": n, "redacted": 0} for what, n in sorted(outside.items())]
    refs = sorted(the_plan.releases)
    return {
        "erasure_id": the_plan.erasure_id,
        **fields,
        "subject_salt": salt,
        "subject_hash": digest,
        "counts": counts,
        "rows_deleted": the_plan.rows,
        "files_rewritten": len(the_plan.files),
        "superseded_releases": refs,
        "models_affected": _models_trained_on(lake, refs),
    }


# -- the log and the request queue ---------------------------------------------------------------------------


def records(lake: Lake) -> list[dict]:
    return lake.read(ERASURES).to_pylist() if lake.files(ERASURES) else []


def previous_erasures(lake: Lake, pseudonyms: Iterable[str]) -> list[dict]:
    """Log rows whose salted hash matches one of the pseudonyms (erasing twice is then a no-op)."""
    names = list(pseudonyms)
    return [r for r in records(lake) if any(subject_hash(p, r["subject_salt"]) == r["subject_hash"] for p in names)]


def previous_erasure_ids(lake: Lake, pseudonyms: Iterable[str]) -> set[str]:
    return {r["erasure_id"] for r in previous_erasures(lake, pseudonyms)}


def requests(lake: Lake) -> list[dict]:
    return lake.read(ERASURE_REQUESTS).to_pylist() if lake.files(ERASURE_REQUESTS) else []


def pending_requests(lake: Lake) -> list[dict]:
    return [r for r in requests(lake) if r["status"] == "pending"]


def queue_request(lake: Lake, pseudonym: str, *, requested_by: str, reason: str | None = None) -> str:
    """Queue an erasure for the `erase` stage; the pseudonym is kept only until the request is applied."""
    now = dt.datetime.now(dt.UTC)
    request_id = f"rq-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    salt, digest = salted(pseudonym)
    row = {
        "request_id": request_id,
        "requested_by": requested_by,
        "requested_at": now,
        "reason": reason,
        "pseudonym": pseudonym,
        "subject_salt": salt,
        "subject_hash": digest,
        "status": "pending",
        "erasure_id": None,
        "applied_at": None,
    }
    with lake.transaction() as tx:
        # purge: a pseudonym must not outlive its request in an older version's file
        tx.replace(ERASURE_REQUESTS, pa.Table.from_pylist(requests(lake) + [row], schema=REQUESTS_SCHEMA), purge=True)
    return request_id


def _close_requests(lake: Lake, tx, pseudonym: str, erasure_id: str, now: dt.datetime) -> None:
    """Mark the subject's pending requests done and drop their pseudonym, in the erasure's commit."""
    rows = requests(lake)
    mine = [r for r in rows if r["status"] == "pending" and r["pseudonym"] == pseudonym]
    for row in mine:
        row.update(pseudonym=None, status="done", erasure_id=erasure_id, applied_at=now)
    if mine:
        tx.replace(ERASURE_REQUESTS, pa.Table.from_pylist(rows, schema=REQUESTS_SCHEMA), purge=True)


def requested_by_default() -> str:
    """Who asked, for the log: `--by`, else the login name of the operator."""
    return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
