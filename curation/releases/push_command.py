"""`flywheel releases push NAME@V --repo-id ID`: a release to the Hugging Face Hub as a dataset repository.

What goes up is the release as published (data files, manifest.json) with its dataset card rebuilt by
curation/releases/card.py from the manifest and the data (a release published before the card existed gets
the card a fresh build would have; the published directory itself is never touched: releases are
immutable). Before anything is sent the data files are checked against the manifest's sha256, so what
lands on the Hub is what `flywheel releases verify` vouches for. `--dry-run` lists the files and prints the
card without any network access; `--endpoint` (or $HF_ENDPOINT) points at another Hub, such as a mirror or
the tests' stand-in on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.errors import UserError

LakeOption = Annotated[
    Path | None,
    typer.Option("--lake", help="Lake directory (default: $FLYWHEEL_LAKE or ./lake).", show_default=False),
]


def push(
    ref: Annotated[str, typer.Argument(metavar="NAME@VERSION", help="The release to push (NAME: the latest).")],
    repo_id: Annotated[str, typer.Option("--repo-id", metavar="OWNER/NAME", help="The Hub dataset repository.")],
    lake: LakeOption = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repository private.")] = False,
    revision: Annotated[
        str | None, typer.Option(metavar="BRANCH", help="Branch to commit to (default: main).", show_default=False)
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co).", show_default=False),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be pushed and print the card.")] = False,
) -> None:
    """Push a release (data, manifest, dataset card) to a Hugging Face Hub dataset repository."""
    from lakehouse.lake import Lake
    from lakehouse.releases import resolve

    release = resolve(Lake(lake).require(), ref)
    staged = Path(tempfile.mkdtemp(prefix="flywheel-push-"))
    try:
        files = stage(release, staged)
        if dry_run:
            typer.echo(f"would push {release.ref} to dataset {repo_id} ({len(files)} files):")
            for path in files:
                typer.echo(f"  {path}  {(staged / path).stat().st_size:,} bytes")
            typer.echo((staged / "README.md").read_text())
            return
        url = upload(staged, release, repo_id, private=private, revision=revision, endpoint=endpoint)
        typer.echo(f"pushed {release.ref} ({len(files)} files) to {url}")
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def stage(release, directory: Path) -> list[str]:
    """Copy the release's files into `directory` with a freshly built card; refuse a file whose bytes
    differ from the manifest's sha256."""
    from curation.releases.card import build_card
    from lakehouse.lake import file_sha256

    manifest = release.manifest
    (directory / "data").mkdir(parents=True)
    for entry in manifest["files"]:
        source = release.path / entry["path"]
        if not source.exists() or file_sha256(source) != entry["sha256"]:
            raise UserError(
                f"{release.ref}: {entry['path']} does not match its manifest (run `flywheel releases verify`)"
            )
        shutil.copy2(source, directory / entry["path"])
    shutil.copy2(release.path / "manifest.json", directory / "manifest.json")
    description = (manifest.get("recipe") or {}).get("description") or ""
    license = _license(release)
    card = build_card(manifest, release.path, release.version, description, license)
    (directory / "README.md").write_text(card)
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def _license(release) -> str | None:
    """The license the published card declares (the recipe's `license`, which the manifest leaves out)."""
    card = release.path / "README.md"
    if card.exists():
        from huggingface_hub import DatasetCard

        return DatasetCard(card.read_text()).data.get("license")
    return None


def upload(directory: Path, release, repo_id: str, *, private: bool, revision: str | None, endpoint: str | None) -> str:
    """Create the dataset repository if needed and commit the staged files in one commit."""
    import huggingface_hub.constants as hub_constants
    from huggingface_hub import HfApi

    # The project runs with HF_HUB_OFFLINE=1 so that nothing downloads a model by accident; a push is an
    # explicit request to reach the Hub, so this one call goes online.
    was_offline = hub_constants.HF_HUB_OFFLINE
    hub_constants.HF_HUB_OFFLINE = False
    try:
        api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(directory),
            repo_id=repo_id,
            repo_type="dataset",
            revision=revision,
            commit_message=f"{release.ref} (content hash {release.manifest['content_hash'][:12]})",
        )
    finally:
        hub_constants.HF_HUB_OFFLINE = was_offline
    return getattr(info, "commit_url", None) or str(info)
