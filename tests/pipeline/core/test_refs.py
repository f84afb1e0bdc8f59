"""The one execution-reference parser."""

from __future__ import annotations

import pytest

from pipeline.core.errors import ExecutionNotFoundError
from pipeline.core.refs import execution_id, pipeline_arn_of, pipeline_name_of

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe/execution/abc123def456"


@pytest.mark.parametrize("ref", ["abc123def456", ARN, ARN + "/", " abc123def456 "])
def test_an_id_or_an_arn_gives_the_id(ref: str) -> None:
    assert execution_id(ref) == "abc123def456"


@pytest.mark.parametrize("ref", ["", "/", "  "])
def test_an_empty_reference_is_one_line_that_says_where_to_look(ref: str) -> None:
    with pytest.raises(ExecutionNotFoundError, match="list them with --list-executions"):
        execution_id(ref)


def test_the_pipeline_is_read_from_the_execution_arn() -> None:
    assert pipeline_arn_of(ARN) == "arn:aws:sagemaker:us-east-1:123456789012:pipeline/moonpipe"
    assert pipeline_name_of(ARN) == "moonpipe"
