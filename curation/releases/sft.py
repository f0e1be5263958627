"""SFT rows from turn samples: the sample's prompt (system message with the character, then the history
with regenerated replies removed) followed by its reply.

Replies the user regenerated are never SFT targets (the user rejected them), and neither are the replies
of a conversation that is the rejected side of a preference pair (hh-rlhf): its shared prefix is already
in the chosen conversation. Both are counted as drops, like non-representatives of a dedup cluster.
"""

from __future__ import annotations

from curation.releases.config import LabelsSource, SamplesSource
from curation.releases.inputs import LABELS_VIEW
from curation.releases.job import Job
from curation.releases.preference import label_origin, label_provenance, label_row_id, labels_available
from curation.releases.rows import last_user_sql, quote, where


def insert_samples(job: Job, source: SamplesSource, rank: int) -> None:
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {job.sample_columns("s", source, rank)},
               CASE {job.representative_check("s")}
                    WHEN s.regenerated THEN 'regenerated'
                    WHEN s.conversation_id IN (SELECT rejected_conversation_id FROM preference_pairs)
                         THEN 'rejected_side_of_pair'
                    WHEN s.response IS NULL OR trim(s.response) = '' THEN 'empty_response'
               END AS drop_reason
        FROM (SELECT * FROM release_samples WHERE {job.sample_filter(source)}) s
    """
    with job.source_errors(source):
        job.con.execute(sql)


def insert_labels(job: Job, source: LabelsSource, rank: int) -> None:
    """Annotators' rewrites as SFT targets: a rewrite item they edited, or the reply written in a live chat
    when both candidates failed (origin `interactive`)."""
    if not labels_available(job, source):
        return
    queue = f"queue = {quote(source.queue)}" if source.queue else None
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {label_row_id()} AS sample_id, {label_origin(source)} AS origin, {rank} AS origin_rank,
               {label_provenance("s", "l.rejected_sample_id")},
               len(list_filter(l.prompt, lambda m: m.role = 'user')) AS depth,
               l.prompt AS prompt_inline, {last_user_sql("l.prompt")} AS last_user, l.chosen AS response,
               l.agreement, l.n_annotators,
               CASE WHEN NOT l.kept THEN 'label_no_consensus'
                    WHEN l.agreement < {source.min_agreement} THEN 'label_low_agreement'
                    WHEN trim(l.chosen) = '' THEN 'empty_response'
               END AS drop_reason
        FROM (SELECT * FROM {LABELS_VIEW}
              WHERE {where("question = 'rewrite' AND chosen IS NOT NULL", queue, source.filter)}) l
        LEFT JOIN (SELECT sample_id, conversation_id, turn, source, model_version, character_id, topic_cluster,
                          dedup_cluster FROM release_samples) s ON s.sample_id = l.rejected_sample_id
    """
    with job.source_errors(source):
        job.con.execute(sql)
