"""--module-name on the SageMaker target (moto): the template module's pipeline is uploaded and
upserted as SageMaker would get it, unchanged the second time, then started; and
--max-parallel-steps is sent as the pipeline's ParallelismConfiguration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.moto_aws import client
from tests.pipeline.targets.sagemaker.support import BUCKET, ROLE, SAGEMAKER, cli, recorded_calls
from tests.template_module import forget_template_module, write_template_module

MODULE_FLAGS = ["--kwargs", json.dumps({"pipeline_name": "Tiny"})]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    folder = tmp_path / "project"
    module = write_template_module(folder)
    monkeypatch.chdir(folder)
    yield ["--module-name", module, *MODULE_FLAGS]
    forget_template_module()


def test_a_template_module_upserts_on_sagemaker_unchanged_the_second_time_and_starts(
    aws: dict[str, str],
    project: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = recorded_calls(monkeypatch)
    upsert = [*SAGEMAKER, "--role-arn", ROLE, *project, "--upsert"]
    code, out, err = cli([*upsert, "--max-parallel-steps", "2"], capsys)
    assert code == 0, err
    assert "pipeline Tiny stored on sagemaker" in out
    [create] = [params for name, params in sent if name == "CreatePipeline"]
    assert create["PipelineName"] == "Tiny"
    assert create["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 2}
    stored = client("sagemaker").describe_pipeline(PipelineName="Tiny")["PipelineDefinition"]
    assert [s["Name"] for s in json.loads(stored)["Steps"]][:2] == ["PrepareData", "TrainModel"]
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert any(k.endswith("sourcedir.tar.gz") for k in keys)
    assert any(k.endswith("preprocess.py") for k in keys)
    code, out, err = cli([*upsert, "--max-parallel-steps", "2"], capsys)
    assert code == 0, err
    assert "pipeline Tiny unchanged on sagemaker" in out
    code, out, err = cli([*SAGEMAKER, *project, "--start", "--param", "Mode=large"], capsys)
    assert code == 0, err
    [start] = [params for name, params in sent if name == "StartPipelineExecution"]
    assert start["PipelineName"] == "Tiny"
    assert start["PipelineParameters"] == [{"Name": "Mode", "Value": "large"}]
    code, _, err = cli([*SAGEMAKER, *project, "--start", "--param", "Mode=medium"], capsys)
    assert (code, err.strip()) == (
        2,
        "error: parameter Mode takes one of its EnumValues: small, large; got 'medium'",
    )
