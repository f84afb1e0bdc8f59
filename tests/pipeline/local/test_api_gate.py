"""The API gate against botocore's own SageMaker model: what the service refuses, it refuses.

Requests are table-tested per operation (accepted and refused values, with the whole
message), then the gate is run over a definition the real SDK builds for a pipeline that is
not moonpipe's, so nothing here is tuned to our own definition.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.core.errors import ConfigError, ParameterError
from pipeline.core.parameters import resolve_parameters
from pipeline.local import api_gate, gate_model, request_check
from pipeline.local.api_gate import (
    Violation,
    check_start,
    parameters_behind,
    request_rejection,
    request_violations,
)
from pipeline.local.expressions import Pending
from pipeline.local.graph import StepSpec, parse_definition

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
EXECUTION = "a1b2c3d4e5f6"
GENERATED = "pipelines-generated-name"

PROCESSING = {
    "RoleArn": ROLE,
    "ProcessingResources": {
        "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    },
    "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", "x.py"]},
}
TRAINING = {
    "RoleArn": ROLE,
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "HyperParameters": {"epochs": "10"},
}
REGISTER = {
    "ModelPackageGroupName": "grp",
    "ModelApprovalStatus": "Approved",
    "InferenceSpecification": {
        "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
    },
}
MODEL = {"ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "img"}}
ENDPOINT_CONFIG = {
    "EndpointConfigName": "ep-config",
    "ProductionVariants": [
        {
            "VariantName": "AllTraffic",
            "ModelName": "m",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
        }
    ],
}
ENDPOINT = {"EndpointName": "ep", "EndpointConfigName": "ep-config-a1b2c3d4e5f6"}
GOOD = {
    "Processing": PROCESSING,
    "Training": TRAINING,
    "RegisterModel": REGISTER,
    "Model": MODEL,
    "EndpointConfig": ENDPOINT_CONFIG,
    "Endpoint": ENDPOINT,
}


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``a.b.0.c`` set (or removed when value is ...)."""
    request = copy.deepcopy(base)
    *parents, last = path.split(".")
    here: Any = request
    for key in parents:
        here = here[int(key)] if isinstance(here, list) else here[key]
    if value is ...:
        del here[last]
    else:
        here[last] = value
    return request


def problems(step_type: str, args: dict[str, Any], name: str = "Step") -> list[str]:
    return [str(v) for v in request_violations(step_type, name, args, EXECUTION)]


@pytest.mark.parametrize("step_type", sorted(GOOD))
def test_good_requests_are_accepted(step_type: str) -> None:
    assert problems(step_type, GOOD[step_type]) == []


@pytest.mark.parametrize(
    ("step_type", "path", "value", "expected"),
    [
        (
            "Training",
            "ResourceConfig.InstanceType",
            "ml.m5.larg",
            "ResourceConfig.InstanceType: 'ml.m5.larg' is not one of ml.m5.large, ml.m5.xlarge, "
            "ml.m5.4xlarge, … ({n} values)",
        ),
        (
            "Processing",
            "ProcessingResources.ClusterConfig.InstanceType",
            "ml.p4d.24xlarge",
            "ProcessingResources.ClusterConfig.InstanceType: 'ml.p4d.24xlarge' is not one of ",
        ),
        (
            "EndpointConfig",
            "ProductionVariants.0.InstanceType",
            "ml.t3.medium",
            "ProductionVariants[0].InstanceType: 'ml.t3.medium' is not one of ",
        ),
        (
            "RegisterModel",
            "ModelApprovalStatus",
            "approved",
            "ModelApprovalStatus: 'approved' is not one of Approved, Rejected, "
            "PendingManualApproval",
        ),
        (
            "RegisterModel",
            "InferenceSpecification.SupportedRealtimeInferenceInstanceTypes",
            ["ml.m5.large", "ml.t3.medium"],
            "InferenceSpecification.SupportedRealtimeInferenceInstanceTypes[1]: 'ml.t3.medium' "
            "is not one of ",
        ),
        (
            "EndpointConfig",
            "EndpointConfigName",
            "e" * 51,
            f"EndpointConfigName: '{'e' * 51}-{EXECUTION}' is 64 characters; at most 63 allowed",
        ),
        (
            "Endpoint",
            "EndpointName",
            "my_endpoint",
            "EndpointName: 'my_endpoint' does not match the pattern "
            "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        ),
        (
            "Endpoint",
            "EndpointName",
            "e" * 64,
            f"EndpointName: '{'e' * 64}' is 64 characters; at most 63 allowed",
        ),
        ("Training", "RoleArn", ..., "RoleArn: is required but missing"),
        (
            "Training",
            "StoppingCondition.MaxRuntimeInSeconds",
            0,
            "StoppingCondition.MaxRuntimeInSeconds: 0 is below the minimum 1",
        ),
        (
            "Processing",
            "ProcessingResources.ClusterConfig.InstanceCount",
            101,
            "ProcessingResources.ClusterConfig.InstanceCount: 101 is above the maximum 100",
        ),
        (
            "Training",
            "HyperParameters",
            {f"h{i}": "1" for i in range(101)},
            "HyperParameters: has 101 entries; at most 100 allowed",
        ),
        (
            "Training",
            "StoppingCondition.MaxRuntimeInSeconds",
            "3600",
            "StoppingCondition.MaxRuntimeInSeconds: '3600' must be an integer",
        ),
        ("Training", "HyperParameters.epochs", "x" * 2501, "HyperParameters.epochs: 'xxxx"),
        (
            "Training",
            "Hyperparameters",
            {},
            "Hyperparameters: is not a member SageMaker accepts here",
        ),
        (
            "Processing",
            "AppSpecification.ContainerEntrypoint",
            [],
            "AppSpecification.ContainerEntrypoint: has length 0; at least 1 required",
        ),
        ("Model", "ModelName", "model.v2", "ModelName: 'model.v2' does not match the pattern"),
    ],
)
def test_refused_values_name_the_field_and_the_rule(
    step_type: str, path: str, value: Any, expected: str
) -> None:
    found = problems(step_type, changed(GOOD[step_type], path, value))
    assert len(found) == 1, found
    if "{n}" in expected:
        shape = gate_model.service_model().shape_for("TrainingInstanceType")
        expected = expected.format(n=len(shape.enum))
    assert found[0].startswith(expected), found[0]


def test_every_refused_rule_of_a_field_is_reported() -> None:
    assert problems("Processing", changed(PROCESSING, "RoleArn", "my-role")) == [
        "RoleArn: has length 7; at least 20 required",
        "RoleArn: 'my-role' does not match the pattern "
        r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    ]


def test_long_enums_are_shortened_around_the_given_value() -> None:
    [found] = problems("Training", changed(TRAINING, "ResourceConfig.InstanceType", "ml.m5.larg"))
    assert found.count("ml.") == 4 and "ml.m5.large" in found


def test_members_the_service_generates_are_filled_in_and_checked_when_given() -> None:
    request = api_gate.with_service_members("Training", "Train", TRAINING, EXECUTION)
    assert request["TrainingJobName"] == GENERATED
    assert api_gate.with_service_members("Model", "M", MODEL, EXECUTION)["ModelName"] == GENERATED
    assert "ModelName" not in api_gate.with_service_members("Processing", "P", PROCESSING, "e")
    [found] = problems("Training", {**TRAINING, "TrainingJobName": "bad name"})
    assert found.startswith("TrainingJobName: 'bad name' does not match the pattern")


def test_endpoint_config_name_is_checked_with_the_per_execution_suffix() -> None:
    fits = changed(ENDPOINT_CONFIG, "EndpointConfigName", "e" * 50)
    request = api_gate.with_service_members("EndpointConfig", "Cfg", fits, EXECUTION)
    assert request["EndpointConfigName"] == f"{'e' * 50}-{EXECUTION}"  # 63 characters
    assert problems("EndpointConfig", fits) == []
    unnamed = changed(ENDPOINT_CONFIG, "EndpointConfigName", ...)
    assert (
        api_gate.with_service_members("EndpointConfig", "Cfg", unnamed, EXECUTION)[
            "EndpointConfigName"
        ]
        == f"Cfg-{EXECUTION}"
    )


def test_pending_values_are_left_for_the_step_to_check() -> None:
    later = Pending("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    register = changed(REGISTER, "InferenceSpecification.Containers.0.ModelDataUrl", later)
    assert problems("RegisterModel", register) == []
    endpoint = {"EndpointName": "ep", "EndpointConfigName": Pending("Steps.Cfg.X")}
    assert problems("Endpoint", endpoint) == []
    config = changed(ENDPOINT_CONFIG, "EndpointConfigName", Pending("Steps.S.Name"))
    assert problems("EndpointConfig", config) == []


def test_step_types_without_a_request_are_not_checked() -> None:
    assert request_violations("Condition", "C", {"Anything": 1}, EXECUTION) == []
    assert request_violations("Fail", "F", {"ErrorMessage": 3}, EXECUTION) == []


def test_rejection_before_a_step_runs_is_one_line_with_the_operation() -> None:
    spec = StepSpec("Reg", "RegisterModel", {})
    args = {**REGISTER, "ModelApprovalStatus": "approved", "Unknown": 1}
    assert request_rejection(spec, args, EXECUTION) == (
        "SageMaker's CreateModelPackage would refuse this request: Unknown: is not a member "
        "SageMaker accepts here (and 1 more)"
    )
    assert request_rejection(spec, REGISTER, EXECUTION) is None


@pytest.mark.parametrize(
    ("arguments", "field", "expected"),
    [
        ({"A": {"Get": "Parameters.X"}}, "A", ["X"]),
        (
            {
                "A": {
                    "B": [
                        {
                            "C": {
                                "Std:Join": {
                                    "On": "-",
                                    "Values": [
                                        {"Get": "Parameters.Y"},
                                        "x",
                                        {"Get": "Parameters.Z"},
                                    ],
                                }
                            }
                        }
                    ]
                }
            },
            "A.B[0].C",
            ["Y", "Z"],
        ),
        ({"Env": {"a.b": {"Get": "Parameters.X"}}}, "Env.a.b", ["X"]),
        ({"A": {"Get": "Parameters.X"}, "B": "lit"}, "B", []),
        ({"A": {"B": {"Get": "Parameters.X"}}}, "A.C", []),
        ({"A": {"Get": "Steps.S.Out"}}, "A", []),
    ],
)
def test_parameters_behind_a_field(
    arguments: dict[str, Any], field: str, expected: list[str]
) -> None:
    assert parameters_behind(arguments, field) == expected


def test_every_pattern_of_the_six_operations_compiles() -> None:
    """A pattern Python cannot read would go unchecked: fail here, not silently."""
    model = gate_model.service_model()
    seen: set[str] = set()

    def walk(shape: Any, names: tuple[str, ...]) -> None:
        if shape.name in names:
            return
        if "pattern" in shape.metadata:
            seen.add(shape.metadata["pattern"])
        children = {
            "structure": lambda: list(shape.members.values()),
            "list": lambda: [shape.member],
            "map": lambda: [shape.key, shape.value],
        }
        for child in children.get(shape.type_name, list)():
            walk(child, (*names, shape.name))

    for operation in api_gate.OPERATIONS.values():
        walk(model.operation_model(operation).input_shape, ())
    assert len(seen) > 20
    assert [p for p in sorted(seen) if request_check.compile_pattern(p) is None] == []


def test_violation_text() -> None:
    assert str(Violation("A.B", "is required but missing")) == "A.B: is required but missing"


# A definition built by the real SDK for a pipeline that is not moonpipe's.


def _build_other_pipeline(code: Path) -> str:
    from pipeline.assembly.offline_sdk import (
        as_boto3_default,
        call_without_telemetry,
        import_sdk,
        make_pipeline_session,
        quiet_sdk,
    )

    import_sdk()
    cfg = SimpleNamespace(
        aws=SimpleNamespace(region="eu-west-1", bucket="other-bucket", prefix="other")
    )
    with quiet_sdk():
        session = make_pipeline_session(cfg)  # type: ignore[arg-type]
        with as_boto3_default(session):
            return _other_definition(session, code, call_without_telemetry)


def _other_definition(session: Any, code: Path, no_telemetry: Any) -> str:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    instance = ParameterString("WorkerType", "ml.c5.xlarge")
    count = ParameterInteger("Workers", 2)
    job_prefix = ParameterString("OutputPrefix", "runs")
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=instance,
        instance_count=count,
        sagemaker_session=session,
    )
    clean = ProcessingStep(
        name="Clean_Data",
        step_args=processor.run(code=str(code / "clean.py"), arguments=["--rows", "10"]),
    )
    estimator = Estimator(
        image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgb:1",
        role=ROLE,
        instance_type=instance,
        instance_count=count,
        sagemaker_session=session,
        output_path="s3://other-bucket/models",
        hyperparameters={"rounds": 5},
        max_run=600,
    )
    train = TrainingStep(
        name="Fit",
        step_args=no_telemetry(
            estimator, "fit", {"train": TrainingInput(s3_data="s3://other-bucket/data/train.csv")}
        ),
        depends_on=[clean],
    )
    return Pipeline(
        name="other",
        parameters=[instance, count, job_prefix],
        steps=[clean, train],
        sagemaker_session=session,
    ).definition()


@pytest.fixture(scope="module")
def other_definition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    code = tmp_path_factory.mktemp("other-code")
    (code / "clean.py").write_text("print('clean')\n")
    yield _build_other_pipeline(code)


def _start(definition: str, **overrides: Any) -> None:
    plan = parse_definition(definition)
    values = resolve_parameters([dict(p) for p in plan.parameters], overrides)
    check_start(
        plan,
        values,
        overrides,
        {
            "PipelineExecutionId": EXECUTION,
            "PipelineName": "other",
            "PipelineArn": "arn:p",
            "PipelineExecutionArn": f"arn:p/execution/{EXECUTION}",
            "StartDateTime": "2026-01-01T00:00:00",
            "CurrentDateTime": "2026-01-01T00:00:00",
        },
    )


def test_other_sdk_pipeline_passes_with_its_defaults_and_good_values(
    other_definition: str,
) -> None:
    _start(other_definition)
    _start(other_definition, WorkerType="ml.m5.4xlarge", Workers=4)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"WorkerType": "ml.c5.xlarg"},
            "--param WorkerType=ml.c5.xlarg: step Clean_Data, "
            "ProcessingResources.ClusterConfig.InstanceType: 'ml.c5.xlarg' is not one of ",
        ),
        (
            {"WorkerType": "ml.p4d.24xlarge"},
            "--param WorkerType=ml.p4d.24xlarge: step Clean_Data, "
            "ProcessingResources.ClusterConfig.InstanceType: 'ml.p4d.24xlarge' is not one of ",
        ),
        (
            {"Workers": 0},
            "--param Workers=0: step Clean_Data, ProcessingResources.ClusterConfig.InstanceCount: "
            "0 is below the minimum 1 (SageMaker's CreateProcessingJob)",
        ),
    ],
)
def test_other_sdk_pipeline_refuses_bad_values_at_start(
    other_definition: str, overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        _start(other_definition, **overrides)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_value_with_a_line_break_stays_on_one_line(other_definition: str) -> None:
    with pytest.raises(ParameterError) as caught:
        _start(other_definition, WorkerType="ml.c5.xlarge\nx")
    assert str(caught.value).startswith("--param WorkerType='ml.c5.xlarge\\nx': step Clean_Data, ")
    assert "\n" not in str(caught.value)


def test_a_bad_literal_in_the_definition_is_a_config_error(other_definition: str) -> None:
    doc = json.loads(other_definition)
    del doc["Steps"][1]["Arguments"]["RoleArn"]
    with pytest.raises(ConfigError) as caught:
        _start(json.dumps(doc))
    assert str(caught.value) == (
        "pipeline definition: step Fit, RoleArn: is required but missing (SageMaker's "
        "CreateTrainingJob); fix the pipeline and --upsert it"
    )


def test_a_default_value_is_named_as_the_default(other_definition: str) -> None:
    doc = json.loads(other_definition)
    doc["Parameters"][0]["DefaultValue"] = "ml.nope"
    with pytest.raises(ParameterError) as caught:
        _start(json.dumps(doc))
    assert str(caught.value).startswith(
        "parameter WorkerType=ml.nope (its default): step Clean_Data, "
    )


# moonpipe's own definition, as the SDK builds it.


@pytest.fixture(scope="module")
def moon_definition(tmp_path_factory: pytest.TempPathFactory) -> str:
    from pipeline.assembly.builder import build_pipeline
    from pipeline.config import DEFAULT_CONFIG_PATH, load_config

    code = tmp_path_factory.mktemp("moon-code")
    for script in ("preprocess.py", "train.py", "evaluate.py"):
        (code / script).write_text(f"print({script!r})\n")
    return build_pipeline(load_config(DEFAULT_CONFIG_PATH, environ={}), code).definition


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"EndpointName": "e" * 43},
        {"TrainingInstanceType": "ml.p4d.24xlarge"},
        {"ProcessingInstanceType": "ml.c5.xlarge", "EndpointInstanceType": "ml.t2.medium"},
        {"ModelApprovalStatus": "PendingManualApproval"},
    ],
)
def test_moonpipe_definition_passes_with_good_values(
    moon_definition: str, overrides: dict[str, Any]
) -> None:
    _start(moon_definition, **overrides)


def test_moonpipe_endpoint_name_leaves_room_for_the_derived_config_name(
    moon_definition: str,
) -> None:
    with pytest.raises(ParameterError) as caught:
        _start(moon_definition, EndpointName="e" * 44)
    assert str(caught.value) == (
        f"--param EndpointName={'e' * 44}: step MoonEndpointConfig, EndpointConfigName: "
        f"'{'e' * 44}-config-{EXECUTION}' is 64 characters; at most 63 allowed "
        "(SageMaker's CreateEndpointConfig)"
    )
