"""Signal rows (user-signal models): one row per assistant reply with its logged outcomes.

A row is the reply's prompt (the character's system message and the history the user saw), the reply
as a one-message `completion`, and the outcomes the app logged for it: `continued` (the user wrote
again), `thumb_up`, `thumb_down`, `love`, `regenerated`, `reported`. Regenerated replies are kept: being
regenerated is one of the outcomes to predict. A reply with no logged outcome at all (internal traffic,
imported chats) is dropped as `no_signals`, since a missing outcome is not a negative one.
"""

from __future__ import annotations

from curation.releases.config import SamplesSource
from curation.releases.job import Job


def insert_samples(job: Job, source: SamplesSource, rank: int) -> None:
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {job.sample_columns("s", source, rank)}, s.continued, s.thumb, s.love, s.regenerated, s.reported,
               CASE {job.representative_check("s")}
                    WHEN s.continued IS NULL AND s.thumb IS NULL AND s.love IS NULL AND s.reported IS NULL
                         AND NOT coalesce(s.regenerated, false) THEN 'no_signals'
                    WHEN s.response IS NULL OR trim(s.response) = '' THEN 'empty_response'
               END AS drop_reason
        FROM (SELECT * FROM release_samples WHERE {job.sample_filter(source)}) s
    """
    with job.source_errors(source):
        job.con.execute(sql)
