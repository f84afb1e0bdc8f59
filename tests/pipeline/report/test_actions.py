"""--report through run_pipeline.main on a real local store: paths, --json, errors (exit 2)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

import run_pipeline
from pipeline.core.records import ExecutionData, ExecutionFacts, ExecutionSummary
from pipeline.report import actions
from pipeline.targets.local import LocalTarget
from tests.moto_aws import client, fresh_account
from tests.moto_aws import moto_url as moto_url
from tests.pipeline.conftest import FakeEndpoints
from tests.pipeline.local.local_defs import full_definition, pipeline
from tests.pipeline.report.facts import QUALITY, facts, upstream_steps


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A store with the hand-made pipeline, named as the config names it, run twice
    (HiddenDim 20, then 40); deployments go to a stand-in that starts no server."""
    root = tmp_path_factory.mktemp("actions") / "store"
    target = LocalTarget(root, endpoints=FakeEndpoints())
    target.upsert_pipeline(pipeline(name="moonpipe"), None)
    ids = [
        target.wait(target.start_execution("moonpipe", params), lambda r: None).execution_id
        for params in ({}, {"HiddenDim": 40})
    ]
    yield SimpleNamespace(root=target.store_root, ids=ids)


def _main(store: SimpleNamespace, *flags: str) -> int:
    return run_pipeline.main(["--target", "local", "--store", str(store.root), *flags])


def test_report_of_the_latest_prints_its_path_last(
    store: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(store, "--report") == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == str(store.root / "executions" / store.ids[1] / "report.html")
    assert 'data-overridden="true"' in Path(last).read_text()  # HiddenDim=40


def test_report_json_and_report_out(
    store: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "first.html"
    assert _main(store, "--report", store.ids[0], "--report-out", str(out), "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"store": str(store.root), "report": str(out)}
    assert store.ids[0] in out.read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--report", "nosuchrun"],
            "error: no local execution 'nosuchrun'; list them with --list-executions",
        ),
        (
            ["--report", "--report-out", "/nonexistent-dir/r.html"],
            "error: --report-out /nonexistent-dir/r.html: folder /nonexistent-dir does not exist; "
            "create it or choose another path",
        ),
    ],
)
def test_report_errors_are_one_line_and_exit_2(
    store: SimpleNamespace, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert _main(store, *flags) == 2
    err = capsys.readouterr().err
    assert err.strip().removesuffix(f" (store: {store.root})") == message


def test_report_out_without_report_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_pipeline.main(["--list-executions", "--report-out", "x.html"]) == 2
    assert "--report-out needs --report or --compare" in capsys.readouterr().err


def test_no_executions_yet_says_what_to_do(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path)
    with pytest.raises(Exception, match="has no executions yet; run --start first"):
        actions.resolve_execution(target, "moonpipe", None)


class FactsOnly:
    """A target seen only through the Protocol's report verbs, with no model on this machine
    (as SageMaker's): --compare used to refuse it ("local target only for now")."""

    name = "sagemaker"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe_execution(self, ref: str) -> ExecutionSummary:
        return ExecutionSummary("p", f"arn/{ref}", ref, "Succeeded")

    def execution_facts(self, ref: str) -> ExecutionFacts:
        quality = copy.deepcopy(QUALITY)
        quality["binary_classification_metrics"]["accuracy"]["value"] = {"a": 0.9, "b": 0.95}[ref]
        return replace(facts(upstream_steps(), quality_report=quality), execution_id=ref)

    def execution_data(self, ref: str) -> ExecutionData:
        return ExecutionData(note="the model is not on this machine")

    def comparison_path(self, execution_ids: list[str]) -> Path:
        return self.folder / f"{'-vs-'.join(execution_ids)}.html"


def test_compare_needs_only_the_targets_report_verbs(tmp_path: Path) -> None:
    target = FactsOnly(tmp_path)
    comparison, page = actions.write_comparison(target, ["a", "arn/x/execution/b"], None)  # type: ignore[arg-type]
    assert comparison.verdict == "b is best by accuracy: 0.9500 against 0.9000"
    assert page == tmp_path / "a-vs-b.html"
    html = page.read_text()
    assert comparison.verdict in html
    assert re.findall(r'data-plot="([\w-]+)"', html) == [
        "roc",
        "pr",
        "loss",
        "boundary",
        "metric-vs-parameter",
    ]


def test_compare_prints_a_table_the_verdict_and_the_page_last(
    store: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(store, "--compare", *store.ids) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == store.ids
    assert lines[1].split() == ["status", "Succeeded", "Succeeded"]
    assert lines[2].split() == ["HiddenDim", "20", "40"]
    assert " tie on accuracy (" in lines[-3] or " is best by accuracy: " in lines[-3]
    assert lines[-2] == f"store: {store.root}"
    page = Path(lines[-1])
    assert page.parent == store.root / "comparisons"
    html = page.read_text()
    assert re.findall(r'data-plot="([\w-]+)"', html) == [
        "roc",
        "pr",
        "loss",
        "boundary",
        "metric-vs-parameter",
    ]
    assert 'data-param="HiddenDim"' in html


def test_compare_json(
    store: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp.html"
    assert _main(store, "--compare", *store.ids, "--report-out", str(out), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"] == str(out) and out.is_file()
    assert doc["parameters_that_differ"] == {"HiddenDim": [20, 40]}
    assert doc["executions"] == store.ids


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--compare", "one"], "--compare needs two or more execution ids"),
        (["--compare", "same", "same"], "--compare needs at least two different executions"),
    ],
)
def test_compare_needs_two_executions(
    store: SimpleNamespace, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert _main(store, *flags) == 2
    assert message in capsys.readouterr().err


def test_list_executions_shows_accuracy_and_changed_parameters(
    store: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(store, "--list-executions") == 0
    header, newest, oldest, footer = capsys.readouterr().out.strip().splitlines()
    assert footer == f"2 of 2 executions; store: {store.root}"
    assert header.split()[:6] == [
        "EXECUTION",
        "STATUS",
        "STARTED",
        "DURATION",
        "ACCURACY",
        "CHANGED",
    ]
    assert newest.split()[0] == store.ids[1] and "0.9" in newest.split()
    assert newest.split()[-1] == "HiddenDim=40"
    assert oldest.split()[-1] == "0.9"  # accuracy, nothing changed
    assert _main(store, "--list-executions", "--json") == 0
    listed = json.loads(capsys.readouterr().out)["executions"]
    assert [e["changed_parameters"] for e in listed] == [{"HiddenDim": 40}, {}]


def test_compare_on_sagemaker_from_moto(
    moto_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--compare used to be local only; through the Target's verbs it works on SageMaker
    (moto runs nothing, so there are no metrics: the verdict says so)."""
    fresh_account(moto_url, tmp_path, monkeypatch)
    client("s3").create_bucket(Bucket="moonpipe-compare-bucket")
    sm = client("sagemaker")
    sm.create_pipeline(
        PipelineName="moonpipe",
        RoleArn="arn:aws:iam::123456789012:role/Test",
        PipelineDefinition=json.dumps(full_definition()),
    )
    arns = [
        sm.start_pipeline_execution(
            PipelineName="moonpipe", PipelineParameters=[{"Name": "HiddenDim", "Value": hidden}]
        )["PipelineExecutionArn"]
        for hidden in ("20", "40")
    ]
    out = tmp_path / "cmp.html"
    argv = ["--target", "sagemaker", "--bucket", "moonpipe-compare-bucket", "--compare", *arns]
    assert run_pipeline.main([*argv, "--report-out", str(out)]) == 0, capsys.readouterr().err
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == [arn.rsplit("/", 1)[1] for arn in arns]
    assert lines[1].split() == ["status", "Succeeded", "Succeeded"]
    assert lines[2].split() == ["HiddenDim", "20", "40"]
    assert lines[-2:] == ["no execution has metrics to compare (did evaluation run?)", str(out)]
    assert 'data-plot="boundary"' in out.read_text()
