"""--report-out writes a regular file, or a new one, and nothing else (issue 21, finding 2):
never a device node, a FIFO or anything in the store. It used to replace whatever was at
the path: /dev/null became a 242 KB file (as root), and a page written over a training
job's model.tar.gz was registered and approved as the model of the next cached run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import run_pipeline
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.sdk_defs import integrity_pipeline


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = (tmp_path_factory.mktemp("report-out") / "store").resolve()
    runner = local_runner(root)
    runner.pipelines.upsert(integrity_pipeline(), None)
    summary = runner.run(runner.start("moonpipe", {}), lambda record: None)
    assert summary.status == "Succeeded", summary.failure_reason
    return root, summary.execution_id


def report_to(
    ran: tuple[Path, str], out: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    store, execution_id = ran
    flags = ["--target", "local", "--store", str(store), "--report", execution_id]
    code = run_pipeline.main([*flags, "--report-out", str(out)])
    return code, capsys.readouterr().err


def test_a_fifo_is_refused_and_stays_a_fifo(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, err = report_to(ran, fifo, capsys)
    assert (code, err) == (
        2,
        f"error: --report-out {fifo} is a FIFO (named pipe), not a file; a page is written "
        "only as a regular file: choose another path\n",
    )
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device node needs root (CI runs as root)")
@pytest.mark.parametrize("through_a_link", [False, True], ids=["device", "link-to-device"])
def test_a_device_node_is_refused_and_stays_one(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], through_a_link: bool
) -> None:
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    out = null
    if through_a_link:
        out = tmp_path / "report.html"
        out.symlink_to(null)
    code, err = report_to(ran, out, capsys)
    assert code == 2
    assert err == (
        f"error: --report-out {out} is a character device, not a file; a page is written "
        "only as a regular file: choose another path\n"
    )
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert os.lstat(null).st_rdev == os.makedev(1, 3)


def test_a_stored_object_is_never_written_over(
    ran: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = ran
    [model] = (store / "s3").rglob("model.tar.gz")
    before = model.read_bytes()
    code, err = report_to(ran, model, capsys)
    assert (code, err) == (
        2,
        f"error: --report-out {model} lies inside the store, whose objects and records are "
        "never overwritten; choose a path outside it\n",
    )
    assert model.read_bytes() == before


def test_a_link_into_the_store_is_refused(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, execution_id = ran
    record = store / "executions" / execution_id / "execution.json"
    before = record.read_bytes()
    link = tmp_path / "innocent.html"
    link.symlink_to(record)
    code, err = report_to(ran, link, capsys)
    assert code == 2
    assert "lies inside the store" in err
    assert record.read_bytes() == before


def test_a_regular_file_is_replaced_and_a_new_one_made(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.html"
    old.write_text("yesterday's page")
    assert report_to(ran, old, capsys)[0] == 0
    assert ran[1] in old.read_text()
    new = tmp_path / "new.html"
    assert report_to(ran, new, capsys)[0] == 0
    assert new.is_file()
