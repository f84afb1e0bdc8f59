"""Atomic file writes: a reader sees the old file or the whole new one, never half of one.

Everything the local engine and the endpoint manager store goes through here, so a crash or
Ctrl-C in the middle of a write can never leave a truncated artifact or record behind. A
write the file system refuses (a full disk, a read-only or foreign store) is one
StoreWriteError naming the file and the cause, never an OSError traceback; a write never
replaces anything but a regular file (not a device, a FIFO, a socket or a folder).

Reading is the other half: :func:`read_json` refuses a record too large or nested too deep
to be one of ours, in one line naming the file (pipeline.local.store.schema then checks
its shape).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.core.errors import StoreCorruptError, StoreWriteError

MAX_RECORD_BYTES = 8 * 1024 * 1024
"""No record of ours comes near this (a definition is at most 1 MiB, SageMaker's limit)."""

MAX_DEPTH = 64
"""Nesting of a stored JSON value: records are a dozen levels deep at most."""

_TEMP_NAME_PART = 64  # of the target's name in a temp file's name, so long names still fit

_CAUSES = {
    errno.ENOSPC: ("the disk is full", "free some space first"),
    errno.EDQUOT: ("the disk quota is used up", "free some space first"),
    errno.EROFS: (
        "the file system is read-only",
        "use a writable store (local.store_root in the config)",
    ),
    errno.EACCES: (
        "permission denied",
        "the store must be writable by you (local.store_root in the config)",
    ),
    errno.EPERM: (
        "permission denied",
        "the store must be writable by you (local.store_root in the config)",
    ),
    errno.ENAMETOOLONG: ("the file name is too long", "use shorter names"),
}


def write_failure(path: Path, err: OSError) -> StoreWriteError | None:
    """The one-line StoreWriteError for an OSError a write met, or None if it is no such."""
    cause = _CAUSES.get(err.errno or 0)
    if cause is None:
        return None
    return StoreWriteError(f"cannot write {path}: {cause[0]}; {cause[1]}")


def is_store_full(err: BaseException) -> bool:
    """True for the error of a write that met a full disk (or a used-up quota)."""
    text = str(err)
    return isinstance(err, StoreWriteError) and (
        _CAUSES[errno.ENOSPC][0] in text or _CAUSES[errno.EDQUOT][0] in text
    )


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn the OSErrors of a full, read-only or foreign store into one StoreWriteError."""
    try:
        yield
    except OSError as err:
        failure = write_failure(path, err)
        if failure is None:
            raise
        raise failure from None


def check_replaceable(path: Path) -> None:
    """Refuse to write over anything but a regular file (a device, a FIFO, a socket, a
    folder): a rename would put our file where the system or another program expects
    theirs."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return  # a link is replaced itself, never what it points at
    raise StoreWriteError(f"refusing to write {path}: it is {file_kind(mode)}, not a file")


def file_kind(mode: int) -> str:
    """What a file of ``mode`` is, in words."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISREG, "a regular file"),
    )
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def _temp_copy(path: Path, data: bytes, durable: bool = True) -> str:
    """A fully written (``durable``: and fsynced) temp file beside ``path`` (same file
    system: rename is atomic)."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{path.name[:_TEMP_NAME_PART]}."
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
        except BaseException:
            os.unlink(tmp)
            raise
    return tmp


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    ``durable=False`` skips the fsync, for scratch a crash may lose: a job's own config
    files, written anew for every attempt (an fsync is ~1 ms here).

    Raises:
        StoreWriteError: ``path`` is not a regular file, or the file system refused.
    """
    check_replaceable(path)
    tmp = _temp_copy(path, data, durable)
    try:
        with writing(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any, durable: bool = True) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically (see :func:`write_bytes`)."""
    write_bytes(path, _json_bytes(obj), durable)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()


def read_json(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> Any:
    """Read a JSON file written by :func:`write_json`.

    Raises:
        StoreCorruptError: the file is not JSON, or larger or deeper than any record of
            ours. Our writes are atomic, so this means something else damaged it; one line
            naming the file beats a traceback.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise damaged(path, "a folder stands where the record should be") from None
    except PermissionError:
        raise damaged(path, "it cannot be read (permission denied)") from None
    if len(raw) > max_bytes:
        raise damaged(path, f"larger than {max_bytes} bytes, no record of ours is")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise damaged(path, str(err)) from None
    except RecursionError:
        raise damaged(path, f"nested deeper than {MAX_DEPTH} levels") from None
    # no text with MAX_DEPTH brackets or fewer nests deeper (most records: no walk at all)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and depth_over(value, MAX_DEPTH):
        raise damaged(path, f"nested deeper than {MAX_DEPTH} levels")
    return value


def damaged(path: Path, why: str) -> StoreCorruptError:
    """The one-line error for a stored file that cannot be one of ours."""
    return StoreCorruptError(
        f"{path}: damaged record ({why}); restore the file from a backup or move it away"
    )


def depth_over(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists and objects more than ``limit`` levels deep (no
    recursion: the check must hold for the values it refuses)."""
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        todo.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


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
        with writing(path):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
