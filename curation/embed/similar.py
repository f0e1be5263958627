"""Nearest texts to a query by cosine similarity, in DuckDB over the embedding cache.

The query runs where the data is: any relation with a text column joins the cache on
`md5(text) = text_hash` (the platform text hash), and `array_cosine_similarity` ranks the matches.
`flywheel similar` runs it with the lake's `samples` view and `attributes/embeddings` table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

NEAREST_SQL = """
SELECT t.*, array_cosine_similarity(e.embedding::FLOAT[{dim}], $query::FLOAT[{dim}]) AS score
FROM ({texts}) AS t
JOIN ({embeddings}) AS e ON e.text_hash = md5(t.{text_column}) AND e.model = $model
ORDER BY score DESC, e.text_hash
LIMIT $k
"""


def cache_relation(directory) -> str:
    """SQL for the cache directory as a relation."""
    return f"SELECT * FROM read_parquet('{str(directory).replace(chr(39), chr(39) * 2)}/*.parquet')"


def nearest(con, query_vector: np.ndarray, *, texts_sql: str, text_column: str, embeddings_sql: str,
            model: str, k: int = 10) -> pa.Table:
    """The k rows of `texts_sql` whose text is nearest to `query_vector`, with their `score`."""
    sql = NEAREST_SQL.format(dim=len(query_vector), texts=texts_sql, embeddings=embeddings_sql,
                             text_column=text_column)
    params = {"query": [float(x) for x in query_vector], "model": model, "k": k}
    return con.sql(sql, params=params).to_arrow_table()
