"""The S3 stand-in: ``s3://bucket/key`` ↔ ``<store_root>/s3/<bucket>/<key>``.

Objects are write-once, as the engine's promise that nothing a past execution produced is
ever lost demands: writing a key again with the same bytes is a no-op (so re-uploading a
content-addressed code file is harmless), with different bytes it is an error. That holds
between processes too: an object is linked into place, never renamed over another, so of
two writers of one key exactly one stores it and the other compares. Keys that
could escape the store (``..``, absolute, empty segments) are rejected before any file is
touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.names import split_s3_uri
from pipeline.local.sandbox import confined_files
from pipeline.local.store.atomic import create_bytes
from pipeline.local.store.layout import StoreLayout


class StoreError(Exception):
    """A bad S3 URI or a write that would change an object already stored."""


@dataclass(frozen=True)
class S3Uri:
    """A parsed ``s3://bucket/key`` (the key may be empty for a bucket-wide prefix)."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, relative: str) -> S3Uri:
        """The URI of ``relative`` below this prefix."""
        base = self.key.rstrip("/")
        return S3Uri(self.bucket, f"{base}/{relative}" if base else relative)


def parse_s3_uri(uri: str) -> S3Uri:
    """Split an S3 URI (pipeline.core.names' rule) and refuse keys that would leave the store.

    A trailing ``/`` is allowed (a prefix).
    """
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as err:
        raise StoreError(str(err)) from None
    key = key[:-1] if key.endswith("/") else key
    if key:
        for segment in key.split("/"):
            if segment in {"", ".", ".."} or "\\" in segment or "\x00" in segment:
                raise StoreError(f"S3 key in {uri!r} would escape the store (empty, . or .. part)")
    return S3Uri(bucket, key)


class ObjectStore:
    """Files standing for S3 objects under ``<root>/s3``."""

    def __init__(self, root: Path) -> None:
        self.root = StoreLayout(root).s3()

    def path(self, uri: str | S3Uri) -> Path:
        """The file that holds (or would hold) the object or prefix at ``uri``."""
        parsed = parse_s3_uri(uri) if isinstance(uri, str) else uri
        return self.root.joinpath(parsed.bucket, *([parsed.key] if parsed.key else []))

    def put(self, uri: str | S3Uri, data: bytes) -> bool:
        """Store an object once; identical bytes again are a no-op, different bytes an error.

        Returns:
            True if the object was stored now, False if it already held these bytes.
        """
        target = self.path(uri)
        if target.is_dir():
            raise StoreError(f"cannot write {uri}: a prefix with objects below it exists there")
        try:
            create_bytes(target, data)
            return True
        except FileExistsError:
            pass
        if target.is_file() and target.read_bytes() == data:
            return False
        raise StoreError(
            f"{uri} already holds different bytes; stored objects are never overwritten"
        )

    def get(self, uri: str | S3Uri) -> bytes:
        """The bytes of one object (StoreError if it does not exist)."""
        target = self.path(uri)
        if not target.is_file():
            raise StoreError(f"no object at {uri}")
        return target.read_bytes()

    def list_prefix(self, uri: str) -> list[tuple[str, Path]]:
        """Objects matching an S3Prefix input, each with its path relative to the prefix.

        An object whose key equals the prefix comes back under its own file name, as
        SageMaker downloads a single-file input (the SDK's code inputs point at one file).
        """
        target = self.path(uri)
        if target.is_file():
            return [(target.name, target)]
        if not target.is_dir():
            return []
        return sorted(
            (p.relative_to(target).as_posix(), p)
            for p in target.rglob("*")
            if p.is_file() and not _is_partial_write(p)
        )

    def download(self, uri: str, dest: Path) -> int:
        """Copy every object under ``uri`` into ``dest``; returns how many were copied."""
        objects = self.list_prefix(uri)
        for relative, source in objects:
            out = dest / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out)
        return len(objects)

    def upload_dir(self, source: Path, uri: str, boundary: Path | None = None) -> int:
        """Store every file below ``source`` under the prefix ``uri``; returns the count.

        Links are followed only inside ``boundary`` (default: ``source``), so a link in a
        job's output cannot copy a host file into the store; such a link raises SandboxError
        (a ValueError) before anything is stored.
        """
        prefix = parse_s3_uri(uri)
        files = confined_files(source, source if boundary is None else boundary)
        self.put_files(prefix, files)
        return len(files)

    def put_files(self, prefix: S3Uri, files: list[tuple[str, Path]]) -> None:
        """Store each (relative name, file) pair under ``prefix``, as confined_files lists them."""
        for relative, path in files:
            self.put(prefix.child(relative), path.read_bytes())


def _is_partial_write(path: Path) -> bool:
    """True for atomic.write_bytes' temporary files, which are never objects."""
    return path.name.startswith(".") and path.name.endswith(".tmp")
