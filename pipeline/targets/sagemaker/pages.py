"""Where SageMaker executions' report pages go: nowhere of the service's. A page is written
on demand (--report, --compare) into the working directory; nothing is drawn later."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.core.refs import execution_id

NO_PAGES_LATER = (
    "no report pages drawn: SageMaker keeps none; write an execution's page with "
    "--report ID and the comparison report with --compare ID ID"
)
_MAX_NAME = 200  # well under the 255 bytes a file name may have


def report_path(execution_ref: str) -> Path:
    """``moonpipe-report-<id>.html`` in the working directory."""
    return Path.cwd() / f"moonpipe-report-{execution_id(execution_ref)}.html"


def comparison_path(execution_refs: Sequence[str]) -> Path:
    """``moonpipe-comparison-<id>-vs-<id>....html`` in the working directory."""
    joined = "-vs-".join(execution_id(ref) for ref in execution_refs)
    name = f"moonpipe-comparison-{joined}"[:_MAX_NAME]
    return Path.cwd() / f"{name}.html"
