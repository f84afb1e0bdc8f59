"""Re-packed code archives: same members and contents → same bytes, nothing else counts."""

from __future__ import annotations

import gzip
import io
import tarfile

from pipeline.assembly.archives import FIXED_MTIME, reproducible_artifact, reproducible_tar_gz

FILES = {"train.py": b"print('train')\n", "model.py": b"class M: ...\n", "run.sh": b"#!/bin/sh\n"}


def pack(
    order: list[str],
    *,
    mtime: float,
    owner: int,
    gzip_mtime: float,
    mode: int,
    files: dict[str, bytes] = FILES,
) -> bytes:
    """A .tar.gz the way tarfile.open("w:gz") makes one, with the given noise."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile("sourcedir.tar", "wb", fileobj=raw, mtime=gzip_mtime) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        folder = tarfile.TarInfo("lib")
        folder.type, folder.mode, folder.mtime, folder.uid = tarfile.DIRTYPE, 0o700, mtime, owner
        tar.addfile(folder)
        for name in order:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.gid = len(files[name]), mtime, owner, owner
            info.uname = info.gname = f"user{owner}"
            info.mode = 0o775 if name.endswith(".sh") else mode
            tar.addfile(info, io.BytesIO(files[name]))
    return raw.getvalue()


def members(data: bytes) -> dict[str, tuple[bytes | None, int, int, int, str]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {
            m.name: (
                tar.extractfile(m).read() if m.isfile() else None,  # type: ignore[union-attr]
                m.mode,
                m.mtime,
                m.uid,
                m.uname,
            )
            for m in tar.getmembers()
        }


def test_noise_of_the_build_does_not_reach_the_bytes() -> None:
    first = pack(
        ["train.py", "model.py", "run.sh"], mtime=1.7e9, owner=1000, gzip_mtime=1.7e9, mode=0o664
    )
    second = pack(
        ["run.sh", "model.py", "train.py"], mtime=1.8e9, owner=0, gzip_mtime=1.8e9 + 3, mode=0o600
    )
    assert first != second
    assert reproducible_tar_gz(first) == reproducible_tar_gz(second)


def test_members_and_contents_survive_with_fixed_headers() -> None:
    packed = reproducible_tar_gz(
        pack(
            ["train.py", "run.sh", "model.py"],
            mtime=1.7e9,
            owner=1000,
            gzip_mtime=1.7e9,
            mode=0o664,
        )
    )
    assert list(members(packed)) == ["lib", "model.py", "run.sh", "train.py"]
    assert members(packed) == {
        "lib": (None, 0o755, FIXED_MTIME, 0, ""),
        "model.py": (FILES["model.py"], 0o644, FIXED_MTIME, 0, ""),
        "run.sh": (FILES["run.sh"], 0o755, FIXED_MTIME, 0, ""),
        "train.py": (FILES["train.py"], 0o644, FIXED_MTIME, 0, ""),
    }
    # The gzip header: no file name (FLG.FNAME clear) and MTIME 0.
    assert packed[3] & 0x08 == 0
    assert packed[4:8] == b"\0\0\0\0"


def test_changed_content_changes_the_bytes() -> None:
    noise = {"mtime": 0, "owner": 0, "gzip_mtime": 0, "mode": 0o644}
    before = reproducible_tar_gz(pack(["train.py"], **noise))
    edited = {**FILES, "train.py": b"print('other')\n"}
    assert reproducible_tar_gz(pack(["train.py"], files=edited, **noise)) != before


def test_only_archives_are_repacked() -> None:
    script = b"print('preprocess')\n"
    assert reproducible_artifact("s3://b/code/abc/preprocess.py", script) is script
    archive = pack(["train.py"], mtime=5, owner=3, gzip_mtime=9, mode=0o600)
    assert reproducible_artifact("s3://b/code/abc/sourcedir.tar.gz", archive) == (
        reproducible_tar_gz(archive)
    )
