"""The S3 stand-in: mapping, escape rejection, write-once objects, prefix listing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.local.sandbox import SandboxError
from pipeline.local.store.objects import ObjectStore, StoreError, parse_s3_uri


def test_objects_map_to_files_under_the_root(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    store.put("s3://b/a/c.txt", b"hi")
    assert (tmp_path / "s3" / "b" / "a" / "c.txt").read_bytes() == b"hi"
    assert store.get("s3://b/a/c.txt") == b"hi"
    assert [name for name, _ in store.list_prefix("s3://b/a")] == ["c.txt"]
    assert [name for name, _ in store.list_prefix("s3://b/a/c.txt")] == ["c.txt"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://b/../x", "S3 key in 's3://b/../x' would escape the store (empty, . or .. part)"),
        ("s3://b//x", "S3 key in 's3://b//x' would escape the store (empty, . or .. part)"),
        ("s3://b/a/./x", "S3 key in 's3://b/a/./x' would escape the store (empty, . or .. part)"),
        ("s3://../x", "'s3://../x' has no valid bucket name"),
        ("/etc/passwd", "'/etc/passwd' is not an s3:// URI"),
    ],
)
def test_escaping_keys_are_rejected(uri: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        parse_s3_uri(uri)
    assert str(caught.value) == message


def test_objects_are_write_once(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    assert store.put("s3://b/k", b"one") is True
    assert store.put("s3://b/k", b"one") is False
    with pytest.raises(StoreError) as caught:
        store.put("s3://b/k", b"two")
    assert str(caught.value) == (
        "s3://b/k already holds different bytes; stored objects are never overwritten"
    )
    assert store.get("s3://b/k") == b"one"


def test_upload_and_download_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.csv").write_text("1")
    (source / "sub" / "b.csv").write_text("2")
    store = ObjectStore(tmp_path / "store")
    assert store.upload_dir(source, "s3://b/out/") == 2
    dest = tmp_path / "dest"
    assert store.download("s3://b/out", dest) == 2
    assert (dest / "sub" / "b.csv").read_text() == "2"
    assert store.download("s3://b/missing", dest) == 0
    with pytest.raises(StoreError) as caught:
        store.get("s3://b/out/none")
    assert str(caught.value) == "no object at s3://b/out/none"


def test_upload_dir_stores_nothing_when_one_file_links_out_of_its_boundary(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("do-not-copy")
    job = tmp_path / "job"
    out = job / "out"
    out.mkdir(parents=True)
    (out / "a.csv").write_text("a")
    (out / "z.txt").symlink_to(secret)
    store = ObjectStore(tmp_path / "store")
    with pytest.raises(SandboxError, match=r"^out/z.txt is a link to .*credentials, outside"):
        store.upload_dir(out, "s3://b/out", job)
    assert store.list_prefix("s3://b/out") == []


def test_upload_dir_stores_a_link_inside_its_boundary_as_content(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / "out").mkdir(parents=True)
    (job / "data.csv").write_text("1,2")
    (job / "out" / "copy.csv").symlink_to(job / "data.csv")
    store = ObjectStore(tmp_path / "store")
    assert store.upload_dir(job / "out", "s3://b/out", job) == 1
    assert store.get("s3://b/out/copy.csv") == b"1,2"
    assert not store.path("s3://b/out/copy.csv").is_symlink()


def test_racing_writers_of_one_key_never_overwrite_each_other(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    start = threading.Barrier(8)

    def write(n: int) -> bool | str:
        start.wait()
        try:
            return store.put("s3://b/code/sourcedir.tar.gz", f"writer {n}".encode() * 4096)
        except StoreError as err:
            return str(err)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, range(8)))
    winners = [n for n, result in enumerate(results) if result is True]
    assert len(winners) == 1
    assert store.get("s3://b/code/sourcedir.tar.gz") == f"writer {winners[0]}".encode() * 4096
    refused = [r for r in results if r is not True]
    assert (
        refused
        == [
            "s3://b/code/sourcedir.tar.gz already holds different bytes; stored "
            "objects are never overwritten"
        ]
        * 7
    )
    assert [p.name for p in (tmp_path / "s3" / "b" / "code").iterdir()] == ["sourcedir.tar.gz"]


def test_racing_writers_of_the_same_bytes_all_succeed(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    start = threading.Barrier(8)

    def write(_: int) -> bool:
        start.wait()
        return store.put("s3://b/k", b"same" * 4096)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, range(8)))
    assert sorted(results) == [False] * 7 + [True]
