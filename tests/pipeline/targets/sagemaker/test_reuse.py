"""Which sweep points SageMaker already ran: the exact requests a sweep sends, against the
moto server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.moto_aws import client
from tests.pipeline.targets.sagemaker.support import (
    ROLE,
    SAGEMAKER,
    cli,
    recorded_calls,
)


@pytest.fixture(autouse=True)
def _pages_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SageMaker sweep writes its comparison page in the working folder (pages.py): the
    test's folder, not the checkout the suite runs in."""
    monkeypatch.chdir(tmp_path)


def test_sweep_against_moto_starts_one_named_gated_execution_per_point(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    code, out, err = cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert [p["status"] for p in doc["points"]] == ["Succeeded", "Succeeded"]
    service = client("sagemaker")
    sent: dict[str, Any] = {}
    for point in doc["points"]:
        arn = point["execution_arn"]
        params = service.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
        described = service.describe_pipeline_execution(PipelineExecutionArn=arn)
        sent[described["PipelineExecutionDisplayName"]] = {
            p["Name"]: p["Value"] for p in params["PipelineParameters"]
        }
    gate = {"Deploy": "false", "ModelApprovalStatus": "PendingManualApproval"}
    assert sent == {
        "sweep-HiddenDim-8": {"HiddenDim": "8", **gate},
        "sweep-HiddenDim-16": {"HiddenDim": "16", **gate},
    }
    assert any("comparison report" in n or "local target" in n for n in doc["notes"])


def test_a_sweep_run_again_on_sagemaker_starts_only_the_points_not_done(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*SAGEMAKER, "--role-arn", ROLE, "--upsert"], capsys)[0] == 0
    assert cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16"], capsys)[0] == 0
    sent = recorded_calls(monkeypatch)
    code, out, err = cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16,32", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert {p["point"]["HiddenDim"]: p["reused"] for p in doc["points"]} == {
        8: True, 16: True, 32: False,
    }  # fmt: skip
    starts = [params for name, params in sent if name == "StartPipelineExecution"]
    assert [s["PipelineExecutionDisplayName"] for s in starts] == ["sweep-HiddenDim-32"]
    asked = [name for name, _ in sent]
    asked = asked[: asked.index("StartPipelineExecution")]  # the lookup before any start
    assert asked.count("ListPipelineParametersForExecution") == 2 + 2  # scan, then describe
    assert asked.count("DescribePipelineDefinitionForExecution") == 2  # one per match
    sent.clear()
    code, out, err = cli([*SAGEMAKER, "--sweep", "HiddenDim=8,16,32", "--rerun", "--json"], capsys)
    assert code == 0, err
    assert [p["reused"] for p in json.loads(out)["points"]] == [False, False, False]
    assert [n for n, _ in sent].count("StartPipelineExecution") == 3
    names = [n for n, _ in sent]
    assert "ListPipelineExecutions" not in names[: names.index("StartPipelineExecution")]
