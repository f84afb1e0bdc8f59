"""Byte-reproducible code archives.

The SDK packs a training step's ``sourcedir.tar.gz`` with ``tarfile.open(mode="w:gz")``: the
gzip header carries the build time, and each member carries the staged file's owner, group,
mode and mtime, in the order ``os.listdir`` happened to return. Its S3 key, though, is derived
from the sources alone, so two builds of the same sources put different bytes at the same key,
which a write-once store must refuse and which defeats any comparison of what was uploaded.
:func:`reproducible_tar_gz` re-packs such an archive so its bytes depend only on member names,
kinds and contents.
"""

from __future__ import annotations

import gzip
import io
import tarfile

# Members get this mtime (2000-01-01T00:00:00Z); the gzip header gets 0 (no time at all).
FIXED_MTIME = 946684800
_FILE_MODE = 0o644
_EXEC_MODE = 0o755


def reproducible_artifact(uri: str, data: bytes) -> bytes:
    """``data`` re-packed if ``uri`` names a ``.tar.gz``, else unchanged."""
    return reproducible_tar_gz(data) if uri.endswith(".tar.gz") else data


def reproducible_tar_gz(data: bytes) -> bytes:
    """Re-pack a gzipped tar: members sorted by name, fixed mtime, root owner, normal modes.

    Args:
        data: a ``.tar.gz`` holding regular files and folders (what the SDK packs).

    Returns:
        The same members and contents; identical bytes for identical inputs in any process,
        whoever owns the files, whatever the umask, the clock or the directory order.
    """
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as source:
        members = sorted(source.getmembers(), key=lambda member: member.name)
        # filename="" and mtime=0 keep the name of a temporary file and the clock out of the
        # gzip header; compresslevel 9 is what the SDK uses.
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as packed,
        ):
            for member in members:
                body = source.extractfile(member) if member.isfile() else None
                packed.addfile(_normalized(member), body)
    return out.getvalue()


def _normalized(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """A copy of ``member``'s header with everything but name, kind, size and link cleared."""
    info = tarfile.TarInfo(member.name)
    info.type, info.size, info.linkname = member.type, member.size, member.linkname
    executable = member.isdir() or bool(member.mode & 0o111)
    info.mode = _EXEC_MODE if executable else _FILE_MODE
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
