"""The UI's presentation: plain data for the templates and the JSON the pages poll.

Built from what the Target returns (summaries, facts, logs, packages, endpoints) and the
report model (pipeline.report.report_model), so the page, the static report and ``--json``
read the records the same way. No markup here: the Jinja2 templates escape everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from pipeline.core.quality import QUALITY_METRICS
from pipeline.core.records import ExecutionFacts, ExecutionSummary, ModelPackageRef
from pipeline.core.status import is_active
from pipeline.local.graph import PipelineGraph, parse_definition
from pipeline.report.report_model import (
    definition_steps,
    node_statuses,
    parameter_rows,
    step_outputs,
    step_request,
)

KEY_METRICS = ("accuracy", "f1", "auc")
SWEEP_PREFIX = "sweep-"
SWEEP_GAP_S = 600.0  # points of one sweep start within minutes of each other
MAX_CELL = 400  # characters of one value in a request or outputs table


def execution_row(summary: ExecutionSummary, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the executions table (and of its polled JSON)."""
    started, ended = summary.started_at, summary.ended_at
    duration = (ended - started).total_seconds() if started and ended else None
    changed = {
        k: v for k, v in summary.parameters.items() if k in defaults and not _same(v, defaults[k])
    }
    return {
        "id": summary.execution_id,
        "status": str(summary.status),
        "started": started.isoformat(timespec="seconds") if started else "",
        "started_ts": started.timestamp() if started else 0.0,
        "duration_s": None if duration is None else round(duration, 1),
        "display_name": summary.display_name or "",
        "changed": ", ".join(f"{k}={v}" for k, v in changed.items()),
        "metrics": {m: summary.metrics.get(m) for m in KEY_METRICS},
        "failure_reason": summary.failure_reason or "",
    }


def sweep_groups(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Execution id → its sweep's label, for rows that are sweep points.

    A sweep names its points ``sweep-<Name>-<value>...``: points with the same swept names,
    started close together, with no point repeated, are one sweep (newest first in ``rows``).
    """
    groups: dict[str, str] = {}
    current: list[dict[str, Any]] = []
    key: tuple[str, ...] | None = None
    for row in sorted(rows, key=lambda r: r["started_ts"]):
        names = _swept_names(row["display_name"])
        fits = (
            names is not None
            and names == key
            and current
            and row["started_ts"] - current[-1]["started_ts"] <= SWEEP_GAP_S
            and row["display_name"] not in {r["display_name"] for r in current}
        )
        if not fits:
            _label_group(current, key, groups)
            current, key = ([row], names) if names is not None else ([], None)
        else:
            current.append(row)
    _label_group(current, key, groups)
    return groups


def _swept_names(display_name: str) -> tuple[str, ...] | None:
    if not display_name.startswith(SWEEP_PREFIX) or display_name.endswith("-deploy"):
        return None
    parts = display_name[len(SWEEP_PREFIX) :].split("-")
    return tuple(p for p in parts[::2] if p and p[0].isalpha())


def _label_group(
    rows: list[dict[str, Any]], names: tuple[str, ...] | None, groups: dict[str, str]
) -> None:
    if rows and names is not None:
        label = f"sweep of {', '.join(names)} · {rows[0]['started']} · {len(rows)} points"
        for row in rows:
            groups[row["id"]] = label


def parameter_form(declared: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One input per typed parameter: its name, type, HTML input kind and default."""
    kinds = {"Integer": "number", "Float": "number", "Boolean": "select", "String": "text"}
    fields = []
    for p in declared:
        default = p.get("DefaultValue")
        shown = ("true" if default else "false") if isinstance(default, bool) else default
        fields.append(
            {
                "name": p["Name"],
                "type": p.get("Type", "String"),
                "kind": kinds.get(p.get("Type", "String"), "text"),
                "step": "1" if p.get("Type") == "Integer" else "any",
                "default": "" if shown is None else str(shown),
            }
        )
    return fields


def graph_statuses(facts_or_graph: PipelineGraph, summary: ExecutionSummary) -> dict[str, str]:
    """Every node's status (Pending, NotRun and Untaken told apart), from a summary."""
    records = {s.name: s for s in summary.steps}
    return {k: str(v) for k, v in node_statuses(facts_or_graph, records, summary.status).items()}


def execution_state(graph: PipelineGraph, summary: ExecutionSummary) -> dict[str, Any]:
    """What the execution page polls: the execution's and every node's status."""
    steps = {s.name: s for s in summary.steps}
    return {
        "id": summary.execution_id,
        "status": str(summary.status),
        "active": is_active(summary.status),
        "failure_reason": summary.failure_reason or "",
        "nodes": {
            name: {
                "status": status,
                "duration_s": _duration(steps.get(name)),
                "cache_hit": bool(steps[name].cache_hit) if name in steps else False,
            }
            for name, status in graph_statuses(graph, summary).items()
        },
    }


def _duration(record: Any) -> float | None:
    return None if record is None or record.duration_s is None else round(record.duration_s, 1)


def step_panel(facts: ExecutionFacts, summary: ExecutionSummary, name: str) -> dict[str, Any]:
    """Everything the step panel shows of one step."""
    doc = json.loads(facts.definition)
    raw = next((r for r in definition_steps(doc.get("Steps") or []) if r["Name"] == name), None)
    if raw is None:
        raise KeyError(name)
    found = {record.name: (record, props) for record, props in facts.steps}
    record, props = found.get(name, (None, None))
    props = props if isinstance(props, Mapping) else {}
    status = graph_statuses(parse_definition(facts.definition), summary)[name]
    metadata = dict(record.metadata) if record is not None else {}
    outputs = step_outputs(raw, props) if props else {}
    return {
        "name": name,
        "display_name": raw.get("DisplayName") or name,
        "description": raw.get("Description") or "",
        "type": raw.get("Type", ""),
        "status": status,
        "started": _time(record.started_at) if record else "",
        "ended": _time(record.ended_at) if record else "",
        "duration_s": _duration(record),
        "cache_hit": bool(record and record.cache_hit),
        "source_execution": metadata.get("SourceExecutionId")
        or metadata.get("ReusedBySelectionFrom"),
        "reused": bool(metadata.get("ReusedBySelectionFrom")),
        "branch": metadata.get("Outcome") if isinstance(metadata.get("Outcome"), bool) else None,
        "failure_reason": (record.failure_reason if record else None) or "",
        "request": list(flatten(step_request(raw, props))),
        "outputs": list(flatten(outputs)),
        "metrics": _step_metrics(props),
        "log_path": record.log_path if record else None,
        "has_log": record is not None,
    }


def _step_metrics(props: Mapping[str, Any]) -> list[tuple[str, float]]:
    final = props.get("FinalMetricDataList") or []
    return [(str(m.get("MetricName")), float(m.get("Value", 0.0))) for m in final]


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, str, str | None]]:
    """Rows (path, value, link) of a nested request or output: ``A.B[0].C``; ``link`` is a
    page of this UI the value names (an execution, the registry, an endpoint), else None."""
    if isinstance(value, Mapping):
        if not value and path:
            yield path, "{}", None
        for key, inner in value.items():
            yield from flatten(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and any(isinstance(v, (Mapping, list)) for v in value):
        for index, inner in enumerate(value):
            yield from flatten(inner, f"{path}[{index}]")
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > MAX_CELL:
            text = text[:MAX_CELL] + f"… ({len(text) - MAX_CELL} more characters)"
        yield path, text, _link(path, value)


def _link(path: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if path.endswith(("ModelPackageArn", "ModelApprovalStatus")):
        return "/registry"
    if path.endswith(("EndpointName", "EndpointArn")):
        return "/registry#endpoints"
    if path.endswith("EndpointUrl") and value.startswith("http://127.0.0.1"):
        return None  # a model server: invoke it from the registry page, with the token
    return None


def lineage(facts: ExecutionFacts) -> list[dict[str, str]]:
    """Data → training job → model artifact → package → endpoint, as the steps' properties
    name them (any definition: found by Describe* shapes, never by step name)."""
    found: list[dict[str, str]] = []
    for record, props in facts.steps:
        if not isinstance(props, Mapping):
            continue
        step = record.name
        for output in (props.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            uri = (output.get("S3Output") or {}).get("S3Uri")
            if uri and not str(output.get("OutputName", "")).startswith("evaluation"):
                found.append({"kind": "data", "step": step, "text": str(uri), "href": ""})
        artifact = (props.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if artifact:
            found.append({"kind": "model artifact", "step": step, "text": artifact, "href": ""})
        if props.get("ModelPackageArn"):
            text = str(props["ModelPackageArn"])
            found.append({"kind": "model package", "step": step, "text": text, "href": "/registry"})
        if props.get("EndpointName") and props.get("EndpointArn"):
            text = str(props["EndpointName"])
            found.append(
                {"kind": "endpoint", "step": step, "text": text, "href": "/registry#endpoints"}
            )
    return found


def parameters_view(facts: ExecutionFacts) -> list[dict[str, Any]]:
    """The execution's parameters, overrides marked."""
    doc = json.loads(facts.definition)
    return [
        {"name": p.name, "value": p.value, "default": p.default, "overridden": p.overridden}
        for p in parameter_rows(doc.get("Parameters") or [], facts.parameters)
    ]


def package_view(package: ModelPackageRef) -> dict[str, Any]:
    """One registry row."""
    metrics = {m: package.metrics.get(m) for m in QUALITY_METRICS if m in package.metrics}
    return {
        "arn": package.arn,
        "group": package.group,
        "version": package.version,
        "approval": package.approval_status,
        "created": _time(package.created_at),
        "metrics": metrics,
        "execution_id": package.execution_id,
        "endpoints": list(package.endpoints),
    }


def _time(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, (int, float)) and isinstance(default, (int, float)):
        return float(value) == float(default)
    return value == default


def field_of(message: str, names: Sequence[str]) -> str | None:
    """The parameter a refusal names (so the form marks that input), if any."""
    for name in sorted(names, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}\b", message):
            return name
    return None
