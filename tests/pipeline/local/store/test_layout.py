"""StoreLayout: every path of a store, the same paths as the stores already on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.local.store.layout import StoreLayout


def test_every_path_is_where_existing_stores_keep_it(tmp_path: Path) -> None:
    store = StoreLayout(tmp_path)
    run = tmp_path / "executions" / "abc123"
    assert {
        "versions": store.pipeline_versions("moonpipe"),
        "execution": store.execution("abc123"),
        "record": store.execution_record("abc123"),
        "steps": store.steps("abc123"),
        "step": store.step_record("abc123", "Train"),
        "log": store.log("abc123", "Train"),
        "job": store.job("abc123", "Train"),
        "attempt": store.attempt_steps("abc123", 2),
        "lock": store.runner_lock("abc123"),
        "stop": store.stop_request("abc123"),
        "report": store.report("abc123"),
        "report log": store.report_log("abc123"),
        "keep": store.report_keep("abc123"),
        "cache": store.cache_entry("moonpipe", "k1"),
        "group": store.model_package_group("grp"),
        "model": store.model("m1"),
        "config": store.endpoint_config("c1"),
        "endpoints": store.endpoints(),
        "warm": store.warm(),
        "gate": store.gate(),
        "s3": store.s3(),
        "worker log": store.sweep_worker_log("abc123"),
        "comparison": store.comparison(["a1", "b2"]),
        "comparisons log": store.comparisons_log(),
    } == {
        "versions": tmp_path / "pipelines" / "moonpipe" / "versions",
        "execution": run,
        "record": run / "execution.json",
        "steps": run / "steps",
        "step": run / "steps" / "Train.json",
        "log": run / "logs" / "Train.log",
        "job": run / "jobs" / "Train",
        "attempt": run / "attempts" / "2" / "steps",
        "lock": run / "runner.lock",
        "stop": run / "stop.json",
        "report": run / "report.html",
        "report log": run / "report.log",
        "keep": run,
        "cache": tmp_path / "cache" / "moonpipe" / "k1.json",
        "group": tmp_path / "registry" / "grp",
        "model": tmp_path / "models" / "m1.json",
        "config": tmp_path / "endpoint-configs" / "c1.json",
        "endpoints": tmp_path / "endpoints",
        "warm": tmp_path / "warm",
        "gate": tmp_path / "gate",
        "s3": tmp_path / "s3",
        "worker log": tmp_path / "sweeps" / "abc123.worker.log",
        "comparison": tmp_path / "comparisons" / "a1-vs-b2.html",
        "comparisons log": tmp_path / "comparisons" / "background.log",
    }


def test_a_comparison_of_many_executions_keeps_a_short_file_name(tmp_path: Path) -> None:
    ids = [f"execution{n:03d}" for n in range(40)]
    path = StoreLayout(tmp_path).comparison(ids)
    assert len(path.name) == 200 and path.name.endswith("execution039.html")


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "with space"])
def test_a_name_that_is_not_a_path_segment_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="is invalid; use letters, digits"):
        StoreLayout(tmp_path).execution(name)
