"""A SageMaker execution's facts, data and metrics: from a real moto server, with botocore's
Stubber where moto lacks the API (ListPipelineExecutionSteps and the Describe* calls of the
jobs a step made)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pipeline.core.errors import ExecutionNotFoundError
from pipeline.report.report_model import build_report
from pipeline.targets.sagemaker import STEPS_UNAVAILABLE, SageMakerTarget
from pipeline.targets.sagemaker.facts import BOUNDARY_NOTE, SERIES_NOTE, typed_parameters
from tests.moto_aws import client, fresh_account
from tests.moto_aws import moto_url as moto_url
from tests.pipeline.local.local_defs import full_definition
from tests.pipeline.report.facts import QUALITY

BUCKET = "moonpipe-report-bucket"
ROLE = "arn:aws:iam::123456789012:role/Test"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def execution(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
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


def moto_answer(sm: Any, operation: str, arn: str) -> dict[str, Any]:
    """moto's own answer to ``operation`` for the execution, without ResponseMetadata."""
    answer = getattr(sm, operation)(PipelineExecutionArn=arn)
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


@contextlib.contextmanager
def stubbed(sm: Any, arn: str, asks: int = 1) -> Iterator[Stubber]:
    """moto's own answers first, then what moto cannot answer (see _stub_steps); each of
    ``asks`` - 1 further asks describes the (unchanged, ended) execution once more."""
    described = moto_answer(sm, "describe_pipeline_execution", arn)
    definition = moto_answer(sm, "describe_pipeline_definition_for_execution", arn)
    with Stubber(sm) as stub:
        read_in_full(stub, arn, described, definition)
        for _ in range(asks - 1):
            stub.add_response(
                "describe_pipeline_execution", described, {"PipelineExecutionArn": arn}
            )
        yield stub
        stub.assert_no_pending_responses()


def read_in_full(
    stub: Stubber, arn: str, described: dict[str, Any], definition: dict[str, Any]
) -> None:
    """Every answer one full read of the execution's facts takes (``described`` first)."""
    expected = {"PipelineExecutionArn": arn}
    stub.add_response("describe_pipeline_execution", described, expected)
    stub.add_response("describe_pipeline_definition_for_execution", definition, expected)
    stub.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": "HiddenDim", "Value": "40"}]},
        expected,
    )
    _stub_steps(stub, arn)


def target_on(sm: Any, s3: Any) -> SageMakerTarget:
    """A target whose cached clients are these (stubbed where moto lacks APIs)."""
    target = SageMakerTarget("us-east-1", "moonpipe", session=boto3.Session())
    target.clients.__dict__.update(sm=sm, s3=s3)
    return target


def test_a_sweep_reads_a_sagemaker_points_metrics_as_the_report_does(execution: str) -> None:
    s3 = client("s3")
    s3.put_object(
        Bucket=BUCKET, Key="out/evaluation/evaluation.json", Body=json.dumps(QUALITY).encode()
    )
    sm = client("sagemaker")
    target = target_on(sm, s3)
    with stubbed(sm, execution):
        metrics = target.execution_metrics(execution)
    # QUALITY's scalar values (tests/pipeline/report/facts.py) and the training job's final loss
    assert metrics == {
        "accuracy": 0.9, "precision": 0.8, "recall": 0.95, "f1": 0.87, "auc": 0.93,
        "train:loss": 0.12,
    }  # fmt: skip


def put_outputs(s3: Any) -> None:
    """The evaluation report and the data points, where the stubbed steps wrote them."""
    s3.put_object(
        Bucket=BUCKET, Key="out/evaluation/evaluation.json", Body=json.dumps(QUALITY).encode()
    )
    s3.put_object(Bucket=BUCKET, Key="out/train/train.csv", Body=b"0,0.1,0.2\n1,1.0,-0.3\n")
    s3.put_object(Bucket=BUCKET, Key="out/test/test.csv", Body=b"1,0.9,-0.1\n")


def test_steps_metrics_package_and_data_come_from_the_apis_and_s3(execution: str) -> None:
    s3, sm = client("s3"), client("sagemaker")
    put_outputs(s3)
    target = target_on(sm, s3)
    with stubbed(sm, execution, asks=2):  # the facts, then the data: the rest is read once
        facts = target.execution_facts(execution)
        data = target.execution_data(execution)
    report = build_report(facts)
    status = {s.name: s.status for s in report.steps}
    assert status["Train"] == "Succeeded" and status["TooLow"] == "Untaken"
    prep = report.steps[0]
    assert (prep.cache_hit, prep.source_execution) == (True, "old1")
    assert next(s for s in report.steps if s.name == "Check").branch is True
    assert report.metrics["accuracy"] == 0.9
    assert report.quality_report_uri == f"s3://{BUCKET}/out/evaluation/evaluation.json"
    assert report.training_final == {"train:loss": 0.12}
    assert report.model_package is not None and report.model_package.version == 1
    assert report.overridden() == {"HiddenDim": 40}
    assert data.train.shape == (2, 3) and data.test.shape == (1, 3)
    assert (data.model_file, data.keep_dir, data.note) == (None, None, BOUNDARY_NOTE)
    assert data.model_artifact == f"s3://{BUCKET}/model.tar.gz"
    assert BOUNDARY_NOTE in report.notes and SERIES_NOTE in report.notes


def test_an_execution_that_changed_since_is_read_again(execution: str) -> None:
    """Only an ended execution unchanged since the last ask is kept: a retry changes both
    its status and its LastModifiedTime, and the next ask reads everything again."""
    s3, sm = client("s3"), client("sagemaker")
    put_outputs(s3)
    target = target_on(sm, s3)
    ended = moto_answer(sm, "describe_pipeline_execution", execution)
    definition = moto_answer(sm, "describe_pipeline_definition_for_execution", execution)
    retried = {
        **ended,
        "PipelineExecutionStatus": "Executing",
        "LastModifiedTime": datetime(2030, 1, 1, tzinfo=timezone.utc),
    }
    with Stubber(sm) as stub:
        read_in_full(stub, execution, ended, definition)
        read_in_full(stub, execution, retried, definition)
        read_in_full(stub, execution, retried, definition)  # running: never kept
        first = target.execution_facts(execution)
        again = target.execution_facts(execution)
        running = target.execution_facts(execution)
        stub.assert_no_pending_responses()
    assert (first.status, again.status, running.status) == ("Succeeded", "Executing", "Executing")
    assert first.ended_at is not None and again.ended_at is None


def test_facts_from_moto_alone_say_what_the_service_did_not_give(execution: str) -> None:
    """moto lacks ListPipelineExecutionSteps: no steps, and the notes say why (once for the
    target's own notes, in every execution's facts)."""
    target = SageMakerTarget("us-east-1", "moonpipe")
    facts = target.execution_facts(execution)
    assert (facts.target, facts.status, facts.steps) == ("sagemaker", "Succeeded", [])
    assert facts.parameters == {"HiddenDim": 40}  # "40" typed as the definition declares
    assert facts.execution_arn == execution
    assert facts.execution_id == execution.rsplit("/", 1)[-1]
    assert list(facts.notes) == [STEPS_UNAVAILABLE, BOUNDARY_NOTE]
    assert (facts.quality_report, facts.quality_report_uri) == (None, None)
    assert target.execution_metrics(facts.execution_id) == {}
    assert target.execution_data(execution).train is None
    assert target.notes == [STEPS_UNAVAILABLE]


def test_facts_of_an_unknown_execution_say_how_to_find_one(execution: str) -> None:
    target = SageMakerTarget("us-east-1", "moonpipe")
    with pytest.raises(ExecutionNotFoundError) as caught:
        target.execution_facts("nope")
    assert str(caught.value) == "no execution nope in us-east-1; list them with --list-executions"


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
