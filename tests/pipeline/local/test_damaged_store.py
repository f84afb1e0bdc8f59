"""A damaged store or definition (issue 21, finding 7) is one line naming the file or the
field, exit non-zero, never a traceback; what is not a record (a note left in a folder) is
ignored. Each case damages a copy of a store that ran the SDK-built pipeline once, then
runs the commands a person would through run_pipeline.main."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import run_pipeline
from pipeline.core.errors import ConfigError
from pipeline.core.records import PipelineDefinition
from pipeline.local.store.schema import MAX_STEP_NAME
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.sdk_defs import integrity_pipeline, with_steps_named


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(store, execution id): the SDK-built pipeline upserted and run once."""
    root = (tmp_path_factory.mktemp("ran") / "store").resolve()
    runner = local_runner(root)
    runner.pipelines.upsert(integrity_pipeline(), None)
    summary = runner.run(runner.start("moonpipe", {}), lambda record: None)
    assert summary.status == "Succeeded", summary.failure_reason
    return root, summary.execution_id


@pytest.fixture
def store(ran: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    copy = tmp_path / "store"
    shutil.copytree(ran[0], copy, symlinks=True)
    return copy, ran[1]


@pytest.fixture(autouse=True)
def subprocess_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process CLI starts jobs as subprocesses: no warm host outlives a test."""
    monkeypatch.setenv("MOONPIPE_JOB_START", "subprocess")


def cli(store: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    code = run_pipeline.main(["--target", "local", "--store", str(store), *flags])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The error, once it is certain to be one line and no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def _execution(store: Path, eid: str) -> Path:
    return store / "executions" / eid / "execution.json"


def _step(store: Path, eid: str) -> Path:
    return store / "executions" / eid / "steps" / "Fit.json"


def _version(store: Path, eid: str) -> Path:
    return store / "pipelines" / "moonpipe" / "versions" / "1.json"


def _edit(path: Path, change: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _without(key: str) -> Callable[[Any], Any]:
    return lambda data: {k: v for k, v in data.items() if k != key}


def _with(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda data: {**data, key: value}


DAMAGES = {
    "execution []": (_execution, lambda _: [], "expected a JSON object, got a list"),
    "execution {}": (_execution, lambda _: {}, "field execution_arn is missing"),
    "execution null": (_execution, lambda _: None, "expected a JSON object, got null"),
    "execution status": (_execution, _with("status", "Bogus"), "field status: 'Bogus'"),
    "execution parameters": (
        _execution,
        _with("parameters", "x"),
        'field parameters: expected an object, got a string "x"',
    ),
    "execution deep": (
        _execution,
        _with("parameters", json.loads("[" * 200 + "]" * 200)),
        "nested deeper than 64 levels",
    ),
    "step [1]": (_step, lambda _: [1], "expected a JSON object, got a list"),
    "step status missing": (_step, _without("status"), "field status is missing"),
    "step started_at": (
        _step,
        _with("started_at", "yesterday"),
        'field started_at: expected an ISO 8601 time or null, got a string "yesterday"',
    ),
    "version definition 5": (
        _version,
        _with("PipelineDefinition", 5),
        "field PipelineDefinition: expected a string, got a number 5",
    ),
    "version without definition": (
        _version,
        _without("PipelineDefinition"),
        "field PipelineDefinition is missing",
    ),
}


@pytest.mark.parametrize("case", DAMAGES)
@pytest.mark.parametrize(
    "command", [("--list-executions",), ("--describe-execution", "ID"), ("--start",)]
)
def test_a_damaged_record_is_one_line_naming_the_file_and_field(
    store: tuple[Path, str], capsys: pytest.CaptureFixture[str], case: str, command: tuple[str]
) -> None:
    root, eid = store
    where, change, said = DAMAGES[case]
    path = where(root, eid)
    _edit(path, change)
    code, _, err = cli(root, capsys, *(eid if flag == "ID" else flag for flag in command))
    if (command == ("--start",)) != (where is _version):
        assert code == 0, err  # a start reads no execution's records, the others no definition
        return
    line = one_line(err)
    assert code == 1
    assert line.startswith(f"error: {path}: damaged record ("), line
    assert said in line, line
    assert line.endswith("restore the file from a backup or move it away"), line


def test_a_record_larger_than_any_of_ours_is_refused_unread(
    store: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, eid = store
    path = _execution(root, eid)
    path.write_text(" " * (9 * 1024 * 1024) + "{}")
    code, _, err = cli(root, capsys, "--describe-execution", eid)
    assert code == 1
    assert "larger than 8388608 bytes" in one_line(err)


def test_a_note_left_among_the_versions_is_not_a_version(
    store: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A stray versions/notes.json broke --start, --upsert and --list-executions."""
    root, _ = store
    (root / "pipelines" / "moonpipe" / "versions" / "notes.json").write_text('{"mine": 1}')
    assert cli(root, capsys, "--list-executions")[0] == 0
    code, _, err = cli(root, capsys, "--start", "--param", "Rows=7")
    assert code == 0, err
    runner = local_runner(root)
    assert runner.pipelines.upsert(integrity_pipeline(), None).changed is False


def test_a_damaged_cache_entry_is_a_miss(
    store: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = store
    [entry] = (root / "cache" / "moonpipe").glob("*.json")
    _edit(entry, _without("properties"))
    code, _, err = cli(root, capsys, "--start", "--json")
    assert code == 0, err
    assert "properties" in json.loads(entry.read_text())  # the new run's result replaced it


def test_a_gate_cache_without_shapes_is_read_again(store: tuple[Path, str]) -> None:
    from pipeline.local.api_gate import OPERATIONS
    from pipeline.local.gate_model import load_service_model

    root, _ = store
    [model] = (root / "gate").glob("*.json")
    _edit(model, _without("shapes"))
    service = load_service_model(OPERATIONS.values(), root / "gate")  # a new process's read
    assert service.operation_model("CreateProcessingJob").input_shape is not None
    assert "shapes" in json.loads(model.read_text())


# -- definitions ---------------------------------------------------------------------------


def _definition(change: Callable[[dict[str, Any]], None]) -> PipelineDefinition:
    pipeline = integrity_pipeline()
    doc = json.loads(pipeline.definition)
    change(doc)
    return PipelineDefinition(pipeline.name, "", _text(doc), pipeline.artifacts)


def _join_500(doc: dict[str, Any]) -> None:
    doc["Steps"][0]["Arguments"]["Environment"] = {"DEEP": "@JOIN@"}


def _text(doc: dict[str, Any]) -> str:
    """The definition's JSON; Joins nested 500 deep are spliced in as text (json.dumps,
    recursive like the engine's walk of it, cannot write them)."""
    joins = '{"Std:Join": {"On": "", "Values": [' * 500 + '"x"' + "]}}" * 500
    return json.dumps(doc).replace('"@JOIN@"', joins)


def _parameter_without_name(doc: dict[str, Any]) -> None:
    del doc["Parameters"][0]["Name"]


BAD_DEFINITIONS = {
    "Join nested 500 deep": (_join_500, "the definition is nested deeper than 64 levels"),
    "a parameter without Name": (
        _parameter_without_name,
        "the definition field Parameters[0].Name is missing",
    ),
}


@pytest.mark.parametrize("case", BAD_DEFINITIONS)
def test_a_definition_the_engine_cannot_read_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    change, said = BAD_DEFINITIONS[case]
    runner = local_runner(tmp_path / "store")
    with pytest.raises(ConfigError) as refused:
        runner.pipelines.upsert(_definition(change), None)
    assert str(refused.value) == f"pipeline moonpipe: {said}"
    assert not (tmp_path / "store" / "pipelines").exists()  # nothing kept


@pytest.mark.parametrize("case", BAD_DEFINITIONS)
def test_a_stored_definition_the_engine_cannot_read_is_one_line_at_start(
    store: tuple[Path, str], capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Stored by an older version, or edited: the same check when it is read back."""
    root, eid = store
    change, said = BAD_DEFINITIONS[case]
    bad = _definition(change).definition
    _edit(_version(root, eid), _with("PipelineDefinition", bad))
    code, _, err = cli(root, capsys, "--start")
    assert code == 2
    assert one_line(err) == f"error: pipeline moonpipe: {said}"


def test_a_definition_100k_levels_deep_is_one_line(
    store: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, eid = store
    _edit(_version(root, eid), _with("PipelineDefinition", "[" * 100_000 + "]" * 100_000))
    code, _, err = cli(root, capsys, "--start")
    assert code == 2
    said = "the definition is nested deeper than 64 levels"
    assert one_line(err) == f"error: pipeline moonpipe: {said}"


@pytest.mark.parametrize("length", [65, 237, 250, 256])
def test_step_names_are_capped_so_every_file_name_fits(tmp_path: Path, length: int) -> None:
    """SageMaker's StepName allows 64 characters; 237-256 used to be accepted, then every
    run (and every retry) failed writing a temp file whose name passed 255 bytes."""
    long = with_steps_named(integrity_pipeline(), {"Prepare": "P" * length})
    with pytest.raises(ConfigError) as refused:
        local_runner(tmp_path / "store").pipelines.upsert(long, None)
    assert str(refused.value) == (
        f"pipeline moonpipe: the definition field Steps[0].Name: step name '{'P' * 40}...' "
        f"({length} characters) must be 1 to {MAX_STEP_NAME} letters, digits, '-' or '_' "
        "(SageMaker's StepName)"
    )


def test_a_step_name_of_64_characters_runs(tmp_path: Path) -> None:
    runner = local_runner(tmp_path / "store")
    runner.pipelines.upsert(with_steps_named(integrity_pipeline(), {"Prepare": "P" * 64}), None)
    summary = runner.run(runner.start("moonpipe", {}), lambda record: None)
    assert summary.status == "Succeeded", summary.failure_reason


def test_the_step_name_cap_is_sagemakers() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    assert model.shape_for("StepName").metadata["max"] == MAX_STEP_NAME


def test_an_endpoint_record_of_the_wrong_shape_reads_as_a_failed_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``"port": "y"`` was a ValueError traceback in --list-endpoints."""
    record = tmp_path / "store" / "endpoints" / "ep" / "endpoint.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"name": "ep", "status": "InService", "port": "y", "pid": 1}))
    code, out, err = cli(tmp_path / "store", capsys, "--list-endpoints", "--json")
    assert (code, err) == (0, "")
    [endpoint] = json.loads(out)
    assert (endpoint["name"], endpoint["status"]) == ("ep", "Failed")
