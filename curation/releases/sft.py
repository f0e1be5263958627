"""SFT rows from turn samples: the sample's prompt (system message with the character, then the history
with regenerated replies removed) followed by its reply.

Replies the user regenerated are never SFT targets (the user rejected them), and neither are the replies
of a conversation that is the rejected side of a preference pair (hh-rlhf): its shared prefix is already
in the chosen conversation. Both are counted as drops, like non-representatives of a dedup cluster.
"""

from __future__ import annotations

from curation.releases.config import SamplesSource
from curation.releases.job import Job


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
