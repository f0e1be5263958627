"""Prompt rows (GRPO, rejection sampling, frozen evaluation sets) from turn samples.

A prompt is the sample's prompt: the character's system message and the history up to the user message
the reply answered. `stratify_by` names the columns whose combinations are the strata and `per_stratum`
caps each one (the mixture step applies it after every drop, so leaks never unbalance the strata). When
the `sample` stage lands, its selection is a filter (or a stratum column) over the same view.
"""

from __future__ import annotations

from curation.releases.config import SamplesSource
from curation.releases.job import Job


def stratum_sql(alias: str, columns: list[str]) -> str:
    if not columns:
        return "NULL"
    parts = ", ".join(f"'{c}=' || coalesce({alias}.{c}::VARCHAR, 'null')" for c in columns)
    return f"concat_ws('|', {parts})"


def insert_samples(job: Job, source: SamplesSource, rank: int) -> None:
    sql = f"""
        INSERT INTO cand BY NAME
        SELECT {job.sample_columns("s", source, rank)}, {stratum_sql("s", source.stratify_by)} AS stratum,
               CASE {job.representative_check("s")}
                    WHEN len(list_filter(s.prompt, lambda m: m.role = 'user')) = 0 THEN 'no_user_message'
                    WHEN s.prompt[-1].role <> 'user' THEN 'prompt_not_ending_with_user'
               END AS drop_reason
        FROM (SELECT * FROM release_samples WHERE {job.sample_filter(source)}) s
    """
    with job.source_errors(source):
        job.con.execute(sql)
