"""Where a lake lives: a local directory (`pathlib.Path`) or a prefix on object storage (`ObjectPath`).

`--lake s3://bucket/prefix` (or `gs://`, `abfs://`, `hdfs://`: any URI pyarrow's filesystems resolve)
gives an `ObjectPath`, a pathlib-like object over a pyarrow `FileSystem`, so the lake code that joins,
lists, reads and writes paths works unchanged on both. Its `str()` and `os.fspath()` are the URI, which
pyarrow (Parquet, datasets) and delta-rs open directly. What a directory does that an object store
cannot is here, behind three functions and nowhere else:

- `place(local_file, target)`: a staged file enters the lake (a rename locally, an upload remotely);
- `publish_dir(local_dir, target)`: a release directory appears at once or not at all (a rename that
  refuses an existing target locally; remotely a conditional put claims the version, the files are
  uploaded and `manifest.json`, which makes a release visible to readers, is written last);
- `exclusive_lock(path)`: the lake's commit lock (fcntl locally; remotely a lease object created with
  S3's conditional write `If-None-Match: *`, taken over from a dead holder with `If-Match: <etag>`).

Credentials and the endpoint come from the standard AWS environment variables (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers such as MinIO), read
by pyarrow, delta-rs and boto3 alike; nothing here names a host.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lakehouse.errors import UserError

LEASE_SECONDS = 120  # a commit lock older than this is a dead holder's, and the next writer takes it over
LOCK_POLL_SECONDS = 0.05


class LocationError(UserError):
    """A lake URI that cannot be used: unknown scheme, no bucket, or a store without conditional writes."""


def is_uri(value: str | os.PathLike) -> bool:
    return isinstance(value, ObjectPath) or "://" in str(value)


def parse(uri: str) -> ObjectPath:
    """`scheme://bucket/prefix` -> an ObjectPath over pyarrow's filesystem for that scheme."""
    from pyarrow import fs

    scheme, _, rest = uri.partition("://")
    if scheme in ("file", "local"):
        raise LocationError(f"{uri}: give a local lake as a directory path, not a {scheme}:// URI")
    if not rest.strip("/"):
        raise LocationError(f"{uri}: a lake URI needs a bucket (and optionally a prefix): {scheme}://BUCKET/PREFIX")
    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
    except Exception as exc:
        raise LocationError(f"{uri}: not a filesystem URI pyarrow can open ({exc})") from exc
    return ObjectPath(filesystem, path.rstrip("/"), scheme)


@dataclass(frozen=True)
class _Stat:
    st_size: int
    st_mtime: float


class ObjectPath:
    """A path on an object store, with the part of pathlib's interface the lake uses.

    Object stores have no directories: `mkdir` does nothing, a "directory" exists while an object lies
    under it, and `rename` of a single object is a copy and a delete (the lake never relies on it being
    atomic: files enter tables by content-addressed name and become visible only through a Delta commit)."""

    def __init__(self, filesystem, key: str, scheme: str):
        self.fs, self.key, self.scheme = filesystem, key.strip("/"), scheme

    # -- pure path operations ----------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self.scheme}://{self.key}"

    __fspath__ = __str__

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ObjectPath) and (self.scheme, self.key) == (other.scheme, other.key)

    def __hash__(self) -> int:
        return hash((self.scheme, self.key))

    def __lt__(self, other: ObjectPath) -> bool:
        return self.key < other.key

    def __truediv__(self, part: str | os.PathLike) -> ObjectPath:
        return self.joinpath(part)

    def joinpath(self, *parts: str | os.PathLike) -> ObjectPath:
        key = PurePosixPath(self.key).joinpath(*(str(p) for p in parts)).as_posix()
        return ObjectPath(self.fs, key, self.scheme)

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.key).stem

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.fs, PurePosixPath(self.key).parent.as_posix(), self.scheme)

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.key).parts

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    def relative_to(self, other: ObjectPath | str | os.PathLike) -> PurePosixPath:
        base = other.key if isinstance(other, ObjectPath) else str(other).split("://", 1)[-1].strip("/")
        return PurePosixPath(self.key).relative_to(base)

    def as_posix(self) -> str:
        return str(self)

    def is_absolute(self) -> bool:
        return True

    def resolve(self) -> ObjectPath:
        return self

    def expanduser(self) -> ObjectPath:
        return self

    def is_symlink(self) -> bool:
        return False

    # -- the store ----------------------------------------------------------------------------------

    def _info(self):
        return self.fs.get_file_info(self.key)

    def exists(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type != FileType.NotFound

    def is_dir(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type == FileType.Directory

    def is_file(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type == FileType.File

    def stat(self) -> _Stat:
        info = self._info()
        if info.size is None:
            raise FileNotFoundError(str(self))
        return _Stat(info.size, info.mtime.timestamp() if info.mtime else 0.0)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a prefix exists once an object is written under it."""

    def _children(self, recursive: bool) -> list:
        from pyarrow.fs import FileSelector

        return self.fs.get_file_info(FileSelector(self.key, allow_not_found=True, recursive=recursive))

    def iterdir(self):
        for info in sorted(self._children(False), key=lambda i: i.path):
            yield ObjectPath(self.fs, info.path, self.scheme)

    def glob(self, pattern: str):
        """Entries whose path below this one matches `pattern` segment by segment (no `**`)."""
        wanted = pattern.split("/")
        recursive = len(wanted) > 1
        for info in sorted(self._children(recursive), key=lambda i: i.path):
            relative = PurePosixPath(info.path).relative_to(self.key).parts
            if len(relative) == len(wanted) and all(
                fnmatch.fnmatchcase(p, w) for p, w in zip(relative, wanted, strict=True)
            ):
                yield ObjectPath(self.fs, info.path, self.scheme)

    def rglob(self, pattern: str):
        for info in sorted(self._children(True), key=lambda i: i.path):
            if fnmatch.fnmatchcase(PurePosixPath(info.path).name, pattern):
                yield ObjectPath(self.fs, info.path, self.scheme)

    def open(self, mode: str = "r", encoding: str | None = None):
        if mode in ("rb", "r"):
            stream = self.fs.open_input_file(self.key)
        elif mode in ("wb", "w"):
            stream = self.fs.open_output_stream(self.key)
        else:
            raise ValueError(f"ObjectPath.open: mode {mode!r} is not supported (object stores have no append)")
        return stream if "b" in mode else io.TextIOWrapper(stream, encoding=encoding or "utf-8")

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.key) as fh:
            return fh.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        with self.fs.open_output_stream(self.key) as fh:  # one PUT: readers see the old object or the new one
            fh.write(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.key)

    def upload(self, local: Path) -> None:
        from pyarrow import fs

        fs.copy_files(str(local), self.key, source_filesystem=fs.LocalFileSystem(), destination_filesystem=self.fs)

    # -- conditional writes (S3's If-None-Match / If-Match) ------------------------------------------

    def _s3(self):
        if self.scheme not in ("s3", "s3a"):
            raise LocationError(
                f"{self}: writing a lake needs conditional writes for its commit lock; flywheel implements "
                "them for S3 (and S3-compatible stores) only. Read-only commands work on any pyarrow URI."
            )
        import boto3

        bucket, _, key = self.key.partition("/")
        return boto3.client("s3"), bucket, key

    def create_exclusive(self, data: bytes) -> bool:
        """Write this object only if it does not exist (`If-None-Match: *`); False when it already did."""
        client, bucket, key = self._s3()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except client.exceptions.ClientError as exc:
            if _precondition_failed(exc):
                return False
            raise
        return True

    def replace_if(self, etag: str, data: bytes) -> bool:
        """Overwrite this object only if it still has `etag` (`If-Match`); False when someone else wrote it."""
        client, bucket, key = self._s3()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=data, IfMatch=etag)
        except client.exceptions.ClientError as exc:
            if _precondition_failed(exc) or _code(exc) in ("NoSuchKey", "404"):
                return False
            raise
        return True

    def read_with_etag(self) -> tuple[bytes, str] | None:
        client, bucket, key = self._s3()
        try:
            found = client.get_object(Bucket=bucket, Key=key)
        except client.exceptions.NoSuchKey:
            return None
        return found["Body"].read(), found["ETag"]


def _code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _precondition_failed(exc) -> bool:
    # 412 PreconditionFailed; 409 ConditionalRequestConflict when two conditional writes race
    return _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


# -- the three operations that differ between a directory and an object store ------------------------


def place(local: Path, target: Path | ObjectPath) -> None:
    """Move a finished local file into the lake under `target` (the caller checked it is not there)."""
    if isinstance(target, ObjectPath):
        target.upload(local)
        local.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, target)


def publish_dir(local: Path, target: Path | ObjectPath, last: str = "manifest.json") -> bool:
    """Make the local directory `local` appear as `target`; False when `target` is taken (another writer
    published it first). `last` is the file written last, the one readers take as "published"."""
    if not isinstance(target, ObjectPath):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(local, target)  # refuses a non-empty target: never overwritten
        except OSError:
            return False
        return True
    if not (target / "_CLAIMED").create_exclusive(json.dumps(_holder()).encode()):
        return False
    files = sorted(p for p in local.rglob("*") if p.is_file())
    for path in sorted(files, key=lambda p: p.name == last):
        (target / path.relative_to(local).as_posix()).upload(path)
    shutil.rmtree(local, ignore_errors=True)
    return True


def _holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time(), "id": uuid.uuid4().hex}


@contextlib.contextmanager
def exclusive_lock(path: Path | ObjectPath):
    """Hold the lock `path` for the block: an exclusive fcntl lock on a local file (released when the
    process dies), or a lease object on S3 (a dead holder's lease is taken over after LEASE_SECONDS)."""
    if not isinstance(path, ObjectPath):
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    holder = _holder()
    body = json.dumps(holder).encode()
    while not path.create_exclusive(body):
        found = path.read_with_etag()
        if found is not None:
            data, etag = found
            try:
                held_since = float(json.loads(data)["at"])
            except (ValueError, KeyError, TypeError):
                held_since = 0.0
            if time.time() - held_since > LEASE_SECONDS and path.replace_if(etag, body):
                break  # the holder died: its lease is ours now (If-Match: one taker wins)
        time.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        found = path.read_with_etag()
        if found is not None and json.loads(found[0]).get("id") == holder["id"]:
            path.unlink(missing_ok=True)


def local_dir(root: Path | ObjectPath) -> Path:
    """The local directory of a lake's working files: the lake itself when it is local; for a lake on
    object storage a directory per lake URI under the temporary directory (`$FLYWHEEL_LOCAL_DIR` if set),
    which holds its staging (so a staged file is hashed and uploaded once) and its DuckDB catalog (DuckDB
    opens local files only)."""
    if not isinstance(root, ObjectPath):
        return root
    import hashlib
    import tempfile

    base = Path(os.environ.get("FLYWHEEL_LOCAL_DIR") or Path(tempfile.gettempdir()) / "flywheel-lakes")
    return base / hashlib.sha256(str(root).encode()).hexdigest()[:16]
