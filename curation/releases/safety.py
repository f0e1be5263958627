"""Dropping what the safety stage flagged (`exclude_unsafe`, on by default): reason `unsafe`.

The `samples` view says, per turn sample, whether its reply (`safety_reply_flagged`) or a message of its
prompt (`safety_prompt_flagged`) was flagged. A candidate backed by lake samples is checked on the texts
it carries: with `unsafe_scope: row` (default) every message of the row, i.e. the prompt of its anchor
sample and each reply in it (the sft response, the unpaired completion, both preference sides; a prompt
release has no reply); with `unsafe_scope: target` only the reply the model is trained towards (the sft
response, the chosen side, a desirable completion), so refusals to red-team prompts stay in. Candidates
that carry their own text (labels, rows of other releases) and samples of conversations the stage has not
scored are kept and counted in the manifest's `safety` section. Without any safety rows the release
builds as before, with a note.
"""

from __future__ import annotations

from curation.releases.job import Job
from curation.releases.rows import mark, scalar

SAFETY_TABLE = "attributes/safety"


def _replies(trl_type: str, scope: str) -> list[str]:
    """The candidate columns naming the samples whose reply counts, for this type and scope."""
    if scope == "target":
        return {
            "sft": ["sample_id"],
            "preference": ["chosen_sample_id"],
            "unpaired": ["CASE WHEN label THEN sample_id END"],
        }.get(trl_type, [])
    return {
        "sft": ["sample_id"],
        "preference": ["chosen_sample_id", "rejected_sample_id"],
        "unpaired": ["sample_id"],
        "signals": ["sample_id"],
    }.get(trl_type, [])


def _condition(trl_type: str, scope: str) -> str:
    checks = [f"{column} IN (SELECT sample_id FROM unsafe_samples WHERE reply)" for column in _replies(trl_type, scope)]
    if scope == "row":
        checks.append("sample_id IN (SELECT sample_id FROM unsafe_samples WHERE prompt)")
    return "prompt_ref IS NOT NULL AND (" + " OR ".join(checks) + ")" if checks else "false"


def exclude_unsafe(job: Job) -> dict:
    """Mark flagged candidates `unsafe`; returns the manifest's `safety` section."""
    entry, con = job.entry, job.con
    section = {"exclude_unsafe": entry.exclude_unsafe, "scope": entry.unsafe_scope}
    if not entry.exclude_unsafe:
        return section
    if not job.inputs.has("safety_flagged"):
        job.notes.append(
            "exclude_unsafe: the safety stage has not scored this lake (attributes/safety is empty): no row was checked"
        )
        return {**section, "checked": False}
    job.tables_read.add(SAFETY_TABLE)
    con.execute("""CREATE OR REPLACE TEMP TABLE unsafe_samples AS
        SELECT sample_id, coalesce(safety_reply_flagged, false) AS reply, coalesce(safety_prompt_flagged, false) AS prompt
        FROM release_samples
        WHERE safety_flagged AND conversation_id IN (SELECT conversation_id FROM attributes_safety WHERE flagged)""")
    unsafe = mark(con, "unsafe", _condition(entry.type, entry.unsafe_scope))
    unscored = scalar(
        con,
        """SELECT count(*) FROM cand WHERE drop_reason IS NULL AND prompt_ref IS NOT NULL
        AND conversation_id NOT IN (SELECT DISTINCT conversation_id FROM attributes_safety)""",
    )
    own_text = scalar(con, "SELECT count(*) FROM cand WHERE drop_reason IS NULL AND prompt_ref IS NULL")
    return {**section, "checked": True, "unsafe": unsafe, "unscored_kept": unscored, "own_text_kept": own_text}
