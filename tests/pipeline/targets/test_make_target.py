"""make_target: the config's target name picks the implementation, set up from the config."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from pipeline.targets import make_target
from pipeline.targets.sagemaker import SageMakerTarget


def config(target: str, store_root: str = ".moonpipe") -> SimpleNamespace:
    return SimpleNamespace(
        target=target,
        pipeline=SimpleNamespace(name="moonpipe"),
        aws=SimpleNamespace(region="eu-west-1"),
        local=SimpleNamespace(store_root=store_root),
        shown_source=lambda: "config/pipeline.yaml",
    )


def test_sagemaker_target_gets_region_and_pipeline_name() -> None:
    target = make_target(config("sagemaker"))
    assert isinstance(target, SageMakerTarget)
    assert (target.region, target.pipeline_name) == ("eu-west-1", "moonpipe")
    assert (target.name, target.runs_in_foreground) == ("sagemaker", False)


def test_local_target_runs_in_the_foreground(tmp_path: Path) -> None:
    import pipeline.targets.local as local

    target = make_target(config("local", str(tmp_path / "store")))
    assert isinstance(target, local.LocalTarget)
    assert (target.name, target.runs_in_foreground) == ("local", True)
