"""Curation's share of an erasure (lakehouse/erasure.py; docs/erasure.md): who the user is, and the
tables curation's stages write.

Who: a user id is given in clear (pseudonymized here with the lake's HMAC key, the one ingest used) or as
the pseudonym the lake stores; both are tried. The key also lets the quarantine rule recognize the user's
clear id inside raw bytes ingest rejected before pseudonymizing them.

What, beyond the generic id-column rule:
- `quarantine`: rows whose raw bytes or detail name the user (clear id, pseudonym, a conversation id as a
  whole token) or whose `user_id` field, parsed out of the raw bytes, is theirs under the key;
- `attributes/embeddings` (keyed by text hash) and `attributes/style_features` (keyed by a hash of context
  and reply): vectors and features of texts only this user wrote or was answered with; a text another
  conversation shares stays (deleting it would cost the next run a recomputation, nothing else);
- dedup and topic tables: the user's rows, and other rows' references to them (a cluster's representative,
  a semantic duplicate's original) replaced by tokens until the next run recomputes those stages;
- the scrub ledger (`meta/processed_files`): a rewritten bronze file keeps its silver output, so the next
  scrub run does not redo it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from curation.ingest import pseudonymize
from lakehouse import erasure, tables
from lakehouse.erasure import Eraser, Subject, TableRule, generic_delete, redact_references
from lakehouse.lake import Lake

TEXT_TABLES = (tables.BRONZE_CONVERSATIONS, tables.SILVER_CONVERSATIONS)
# Ledger stages that map each input file to its own outputs (`ledger.record`); the others record whole
# tables (`ledger.record_table`) and recompute after an erasure.
FILE_STAGES = ("scrub", "safety")
USER_ID_FIELD = re.compile(r'"user_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


# -- who ------------------------------------------------------------------------------------------------


def _pseudonymizer():
    try:
        key = pseudonymize.load_key()
    except pseudonymize.MissingKey as exc:
        raise erasure.ErasureError(str(exc)) from None
    return pseudonymize.Pseudonymizer(key) if key is not None else None


@dataclass
class Resolved:
    subject: Subject
    candidates: list[str]  # the pseudonyms the given id may stand for
    keyed: bool  # a pseudonymization key is configured


def resolve(lake: Lake, user: str) -> Resolved:
    """The subject for a user id in clear or a pseudonym (whichever the lake holds)."""
    user = user.strip()
    if not user:
        raise erasure.ErasureError("--user is empty")
    pseudonymizer = _pseudonymizer()
    candidates = [user] + ([pseudonymizer.digest(user)] if pseudonymizer else [])
    found = erasure.find_pseudonyms(lake, candidates)
    if len(found) > 1:
        raise erasure.ErasureError(
            "the id matches one user as a pseudonym and another as a clear id; "
            "erase by the pseudonym itself after checking which one is meant"
        )
    pseudonym = found[0] if found else candidates[-1]
    check = _clear_id_check(pseudonymizer, pseudonym)
    subject = erasure.subject_for(lake, pseudonym, clear_id=user if pseudonym != user else None, is_clear_id=check)
    return Resolved(subject, candidates, pseudonymizer is not None)


def _clear_id_check(pseudonymizer, pseudonym: str) -> Callable[[str], bool] | None:
    if pseudonymizer is None:
        return None
    return lambda value: pseudonymizer.digest(value) == pseudonym


def subject_from_pseudonym(lake: Lake, pseudonym: str) -> Subject:
    """A queued request's subject (requests hold the pseudonym only)."""
    return erasure.subject_for(lake, pseudonym, is_clear_id=_clear_id_check(_pseudonymizer(), pseudonym))


def prepare(lake: Lake, user: str) -> tuple[erasure.Plan, list[dict]]:
    """The plan for erasing `user`, and earlier erasures of them. Raises UnknownUser when the lake holds
    nothing of them and no erasure of them is recorded."""
    resolved = resolve(lake, user)
    the_plan = erasure.plan(lake, resolved.subject)
    previous = erasure.previous_erasures(lake, resolved.candidates)
    if the_plan.empty and not previous:
        hint = (
            ""
            if resolved.keyed
            else (
                " (no pseudonymization key is configured, so it was tried as a pseudonym "
                "only: set FLYWHEEL_HMAC_KEY or FLYWHEEL_HMAC_KEY_FILE to the key ingest used)"
            )
        )
        raise erasure.UnknownUser(f"no user {user!r} in the lake at {lake.root}{hint}")
    return the_plan, previous


def apply_pending(lake: Lake, *, dry_run: bool = False) -> list[tuple[dict, erasure.Plan, erasure.Erasure | None]]:
    """Plan (and unless `dry_run`, apply) every pending request, oldest first: (request, plan, erasure)."""
    done = []
    seen: set[str] = set()
    for request in sorted(erasure.pending_requests(lake), key=lambda r: r["requested_at"]):
        if request["pseudonym"] in seen:
            continue  # a later request for a user this run already erased
        seen.add(request["pseudonym"])
        the_plan = erasure.plan(lake, subject_from_pseudonym(lake, request["pseudonym"]))
        result = (
            None
            if dry_run
            else erasure.apply(
                lake,
                the_plan,
                requested_by=request["requested_by"],
                reason=request["reason"],
                request_id=request["request_id"],
                requested_at=request["requested_at"],
            )
        )
        done.append((request, the_plan, result))
    return done


# -- what ---------------------------------------------------------------------------------------------------


def _messages(lake: Lake, subject: Subject, spec) -> list[list[dict]]:
    conversations = pa.array(sorted(subject.conversation_ids), pa.string())
    if not lake.files(spec) or not len(conversations):
        return []
    rows = lake.read(spec, columns=["messages"], filter=pc.field("conversation_id").isin(conversations))
    return [
        [{"role": m["role"], "content": m["content"]} for m in messages or []]
        for messages in rows["messages"].to_pylist()
    ]


@dataclass
class Texts:
    """The subject's texts, raw and scrubbed: user messages, the replies they got, and (context, reply)
    pairs as the release builders key style features (last user message before the reply)."""

    users: set[str]
    replies: set[str]
    pairs: set[tuple[str, str]]


def subject_texts(lake: Lake, subject: Subject) -> Texts:
    texts = Texts(set(), set(), set())
    for spec in TEXT_TABLES:
        for messages in _messages(lake, subject, spec):
            last_user = ""
            for m in messages:
                if m["content"] is None:
                    continue
                if m["role"] == "user":
                    texts.users.add(m["content"])
                    last_user = m["content"]
                elif m["role"] == "assistant":
                    texts.replies.add(m["content"])
                    texts.pairs.add((last_user, m["content"]))
    _add_label_texts(lake, subject, texts)
    return texts


def _add_label_texts(lake: Lake, subject: Subject, texts: Texts) -> None:
    """Consensus rows on the user's samples (rewrites included) become replies in their prompt's context."""
    spec = tables.LABEL_CONSENSUS
    if not lake.files(spec):
        return
    rows = lake.read(spec)
    mine = rows.filter(generic_delete(subject, erasure.id_columns(spec.schema))(rows)).to_pylist()
    for row in mine:
        users = [m["content"] for m in row["prompt"] or [] if m["role"] == "user" and m["content"] is not None]
        context = users[-1] if users else ""
        for reply in (row["chosen"], row["rejected"], row["response"]):
            if reply is not None:
                texts.replies.add(reply)
                texts.pairs.add((context, reply))


def shared_texts(lake: Lake, subject: Subject, candidates: set[str]) -> set[str]:
    """Which of the subject's texts also occur in someone else's conversation (either layer)."""
    import duckdb

    files = [str(p) for spec in TEXT_TABLES for p in lake.files(spec)]
    if not candidates or not files:
        return set()
    con = duckdb.connect()
    try:
        mine = pa.table({"text": sorted(candidates)})  # noqa: F841 - read by DuckDB's replacement scan
        listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        rows = con.execute(
            f"""
            SELECT DISTINCT m.content FROM (
                SELECT unnest(messages) AS m FROM read_parquet({listing}, union_by_name = true)
                WHERE user_id IS DISTINCT FROM $pseudonym)
            WHERE m.content IN (SELECT text FROM mine)""",
            {"pseudonym": subject.pseudonym},
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def md5(text: str) -> str:
    """The platform text hash (curation/texthash.py; DuckDB's md5)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def style_key(context: str, reply: str) -> str:
    """`style_features.key_sql`: md5(coalesce(context, '') || chr(0) || reply)."""
    return md5(context + "\x00" + reply)


def _isin(column: str, values: set[str]) -> Callable[[pa.Table], pa.Array]:
    value_set = pa.array(sorted(values), pa.string())
    return lambda table: pc.fill_null(pc.is_in(table[column], value_set=value_set), False)


def _quarantine_rule(subject: Subject) -> TableRule:
    pattern = subject.needle_pattern()

    def named(raw: bytes | None, detail: str | None) -> bool:
        text = (raw or b"").decode("utf-8", "replace") + "\n" + (detail or "")
        if pattern.search(text):
            return True
        return any(subject.owns_user_id(_unescape(m.group(1))) for m in USER_ID_FIELD.finditer(text))

    def delete(table: pa.Table) -> pa.Array:
        return pa.array(
            [named(r, d) for r, d in zip(table["raw"].to_pylist(), table["detail"].to_pylist(), strict=True)],
            pa.bool_(),
        )

    return TableRule(tables.QUARANTINE.name, delete, ("raw", "detail"))


def _unescape(value: str) -> str:
    try:
        return json.loads(f'"{value}"')
    except ValueError:
        return value


class CurationEraser(Eraser):
    name = "curation"
    handles = (tables.PROCESSED_FILES.name,)
    exempt = {
        tables.TOPIC_LABELS.name: "one row per topic (label terms, counts over many users); the next cluster run recomputes it",
        tables.SAMPLE_REPORT.name: "shares per stratum value (aggregates); the next sample run recomputes it",
        tables.INGESTED_FILES.name: "input file hashes, paths and counts; keeps re-ingesting an old file a no-op",
        tables.AB_EXPERIMENTS.name: "per-arm user counts of an A/B report (aggregates over many users, no ids)",
        tables.AB_RESULTS.name: "per-metric lifts and intervals of an A/B report (aggregates, no ids)",
        tables.MODEL_GENERATIONS.name: "generation records: links, A/B lifts, artifact rates (aggregates, no ids)",
    }

    def rules(self, lake: Lake, subject: Subject) -> list[TableRule]:
        texts = subject_texts(lake, subject)
        shared = shared_texts(lake, subject, texts.users | texts.replies)
        vectors = {md5(t) for t in texts.users - shared}
        features = {style_key(c, r) for c, r in texts.pairs if (c and c not in shared) or r not in shared}
        ids = lambda spec: erasure.id_columns(spec.schema)  # noqa: E731
        return [
            _quarantine_rule(subject),
            TableRule(tables.EMBEDDINGS.name, _isin("text_hash", vectors), ("text_hash",)),
            TableRule(tables.TOPIC_EXAMPLES.name, _isin("text", texts.users - shared), ("text",)),
            TableRule(tables.STYLE_FEATURES.name, _isin("text_key", features), ("text_key",)),
            TableRule(
                tables.DEDUP_CONVERSATIONS.name,
                generic_delete(subject, ids(tables.DEDUP_CONVERSATIONS)),
                ("conversation_id", "cluster"),
                redact_references(subject, ["cluster"]),
            ),
            TableRule(
                tables.DEDUP_PROMPTS.name,
                generic_delete(subject, ids(tables.DEDUP_PROMPTS)),
                ("sample_id", "conversation_id", "prompt_id", "cluster"),
                redact_references(subject, ["cluster", "prompt_id"]),
            ),
            TableRule(
                tables.TOPICS.name,
                generic_delete(subject, ids(tables.TOPICS)),
                ("sample_id", "semantic_duplicate_of"),
                redact_references(subject, ["semantic_duplicate_of"]),
            ),
        ]

    def after(self, lake: Lake, tx, renames: dict[str, list[str]]) -> None:
        """Point the ledger at the rewritten files. A file-to-file stage's row follows its input (so a
        rewritten bronze file is not scrubbed again); whole-table stages keep their old input names, so
        their next run recomputes over the changed text (their clusters may have lost a representative)."""
        if not renames or not lake.files(tables.PROCESSED_FILES):
            return
        rows = lake.read(tables.PROCESSED_FILES).to_pylist()
        for row in rows:
            moved = renames.get(row["input_file"])
            if row["stage"] in FILE_STAGES and moved is not None and len(moved) == 1:
                row["input_file"] = moved[0]
            row["output_files"] = [new for old in row["output_files"] for new in renames.get(old, [old])]
        rows.sort(key=lambda r: (r["stage"], r["input_file"]))
        tx.replace(tables.PROCESSED_FILES, pa.Table.from_pylist(rows, schema=tables.PROCESSED_FILES.schema))


def eraser() -> CurationEraser:
    """The `flywheel.erasers` entry point."""
    return CurationEraser()
