"""Keyed pseudonymization of user ids (HMAC-SHA256). The key never enters the lake.

The key comes from `$FLYWHEEL_HMAC_KEY`, or from a key file outside the lake (`$FLYWHEEL_HMAC_KEY_FILE`,
default `.flywheel/hmac.key` under the working directory). Without a key, ingest refuses data that
carries user ids unless told to drop them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.errors import UserError
from lakehouse.location import ObjectPath

KEY_ENV = "FLYWHEEL_HMAC_KEY"
KEY_FILE_ENV = "FLYWHEEL_HMAC_KEY_FILE"
DEFAULT_KEY_FILE = Path(".flywheel/hmac.key")


class MissingKey(UserError):
    """The pseudonymization key is missing, too short or inside the lake (run `flywheel keygen`)."""


def key_file_path() -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)


def load_key(key_file: Path | None = None) -> bytes | None:
    """The pseudonymization key, or None when none is configured."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    path = key_file or key_file_path()
    if path.exists():
        key = path.read_text().strip()
        if len(key) < 32:
            raise MissingKey(f"HMAC key in {path} is shorter than 32 characters")
        return key.encode()
    return None


def create_key_file(path: Path | None = None) -> Path:
    """Create a random key file (mode 600) if none exists; returns its path."""
    path = path or key_file_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path


def check_key_outside_lake(key_path: Path, lake_root: Path | ObjectPath) -> None:
    if isinstance(lake_root, ObjectPath):
        return  # a key file on local disk cannot lie inside a lake on object storage
    resolved = key_path.resolve()
    if resolved.is_relative_to(lake_root.resolve()):
        raise MissingKey(f"the HMAC key file {resolved} is inside the lake {lake_root}; keep it outside")


class Pseudonymizer:
    """HMAC-SHA256 of user ids under one key. The keyed state is set up once and copied per id, which
    skips the key padding and hashing that every `hmac.new` repeats."""

    def __init__(self, key: bytes):
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, user_id: str) -> str:
        mac = self._keyed.copy()
        mac.update(user_id.encode())
        return mac.hexdigest()[:32]

    def __call__(self, user_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Pseudonymize each distinct id once; nulls stay null."""
        if isinstance(user_ids, pa.ChunkedArray):
            user_ids = user_ids.combine_chunks()
        if len(user_ids) == 0:
            return pa.array([], pa.string())
        encoded = pc.dictionary_encode(user_ids)
        digests = pa.array([self.digest(uid) for uid in encoded.dictionary.to_pylist()], pa.string())
        return pc.take(digests, encoded.indices)
