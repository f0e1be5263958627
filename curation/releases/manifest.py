"""The manifest of a release curation built: lakehouse's `ReleaseManifest` plus the sections the release
builder adds (build.py `_prepare` and `_publish`), so `releases show|list` read attributes, not
`m.get("...") or {}`. Every section is optional: a release another builder made (train's rejection
sampling) lacks them, and still reads. Sections whose inner shape belongs to another module (the split,
mixture, leakage and artifact reports) stay mappings here; their writers document their keys.
"""

from __future__ import annotations

from typing import Any

from lakehouse.manifest import ReleaseManifest


class CuratedManifest(ReleaseManifest):
    frozen_eval: bool = False
    text_layer: str | None = None
    samples_columns: dict[str, bool] = {}
    rows_in: int | None = None
    split: dict[str, Any] = {}
    mixture: list[dict[str, Any]] = []
    leakage: dict[str, Any] = {}
    pair_filters: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None
    label_agreement: dict[str, dict[str, Any]] | None = None  # None: no labeled rows in the release
    strata: dict[str, dict[str, int]] = {}
    artifacts: dict[str, Any] | None = None
    notes: list[str] = []
