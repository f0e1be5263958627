"""Preference pairs (prompt, chosen, rejected) from three sources.

- regenerations: the user asked for another answer, so the regenerated reply is `rejected`; its
  replacement (the next assistant message) is `chosen` only when the user went on with it or gave it a
  thumb up (`chosen_when`); otherwise the pair is dropped as `replacement_not_preferred`.
- preference_pairs: pairs that arrived as pairs (hh-rlhf): the two conversations share every message
  before `turn` and differ in the reply at `turn`; the prompt is the chosen side's history.
- labels: pairwise consensus from the labeling app (ties and items without consensus are dropped, as
  are items under `min_agreement`), rewrites (the annotator's rewrite is chosen over the original), and
  the judged turns of interactive chats (origin `interactive`).

The pair filters (length ratio, emoji difference) run later, on the style-feature table.
"""

from __future__ import annotations

from curation.releases.config import LabelsSource, PairsSource, RegenerationsSource
from curation.releases.inputs import LABELS_TABLE, LABELS_VIEW, PAIRS_TABLE
from curation.releases.job import Job
from curation.releases.rows import last_user_sql, quote, where


def insert_regenerations(job: Job, source: RegenerationsSource, rank: int) -> None:
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {job.sample_columns("r", source, rank)},
               c.response AS chosen, r.response AS rejected, c.sample_id AS chosen_sample_id,
               r.sample_id AS rejected_sample_id,
               CASE {job.representative_check("r")}
                    WHEN c.sample_id IS NULL THEN 'no_replacement'
                    WHEN NOT coalesce(c.preferred, false) THEN 'replacement_not_preferred'
               END AS drop_reason
        FROM (SELECT * FROM release_samples WHERE regenerated AND {job.sample_filter(source)}) r
        LEFT JOIN (SELECT conversation_id, turn, sample_id, response, ({source.chosen_when}) AS preferred
                   FROM release_samples WHERE replaces_turn IS NOT NULL) c
               ON c.conversation_id = r.conversation_id AND c.turn = r.replacement_turn
    """
    with job.source_errors(source):
        job.con.execute(sql)


def insert_pairs(job: Job, source: PairsSource, rank: int) -> None:
    job.tables_read.add(PAIRS_TABLE)
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {job.sample_columns("a", source, rank)},
               a.response AS chosen, b.response AS rejected, a.sample_id AS chosen_sample_id,
               b.sample_id AS rejected_sample_id,
               CASE {job.representative_check("a")}
                    WHEN b.sample_id IS NULL THEN 'pair_unresolved'
               END AS drop_reason
        FROM preference_pairs p
        JOIN (SELECT * FROM release_samples WHERE {job.sample_filter(source)}) a
          ON a.conversation_id = p.chosen_conversation_id AND a.turn = p.turn
        LEFT JOIN (SELECT conversation_id, turn, sample_id, response FROM release_samples) b
          ON b.conversation_id = p.rejected_conversation_id AND b.turn = p.turn
    """
    with job.source_errors(source):
        job.con.execute(sql)


def labels_available(job: Job, source: LabelsSource) -> bool:
    """The labels table exists and has rows; otherwise the source is skipped with a note."""
    if job.inputs.table_has_rows(LABELS_VIEW):
        job.tables_read.add(LABELS_TABLE)
        return True
    job.notes.append(f"source {source.name}: no consensus labels yet ({LABELS_VIEW} is missing or empty): skipped")
    return False


def label_provenance(alias: str, anchor: str) -> str:
    """Provenance of a label row, from the sample it was made on when that sample is in the lake."""
    return (
        f"{alias}.conversation_id, {alias}.turn, {alias}.source, {alias}.model_version, "
        f"coalesce({alias}.character_id, l.character_id) AS character_id, {alias}.topic_cluster, "
        f"coalesce({alias}.dedup_cluster, {anchor}) AS dedup_cluster"
    )


def label_row_id() -> str:
    """A label row's id: the queue and item (and rewriter); an interactive row's item key names its turn."""
    return (
        "CASE WHEN l.kind = 'interactive' THEN 'label:' || l.queue || ':' || l.item_key "
        "ELSE 'label:' || l.queue || ':' || l.task_id::VARCHAR || coalesce(':' || l.rewriter, '') END"
    )


def label_origin(source: LabelsSource) -> str:
    """Rows judged in a live chat keep `interactive` as their origin, whatever the source is called."""
    return f"CASE WHEN l.kind = 'interactive' THEN 'interactive' ELSE {quote(source.name)} END"


def insert_labels(job: Job, source: LabelsSource, rank: int) -> None:
    if not labels_available(job, source):
        return
    anchor = "coalesce(l.rejected_sample_id, l.chosen_sample_id)"
    queue = f"queue = {quote(source.queue)}" if source.queue else None
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {label_row_id()} AS sample_id, {label_origin(source)} AS origin, {rank} AS origin_rank,
               {label_provenance("s", anchor)}, len(list_filter(l.prompt, lambda m: m.role = 'user')) AS depth,
               l.prompt AS prompt_inline, {last_user_sql("l.prompt")} AS last_user,
               l.chosen, l.rejected, l.chosen_sample_id, l.rejected_sample_id, l.agreement, l.n_annotators,
               CASE WHEN NOT l.kept THEN 'label_no_consensus'
                    WHEN coalesce(l.tie, false) THEN 'label_tie'
                    WHEN l.agreement < {source.min_agreement} THEN 'label_low_agreement'
                    WHEN l.chosen IS NULL OR l.rejected IS NULL THEN 'label_incomplete'
               END AS drop_reason
        FROM (SELECT * FROM {LABELS_VIEW}
              WHERE {
        where(
            "(kind IN ('pairwise', 'interactive') AND question = 'preference') "
            "OR (kind = 'rewrite' AND chosen IS NOT NULL)",
            queue,
            source.filter,
        )
    }) l
        LEFT JOIN (SELECT sample_id, conversation_id, turn, source, model_version, character_id, topic_cluster,
                          dedup_cluster FROM release_samples) s ON s.sample_id = {anchor}
    """
    with job.source_errors(source):
        job.con.execute(sql)
