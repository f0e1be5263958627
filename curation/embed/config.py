"""The embedding configuration (a recipe section)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class EmbedConfig(BaseModel):
    """Which model embeds, and how texts are batched for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(DEFAULT_MODEL, description="The packaged all-MiniLM-L6-v2, or a local model directory.")
    batch_tokens: int = Field(2048, ge=64, description="Padded tokens per batch (texts x longest text).")
    max_batch: int = Field(64, ge=1, description="Most texts in one batch.")
    normalize: bool = Field(True, description="Unit-length vectors, so cosine similarity is a dot product.")
