"""Unpaired rows (prompt, completion, label) for KTO: thumbs up are desirable, thumbs down and reports
undesirable (both SQL conditions in the recipe), or binary answers from the labeling app.

A reply that matches both conditions (a thumb up that was also reported) is dropped as
`conflicting_signals`: a row with a label nobody can defend is worse than no row.
"""

from __future__ import annotations

from curation.releases.config import LabelsSource, SignalsSource
from curation.releases.inputs import LABELS_VIEW
from curation.releases.job import BuildError, Job
from curation.releases.preference import label_origin, label_provenance, label_row_id, labels_available
from curation.releases.rows import last_user_sql, quote, where


def insert_signals(job: Job, source: SignalsSource, rank: int) -> None:
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {job.sample_columns("s", source, rank)}, s.response,
               coalesce(s.desirable, false) AS label,
               CASE {job.representative_check("s")}
                    WHEN s.desirable AND s.undesirable THEN 'conflicting_signals'
                    WHEN s.response IS NULL OR trim(s.response) = '' THEN 'empty_response'
               END AS drop_reason
        FROM (SELECT *, coalesce(({source.desirable}), false) AS desirable,
                        coalesce(({source.undesirable}), false) AS undesirable
              FROM release_samples WHERE {job.sample_filter(source)}) s
        WHERE s.desirable OR s.undesirable
    """
    with job.source_errors(source):
        job.con.execute(sql)


def insert_labels(job: Job, source: LabelsSource, rank: int) -> None:
    if source.question is None:  # the recipe check refuses this; an entry built without it gets the same words
        raise BuildError(f"source {source.name!r}: unpaired labels need `question`")
    if not labels_available(job, source):
        return
    answers = source.desirable_answers + source.undesirable_answers
    in_list = ", ".join(quote(a) for a in answers)
    desirable = ", ".join(quote(a) for a in source.desirable_answers)
    queue = f"queue = {quote(source.queue)}" if source.queue else None
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {label_row_id()} AS sample_id, {label_origin(source)} AS origin, {rank} AS origin_rank,
               {label_provenance("s", "l.sample_id")}, len(list_filter(l.prompt, lambda m: m.role = 'user')) AS depth,
               l.prompt AS prompt_inline, {last_user_sql("l.prompt")} AS last_user, l.response,
               l.answer IN ({desirable}) AS label, l.agreement, l.n_annotators,
               CASE WHEN NOT l.kept THEN 'label_no_consensus'
                    WHEN l.agreement < {source.min_agreement} THEN 'label_low_agreement'
                    WHEN l.answer IS NULL OR l.answer NOT IN ({in_list}) THEN 'label_other_answer'
                    WHEN l.response IS NULL OR trim(l.response) = '' THEN 'empty_response'
               END AS drop_reason
        FROM (SELECT * FROM {LABELS_VIEW} WHERE {where(f"question = {quote(source.question)}", queue, source.filter)}) l
        LEFT JOIN (SELECT sample_id, conversation_id, turn, source, model_version, character_id, topic_cluster,
                          dedup_cluster FROM release_samples) s ON s.sample_id = l.sample_id
    """
    with job.source_errors(source):
        job.con.execute(sql)
