"""Atomic file writes: a reader sees the old file or the whole new one, never half of one.

Everything the local engine and the endpoint manager store goes through here, so a crash or
Ctrl-C in the middle of a write can never leave a truncated artifact or record behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pipeline.core.errors import StoreCorruptError


def _temp_copy(path: Path, data: bytes) -> str:
    """A fully written, fsynced temp file beside ``path`` (same file system: rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    tmp = _temp_copy(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    write_bytes(path, _json_bytes(obj))


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json`.

    Raises:
        StoreCorruptError: the file is not JSON. Our writes are atomic, so this means
            something else damaged it; one line naming the file beats a traceback.
    """
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise StoreCorruptError(
            f"{path}: damaged record ({err}); restore the file from a backup or move it away"
        ) from None


def create_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to a path that must not exist yet, atomically.

    For records SageMaker never overwrites (model package versions, models, endpoint
    configs, pipeline versions): see :func:`create_bytes`.
    """
    create_bytes(path, _json_bytes(obj))


def create_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a path that must not exist yet, atomically.

    The complete file is linked into place, so of two writers racing for one path exactly
    one wins and the other gets FileExistsError instead of replacing the first one's file
    (a rename would let the last writer win silently).
    """
    tmp = _temp_copy(path, data)
    try:
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
