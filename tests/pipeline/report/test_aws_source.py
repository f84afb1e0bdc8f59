"""The SageMaker report: from a real moto server, with botocore's Stubber where moto lacks
the API (ListPipelineExecutionSteps and the Describe* calls of the jobs a step made)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import run_pipeline
from pipeline.report.aws_source import BOUNDARY_NOTE, SERIES_NOTE, aws_facts, typed_parameters
from pipeline.report.report_model import build_report
from tests.moto_aws import client, fresh_account
from tests.moto_aws import moto_url as moto_url
from tests.pipeline.local.local_defs import full_definition
from tests.pipeline.report.facts import QUALITY

BUCKET = "moonpipe-report-bucket"
ROLE = "arn:aws:iam::123456789012:role/Test"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def aws(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto account with the bucket and the pipeline; returns an execution's ARN."""
    fresh_account(moto_url, tmp_path, monkeypatch)
    client("s3").create_bucket(Bucket=BUCKET)
    sm = client("sagemaker")
    sm.create_pipeline(
        PipelineName="moonpipe", RoleArn=ROLE, PipelineDefinition=json.dumps(full_definition())
    )
    return sm.start_pipeline_execution(
        PipelineName="moonpipe", PipelineParameters=[{"Name": "HiddenDim", "Value": "40"}]
    )["PipelineExecutionArn"]


def test_report_from_moto_says_what_the_service_did_not_give(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    code = run_pipeline.main(
        [
            "--target",
            "sagemaker",
            "--region",
            "us-east-1",
            "--bucket",
            BUCKET,
            "--report",
            "--report-out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    html = out.read_text()
    assert 'id="execution-status">Succeeded' in html
    assert "ListPipelineExecutionSteps" in html  # moto lacks it: said, not faked
    assert "needs the trained model itself" in html
    assert 'data-param="HiddenDim" data-overridden="true"' in html  # "40" typed as 40
    statuses = set(re.findall(r'data-status="([^"]+)"', html))
    assert statuses == {"NotRun"}


def _step(name: str, kind: str, arn: str, **extra: Any) -> dict[str, Any]:
    return {
        "StepName": name,
        "StepStatus": "Succeeded",
        "StartTime": T0,
        "EndTime": T0,
        "Metadata": {kind: {"Arn": arn}} if arn else {kind: extra.pop("meta")},
        **extra,
    }


def _stub_steps(stub: Stubber, arn: str) -> None:
    """The calls moto does not implement, answered as SageMaker documents them."""
    prefix = "arn:aws:sagemaker:us-east-1:123456789012"
    outputs = [
        {
            "OutputName": name,
            "S3Output": {
                "S3Uri": f"s3://{BUCKET}/out/{name}",
                "LocalPath": f"/opt/ml/processing/{name}",
                "S3UploadMode": "EndOfJob",
            },
        }
        for name in ("train", "test", "evaluation")
    ]
    stub.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                _step(
                    "Prep",
                    "ProcessingJob",
                    f"{prefix}:processing-job/prep-1",
                    CacheHitResult={"SourcePipelineExecutionArn": arn.rsplit("/", 1)[0] + "/old1"},
                ),
                _step("Train", "TrainingJob", f"{prefix}:training-job/train-1"),
                _step("Check", "Condition", "", meta={"Outcome": "True"}),
                _step("Reg-RegisterModel", "RegisterModel", f"{prefix}:model-package/grp/1"),
            ]
        },
        {"PipelineExecutionArn": arn, "SortOrder": "Ascending"},
    )
    stub.add_response(
        "describe_processing_job",
        {
            "ProcessingJobName": "prep-1",
            "ProcessingJobArn": f"{prefix}:processing-job/prep-1",
            "ProcessingJobStatus": "Completed",
            "CreationTime": T0,
            "AppSpecification": {"ImageUri": "img"},
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 30,
                }
            },
            "ProcessingOutputConfig": {"Outputs": outputs},
        },
        {"ProcessingJobName": "prep-1"},
    )
    stub.add_response(
        "describe_training_job",
        {
            "TrainingJobName": "train-1",
            "TrainingJobArn": f"{prefix}:training-job/train-1",
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "CreationTime": T0,
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/model.tar.gz"},
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "FinalMetricDataList": [{"MetricName": "train:loss", "Value": 0.12, "Timestamp": T0}],
        },
        {"TrainingJobName": "train-1"},
    )
    stub.add_response(
        "describe_model_package",
        {
            "ModelPackageName": "grp",
            "ModelPackageGroupName": "grp",
            "ModelPackageVersion": 1,
            "ModelPackageArn": f"{prefix}:model-package/grp/1",
            "CreationTime": T0,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "Approved",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{BUCKET}/out/evaluation/evaluation.json",
                    }
                }
            },
        },
        {"ModelPackageName": f"{prefix}:model-package/grp/1"},
    )


@contextlib.contextmanager
def _stubbed(sm: Any, aws: str) -> Iterator[Stubber]:
    """moto's own answers first, then what moto cannot answer (see _stub_steps)."""
    real = {
        name: getattr(sm, name)
        for name in ("describe_pipeline_execution", "describe_pipeline_definition_for_execution")
    }
    moto_answers = {name: call(PipelineExecutionArn=aws) for name, call in real.items()}
    with Stubber(sm) as stub:
        for name, answer in moto_answers.items():
            stub.add_response(
                name,
                {k: v for k, v in answer.items() if k != "ResponseMetadata"},
                {"PipelineExecutionArn": aws},
            )
        stub.add_response(
            "list_pipeline_parameters_for_execution",
            {"PipelineParameters": [{"Name": "HiddenDim", "Value": "40"}]},
            {"PipelineExecutionArn": aws},
        )
        _stub_steps(stub, aws)
        yield stub
        stub.assert_no_pending_responses()


def test_a_sweep_reads_a_sagemaker_points_metrics_as_the_report_does(aws: str) -> None:
    from pipeline.targets.sagemaker import SageMakerTarget

    s3 = client("s3")
    s3.put_object(
        Bucket=BUCKET, Key="out/evaluation/evaluation.json", Body=json.dumps(QUALITY).encode()
    )
    sm = client("sagemaker")
    target = SageMakerTarget("us-east-1", "moonpipe", session=boto3.Session())
    target.clients.__dict__.update(sm=sm, s3=s3)  # cached clients, stubbed where moto lacks APIs
    with _stubbed(sm, aws):
        metrics = target.execution_metrics(aws)
    # QUALITY's scalar values (tests/pipeline/report/facts.py) and the training job's final loss
    assert metrics == {
        "accuracy": 0.9, "precision": 0.8, "recall": 0.95, "f1": 0.87, "auc": 0.93,
        "train:loss": 0.12,
    }  # fmt: skip


def test_steps_metrics_package_and_data_come_from_the_apis_and_s3(aws: str) -> None:
    s3 = client("s3")
    s3.put_object(
        Bucket=BUCKET, Key="out/evaluation/evaluation.json", Body=json.dumps(QUALITY).encode()
    )
    s3.put_object(Bucket=BUCKET, Key="out/train/train.csv", Body=b"0,0.1,0.2\n1,1.0,-0.3\n")
    s3.put_object(Bucket=BUCKET, Key="out/test/test.csv", Body=b"1,0.9,-0.1\n")
    sm = client("sagemaker")
    with _stubbed(sm, aws):
        facts, data = aws_facts(sm, s3, aws)
    report = build_report(facts)
    status = {s.name: s.status for s in report.steps}
    assert status["Train"] == "Succeeded" and status["TooLow"] == "NotRun"
    prep = report.steps[0]
    assert (prep.cache_hit, prep.source_execution) == (True, "old1")
    assert next(s for s in report.steps if s.name == "Check").branch is True
    assert report.metrics["accuracy"] == 0.9
    assert report.quality_report_uri == f"s3://{BUCKET}/out/evaluation/evaluation.json"
    assert report.training_final == {"train:loss": 0.12}
    assert report.model_package is not None and report.model_package.version == 1
    assert report.overridden() == {"HiddenDim": 40}
    assert data.train.shape == (2, 3) and data.test.shape == (1, 3)
    assert data.boundary is None and data.boundary_note == BOUNDARY_NOTE
    assert SERIES_NOTE in report.notes


def test_parameter_values_are_typed_as_declared() -> None:
    declared = [
        {"Name": "N", "Type": "Integer"},
        {"Name": "F", "Type": "Float"},
        {"Name": "B", "Type": "Boolean"},
        {"Name": "S", "Type": "String"},
    ]
    assert typed_parameters(
        declared, {"N": "40", "F": "0.5", "B": "true", "S": "x", "Bad": "y"}
    ) == {"N": 40, "F": 0.5, "B": True, "S": "x", "Bad": "y"}
