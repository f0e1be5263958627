"""Annotator tokens: a YAML file of names, roles and token hashes; tokens themselves are never stored.

Tokens are 256-bit random strings, so a plain sha256 of the token is as safe as a slow hash here (there
is nothing to brute-force) and keeps every login check to one hash. Lookups compare digests with
`hmac.compare_digest` so the time taken does not depend on how much of a digest matched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from labeling_app.config import ConfigError, load_yaml_model
from lakehouse.config import FrozenStrictModel, StrictModel, repeated
from lakehouse.lake import atomic_write_bytes

Role = Literal["annotator", "reviewer"]
TOKEN_PREFIX = "fwl_"
LOCAL_USER = "local"


class Annotator(FrozenStrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    role: Role
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: str | None = None


class AnnotatorsFile(StrictModel):
    annotators: list[Annotator] = Field(default_factory=list)

    @field_validator("annotators")
    @classmethod
    def _unique(cls, annotators: list[Annotator]) -> list[Annotator]:
        names = [a.name for a in annotators]
        duplicates = repeated(names)
        if duplicates:
            raise ValueError(f"duplicate annotator names: {', '.join(duplicates)}")
        if LOCAL_USER in names:
            raise ValueError(f"the name {LOCAL_USER!r} is reserved for single-user local mode")
        return annotators


def hash_token(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def default_path(lake_root: Path) -> Path:
    return Path(lake_root) / "labels" / "annotators.yaml"


def load(path: Path) -> AnnotatorsFile:
    """The annotators file; a missing file means nobody can log in yet (not an error)."""
    if not Path(path).exists():
        return AnnotatorsFile()
    return load_yaml_model(path, AnnotatorsFile)


def authenticate(path: Path, token: str) -> Annotator | None:
    """The annotator whose token this is, or None. Every entry is compared, match or not."""
    if not token or not token.strip():
        return None
    digest = hash_token(token)
    found = None
    for annotator in load(path).annotators:
        if hmac.compare_digest(annotator.token_sha256, digest):
            found = annotator
    return found


def add(path: Path, name: str, role: str, *, replace: bool = False) -> tuple[Annotator, str]:
    """Add an annotator (or give an existing one a new token with `replace`); returns it and its token.

    The file is rewritten atomically and readable by its owner only.
    """
    import yaml

    current = load(path)
    exists = any(a.name == name for a in current.annotators)
    if exists and not replace:
        raise ConfigError(f"annotator {name!r} already exists in {path} (use --replace to issue a new token)")
    token = new_token()
    try:
        annotator = Annotator(
            name=name,
            role=role,
            token_sha256=hash_token(token),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
    except ValueError as exc:
        raise ConfigError(f"bad annotator: {exc}") from None
    kept = [a for a in current.annotators if a.name != name]
    updated = AnnotatorsFile(annotators=[*kept, annotator])
    text = yaml.safe_dump(updated.model_dump(), sort_keys=False)
    header = "# Annotator tokens (sha256 of each token; the tokens themselves are never stored).\n"
    atomic_write_bytes(Path(path), (header + text).encode("utf-8"))
    os.chmod(path, 0o600)
    return annotator, token
