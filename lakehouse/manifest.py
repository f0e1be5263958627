"""The release manifest as a type: `ReleaseManifest` is what `manifest.json` holds (docs/releases.md).

`ReleaseWriter` still writes a plain dict, key for key as before, so the bytes on disk and the content hash
do not move; it validates that dict against this model before writing it, so a writer that drifts from the
model fails at once instead of producing a manifest readers mis-read. Readers parse with
`Release.manifest_model` (or `ReleaseManifest.model_validate`) and get attributes instead of
`m.get("...") or {}`.

The sections lakehouse writes itself are strict (`extra="forbid"`). The manifest as a whole allows extra
keys: the builders above lakehouse (curation's release builder, train's rejection sampling) add their own
sections through `ReleaseWriter.finalize(extra=...)`, and lakehouse cannot know them; a builder that wants
them typed subclasses this model (curation/releases/manifest.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from lakehouse.config import FrozenStrictModel


class ManifestFile(FrozenStrictModel):
    """One data file of a release, hashed when the leak gate had scanned it."""

    path: str
    split: Literal["train", "validation", "test"]
    rows: int
    sha256: str


class ScannerRecord(FrozenStrictModel):
    name: str
    scanner: str
    entities: list[str]


class LeakScanSection(FrozenStrictModel):
    """How the release passed the gate: scanned (`required`) or skipped with a reason and who asked."""

    mode: Literal["required", "skip"] = "required"
    scanners: list[ScannerRecord] = []
    texts: int = 0
    hits: int = 0
    reason: str | None = None
    requested_by: str | None = None
    scanner: str | None = None  # manifests written before the gate took several scanners
    entities: list[str] = []  # idem


class ReleaseManifest(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    version: int | None
    type: Literal["sft", "preference", "unpaired", "prompt", "signals"]
    created_at: str
    parents: dict[str, Any]
    recipe: dict[str, Any]
    recipe_hash: str
    code_version: str
    packages: dict[str, str]
    files: list[ManifestFile]
    splits: dict[str, int]
    split_method: str
    dropped: dict[str, int]
    leak_scan: LeakScanSection | None = None  # None only in manifests older than the leak gate
    content_hash: str

    @property
    def sections(self) -> dict[str, Any]:
        """The builder's own sections (everything this model does not name)."""
        return dict(self.model_extra or {})

    def to_json_dict(self) -> dict[str, Any]:
        """The manifest as `manifest.json` holds it (defaults not written there stay out)."""
        return self.model_dump(mode="json", exclude_unset=True)
