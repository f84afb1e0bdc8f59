"""The sweep's old handle on point workers, kept until the front uses Target.point_runs()."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from pipeline.local.points import ForkedWorker
from pipeline.sweep_worker import LocalWorkers
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.local_defs import full_definition, pipeline


def test_launch_sets_the_points_worker_and_exited_follows_it(tmp_path: Path) -> None:
    definition = full_definition()
    definition["Steps"] = definition["Steps"][:1]
    runner = local_runner(tmp_path)
    runner.pipelines.upsert(pipeline(definition), None)
    point = SimpleNamespace(execution_arn=runner.start("p", {}), worker=None)
    workers = LocalWorkers(tmp_path, "us-east-1", "subprocess", 60.0, fork=True)
    assert workers.exited(point) is True  # not launched: nothing to wait for
    workers.launch(point)
    assert isinstance(point.worker.process, ForkedWorker)
    point.worker.wait()
    assert workers.exited(point) is True
    assert runner.describe(point.execution_arn).status == "Succeeded"
