"""The embedding configuration (a recipe section)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lakehouse.config import FrozenStrictModel

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class EmbedConfig(FrozenStrictModel):
    """Which model embeds, and how texts are batched for it."""

    model: str = Field(DEFAULT_MODEL, description="The packaged all-MiniLM-L6-v2, or a local model directory.")
    batch_tokens: int = Field(2048, ge=64, description="Padded tokens per batch (texts x longest text).")
    max_batch: int = Field(64, ge=1, description="Most texts in one batch.")
    normalize: bool = Field(True, description="Unit-length vectors, so cosine similarity is a dot product.")
    threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="torch threads for encoding (default: torch's, one per core); fewer "
        "can be faster when other jobs hold the cores. Set for the process.",
    )
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Matrix products in bfloat16 (vectors within cosine 0.9999 of float32, about 1.7x "
        "faster where the CPU multiplies bfloat16 natively) or float32; auto picks bfloat16 "
        "on such CPUs (AVX512-BF16 or AMX) and float32 elsewhere (docs/dedup.md).",
    )
    chunk_texts: int = Field(20_000, ge=1, description="New texts encoded and committed together.")
    compact_files: int = Field(16, ge=2, description="Merge the cache's files when it has more than this many.")
