"""Issue 20 through run_pipeline.py in fresh processes, on a real store: what a newcomer
meets. A selective run labelled with the parameters it really used (and one line when its
reused steps ran with others), a long step's live line in a pipe and on a terminal, the
registry managed from the CLI, mistakes answered with the right advice, the store found from
anywhere in the project, a missing dependency told as a set-up step, and an input the model
cannot score answered with a 4xx."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import (
    REPO,
    local_cli_command,
    local_cli_env,
    run_local_cli,
    upserted_store,
)
from tests.test_local_end_to_end import cli, run_json

pytestmark = pytest.mark.e2e

FAST = ("--param", "Epochs=30", "--param", "AccuracyThreshold=0.5")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with upserted_store(tmp_path_factory.mktemp("manners") / "store", job_start="warm") as root:
        yield root


@pytest.fixture(scope="module")
def source(store: Path) -> dict[str, Any]:
    """A whole run with HiddenDim=8, run in a pipe: its stdout is kept to read."""
    done = cli(store, "--start", *FAST, "--param", "HiddenDim=8")
    assert done.returncode == 0, done.stderr
    listed = json.loads(cli(store, "--list-executions", "--json").stdout)["executions"]
    return {"stdout": done.stdout, "execution_id": listed[0]["execution_id"]}


def test_in_a_pipe_a_training_step_shows_its_epochs_as_lines(
    store: Path, source: dict[str, Any]
) -> None:
    """Issue 20: a 44 s training step showed only "started TrainMoonClassifier" until it
    ended. In a pipe its live line is a line per change (at most one a second)."""
    lines = source["stdout"].splitlines()
    live = [x for x in lines if x.startswith("  running    TrainMoonClassifier (Training)  epoch")]
    assert live and "train:loss" in live[0] and "train:accuracy" in live[0]
    assert lines.index(live[0]) > lines.index("  started    TrainMoonClassifier (Training)")
    assert "\x1b[" not in source["stdout"]
    assert f"  store:          {store}" in lines


def _on_a_terminal(argv: list[str]) -> str:
    """Run ``argv`` with a pseudo-terminal as its stdin, stdout and stderr; all it wrote."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        argv,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=REPO,
        env={**local_cli_env(), "TERM": "xterm", "COLUMNS": "160"},
        close_fds=True,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(controller)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_the_training_steps_line_is_redrawn_in_place(
    store: Path, source: dict[str, Any]
) -> None:
    text = _on_a_terminal(local_cli_command(store, "--start", *FAST, "--param", "HiddenDim=16"))
    assert "\x1b[1A\r\x1b[2K  running    TrainMoonClassifier (Training)  epoch" in text
    assert "  succeeded  TrainMoonClassifier (Training)" in text


def test_a_selective_run_is_labelled_with_its_sources_parameters(
    store: Path, source: dict[str, Any]
) -> None:
    """Issue 20: after a HiddenDim=8 run, --from-step EvaluateMoonClassifier recorded the
    defaults (HiddenDim=20); the summary, the listing and the report said 20."""
    code, doc, stderr = run_json(
        store, "--start", "--from-step", "EvaluateMoonClassifier",
        "--from-execution", source["execution_id"],
    )  # fmt: skip
    assert code == 0, stderr
    assert (doc["parameters"]["HiddenDim"], doc["parameters"]["Epochs"]) == (8, 30)
    steps = {s["name"]: s for s in doc["steps"]}
    for reused in ("PrepareMoonData", "TrainMoonClassifier"):
        assert steps[reused]["reused_from"] == source["execution_id"]
        assert steps[reused]["source_parameters"]["HiddenDim"] == 8
    assert not [n for n in doc["notes"] if n.startswith("parameters differ")]
    listed = json.loads(cli(store, "--list-executions", "--json").stdout)["executions"]
    newest = next(e for e in listed if e["execution_id"] == doc["execution_id"])
    assert newest["changed_parameters"]["HiddenDim"] == 8  # the listing's CHANGED says 8


def test_a_param_that_differs_from_the_reused_steps_is_said_in_one_line(
    store: Path, source: dict[str, Any]
) -> None:
    done = cli(
        store, "--start", "--from-step", "EvaluateMoonClassifier",
        "--from-execution", source["execution_id"], "--param", "HiddenDim=40",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    source_id = source["execution_id"]
    said = [x for x in done.stdout.splitlines() if "parameters differ" in x]
    assert said == [
        f"  parameters differ: PrepareMoonData, TrainMoonClassifier reused from {source_id}, "
        "which ran with HiddenDim=8 (this execution: HiddenDim=40)"
    ]
    [reused] = [x for x in done.stdout.splitlines() if x.startswith("  reused:")]
    assert reused.startswith(
        f"  reused:         PrepareMoonData, TrainMoonClassifier from {source_id} (ran with"
    )
    reused = done.stdout.split("  reused:")[1].split("  parameters differ")[0]
    assert "HiddenDim=8" in reused and "Epochs=30" in reused
    execution_id = done.stdout.split("started execution ")[1].split()[0].rsplit("/", 1)[1]
    described = cli(store, "--describe-execution", execution_id).stdout.splitlines()
    steps = [x for x in described if f"reused from {source_id} (ran with " in x]
    assert len(steps) == 2 and all("HiddenDim=8" in x for x in steps)
    assert said[0] in described


def test_the_registry_is_listed_approved_rejected_and_deployed_from_the_cli(
    store: Path, source: dict[str, Any]
) -> None:
    """Issue 20: 25 package versions and no command to list, approve, reject or deploy one."""
    listed = json.loads(cli(store, "--list-model-packages", "--json").stdout)
    assert listed["store"] == str(store)
    first = next(p for p in listed["model_packages"] if p["version"] == 1)
    assert (first["execution_id"], first["approval_status"]) == (source["execution_id"], "Approved")
    rejected = cli(store, "--reject", "1")
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.splitlines()[0].startswith("model package moonpipe-models/1 is now ")
    refused = cli(store, "--deploy-model-package", "1", "--endpoint-name", "manners-ep")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        "error: model package moonpipe-models/1 is Rejected; only an Approved package is "
        "deployed (approve it: python run_pipeline.py --approve 1)\n"
    )
    assert cli(store, "--approve", first["arn"]).returncode == 0  # an ARN works too
    code, doc, stderr = run_json(
        store, "--deploy-model-package", "1", "--endpoint-name", "manners-ep"
    )
    assert code == 0, stderr
    assert (doc["endpoint"]["name"], doc["endpoint"]["status"]) == ("manners-ep", "InService")
    table = cli(store, "--list-model-packages").stdout.splitlines()
    assert table[0].split() == [
        "GROUP", "VERSION", "APPROVAL", "CREATED", "ACCURACY", "EXECUTION", "SERVED", "BY",
    ]  # fmt: skip
    [row] = [r for r in table[1:] if r.split()[:2] == ["moonpipe-models", "1"]]
    assert "manners-ep" in row
    listed = json.loads(cli(store, "--list-model-packages", "--json").stdout)
    first = next(p for p in listed["model_packages"] if p["version"] == 1)
    assert "manners-ep" in first["endpoints"]  # which endpoint serves it


def test_a_finite_input_the_model_cannot_score_is_a_client_error(
    store: Path, source: dict[str, Any]
) -> None:
    """Issue 20: [[3.4e38,0]] (finite in float32) got a 500 from the endpoint."""
    listed = json.loads(cli(store, "--list-endpoints", "--json").stdout)["endpoints"]
    name = listed[0]["name"]
    flags = ("--invoke", name, "--data", "-", "--content-type", "application/json")
    done = run_local_cli(store, *flags, stdin="[[3.4e38, 0]]")
    assert done.returncode == 1 and done.stdout == ""
    assert "answered HTTP 400: row 1 cannot be scored" in done.stderr
    assert "500" not in done.stderr


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (
            ("--start", "--param", "Epochs=0"),
            "error: --param Epochs=0: Epochs must be an integer >= 1 and <= 100000",
        ),
        (
            ("--start", "--param", "HiddenDim=-5"),
            "error: --param HiddenDim=-5: HiddenDim must be an integer >= 1 and <= 4096",
        ),
        (
            ("--start", "--param", "hidden_dim=40"),
            "error: unknown pipeline parameter hidden_dim (did you mean HiddenDim?);",
        ),
        (
            ("--strat",),
            "run_pipeline.py: error: unrecognized argument --strat (did you mean --start?)",
        ),
        (("--param", "HiddenDim=40"), "run_pipeline.py: error: --param needs --start"),
        (("--deploy-best",), "run_pipeline.py: error: --deploy-best needs --sweep"),
        (
            ("--start", "--from-step", "EvaluateMoonClasifier"),
            "error: SelectedSteps: EvaluateMoonClasifier is not a step of pipeline moonpipe "
            "(did you mean EvaluateMoonClassifier?);",
        ),
    ],
)
def test_mistakes_get_one_line_of_help_and_start_nothing(
    store: Path, source: dict[str, Any], flags: tuple[str, ...], said: str
) -> None:
    before = json.loads(cli(store, "--list-executions", "--json").stdout)["total"]
    done = cli(store, *flags)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(said), done.stderr
    assert json.loads(cli(store, "--list-executions", "--json").stdout)["total"] == before


def _project(tmp_path: Path) -> Path:
    """A project folder holding the shipped config (as a clone holds it)."""
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    shutil.copy(REPO / "config" / "pipeline.yaml", project / "config" / "pipeline.yaml")
    (project / "src" / "deep").mkdir(parents=True)
    return project


def _in(folder: Path, *flags: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "run_pipeline.py"), "--config", str(config), *flags],
        capture_output=True,
        text=True,
        cwd=folder,
        env=local_cli_env(),
        check=False,
        timeout=300,
    )


def test_every_folder_of_the_project_uses_one_store_and_says_which(tmp_path: Path) -> None:
    """Issue 20: from pipeline/, --report said "no executions yet; run --start first" and
    --start "run with --upsert first": advice that would make a second store."""
    project = _project(tmp_path)
    config = project / "config" / "pipeline.yaml"
    store = project / ".moonpipe"
    upsert = _in(project / "src" / "deep", "--upsert", config=config)
    assert upsert.returncode == 0, upsert.stderr
    assert upsert.stdout.splitlines()[-1] == f"store: {store}"
    assert store.is_dir() and not (project / "src" / "deep" / ".moonpipe").exists()
    listed = _in(project / "src", "--list-executions", "--json", config=config)
    assert json.loads(listed.stdout)["store"] == str(store)
    report = _in(project / "config", "--report", config=config)
    assert (report.returncode, report.stderr) == (
        2,
        f"error: pipeline moonpipe has no executions yet; run --start first (store: {store})\n",
    )
    assert sorted(p.name for p in project.rglob(".moonpipe")) == [".moonpipe"]
    _in(project, "--stop-host", config=config)


def test_the_wrong_python_is_told_how_to_set_up(tmp_path: Path) -> None:
    """Issue 20: with the system Python, --report and --upsert ended in a
    ModuleNotFoundError traceback (exit 1). A Python without the SDK stands in for it."""
    code = (
        "import runpy, sys; sys.modules['sagemaker'] = None; "
        f"sys.argv = ['run_pipeline.py'] + sys.argv[1:]; "
        f"runpy.run_path({str(REPO / 'run_pipeline.py')!r}, run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--definition"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=local_cli_env(),
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stderr == (
        f"error: the Python package 'sagemaker' is not installed in {sys.executable}; moonpipe "
        "runs in its virtualenv: run `make run` once (it creates .venv and installs "
        "everything), then `source .venv/bin/activate` or call .venv/bin/python\n"
    )
