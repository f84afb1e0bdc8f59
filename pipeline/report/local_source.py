"""Gather one local execution's facts and plot data from the store, and write its report.

Everything is found by the Describe* shapes of step properties, never by step name:
the quality report through ModelMetrics or a PropertyFile, the data through Processing
outputs named ``train`` and ``test``, the model through ModelArtifacts. The decision
boundary comes from pipeline.report.boundary (a subprocess that loads the model the safe
way, its grid kept beside the execution).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.core.records import ExecutionFacts
from pipeline.local.store.layout import StoreLayout
from pipeline.local.store.objects import ObjectStore
from pipeline.local.store.records import Records
from pipeline.local.summary import quality_report
from pipeline.report.boundary import BoundaryError, BoundaryPending, BoundaryScorer
from pipeline.report.plots import PlotData

REPORT_NAME = "report.html"
LOG_TAIL_LINES = 30


def report_path(store_root: Path, execution_id: str) -> Path:
    """Where the local target keeps an execution's report."""
    return StoreLayout(store_root).report(execution_id)


def local_facts(store_root: Path, execution_id: str) -> ExecutionFacts:
    """The facts of one stored execution (ExecutionNotFoundError if there is none)."""
    records, objects = Records(store_root), ObjectStore(store_root)
    data = records.execution(execution_id)
    pipeline = records.pipeline(data.pipeline_name, data.pipeline_version)
    steps = records.steps(execution_id)
    props = [p for _, p in steps if isinstance(p, Mapping)]
    uri, report = quality_report(objects, props)
    from datetime import datetime

    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return ExecutionFacts(
        target="local",
        pipeline_name=data.pipeline_name,
        execution_id=execution_id,
        execution_arn=data.execution_arn,
        status=data.status,
        definition=pipeline["PipelineDefinition"],
        parameters=data.parameters or {},
        steps=steps,
        failure_reason=data.failure_reason,
        started_at=when(data.started_at),
        ended_at=when(data.ended_at),
        quality_report=report,
        quality_report_uri=uri,
        log_tails={r.name: _tail(r.log_path) for r, _ in steps if r.log_path},
    )


def plot_data(
    store_root: Path, execution_id: str, scorer: BoundaryScorer | None = None, wait: bool = True
) -> PlotData:
    """The data step's train/test points and, once a model exists, its decision boundary
    (``wait=False``: a boundary still being scored is left out for this rewrite)."""
    records, objects = Records(store_root), ObjectStore(store_root)
    props = [p for _, p in records.steps(execution_id) if isinstance(p, Mapping)]
    train, test = (_points(objects, props, name) for name in ("train", "test"))
    model_uri = next(
        (
            p["ModelArtifacts"]["S3ModelArtifacts"]
            for p in props
            if isinstance(p.get("ModelArtifacts"), Mapping)
        ),
        None,
    )
    if model_uri is None:
        return PlotData(train, test, None, "no trained model in this execution")
    cache = records.layout.report_keep(execution_id) / "report-boundary.json"
    bounds = _extent([p for p in (train, test) if p is not None])
    try:
        boundary = (scorer or BoundaryScorer()).boundary(
            cache, objects.path(model_uri), model_uri, bounds, wait
        )
    except BoundaryPending:
        return PlotData(train, test, None, "the model is still being scored")
    except BoundaryError as err:
        return PlotData(train, test, None, str(err))
    return PlotData(train, test, boundary)


def _extent(arrays: list[Any]) -> tuple[float, float, float, float]:
    if not arrays:
        return (-1.5, 2.5, -1.0, 1.5)
    import numpy as np

    points = np.concatenate(arrays)
    (x0, y0), (x1, y1) = points[:, 1:3].min(axis=0), points[:, 1:3].max(axis=0)
    return (float(x0) - 0.5, float(x1) + 0.5, float(y0) - 0.5, float(y1) + 0.5)


def _points(objects: ObjectStore, properties: Sequence[Mapping[str, Any]], name: str) -> Any:
    """Rows ``label,x,y`` of every CSV under the Processing output named ``name``."""
    import numpy as np

    for props in properties:
        for output in (props.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            uri = (output.get("S3Output") or {}).get("S3Uri")
            if output.get("OutputName") != name or not isinstance(uri, str):
                continue
            rows = [
                np.loadtxt(path, delimiter=",", ndmin=2)
                for rel, path in objects.list_prefix(uri)
                if rel.endswith(".csv")
            ]
            rows = [r for r in rows if r.shape[1] >= 3]
            if rows:
                return np.concatenate(rows)
    return None


def _tail(log_path: str | None) -> list[str]:
    path = Path(log_path) if log_path else None
    if path is None or not path.is_file():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
