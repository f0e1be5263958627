"""The topic clustering configuration (a recipe section)."""

from __future__ import annotations

from pydantic import Field

from lakehouse.config import FrozenStrictModel


class TopicsConfig(FrozenStrictModel):
    k: int | None = Field(None, ge=1, description="Number of topics; unset: about sqrt(n / 2) (see kmeans.choose_k).")
    max_k: int = Field(512, ge=1, description="Upper bound of the heuristic k.")
    seed: int = Field(0, ge=0, description="k-means random state.")
    label_terms: int = Field(4, ge=1, le=20, description="Terms in a topic's label.")
    prune_threshold: float | None = Field(
        0.95,
        gt=0.0,
        le=1.0,
        description="Cosine similarity above which a text is a semantic "
        "duplicate of an earlier one in its topic; None: no pruning.",
    )
    embed_model: str | None = Field(
        None,
        description="Embedding model of the messages (default: the one the lake's embeddings were made "
        "with, i.e. the embed stage's; the packaged MiniLM when there are none).",
    )
