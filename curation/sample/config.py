"""The sampling configuration (a recipe section)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lakehouse.config import FrozenStrictModel

OTHERS = "*"


class Stratum(FrozenStrictModel):
    """A column to balance and its target shares: "traffic" (the input's own distribution) or preset
    shares by value; a value missing from the preset gets none, unless `*` gives the others a share,
    split among them in proportion to traffic."""

    column: str
    shares: Literal["traffic"] | dict[str, float] = "traffic"

    @field_validator("shares")
    @classmethod
    def _positive(cls, shares):
        if isinstance(shares, dict) and (
            not shares or any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0
        ):
            raise ValueError("preset shares must be non-negative with a positive sum")
        return shares


def _default_strata() -> list[Stratum]:
    return [Stratum(column=c) for c in ("source", "character_id", "topic", "depth_bucket")]


class SampleConfig(FrozenStrictModel):
    target: int = Field(..., ge=1, description="Turn samples to select.")
    seed: int = Field(0, ge=0)
    strata: list[Stratum] = Field(default_factory=_default_strata)
    max_per_cluster: int | None = Field(None, ge=1, description="Most samples from one topic cluster.")
    max_per_character: int | None = Field(None, ge=1, description="Most samples from one character.")
    cluster_column: str = "topic"
    character_column: str = "character_id"
    depth_column: str = "depth"
    depth_buckets: list[int] = Field([1, 2, 4, 8], description="Lower bounds of the depth buckets: 0, 1, 2-3, 4-7, 8+.")
