"""pipeline.flags: argv becomes exactly one typed request; the usage is the command table's."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from pipeline.commands import COMMANDS, TABLE, Request
from pipeline.commands.compare import CompareExecutions
from pipeline.commands.endpoints import InvokeEndpoint
from pipeline.commands.executions import ListExecutions
from pipeline.commands.front import Settings
from pipeline.commands.host import StopHost
from pipeline.commands.registry import DeployModelPackage, ListModelPackages, UpdateModelPackage
from pipeline.commands.report import WriteReport
from pipeline.commands.retry import RetryExecution
from pipeline.commands.run import RunPipeline, SelectionFlags
from pipeline.commands.sweep import Sweep
from pipeline.config import DEFAULT_CONFIG_PATH
from pipeline.flags import build_parser, parse

PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"


def test_the_usage_lists_every_action_of_the_table_and_every_flag() -> None:
    parser = build_parser()
    text = parser.format_usage()
    for command in COMMANDS:
        assert command.usage in text
    flags = {action.option_strings[0] for action in parser._actions if action.option_strings} - {
        "-h"
    }
    assert sorted(f for f in flags if f not in text) == []
    for forgotten in ("--sweep", "--retry", "--steps", "--from-step"):  # the old USAGE's gaps
        assert forgotten in text


def test_one_table_entry_per_request_type() -> None:
    assert set(TABLE) == set(get_args(Request))
    assert len(TABLE) == len(COMMANDS)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--upsert", "--start", "--wait"], RunPipeline(upsert=True, start=True, wait=True)),
        (
            ["--start", "--param", "HiddenDim=40", "--param", "Epochs=5", "--follow"],
            RunPipeline(start=True, follow=True, params=("HiddenDim=40", "Epochs=5")),
        ),
        (
            ["--start", "--steps", " A, B,", "--from-execution", "x1"],
            RunPipeline(start=True, selection=SelectionFlags(("A", "B"), None, "x1")),
        ),
        (
            ["--start", "--from-step", "Eval"],
            RunPipeline(start=True, selection=SelectionFlags(None, "Eval", None)),
        ),
        (["--start", "--steps", ","], RunPipeline(start=True, selection=SelectionFlags(()))),
        (["--report"], WriteReport()),
        (["--report", "e1", "--report-out", "r.html"], WriteReport("e1", Path("r.html"))),
        (["--compare", "a", "b"], CompareExecutions(("a", "b"))),
        (["--invoke", "ep", "--data", "-"], InvokeEndpoint("ep", "-", "text/csv", "text/csv")),
        (["--retry", "arn/x"], RetryExecution("arn/x")),
        # issue 20: --retry ID --wait was refused although --retry waits
        (["--retry", "x", "--wait"], RetryExecution("x", wait=True)),
        (["--retry", "x", "--follow"], RetryExecution("x", follow=True)),
        (["--list-executions", "--limit", "5"], ListExecutions(5)),
        (["--list-executions"], ListExecutions(20)),
        (["--list-model-packages"], ListModelPackages()),
        (["--list-model-packages", "grp"], ListModelPackages("grp")),
        (["--approve", "3"], UpdateModelPackage("3", "Approved")),
        (["--reject", "arn:p/3"], UpdateModelPackage("arn:p/3", "Rejected")),
        (["--deploy-model-package", "3"], DeployModelPackage("3")),
        (
            ["--deploy-model-package", "3", "--endpoint-name", "e"],
            DeployModelPackage("3", "e"),
        ),
        (["--stop-host"], StopHost()),
        (
            ["--sweep", "HiddenDim=8,16", "--param", "Epochs=3", "--deploy-best"],
            Sweep(("HiddenDim=8,16",), ("Epochs=3",), deploy_best="accuracy"),
        ),
        (
            ["--sweep", "A=1", "--sweep", "B=2", "--max-parallel", "3", "--rerun"],
            Sweep(("A=1", "B=2"), max_parallel=3, rerun=True),
        ),
    ],
)
def test_argv_becomes_one_typed_request(argv: list[str], expected: Request) -> None:
    invocation = parse(argv)
    assert invocation.request == expected
    assert invocation.settings == Settings()


def test_the_settings_are_typed_too() -> None:
    argv = ["--list-endpoints", "--target", "sagemaker", "--store-root", "/s", "--json"]
    settings = parse(argv).settings
    assert settings == Settings(DEFAULT_CONFIG_PATH, "sagemaker", store_root="/s", json=True)


def test_no_namespace_travels_below_the_parser() -> None:
    """pipeline/commands/ and pipeline/sweep/ never import argparse: they get requests."""
    importers = []
    for path in [*(PIPELINE / "commands").glob("*.py"), *(PIPELINE / "sweep").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if "argparse" in names:
                importers.append(path.name)
    assert importers == []
