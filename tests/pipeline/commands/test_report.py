"""--report on SageMaker: the page written from a real moto server's answers, through the
report command, the target's facts and ReportWriter(target), saying what the service did not
give instead of faking it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import run_pipeline
from tests.moto_aws import moto_url as moto_url
from tests.pipeline.targets.sagemaker.test_facts import BUCKET
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
