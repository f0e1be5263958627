"""The ingest stage's configuration (the `ingest` entry of a recipe, and `flywheel ingest`'s options)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field

from curation.ingest.sources import FORMATS
from lakehouse.config import StrictModel

Format = Literal["auto", "native", "openai", "sharegpt", "hh", "persona-chat", "exposures"]
assert set(get_args(Format)) == {"auto", *FORMATS}


class IngestConfig(StrictModel):
    paths: list[Path] = Field(min_length=1, description="Files or directories to ingest.")
    optional_paths: list[Path] = Field(
        default_factory=list, description="Ingested when they exist, skipped with a note otherwise."
    )
    format: Format = "auto"
    source: Literal["user", "internal"] = Field(
        "internal", description="source for formats that do not carry one (all but native)"
    )
    started_at: str | None = Field(
        None,
        description="started_at for formats without timestamps (openai, "
        "sharegpt, hh, persona-chat); default: the ingest time",
    )
    drop_user_ids: bool = False
    strict: bool = False
    max_message_bytes: int = Field(4 << 20, gt=0, description="Larger messages are quarantined.")
    block_bytes: int = Field(8 << 20, gt=0, description="Input is processed in blocks of about this size.")
    threads: int = Field(2, ge=1, le=64, description="Threads parsing and validating blocks ahead of the writer.")
