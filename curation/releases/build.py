"""Building one release: filter -> rows -> safety (exclude_unsafe) -> pair filters -> leakage -> mixture ->
split -> artifact report -> write -> leak gate (ReleaseWriter.finalize) -> publish.

The heavy work is DuckDB SQL over the catalog (a read-only connection) on a light candidate table (keys,
provenance and the few texts a step needs); prompts are rebuilt from the `samples` view once, when the
rows are streamed into the release files, which the writer's leak gate then scans (the same scan as
`flywheel scan-leaks`). Nothing is visible under `releases/` until every check passed: a refused release
leaves no version behind.

Same lake and same recipe entry give the same rows in the same order (by conversation, turn and sample
id; seeded hash orders for sampling), hence the same content hash; a build whose content hash equals the
latest version's publishes nothing and reports that version as unchanged.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curation.releases import (
    artifacts_report,
    eval_overlap,
    from_release,
    mixture,
    preference,
    prompts,
    safety,
    sft,
    signals,
    splits,
    style_features,
    unpaired,
)
from curation.releases.config import ReleaseEntry
from curation.releases.inputs import OPTIONAL_COLUMNS, Inputs, open_inputs
from curation.releases.job import BuildError, Job
from curation.releases.rows import (
    PAYLOAD_COLUMNS,
    PAYLOAD_SQL,
    SCHEMAS,
    count_and_remove_drops,
    create_candidates,
    mark,
    quote,
    scalar,
)
from lakehouse.lake import Lake
from lakehouse.releases import SPLITS, LeakScanRefused, Release, ReleaseWriter, resolve, versions

# The key's source kind fixes the source class each inserter takes, which a dict type cannot say: hence Any.
INSERTERS: dict[tuple[str, str], Callable[[Job, Any, int], None]] = {
    ("sft", "samples"): sft.insert_samples,
    ("sft", "labels"): sft.insert_labels,
    ("prompt", "samples"): prompts.insert_samples,
    ("preference", "regenerations"): preference.insert_regenerations,
    ("preference", "preference_pairs"): preference.insert_pairs,
    ("preference", "labels"): preference.insert_labels,
    ("unpaired", "signals"): unpaired.insert_signals,
    ("unpaired", "labels"): unpaired.insert_labels,
    ("signals", "samples"): signals.insert_samples,
}
STRATA = ("origin", "source", "model_version", "character_id", "topic_cluster", "split")
STRATA_TOP = 50
BATCH_ROWS = 20_000
OUTPUT_CHUNK_ROWS = 400_000


@dataclass
class Built:
    """The outcome of one build: `status` is published, unchanged (same content as the latest version) or
    reused (a frozen evaluation set that already exists)."""

    name: str
    status: str
    release: Release | None  # None when rebuilt without publishing (`build(publish=False)`)
    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    @property
    def published(self) -> Release:
        """The release version this build published or reused; a rebuild that published nothing has none."""
        if self.release is None:
            raise BuildError(f"release {self.name} was {self.status} without publishing: it has no version")
        return self.release


@contextmanager
def timed(job: Job, step: str):
    start = time.perf_counter()
    yield
    job.timings[step] = round(job.timings.get(step, 0.0) + time.perf_counter() - start, 3)


def _insert_sources(job: Job) -> dict[str, int]:
    candidates = {}
    for rank, source in enumerate(job.entry.source_list):
        before = scalar(job.con, "SELECT count(*) FROM cand")
        if source.kind == "release":
            from_release.insert_release(job, source, rank)
        else:
            INSERTERS[(job.entry.type, source.kind)](job, source, rank)
        candidates[source.name] = scalar(job.con, "SELECT count(*) FROM cand") - before
    return candidates


def _replies_sql(trl_type: str) -> str:
    if trl_type == "preference":
        return (
            "SELECT last_user AS context, chosen AS reply FROM cand WHERE drop_reason IS NULL UNION ALL "
            "SELECT last_user AS context, rejected AS reply FROM cand WHERE drop_reason IS NULL"
        )
    return "SELECT last_user AS context, response AS reply FROM cand WHERE drop_reason IS NULL"


def _side_sql(trl_type: str) -> dict[str, str]:
    key = style_features.key_sql
    if trl_type == "preference":
        return {
            side: f"SELECT s.* FROM cand c JOIN style s ON s.text_key = {key('c.last_user', 'c.' + side)}"
            for side in ("chosen", "rejected")
        }
    join = f"SELECT s.* FROM cand c JOIN style s ON s.text_key = {key('c.last_user', 'c.response')}"
    return {"desirable": f"{join} WHERE c.label", "undesirable": f"{join} WHERE NOT c.label"}


def _pair_filters(job: Job) -> dict:
    config, con, key = job.entry.pair_filters, job.con, style_features.key_sql
    identical = mark(con, "identical_pair", "trim(chosen) = trim(rejected)")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE pair_style AS
        SELECT c.rowid AS rid, fc.length_tokens AS c_len, fr.length_tokens AS r_len,
               fc.emoji_count AS c_emoji, fr.emoji_count AS r_emoji
        FROM cand c JOIN style fc ON fc.text_key = {key("c.last_user", "c.chosen")}
                    JOIN style fr ON fr.text_key = {key("c.last_user", "c.rejected")}
        WHERE c.drop_reason IS NULL""")
    ratio = emoji = 0
    if config.max_length_ratio is not None:
        ratio = mark(
            con,
            "length_ratio",
            f"""rowid IN (SELECT rid FROM pair_style WHERE
            greatest(c_len, r_len) / greatest(least(c_len, r_len), 1) > {config.max_length_ratio})""",
        )
    if config.max_emoji_diff is not None:
        emoji = mark(
            con,
            "emoji_diff",
            f"rowid IN (SELECT rid FROM pair_style WHERE abs(c_emoji - r_emoji) > {config.max_emoji_diff})",
        )
    return {
        "max_length_ratio": config.max_length_ratio,
        "max_emoji_diff": config.max_emoji_diff,
        "identical_pair": identical,
        "length_ratio": ratio,
        "emoji_diff": emoji,
    }


def _strata(con, trl_type: str) -> dict:
    """Row counts by the values of each stratum column (top values; the rest as `other`)."""
    out = {}
    total = scalar(con, "SELECT count(*) FROM cand")
    for column in (*STRATA, "label") if trl_type == "unpaired" else STRATA:
        rows = con.execute(
            f"SELECT {column}::VARCHAR AS v, count(*) AS n FROM cand GROUP BY 1 "
            f"ORDER BY n DESC, v NULLS LAST LIMIT {STRATA_TOP + 1}"
        ).fetchall()
        shown = rows[:STRATA_TOP]
        counts = {("null" if v is None else v): n for v, n in shown}
        rest = total - sum(counts.values())
        if rest:
            counts["other"] = rest
        out[column] = counts
    return out


def _label_agreement(con) -> dict | None:
    rows = con.execute("""SELECT origin, count(*), avg(agreement), min(agreement), avg(n_annotators)
                          FROM cand WHERE agreement IS NOT NULL GROUP BY 1 ORDER BY 1""").fetchall()
    if not rows:
        return None
    return {
        origin: {
            "items": n,
            "mean_agreement": round(mean, 4),
            "min_agreement": round(low, 4),
            "mean_annotators": round(annotators, 3),
        }
        for origin, n, mean, low, annotators in rows
    }


def _output_chunks(con) -> list[str]:
    """Conditions splitting the rows into ranges of conversation ids, in order (then rows without one).

    Each range is rebuilt and sorted on its own: the filter reaches the conversations scan, so the
    prompts of a range are built once and the sort stays in memory whatever the release's size.
    """
    rows = scalar(con, "SELECT count(*) FROM cand WHERE conversation_id IS NOT NULL")
    k = max(1, -(-rows // OUTPUT_CHUNK_ROWS))
    bounds = []
    if k > 1:
        quantiles = [round(i / k, 6) for i in range(1, k)]
        bounds = sorted(set(scalar(con, f"SELECT quantile_disc(conversation_id, {quantiles}) FROM cand")))
    conditions, low = [], None
    for bound in [*bounds, None]:
        parts = [
            f"conversation_id >= {quote(low)}" if low is not None else "conversation_id IS NOT NULL",
            f"conversation_id < {quote(bound)}" if bound is not None else None,
        ]
        conditions.append(" AND ".join(p for p in parts if p))
        low = bound
    return [*conditions, "conversation_id IS NULL"]


def _output_sql(job: Job, condition: str) -> str:
    """The release rows whose conversation id satisfies `condition`, in release order."""
    trl_type = job.entry.type
    schema = SCHEMAS[trl_type]
    payload = ", ".join(PAYLOAD_SQL[trl_type])
    rest = [f.name for f in schema if f.name not in PAYLOAD_COLUMNS]
    has_refs = scalar(job.con, f"SELECT count(prompt_ref) > 0 FROM cand WHERE {condition}")
    join = (
        (
            f"LEFT JOIN (SELECT sample_id AS ref_id, prompt AS ref_prompt, response AS ref_response "
            f"FROM release_samples WHERE {condition}) r ON r.ref_id = c.prompt_ref"
        )
        if has_refs
        else ""
    )
    ref_prompt, ref_response = ("r.ref_prompt", "r.ref_response") if has_refs else ("NULL", "NULL")
    from_cand = {
        "preference": ["chosen", "rejected"],
        "unpaired": ["label"],
        "signals": ["continued", "thumb", "love", "regenerated", "reported"],
    }.get(trl_type, [])
    carried = ", ".join(f"c.{name}" for name in ("split", *rest, *from_cand))
    return f"""
        SELECT split, {payload}, {", ".join(rest)}
        FROM (SELECT {carried}, coalesce(c.prompt_inline, {ref_prompt}) AS prompt,
                     coalesce(c.response, {ref_response}) AS response
              FROM (SELECT * FROM cand WHERE {condition}) c {join})
        ORDER BY conversation_id, turn, sample_id"""


def _write(job: Job, writer: ReleaseWriter) -> None:
    """Stream the rows into the release's split files."""
    schema = SCHEMAS[job.entry.type]
    batches = (
        batch
        for condition in _output_chunks(job.con)
        for batch in job.con.sql(_output_sql(job, condition)).to_arrow_reader(BATCH_ROWS)
    )
    for batch in batches:
        table = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
        split_column = batch.column("split")
        for split in SPLITS:
            part = table.filter(pc.equal(split_column, split))
            if part.num_rows:
                writer.append(split, part)


def _check_text_layer(job: Job) -> None:
    if job.inputs.text_layer != "silver" and not job.entry.allow_unscrubbed:
        raise BuildError(
            f"release {job.entry.name} refused: the conversations are read from the "
            f"{job.inputs.text_layer} layer (not scrubbed); run the scrub stage first, or set "
            "`allow_unscrubbed: true` on the release (for tests and local experiments)"
        )


def _latest(lake: Lake, name: str) -> Release | None:
    return resolve(lake, name) if versions(lake, name) else None


def _prepare(job: Job) -> dict:
    """Candidates through every drop, mixture and split; returns the manifest sections computed so far."""
    entry, con = job.entry, job.con
    with timed(job, "rows"):
        create_candidates(con)
        candidates = _insert_sources(job)
        job.sections["rows_in"] = sum(candidates.values())
        mixture.resolve_overlap(con)
        job.dropped.update(count_and_remove_drops(con))
    with timed(job, "safety"):  # before every later step, so mixture ratios hold after it
        job.sections["safety"] = safety.exclude_unsafe(job)
        job.dropped.update(count_and_remove_drops(con))
    if entry.type in ("preference", "unpaired"):
        with timed(job, "style_features"):
            job.stats["style_features"] = style_features.ensure(con, job.inputs.lake, _replies_sql(entry.type))
        if entry.type == "preference":
            with timed(job, "pair_filters"):
                job.sections["pair_filters"] = _pair_filters(job)
                job.dropped.update(count_and_remove_drops(con))
    with timed(job, "leakage"):
        job.sections["leakage"] = eval_overlap.check(job)
        job.dropped.update(count_and_remove_drops(con))
    with timed(job, "mixture"):
        job.sections["mixture"] = mixture.apply(con, entry, candidates)
        job.dropped.update(count_and_remove_drops(con))
    with timed(job, "split"):
        result = splits.assign(con, entry, job.inputs, job.notes)
        job.sections["split"] = {
            "method": result.method,
            "groups": result.groups,
            "largest_group": result.largest_group,
            "rows": result.rows,
            "validation": entry.split.validation,
            "test": entry.split.test,
            "salt": entry.split.salt,
        }
    if entry.type in ("preference", "unpaired"):
        with timed(job, "artifact_report"):
            job.sections["artifacts"] = artifacts_report.report(
                con, entry.type, _side_sql(entry.type), entry.artifacts.thresholds
            )
    job.sections["strata"] = _strata(con, entry.type)
    job.sections["label_agreement"] = _label_agreement(con)
    return job.sections


def _refuse_empty_or_flagged(job: Job, rows_out: int) -> None:
    if rows_out == 0:
        drops = ", ".join(f"{k}: {v:,}" for k, v in sorted(job.dropped.items())) or "no candidates at all"
        raise BuildError(f"release {job.entry.name} refused: no rows left ({drops})")
    flagged = (job.sections.get("artifacts") or {}).get("flagged") or []
    if flagged and job.entry.artifacts.fail_on_flag:
        raise BuildError(
            f"release {job.entry.name} refused: style artifacts flagged ({', '.join(flagged)}) and "
            "artifacts.fail_on_flag is set"
        )


def build(
    lake: Lake,
    entry: ReleaseEntry,
    *,
    inputs: Inputs | None = None,
    refreeze: bool = False,
    code_version: str = "",
    scan_options: dict | None = None,
    publish: bool = True,
) -> Built:
    """Build, check and publish one release (see the module docstring). `scan_options` go to the leak
    gate's scanners (the release stage passes the recipe's scrub config: `{"scrub": {...}}`). `publish=False`
    builds and checks it but publishes nothing (status "rebuilt", the manifest in `details`): `flywheel
    releases rebuild`."""
    if publish and entry.frozen_eval and not refreeze and versions(lake, entry.name):
        existing = resolve(lake, entry.name)
        note = "frozen evaluation set: latest version reused"
        if existing.manifest["recipe"] != entry.recipe():
            note += " although the recipe entry changed (build with --refreeze to make a new version)"
        return Built(entry.name, "reused", existing, details={"note": note})
    own_inputs = inputs is None
    inputs = inputs or open_inputs(lake)
    job = Job(inputs, entry, notes=list(inputs.notes))
    try:
        _check_text_layer(job)
        sections = _prepare(job)
        rows_out = scalar(job.con, "SELECT count(*) FROM cand")
        _refuse_empty_or_flagged(job, rows_out)
        if sections["rows_in"] != rows_out + sum(job.dropped.values()):
            raise BuildError(
                f"release {entry.name}: internal accounting error: {sections['rows_in']} candidates, "
                f"{rows_out} rows, {sum(job.dropped.values())} dropped"
            )
        return _publish(job, sections, rows_out, code_version, scan_options, publish)
    finally:
        if own_inputs:
            inputs.close()


def _publish(
    job: Job, sections: dict, rows_out: int, code_version: str, scan_options: dict | None, publish: bool = True
) -> Built:
    entry, lake = job.entry, job.inputs.lake
    writer = ReleaseWriter(
        lake,
        entry.name,
        entry.type,
        leak_scan=entry.leak_scan,
        reason=entry.leak_scan_reason,
        scan_options=scan_options,
        card=_card(entry),
    )
    try:
        with timed(job, "write"):
            _write(job, writer)
        extra = {
            "frozen_eval": entry.frozen_eval,
            "text_layer": job.inputs.text_layer,
            "samples_columns": {c: job.inputs.has(c) for c in OPTIONAL_COLUMNS},
            **sections,
            "notes": job.notes,
        }
        parents = {**job.inputs.parents(tuple(sorted(job.tables_read))), "releases": job.releases_read}
        try:
            with timed(job, "leak_scan"):  # the gate runs in finalize, over the files just written
                manifest = writer.finalize(
                    parents=parents,
                    recipe=entry.recipe(),
                    split_method=sections["split"]["method"],
                    dropped=dict(job.dropped),
                    description=entry.description or _describe(entry),
                    code_version=code_version,
                    extra=extra,
                )
        except LeakScanRefused as refused:
            raise BuildError(str(refused)) from None
        details = {"style_features": job.stats.get("style_features"), "notes": job.notes}
        if not publish:
            writer.discard()
            return Built(
                entry.name,
                "rebuilt",
                None,
                sections["rows_in"],
                rows_out,
                job.dropped,
                job.timings,
                {**details, "manifest": manifest},
            )
        latest = _latest(lake, entry.name)
        if latest is not None and latest.manifest.get("content_hash") == manifest["content_hash"]:
            writer.discard()
            return Built(
                entry.name, "unchanged", latest, sections["rows_in"], rows_out, job.dropped, job.timings, details
            )
        with timed(job, "publish"):
            release = writer.publish()
        return Built(entry.name, "published", release, sections["rows_in"], rows_out, job.dropped, job.timings, details)
    except BaseException:
        writer.discard()
        raise


def _card(entry: ReleaseEntry):
    """The dataset card of this entry's release (curation/releases/card.py)."""
    from curation.releases.card import build_card, measure

    description = entry.description or _describe(entry)
    measured: dict = {}  # the writer builds the card twice (staged, then with its version): measure once

    def card(manifest: dict, directory, version: int) -> str:
        if "facts" not in measured:
            measured["facts"] = measure(directory, entry.type)
        return build_card(manifest, directory, version, description, entry.license, measured["facts"])

    return card


def _describe(entry: ReleaseEntry) -> str:
    sources = ", ".join(f"{s.name} ({s.kind})" for s in entry.source_list)
    return f"A `{entry.type}` release built by the flywheel curation pipeline from: {sources}."
