"""Nearest texts to a query by cosine similarity, in DuckDB over the embedding cache.

The query runs where the data is: any relation with a text column joins the cache on
`md5(text) = text_hash` (the platform text hash), and `array_cosine_similarity` ranks the matches.
`flywheel similar` runs it over the lake's turn samples: one row per distinct last user message (its
earliest sample, and how many samples carry the same message), so a message sent a thousand times does
not fill the list.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curation.embed.config import DEFAULT_MODEL, EmbedConfig
from curation.embed.encode import SentenceEncoder
from lakehouse import catalog
from lakehouse.errors import UserError
from lakehouse.lake import Lake

NEAREST_SQL = """
SELECT t.*, array_cosine_similarity(e.embedding::FLOAT[{dim}], $query::FLOAT[{dim}]) AS score
FROM ({texts}) AS t
JOIN ({embeddings}) AS e ON e.text_hash = md5(t.{text_column}) AND e.model = $model
ORDER BY score DESC, e.text_hash
LIMIT $k
"""

# Each distinct last user message once: its earliest turn sample (started_at, then sample id).
SAMPLE_MESSAGES_SQL = """
SELECT sample_id, last_user, response, samples
FROM (
    SELECT sample_id, last_user_message(prompt) AS last_user, response,
           count(*) OVER (PARTITION BY last_user_message(prompt)) AS samples,
           row_number() OVER (PARTITION BY last_user_message(prompt) ORDER BY started_at, sample_id) AS position
    FROM samples
    WHERE last_user_message(prompt) IS NOT NULL
)
WHERE position = 1
"""


class NoEmbeddings(UserError):
    """The lake has no embeddings to search (or none of the requested model)."""


def nearest(
    con,
    query_vector: np.ndarray,
    *,
    texts_sql: str,
    text_column: str,
    model: str,
    k: int = 10,
    embeddings_sql: str = "SELECT * FROM embeddings",
) -> pa.Table:
    """The k rows of `texts_sql` whose text is nearest to `query_vector`, with their `score`."""
    sql = NEAREST_SQL.format(dim=len(query_vector), texts=texts_sql, embeddings=embeddings_sql, text_column=text_column)
    params = {"query": [float(x) for x in query_vector], "model": model, "k": k}
    return con.sql(sql, params=params).to_arrow_table()


def choose_model(con, model: str | None) -> str:
    """The model to search with: `model` if the lake has its embeddings, else the only one it has."""
    models = [row[0] for row in con.execute("SELECT DISTINCT model FROM embeddings ORDER BY 1").fetchall()]
    if not models:
        raise NoEmbeddings("the lake has no embeddings yet: run the embed stage (flywheel curate configs/curate.yaml)")
    if model is not None:
        if model not in models:
            raise NoEmbeddings(f"no embeddings of model {model!r} in the lake (it has: {', '.join(models)})")
        return model
    if len(models) == 1:
        return models[0]
    if DEFAULT_MODEL in models:
        return DEFAULT_MODEL
    raise NoEmbeddings(f"the lake has embeddings of several models ({', '.join(models)}): pick one with --model")


def similar_samples(lake: Lake, text: str, k: int = 10, model: str | None = None) -> pa.Table:
    """The k turn samples whose last user message is nearest to `text` (sample_id, last_user, response,
    samples, score), embedding `text` with the model the lake's embeddings were made with."""
    con = catalog.connect(lake)
    try:
        name = choose_model(con, model)
        vector = SentenceEncoder(EmbedConfig(model=name)).encode([text])[0]
        return nearest(con, vector, texts_sql=SAMPLE_MESSAGES_SQL, text_column="last_user", model=name, k=k)
    finally:
        con.close()
