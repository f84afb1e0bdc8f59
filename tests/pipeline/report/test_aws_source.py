"""pipeline/report/aws_source.py, the wrapper --report on SageMaker goes through until the
report renders every target through ``ReportWriter(target)``: the page from a real moto
server, and the wrapper's plot data from the target's facts collaborator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import run_pipeline
from pipeline.report.aws_source import aws_facts
from pipeline.targets.sagemaker.facts import BOUNDARY_NOTE
from tests.moto_aws import client
from tests.moto_aws import moto_url as moto_url
from tests.pipeline.targets.sagemaker.test_facts import BUCKET, put_outputs, stubbed
from tests.pipeline.targets.sagemaker.test_facts import execution as execution


def test_report_from_moto_says_what_the_service_did_not_give(
    execution: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
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


def test_the_wrappers_plot_data_has_the_points_and_no_boundary(execution: str) -> None:
    s3, sm = client("s3"), client("sagemaker")
    put_outputs(s3)
    with stubbed(sm, execution, asks=2):
        facts, data = aws_facts(sm, s3, execution)
    assert facts.execution_arn == execution and BOUNDARY_NOTE in facts.notes
    assert data.train.shape == (2, 3) and data.test.shape == (1, 3)
    assert data.boundary is None and data.boundary_note == BOUNDARY_NOTE
