"""The service runs a sweep's points: nothing of ours to launch or wait for."""

from __future__ import annotations

from pipeline.targets.sagemaker.points import ServiceRuns
from tests.pipeline.targets.sagemaker.support import EXEC


def test_a_launched_point_has_no_process_of_ours() -> None:
    run = ServiceRuns().launch(EXEC)
    assert run.exited() is None
    assert run.wait() is None  # returns at once
