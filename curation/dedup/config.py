"""The dedup configuration (a recipe section), validated by pydantic; LSH bands and rows derive from it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from curation.dedup.edits import MAX_EDIT_RATE
from curation.dedup.lsh import optimal_bands_rows
from lakehouse.config import FrozenStrictModel

# Chosen by the threshold and shingle sweep in docs/dedup.md (`flywheel eval dedup --sweep`).
DEFAULT_THRESHOLD = 0.6


class DedupConfig(FrozenStrictModel):
    """How duplicates are found. `method="exact"` groups equal normalized texts only; `"near"` adds
    MinHash LSH over shingles and connected components."""

    method: Literal["near", "exact"] = "near"
    threshold: float = Field(
        DEFAULT_THRESHOLD,
        gt=0.0,
        lt=1.0,
        description="Jaccard similarity (word shingles) of a near-duplicate; sets the LSH bands.",
    )
    max_edit_rate: float = Field(
        MAX_EDIT_RATE,
        ge=0.0,
        lt=1.0,
        description="Word edits (insert, delete, replace) a near-duplicate may differ by, "
        "as a share of the longer text's words.",
    )
    edit_words: int = Field(
        128,
        ge=0,
        le=4096,
        description="A pair of texts of at most this many space-separated tokens each is "
        "decided by word edit distance (max_edit_rate) instead of estimated "
        "Jaccard; 0 turns it off.",
    )
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations.")
    seed: int = Field(1, ge=0, description="MinHash permutation seed (datasketch's).")
    word_ngram: int = Field(2, ge=1, le=8, description="Words per shingle.")
    char_ngram: int = Field(5, ge=2, le=16, description="Characters per shingle for very short texts.")
    min_words: int = Field(4, ge=1, description="Texts with fewer words use character shingles.")
    bands: int | None = Field(None, ge=1, description="LSH bands; derived from the threshold when unset.")
    rows: int | None = Field(None, ge=1, description="Signature rows per band; set together with bands.")
    # Verification drops the false candidates banding lets through, so banding favours recall.
    false_positive_weight: float = Field(0.1, ge=0.0, le=1.0)
    false_negative_weight: float = Field(0.9, ge=0.0, le=1.0)
    verify: bool = Field(True, description="Drop candidate pairs whose estimated Jaccard is under the threshold.")
    split: bool = Field(True, description="Split clusters so every member is similar to its representative.")
    max_bucket_pairs: int = Field(64, ge=2, description="Buckets larger than this give a star, not all pairs.")
    batch_size: int = Field(2000, ge=1, description="Documents per signature batch.")
    workers: int = Field(1, ge=1, le=64, description="Processes computing signatures.")

    @model_validator(mode="after")
    def _bands_and_rows(self) -> DedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("bands and rows must be set together (or neither, to derive them from threshold)")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): as configured, else the optimum for the threshold (see lsh.optimal_bands_rows)."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows

        return optimal_bands_rows(self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight)


def load_config(path) -> DedupConfig:
    """A DedupConfig from a YAML file of its fields; errors name the file and the bad key."""
    from lakehouse.config import load_yaml_model

    return load_yaml_model(path, DedupConfig)
