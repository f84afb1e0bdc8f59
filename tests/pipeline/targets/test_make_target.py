"""make_target: the config's target name picks the implementation, set up from the config
alone (no default of its own: the job start and the host's idle time are the config's)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from pipeline.report.background import InProcessKeeper
from pipeline.targets import make_target
from pipeline.targets.sagemaker import SageMakerTarget


def config(
    target: str, store_root: str = ".moonpipe", job_start: str = "warm", idle_s: float = 600.0
) -> SimpleNamespace:
    return SimpleNamespace(
        target=target,
        pipeline=SimpleNamespace(name="moonpipe"),
        aws=SimpleNamespace(region="eu-west-1"),
        local=SimpleNamespace(store_root=store_root, job_start=job_start, warm_host_idle_s=idle_s),
        shown_source=lambda: "config/pipeline.yaml",
    )


def test_sagemaker_target_gets_region_and_pipeline_name() -> None:
    target = make_target(config("sagemaker"))
    assert isinstance(target, SageMakerTarget)
    assert (target.region, target.pipeline_name) == ("eu-west-1", "moonpipe")
    assert target.name == "sagemaker"


def test_local_target_takes_its_store_job_start_and_keeper_from_the_call(tmp_path: Path) -> None:
    import pipeline.targets.local as local

    keeper = InProcessKeeper()
    cfg = config("local", str(tmp_path / "store"), job_start="subprocess", idle_s=42.0)
    target = make_target(cfg, reports=keeper)
    assert isinstance(target, local.LocalTarget)
    assert (target.name, target.store_root, target.region) == (
        "local",
        tmp_path / "store",
        "eu-west-1",
    )
    assert (target.job_start, target.warm_idle_s, target.reports) == ("subprocess", 42.0, keeper)
    warm = make_target(config("local", str(tmp_path / "store")))
    assert isinstance(warm, local.LocalTarget)
    assert (warm.job_start, warm.reports) == ("warm", None)
