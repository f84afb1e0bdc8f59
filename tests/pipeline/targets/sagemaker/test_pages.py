"""Where SageMaker executions' pages go: the working directory, named by execution id."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.targets.sagemaker.pages import comparison_path, report_path
from tests.pipeline.targets.sagemaker.support import EXEC


def test_pages_go_to_the_working_directory_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert report_path("abc") == tmp_path / "moonpipe-report-abc.html"
    assert report_path(EXEC) == tmp_path / "moonpipe-report-abc.html"  # an ARN: its id
    assert comparison_path(["abc", EXEC.replace("abc", "def")]) == (
        tmp_path / "moonpipe-comparison-abc-vs-def.html"
    )


def test_a_long_comparison_name_still_fits_a_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = comparison_path([f"execution{i:04d}" for i in range(40)])
    assert path.parent == tmp_path and path.suffix == ".html"
    assert path.name.startswith("moonpipe-comparison-execution0000-vs-execution0001")
    assert len(path.name) <= 205
