"""Rows of another release as a source (kind `release`): a curated safety set, the best-of-K replies of
rejection sampling (train/ writes those as `sft` releases), a targeted patch. The mixture builder then
combines them with the lake's own rows in the recipe's ratios or caps.

The referenced release must have the same type; its rows keep their sample ids and provenance, are
verified against its manifest first, and its content hash becomes a parent of the new release. The
source's `filter` is SQL over that release's columns (the release filter is for `samples` and does not
apply here).
"""

from __future__ import annotations

from curation.releases.config import ReleaseSource
from curation.releases.job import BuildError, Job
from curation.releases.rows import MESSAGES_SQL, PROVENANCE, last_user_sql, quote
from lakehouse import catalog
from lakehouse.releases import ReleaseError, resolve, verify

CLEAN = "list_transform({0}, lambda m: {{'role': m.role, 'content': m.content}})::" + MESSAGES_SQL
PAYLOAD = {
    "sft": (
        "list_slice({clean}, 1, len(messages) - 1) AS prompt_inline, messages[-1].content AS response",
        "messages[-1].role <> 'assistant'",
        "messages",
    ),
    "preference": (
        "{clean} AS prompt_inline, chosen[1].content AS chosen, rejected[1].content AS rejected",
        "len(chosen) <> 1 OR len(rejected) <> 1",
        "prompt",
    ),
    "unpaired": (
        "{clean} AS prompt_inline, completion[1].content AS response, label",
        "len(completion) <> 1 OR label IS NULL",
        "prompt",
    ),
    "prompt": ("{clean} AS prompt_inline", "false", "prompt"),
}


def insert_release(job: Job, source: ReleaseSource, rank: int) -> None:
    try:
        release = resolve(job.inputs.lake, source.ref)
    except ReleaseError as exc:
        raise BuildError(f"release {job.entry.name}, source {source.name!r}: {exc}") from None
    problems = verify(release)
    if problems:
        raise BuildError(
            f"release {job.entry.name}, source {source.name!r}: {release.ref} does not match its "
            f"manifest: {'; '.join(problems)}"
        )
    manifest = release.manifest
    if manifest["type"] != job.entry.type:
        raise BuildError(
            f"release {job.entry.name}, source {source.name!r}: {release.ref} is a {manifest['type']} "
            f"release, not {job.entry.type}"
        )
    job.releases_read[release.ref] = {"content_hash": manifest["content_hash"], "splits": source.splits}
    files = [f for split in source.splits for f in release.data_files(split)]
    if not files:
        job.notes.append(f"source {source.name}: {release.ref} has no rows in {', '.join(source.splits)}")
        return
    scan = catalog.parquet_scan(job.con, job.inputs.lake, files, "release")
    present = {r[0] for r in job.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    payload, invalid, message_column = PAYLOAD[job.entry.type]
    payload = payload.format(clean=CLEAN.format(message_column))
    provenance = ", ".join(
        (f.name if f.name in present else f"NULL AS {f.name}")
        for f in PROVENANCE
        if f.name not in ("sample_id", "origin")
    )
    if "sample_id" not in present:
        raise BuildError(f"release {job.entry.name}, source {source.name!r}: {release.ref} has no sample_id column")
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT *, {last_user_sql("prompt_inline")} AS last_user,
               len(list_filter(prompt_inline, lambda m: m.role = 'user')) AS depth
        FROM (SELECT sample_id, {quote(source.name)} AS origin, {rank} AS origin_rank, {provenance},
                     {payload}, CASE WHEN {invalid} THEN 'release_row_invalid' END AS drop_reason
              FROM {scan} WHERE {source.filter or "true"})
    """
    with job.source_errors(source):
        job.con.execute(sql)
