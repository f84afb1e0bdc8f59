"""The S3 stand-in: ``s3://bucket/key`` ↔ ``<store_root>/s3/<bucket>/<key>``.

Objects are write-once, as the engine's promise that nothing a past execution produced is
ever lost demands: writing a key again with the same bytes is a no-op (so re-uploading a
content-addressed code file is harmless), with different bytes it is an error. That holds
between processes too: an object is linked into place, never renamed over another, so of
two writers of one key exactly one stores it and the other compares. Keys that
could escape the store (``..``, absolute, empty segments) are rejected before any file is
touched.

Every object's digest is recorded as it is stored (``digests/<bucket>/<key>``: its SHA-256
and size, what S3 keeps as an ETag), and every read checks it: a job's inputs, a cache
hit's outputs, a model deployed, a report's data. An object whose bytes changed since is
an ObjectDamagedError naming it, never data quietly used. (An object stored before digests
were kept, or whose writer died between the two writes, has its digest recorded by the
first reader.)
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import StoreCorruptError, StoreWriteError
from pipeline.core.names import split_s3_uri
from pipeline.local.sandbox import confined_files
from pipeline.local.store.atomic import create_bytes, create_json
from pipeline.local.store.layout import StoreLayout
from pipeline.local.store.schema import ObjectDigestRecord, read_record

_CHUNK = 1 << 20


class StoreError(Exception):
    """A bad S3 URI or a write that would change an object already stored."""


class ObjectDamagedError(StoreError, StoreCorruptError):
    """A stored object whose bytes are not the ones stored (truncated, replaced, edited)."""


class ObjectWriteError(StoreError, StoreWriteError):
    """An object the file system would not store (a full disk, a read-only store)."""


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
    """Files standing for S3 objects under ``<root>/s3``, with their digests."""

    def __init__(self, root: Path) -> None:
        layout = StoreLayout(root)
        self.root, self.digest_root = layout.s3(), layout.digests()

    def path(self, uri: str | S3Uri) -> Path:
        """The file that holds (or would hold) the object or prefix at ``uri``."""
        parsed = parse_s3_uri(uri) if isinstance(uri, str) else uri
        return self.root.joinpath(parsed.bucket, *([parsed.key] if parsed.key else []))

    def put(self, uri: str | S3Uri, data: bytes) -> bool:
        """Store an object once; identical bytes again are a no-op, different bytes an error.

        Returns:
            True if the object was stored now, False if it already held these bytes.

        Raises:
            StoreError: a prefix is there, or the object holds other bytes (ObjectDamagedError
                when they are not even the bytes stored), or the disk refused
                (ObjectWriteError).
        """
        target = self.path(uri)
        if target.is_dir():
            raise StoreError(f"cannot write {uri}: a prefix with objects below it exists there")
        digest = _digest_of(data)
        try:
            with _as_object_error():
                create_bytes(target, data)
            stored = True
        except FileExistsError:
            stored = False
        if not stored and not (target.is_file() and _same_bytes(target, data)):
            if self._recorded(uri) == digest:
                raise self._damaged(uri, target, digest)
            raise StoreError(
                f"{uri} already holds different bytes; stored objects are never overwritten"
            )
        self._record(uri, digest)
        return stored

    def get(self, uri: str | S3Uri) -> bytes:
        """The bytes of one object, checked against its digest (StoreError if it does not
        exist, ObjectDamagedError if its bytes changed since it was stored)."""
        target = self.path(uri)
        if not target.is_file():
            raise StoreError(f"no object at {uri}")
        data = target.read_bytes()
        self._check(uri, target, _digest_of(data))
        return data

    def verified_path(self, uri: str | S3Uri) -> Path:
        """The file of one object once its bytes are checked (for readers that open it)."""
        target = self.path(uri)
        if not target.is_file():
            raise StoreError(f"no object at {uri}")
        self._check(uri, target, _file_digest(target))
        return target

    def list_prefix(self, uri: str) -> list[tuple[str, Path]]:
        """Objects matching an S3Prefix input, each with its path relative to the prefix.

        An object whose key equals the prefix comes back under its own file name, as
        SageMaker downloads a single-file input (the SDK's code inputs point at one file).
        Nothing is read: :meth:`verified_prefix` checks them too.
        """
        return [(relative, path) for relative, path, _ in self._listed(uri)]

    def verified_prefix(self, uri: str) -> list[tuple[str, Path]]:
        """:meth:`list_prefix` once every object's bytes are checked."""
        listed = self._listed(uri)
        for _, path, object_uri in listed:
            self._check(object_uri, path, _file_digest(path))
        return [(relative, path) for relative, path, _ in listed]

    def _listed(self, uri: str) -> list[tuple[str, Path, S3Uri]]:
        prefix = parse_s3_uri(uri)
        target = self.path(prefix)
        if target.is_file():
            return [(target.name, target, prefix)]
        if not target.is_dir():
            return []
        found = []
        for path in target.rglob("*"):
            if path.is_file() and not _is_partial_write(path):
                relative = path.relative_to(target).as_posix()
                found.append((relative, path, prefix.child(relative)))
        return sorted(found, key=lambda item: item[0])

    def download(self, uri: str, dest: Path) -> int:
        """Copy every object under ``uri`` into ``dest``, each checked against its digest
        as it is copied; returns how many were copied."""
        objects = self._listed(uri)
        for relative, source, object_uri in objects:
            out = dest / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            self._check(object_uri, source, _copy_digest(source, out))
        return len(objects)

    def damage_in(self, properties: Mapping[str, Any]) -> str | None:
        """The first problem with the objects a step's properties say it produced (its
        Processing outputs, model artifacts and property files), or None when each is
        there and intact: a cache hit is only as good as what it points at."""
        for uri in output_uris(properties):
            try:
                if not self.verified_prefix(uri):
                    return f"no object at {uri}"
            except StoreError as err:
                return str(err)
        return None

    # digests -------------------------------------------------------------------------------

    def _digest_path(self, uri: str | S3Uri) -> Path:
        parsed = parse_s3_uri(uri) if isinstance(uri, str) else uri
        return self.digest_root.joinpath(parsed.bucket, *([parsed.key] if parsed.key else []))

    def _recorded(self, uri: str | S3Uri) -> _Digest | None:
        path = self._digest_path(uri)
        if not path.is_file():
            return None
        try:
            record = read_record(path, ObjectDigestRecord)
        except StoreCorruptError as err:
            raise ObjectDamagedError(f"digest of {uri}: {err}") from None
        return _Digest(record["sha256"], record["size"])

    def _record(self, uri: str | S3Uri, digest: _Digest) -> None:
        """Keep the digest of an object just stored (or found without one)."""
        with contextlib.suppress(FileExistsError), _as_object_error():
            create_json(self._digest_path(uri), {"sha256": digest.sha256, "size": digest.size})
            return
        if self._recorded(uri) != digest:
            raise ObjectDamagedError(
                f"{uri}: its recorded digest does not match its bytes; restore the object "
                f"and {self._digest_path(uri)} from a backup"
            )

    def _check(self, uri: str | S3Uri, path: Path, digest: _Digest) -> None:
        recorded = self._recorded(uri)
        if recorded is None:
            with contextlib.suppress(StoreError):  # a read-only store is still readable
                self._record(uri, digest)
            return
        if recorded != digest:
            raise self._damaged(uri, path, recorded)

    @staticmethod
    def _damaged(uri: str | S3Uri, path: Path, recorded: _Digest) -> ObjectDamagedError:
        now = path.stat().st_size if path.is_file() else 0
        return ObjectDamagedError(
            f"stored object {uri} is damaged: it holds {now} bytes that are not the "
            f"{recorded.size} stored (sha256 {recorded.sha256[:12]}...); restore {path} "
            "from a backup, or rerun the step that made it with caching off"
        )

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


@dataclass(frozen=True)
class _Digest:
    sha256: str
    size: int


def _digest_of(data: bytes) -> _Digest:
    return _Digest(hashlib.sha256(data).hexdigest(), len(data))


def _file_digest(path: Path) -> _Digest:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return _Digest(digest.hexdigest(), size)


def _copy_digest(source: Path, dest: Path) -> _Digest:
    """Copy ``source`` to ``dest``, hashing what was read (the bytes the job gets)."""
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as fh, dest.open("wb") as out:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return _Digest(digest.hexdigest(), size)


def _same_bytes(path: Path, data: bytes) -> bool:
    return path.stat().st_size == len(data) and path.read_bytes() == data


@contextlib.contextmanager
def _as_object_error() -> Iterator[None]:
    try:
        yield
    except StoreWriteError as err:
        raise ObjectWriteError(str(err)) from None


def output_uris(properties: Mapping[str, Any]) -> list[str]:
    """The S3 URIs a step's properties say it produced, by their Describe* shapes."""
    found: list[str] = []
    outputs = (properties.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs if isinstance(outputs, list) else []:
        uri = (output.get("S3Output") or {}).get("S3Uri") if isinstance(output, dict) else None
        found += [uri] if isinstance(uri, str) else []
    artifacts = properties.get("ModelArtifacts") or {}
    model = artifacts.get("S3ModelArtifacts") if isinstance(artifacts, dict) else None
    found += [model] if isinstance(model, str) else []
    files = properties.get("PropertyFiles") or {}
    found += [u for u in files.values() if isinstance(u, str)] if isinstance(files, dict) else []
    return [uri for uri in found if uri.startswith("s3://")]
