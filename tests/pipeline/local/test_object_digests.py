"""Stored objects are checked (issue 21, finding 3): each one's digest is recorded as it is
stored and checked whenever it is read, so a damaged object fails the step that reads it,
naming it, and a cache hit that points at one is not used. On the SDK-built pipeline."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import StoreCorruptError
from pipeline.core.records import ExecutionSummary
from pipeline.local import facts
from pipeline.local.runner import LocalRunner
from pipeline.local.store.objects import ObjectDamagedError, ObjectStore, StoreError
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.sdk_defs import integrity_pipeline


@pytest.fixture
def runner(tmp_path: Path) -> LocalRunner:
    runner = local_runner(tmp_path / "store")
    runner.pipelines.upsert(integrity_pipeline(), None)
    return runner


def _run(runner: LocalRunner, **parameters: Any) -> ExecutionSummary:
    return runner.run(runner.start("moonpipe", parameters), lambda record: None)


def _train_csv(runner: LocalRunner, summary: ExecutionSummary) -> Path:
    [(_, path)] = runner.objects.list_prefix(_output(runner, summary))
    return Path(path)


def _output(runner: LocalRunner, summary: ExecutionSummary) -> str:
    steps = dict((r.name, p) for r, p in runner.records.steps(summary.execution_id))
    return str(steps["Prepare"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])


def test_a_cut_training_set_is_never_a_cache_hit_nor_trained_on(runner: LocalRunner) -> None:
    """The issue's case: train.csv cut from 450 to 40 rows was served as a cache hit and
    trained on. Now the hit is not used, the step fails naming the object, and a retry
    computes it anew."""
    first = _run(runner, Rows=450)
    assert first.status == "Succeeded", first.failure_reason
    csv = _train_csv(runner, first)
    csv.write_text("\n".join(csv.read_text().splitlines()[:40]) + "\n")
    second = _run(runner, Rows=450)
    steps = {s.name: s for s in second.steps}
    assert second.status == "Failed"
    assert "Fit" not in steps  # nothing trained on the 40 rows
    uri = f"{_output(runner, first)}/train.csv"
    reason = steps["Prepare"].failure_reason or ""
    assert reason.startswith(
        f"cache hit of execution {first.execution_id} not used: stored object {uri} is "
        "damaged: it holds "
    ), reason
    assert reason.endswith("run it again to compute the step anew"), reason
    again = runner.run(runner.retry(second.execution_arn), lambda record: None)
    assert again.status == "Succeeded", again.failure_reason
    assert not {s.name: s for s in again.steps}["Prepare"].cache_hit
    fit = {r.name: p for r, p in runner.records.steps(again.execution_id)}["Fit"]
    trained = runner.objects.get(fit["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(trained)) as tar:
        model = json.load(tar.extractfile("model.json"))  # type: ignore[arg-type]
    assert model == {"rows": 450}  # Fit trained again, on the recomputed 450 rows


def test_a_damaged_job_input_fails_the_step_naming_it(runner: LocalRunner) -> None:
    source = next(u for u in integrity_pipeline().artifacts if u.endswith("sourcedir.tar.gz"))
    path = runner.objects.path(source)
    path.write_bytes(path.read_bytes()[:-10])
    summary = _run(runner)
    fit = {s.name: s for s in summary.steps}["Fit"]
    assert (fit.status, summary.status) == ("Failed", "Failed")
    assert (fit.failure_reason or "").startswith(
        f"training input: stored object {source} is damaged: it holds "
    ), fit.failure_reason


def test_a_replaced_object_is_damaged_even_at_the_same_size(tmp_path: Path) -> None:
    objects = ObjectStore(tmp_path)
    objects.put("s3://b/k/model.tar.gz", b"the model")
    objects.path("s3://b/k/model.tar.gz").write_bytes(b"<html>...")
    with pytest.raises(ObjectDamagedError) as damaged:
        objects.get("s3://b/k/model.tar.gz")
    assert str(damaged.value).startswith(
        "stored object s3://b/k/model.tar.gz is damaged: it holds 9 bytes that are not the 9 "
        "stored (sha256 "
    )
    assert isinstance(damaged.value, StoreCorruptError)  # one line at the CLI, exit 1
    with pytest.raises(ObjectDamagedError):
        objects.verified_path("s3://b/k/model.tar.gz")  # what a deploy reads
    with pytest.raises(ObjectDamagedError):
        objects.download("s3://b/k", tmp_path / "job")  # what a job reads
    with pytest.raises(StoreError, match="damaged"):
        objects.put("s3://b/k/model.tar.gz", b"the model")  # never rewritten, even back


def test_every_stored_object_has_its_digest(runner: LocalRunner) -> None:
    _run(runner)
    layout = runner.records.layout
    stored = [p for p in layout.s3().rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        digest = json.loads((layout.digests() / path.relative_to(layout.s3())).read_text())
        assert digest["size"] == path.stat().st_size


def test_an_object_stored_before_digests_gets_one_on_first_read(tmp_path: Path) -> None:
    objects = ObjectStore(tmp_path)
    objects.path("s3://b/old.csv").parent.mkdir(parents=True)
    objects.path("s3://b/old.csv").write_bytes(b"1,2\n")  # an older version's store
    assert objects.get("s3://b/old.csv") == b"1,2\n"
    objects.path("s3://b/old.csv").write_bytes(b"1,3\n")
    with pytest.raises(ObjectDamagedError):
        objects.get("s3://b/old.csv")


def test_a_report_does_not_draw_a_damaged_model(runner: LocalRunner) -> None:
    summary = _run(runner)
    [(_, model)] = [
        (r, p) for r, p in runner.records.steps(summary.execution_id) if r.name == "Fit"
    ]
    path = runner.objects.path(model["ModelArtifacts"]["S3ModelArtifacts"])
    path.write_bytes(path.read_bytes()[:5])
    data = facts.execution_data(runner.records, runner.objects, summary.execution_id)
    assert data.model_file is None
    assert data.note.startswith("no trained model shown: stored object s3://")
