"""Issue 18's table, row by row, on small pipelines built with the SageMaker SDK v2: the local
engine does what SageMaker documents (docs/semantics.md names each source).

Each pipeline is written here with the SDK's own classes (processors, estimators, steps,
parameters, execution variables, property files, conditions, retry policies) and run by the
engine in this process; the scripts are standard-library Python (sdk_pipelines.py).
"""

from __future__ import annotations

import errno
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.console import step_lines
from pipeline.core.errors import ConfigError, ParameterError
from pipeline.core.records import PipelineDefinition
from pipeline.local import describe
from tests.pipeline.local.sdk_pipelines import (
    Runs,
    arguments_seen,
    built,
    code_dir,
    output_of,
    processing_step,
    steps_of,
    training_step,
)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return code_dir(tmp_path / "code")


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    return Runs(tmp_path / "store")


def _edited(pipeline: PipelineDefinition, old: str, new: str) -> PipelineDefinition:
    assert old in pipeline.definition
    return PipelineDefinition(
        pipeline.name,
        pipeline.description,
        pipeline.definition.replace(old, new),
        pipeline.artifacts,
    )


# -- cache keys ---------------------------------------------------------------------------


def _cached_pipeline(code: Path) -> PipelineDefinition:
    from sagemaker.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig

    def make(session: Any) -> Pipeline:
        processing = ParameterString("ProcessingInstanceType", default_value="ml.m5.xlarge")
        training = ParameterString("TrainingInstanceType", default_value="ml.m5.xlarge")
        rows = ParameterInteger("Rows", default_value=3)
        cache = CacheConfig(enable_caching=True, expire_after="T12H")
        prep = processing_step(
            "Prep", session, code, [rows.to_string()], instance_type=processing, cache_config=cache
        )
        train = training_step(
            "Train",
            session,
            code,
            output_of(prep),
            cache_config=cache,
            estimator={"instance_type": training},
        )
        return Pipeline("cached", parameters=[processing, training, rows], steps=[prep, train])

    return built(make)


def test_an_instance_type_change_reuses_every_step_a_key_attribute_change_reruns(
    runs: Runs, code: Path
) -> None:
    runs.upsert(_cached_pipeline(code))
    first = runs.run("cached")
    assert {s.name: s.metadata["CacheReason"] for s in first.steps} == {
        "Prep": "miss: no earlier successful run of this step",
        "Train": "miss: no earlier successful run of this step",
    }
    bigger = runs.run(
        "cached", ProcessingInstanceType="ml.c5.xlarge", TrainingInstanceType="ml.c5.xlarge"
    )
    assert bigger.status == "Succeeded"
    for step in bigger.steps:  # the issue's case: SageMaker reuses both (the caching notebook)
        assert step.cache_hit, step.name
        assert step.metadata["SourceExecutionId"] == first.execution_id
        assert step.metadata["CacheReason"] == (
            f"hit: key attributes as in execution {first.execution_id}"
        )
    more_rows = steps_of(runs.run("cached", Rows=4))
    assert not more_rows["Prep"].cache_hit and not more_rows["Train"].cache_hit
    assert more_rows["Prep"].metadata["CacheReason"] == (
        f"miss: AppSpecification changed since execution {first.execution_id}"
    )
    assert more_rows["Train"].metadata["CacheReason"] == (
        f"miss: InputDataConfig changed since execution {first.execution_id}"
    )
    shown = step_lines(more_rows["Train"], show_start=False)
    assert f"      cache miss: InputDataConfig changed since execution {first.execution_id}" in (
        shown
    )


# -- ExpireAfter ----------------------------------------------------------------------------

FORMS = ("p30d", "P30d", "30d", "5y", "T16m", "T12H", "30dT5h", "30DT5h", "PT1H", "P4DT12H")


def _expiring(code: Path, forms: tuple[str, ...]) -> PipelineDefinition:
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig

    def make(session: Any) -> Pipeline:
        steps = [
            processing_step(
                f"Form{n}",
                session,
                code,
                [form],
                cache_config=CacheConfig(enable_caching=True, expire_after=form),
            )
            for n, form in enumerate(forms)
        ]
        return Pipeline("expiring", steps=steps)

    return built(make)


def test_every_documented_expire_after_form_runs_twice_the_second_from_the_cache(
    runs: Runs, code: Path
) -> None:
    runs.upsert(_expiring(code, FORMS))
    assert runs.run("expiring").status == "Succeeded"
    again = runs.run("expiring")
    assert again.status == "Succeeded", again.failure_reason
    assert [s.cache_hit for s in again.steps] == [True] * len(FORMS)


@pytest.mark.parametrize("form", ["1.5d", "P", "T", "thirty days", "30x", "PT1H30"])
def test_an_expire_after_sagemaker_would_not_take_is_refused_at_upsert(
    runs: Runs, code: Path, form: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        runs.upsert(_expiring(code, (form,)))
    assert str(caught.value) == (
        f"pipeline expiring: step Form0: ExpireAfter {form!r} is not a duration SageMaker "
        "accepts; write a number and a unit (y, m, w, d; after T: h, m, s), e.g. 30d, p30d, "
        "T12H, 30dT5h or PT1H"
    )
    assert not (runs.runner.records.root / "pipelines").exists()


# -- execution variables ----------------------------------------------------------------------


def test_current_date_time_is_the_time_each_step_resolves_it(runs: Runs, code: Path) -> None:
    from sagemaker.workflow.execution_variables import ExecutionVariables as Ev
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        times = [Ev.START_DATETIME, Ev.CURRENT_DATETIME]
        first = processing_step("First", session, code, times)
        second = processing_step("Second", session, code, times, depends_on=[first])
        return Pipeline("clock", steps=[first, second])

    runs.upsert(built(make))
    summary = runs.run("clock")
    seen = {n: list(arguments_seen(p))[2:] for n, p in runs.properties(summary).items()}
    start, first_now = map(datetime.fromisoformat, seen["First"])
    same_start, second_now = map(datetime.fromisoformat, seen["Second"])
    assert start == same_start == summary.started_at
    assert start <= first_now < second_now  # was: both frozen at the start


def test_the_job_name_variables_name_the_job_their_step_launches(runs: Runs, code: Path) -> None:
    from sagemaker.workflow.execution_variables import ExecutionVariables as Ev
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        prep = processing_step("Prep", session, code, ["--job", Ev.PROCESSING_JOB_NAME])
        train = training_step(
            "Train",
            session,
            code,
            output_of(prep),
            estimator={"environment": {"JOB": Ev.TRAINING_JOB_NAME}},
        )
        return Pipeline("named", steps=[prep, train])

    runs.upsert(built(make))
    summary = runs.run("named")
    assert summary.status == "Succeeded", summary.failure_reason
    properties = runs.properties(summary)
    prep, train = properties["Prep"], properties["Train"]
    assert list(arguments_seen(prep))[2:] == ["--job", prep["ProcessingJobName"]]
    assert train["Environment"]["JOB"] == train["TrainingJobName"]
    assert prep["ProcessingJobName"] == f"pipelines-{summary.execution_id}-Prep"


def test_a_job_name_variable_outside_its_step_type_is_refused_at_upsert(
    runs: Runs, code: Path
) -> None:
    from sagemaker.workflow.execution_variables import ExecutionVariables as Ev
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        return Pipeline(
            "misnamed", steps=[processing_step("Prep", session, code, [Ev.TRAINING_JOB_NAME])]
        )

    with pytest.raises(ConfigError) as caught:
        runs.upsert(built(make))
    assert str(caught.value) == (
        "pipeline misnamed: step Prep (Processing) references Execution.TrainingJobName, the "
        "name of the job a Training step launches; use it only inside a Training step's "
        "arguments"
    )


# -- step properties -------------------------------------------------------------------------


def _described_pipeline(code: Path) -> PipelineDefinition:
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        prep = processing_step("Prep", session, code)
        train = training_step("Train", session, code, output_of(prep))
        use = processing_step(
            "Use",
            session,
            code,
            [
                train.properties.TrainingTimeInSeconds.to_string(),
                train.properties.CreationTime,
                train.properties.SecondaryStatus,
                prep.properties.ProcessingEndTime,
                train.properties.ModelArtifacts.S3ModelArtifacts,
            ],
        )
        check = ConditionStep(
            "Check",
            conditions=[ConditionGreaterThanOrEqualTo(train.properties.TrainingTimeInSeconds, 0)],
            if_steps=[],
            else_steps=[],
        )
        after = processing_step("After", session, code, [check.properties.Outcome])
        after.add_depends_on([check])
        return Pipeline("described", steps=[prep, train, use, check, after])

    return built(make)


def test_every_describe_member_the_issue_named_is_a_property(runs: Runs, code: Path) -> None:
    runs.upsert(_described_pipeline(code))
    summary = runs.run("described")
    assert summary.status == "Succeeded", summary.failure_reason
    properties = runs.properties(summary)
    train, prep = properties["Train"], properties["Prep"]
    assert list(arguments_seen(properties["Use"]))[2:] == [
        str(train["TrainingTimeInSeconds"]),
        train["CreationTime"],
        "Completed",
        prep["ProcessingEndTime"],
        train["ModelArtifacts"]["S3ModelArtifacts"],
    ]
    assert properties["Check"] == {"Outcome": "True"}  # the API's ConditionOutcome
    assert list(arguments_seen(properties["After"]))[2:] == ["True"]
    assert [t["Status"] for t in train["SecondaryStatusTransitions"]] == [
        "Starting",
        "Training",
        "Uploading",
        "Completed",
    ]


def test_properties_are_the_describe_response_members_and_nothing_else(
    runs: Runs, code: Path
) -> None:
    runs.upsert(_described_pipeline(code))
    summary = runs.run("described")
    for name, properties in runs.properties(summary).items():
        kind = steps_of(summary)[name].step_type
        shape = describe.output_shape(kind)
        if shape is None:
            continue
        extra = set(properties) - set(shape.members) - set(describe.EXTENSIONS.get(kind, ()))
        assert extra == set(), (name, extra)
        assert set(shape.required_members) <= set(properties), name


@pytest.mark.parametrize(
    ("old", "new", "step", "why"),
    [
        (
            "Steps.Train.ModelArtifacts.S3ModelArtifacts",
            "Steps.Train.ModelArtifacts.S3ModelArtifact",
            "Use",
            "DescribeTrainingJob.ModelArtifacts has no member 'S3ModelArtifact' (did you mean "
            "S3ModelArtifacts?)",
        ),
        (
            "Steps.Train.SecondaryStatus",
            "Steps.Train.SecondaryStatus.Name",
            "Use",
            "DescribeTrainingJob.SecondaryStatus is a string; it has no member 'Name'",
        ),
        (
            "Steps.Check.Outcome",
            "Steps.Check.Result",
            "After",
            "a Condition step's only property is Outcome",
        ),
    ],
)
def test_a_property_reference_no_describe_response_has_is_refused_at_upsert(
    runs: Runs, code: Path, old: str, new: str, step: str, why: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        runs.upsert(_edited(_described_pipeline(code), f'"{old}"', f'"{new}"'))
    assert str(caught.value) == (
        f"pipeline described: step {step} references {new}: {why}; fix the pipeline and "
        "--upsert it again"
    )
    assert not (runs.runner.records.root / "pipelines").exists()


# -- parallel branches -----------------------------------------------------------------------


def _fan(code: Path, fail_a: bool = False) -> PipelineDefinition:
    from sagemaker.processing import ProcessingInput
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        prep = processing_step("Prep", session, code)
        a_args = ["--fail", "A broke"] if fail_a else ["--sleep", "1"]
        a = processing_step("A", session, code, a_args, depends_on=[prep])
        b = processing_step("B", session, code, ["--sleep", "1"], depends_on=[prep])
        join = processing_step(
            "Join",
            session,
            code,
            inputs=[
                ProcessingInput(source=output_of(a), destination="/opt/ml/processing/a"),
                ProcessingInput(source=output_of(b), destination="/opt/ml/processing/b"),
            ],
        )
        return Pipeline("fan", steps=[prep, a, b, join])

    return built(make)


def test_steps_whose_dependencies_are_met_run_side_by_side(runs: Runs, code: Path) -> None:
    runs.upsert(_fan(code))
    steps = steps_of(runs.run("fan"))
    a, b, join = steps["A"], steps["B"], steps["Join"]
    assert all(s.status == "Succeeded" for s in steps.values())
    assert a.started_at < b.ended_at and b.started_at < a.ended_at  # was: one after the other
    assert join.started_at >= max(a.ended_at, b.ended_at)


def test_max_parallel_execution_steps_caps_them(runs: Runs, code: Path) -> None:
    runs.upsert(PipelineDefinition(**{**_fan(code).__dict__, "max_parallel_steps": 1}))
    steps = steps_of(runs.run("fan"))
    a, b = sorted((steps["A"], steps["B"]), key=lambda s: s.started_at)
    assert a.ended_at <= b.started_at


def test_a_failure_lets_running_siblings_end_and_starts_nothing_more(
    runs: Runs, code: Path
) -> None:
    runs.upsert(_fan(code, fail_a=True))
    summary = runs.run("fan")
    steps = steps_of(summary)
    assert (summary.status, summary.failure_reason) == (
        "Failed",
        "step A failed: exit code 1; last output: A broke",
    )
    assert (steps["A"].status, steps["B"].status) == ("Failed", "Succeeded")
    assert "Join" not in steps


def test_ctrl_c_while_parallel_steps_run_stops_every_job_and_closes_every_step(
    runs: Runs, code: Path
) -> None:
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        slow = [processing_step(n, session, code, ["--sleep", "60"]) for n in ("A", "B")]
        return Pipeline("slow", steps=slow)

    runs.upsert(built(make))
    executing: set[str] = set()

    def interrupt_once_both_run(record: Any) -> None:
        executing.add(record.name)
        if executing == {"A", "B"}:
            raise KeyboardInterrupt  # as Ctrl-C reaches the runner (here: from B's thread)

    arn = runs.runner.start("slow", {})
    with pytest.raises(KeyboardInterrupt):
        runs.runner.run(arn, interrupt_once_both_run)
    summary = runs.runner.describe(arn)
    reason = (
        "interrupted (Ctrl-C or SIGTERM) before it finished; "
        f"resume it with --retry {summary.execution_id}"
    )
    assert (summary.status, summary.failure_reason) == ("Stopped", reason)
    assert {(s.name, s.status, s.failure_reason) for s in summary.steps} == {
        ("A", "Stopped", reason),
        ("B", "Stopped", reason),
    }
    for step in summary.steps:  # each job was stopped, not waited for
        log = runs.runner.records.layout.log(summary.execution_id, step.name)
        assert "slept" not in (log.read_text() if log.is_file() else "")


# -- retry policies --------------------------------------------------------------------------


def _retried(code: Path, kill: str, policies: list[Any]) -> PipelineDefinition:
    from sagemaker.workflow.execution_variables import ExecutionVariables as Ev
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        step = processing_step(
            "Flaky",
            session,
            code,
            ["--job", Ev.PROCESSING_JOB_NAME, "--kill-unless", kill],
            retry_policies=policies,
        )
        return Pipeline("retried", steps=[step])

    return built(make)


def _policy(kind: str, **limits: Any) -> Any:
    from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy

    kinds = {
        "capacity": SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
        "internal": SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
    }
    return SageMakerJobStepRetryPolicy(exception_types=[kinds[kind]], interval_seconds=0, **limits)


def test_a_job_the_oom_killer_took_is_retried_as_a_capacity_error(runs: Runs, code: Path) -> None:
    runs.upsert(_retried(code, "-2", [_policy("capacity", max_attempts=2)]))
    summary = runs.run("retried")
    assert summary.status == "Succeeded", summary.failure_reason
    flaky = steps_of(summary)["Flaky"]
    assert flaky.attempt_count == 2
    [first] = flaky.metadata["Attempts"]
    assert first["AttemptCount"] == 1 and first["ExceptionType"] == "SageMaker.CAPACITY_ERROR"
    assert first["FailureReason"].startswith("exit code -9")
    assert runs.properties(summary)["Flaky"]["ProcessingJobName"].endswith("-Flaky-2")
    assert Path(first["LogPath"]).is_file() and Path(flaky.log_path or "").is_file()
    shown = step_lines(flaky, show_start=False)
    assert shown[0].endswith("attempt 2")
    assert shown[1].startswith(
        "      attempt 1 failed (SageMaker.CAPACITY_ERROR, retried): exit code -9"
    )
    as_json = summary.to_json_dict()["steps"][0]
    assert as_json["attempt_count"] == 2 and len(as_json["attempts"]) == 1


def test_a_failure_no_policy_lists_is_not_retried_and_attempts_run_out(
    runs: Runs, code: Path
) -> None:
    runs.upsert(_retried(code, "-2", [_policy("internal", max_attempts=5)]))
    once = steps_of(runs.run("retried"))["Flaky"]
    assert (once.status, once.attempt_count) == ("Failed", 1)
    runs.upsert(_retried(code, "never", [_policy("capacity", max_attempts=1)]))
    twice = steps_of(runs.run("retried"))["Flaky"]
    assert (twice.status, twice.attempt_count) == ("Failed", 2)
    # ExpireAfterMin 0: "errors are never retried" (the SDK drops a 0, so it is written here)
    never = _edited(
        _retried(code, "never", [_policy("capacity", max_attempts=1)]),
        '"MaxAttempts": 1',
        '"ExpireAfterMin": 0',
    )
    runs.upsert(never)
    assert steps_of(runs.run("retried"))["Flaky"].attempt_count == 1


class _FlakyStarter:
    """A job starter whose first start fails as a machine out of processes does (EAGAIN)."""

    def __init__(self) -> None:
        self.calls = 0

    def can_run(self, argv: Any, script: Any) -> bool:
        return self.calls == 0

    def shadowed_by(self, layer: Any) -> bool:
        return False

    def lane_of(self, image: Any) -> None:
        return None

    def start(self, argv: Any, env: Any, cwd: Any, view: Any = None, lane: Any = None) -> Any:
        self.calls += 1
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")


def test_a_job_that_could_not_start_is_retried_as_an_internal_error(
    runs: Runs, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.local.warm.launch as launch

    starter = _FlakyStarter()
    monkeypatch.setattr(launch, "warm_starter", lambda *args: starter)
    runs.upsert(_retried(code, "", [_policy("internal", max_attempts=1)]))
    summary = runs.run("retried")
    assert summary.status == "Succeeded", summary.failure_reason
    flaky = steps_of(summary)["Flaky"]
    assert flaky.attempt_count == 2 and starter.calls == 1
    assert flaky.metadata["Attempts"][0]["ExceptionType"] == "SageMaker.JOB_INTERNAL_ERROR"


def test_a_policy_with_both_max_attempts_and_expire_after_min_is_refused_at_upsert(
    runs: Runs, code: Path
) -> None:
    # the SDK emits both (its check is a chained comparison); the guide: "a validation error"
    both = _retried(code, "", [_policy("capacity", max_attempts=2, expire_after_mins=5)])
    with pytest.raises(ConfigError) as caught:
        runs.upsert(both)
    assert str(caught.value) == (
        "pipeline retried: step Flaky: RetryPolicies[0] gives both MaxAttempts and "
        "ExpireAfterMin; SageMaker accepts only one"
    )


# -- EnumValues ------------------------------------------------------------------------------


def _enum_pipeline(code: Path) -> PipelineDefinition:
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        mode = ParameterString("Mode", default_value="small", enum_values=["small", "large"])
        step = processing_step("Prep", session, code, [mode])
        return Pipeline("enum", parameters=[mode], steps=[step])

    return built(make)


def test_a_value_outside_enum_values_is_refused_before_anything_starts(
    runs: Runs, code: Path
) -> None:
    runs.upsert(_enum_pipeline(code))
    with pytest.raises(ParameterError) as caught:
        runs.run("enum", Mode="medium")
    assert str(caught.value) == (
        "parameter Mode takes one of its EnumValues: small, large; got 'medium'"
    )
    assert runs.runner.executions("enum") == []
    assert runs.run("enum", Mode="large").status == "Succeeded"


def test_enum_values_that_no_start_could_satisfy_are_refused_at_upsert(
    runs: Runs, code: Path
) -> None:
    outside = _edited(_enum_pipeline(code), '"DefaultValue": "small"', '"DefaultValue": "tiny"')
    with pytest.raises(ConfigError) as caught:
        runs.upsert(outside)
    assert str(caught.value) == (
        "pipeline enum: parameter Mode: its DefaultValue 'tiny' is not one of its EnumValues "
        "(small, large)"
    )
    many = json.dumps([f"v{n}" for n in range(17)])
    with pytest.raises(ConfigError, match="EnumValues has 17 values; at most 16 allowed"):
        runs.upsert(_edited(_enum_pipeline(code), '["small", "large"]', many))


# -- failure reasons -------------------------------------------------------------------------


def test_reasons_are_capped_as_the_api_caps_them(runs: Runs, code: Path) -> None:
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        word = ParameterString("Word", default_value="x")
        fail = FailStep("Stop", error_message=Join(on="", values=[word, "y" * 5000]))
        return Pipeline("capped", parameters=[word], steps=[fail])

    runs.upsert(built(make))
    summary = runs.run("capped")
    stop = steps_of(summary)["Stop"]
    assert len(stop.failure_reason or "") == 1024 and (stop.failure_reason or "").endswith("…")
    assert len(summary.failure_reason or "") == 1300  # DescribePipelineExecution's limit
    assert len(stop.metadata["ErrorMessage"]) == 3072  # FailStepMetadata.ErrorMessage's
    assert (summary.failure_reason or "").startswith("xyyy")


# -- what the engine cannot run --------------------------------------------------------------


def test_every_step_the_engine_cannot_run_is_named_at_upsert(runs: Runs, code: Path) -> None:
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.callback_step import CallbackOutput, CallbackStep
    from sagemaker.workflow.lambda_step import LambdaStep
    from sagemaker.workflow.pipeline import Pipeline

    def make(session: Any) -> Pipeline:
        prep = processing_step("Prep", session, code)
        score = LambdaStep(
            "Score",
            lambda_func=Lambda(
                function_arn="arn:aws:lambda:us-east-1:123456789012:function:score",
                session=session,
            ),
            inputs={"data": output_of(prep)},
        )
        notify = CallbackStep(
            "Notify",
            sqs_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/q",
            inputs={"x": "y"},
            outputs=[CallbackOutput(output_name="done")],
        )
        return Pipeline("foreign", steps=[prep, score, notify])

    with pytest.raises(ConfigError) as caught:
        runs.upsert(built(make))
    assert str(caught.value) == (
        "pipeline foreign: the local engine cannot run 2 steps: Notify (Callback), Score "
        "(Lambda); the step types it runs are Processing, Training, Condition, Fail, "
        "RegisterModel, Model, EndpointConfig, Endpoint"
    )
    assert not (runs.runner.records.root / "pipelines").exists()
