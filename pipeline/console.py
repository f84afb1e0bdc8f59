"""Everything a person reads from run_pipeline.py, and the --json objects.

One module formats output so both targets look the same and the human and machine shapes
stay in step. Results go to ``out`` (stdout). Progress (a line per step as it starts and
ends, --follow's job lines) goes to ``out`` in human mode, to ``err`` with --json, so
stdout then carries exactly one JSON document."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pipeline.core.records import EndpointRef, ExecutionSummary, StepRecord, UpsertResult
from pipeline.core.status import ACTIVE, Status
from pipeline.core.text import plain

LOG_TAIL_LINES = 15
WIDTH = 100
_RUNNING = ACTIVE - {Status.STOPPING}  # a step shown as "started" (or "running")
_VERB: dict[str, str] = {
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "FAILED",
    Status.STOPPED: "stopped",
}


class Console:
    """Writes progress, results and errors for one CLI invocation."""

    def __init__(self, out: TextIO, err: TextIO, json_mode: bool = False) -> None:
        self.out = out
        self.err = err
        self.json_mode = json_mode
        self._progress = err if json_mode else out
        self._gone: set[int] = set()  # ids of streams whose reader went away

    # -- progress ---------------------------------------------------------------------

    def progress(self, line: str) -> None:
        """A line about what is happening now (stderr under --json)."""
        self._print(line, self._progress)

    def step(self, record: StepRecord) -> None:
        """The StepListener: one line when a step starts, one (or a block) when it ends."""
        for line in step_lines(record):
            self.progress(line)

    def job_line(self, step_name: str, line: str) -> None:
        """--follow: one line of a running job's output, indented under its step."""
        self.progress(f"      | {plain(line)}")

    def error(self, message: str) -> None:
        """The one line every MoonpipeError becomes."""
        self._print(f"error: {message}", self.err)

    # -- results ----------------------------------------------------------------------

    def emit_json(self, value: Any) -> None:
        """The single JSON document --json prints on stdout."""
        self._print(json.dumps(value, indent=2, sort_keys=False), self.out)

    def definition(self, text: str) -> None:
        """The definition JSON: pretty for people, exactly as built under --json."""
        shown = text if self.json_mode else json.dumps(json.loads(text), indent=2)
        self._print(shown, self.out)

    def upserted(self, pipeline_name: str, target_name: str, result: UpsertResult) -> None:
        """Result of --upsert without --start: stored, or unchanged (nothing written)."""
        if self.json_mode:
            self.emit_json(
                {
                    "pipeline_name": pipeline_name,
                    "pipeline_arn": result.pipeline_arn,
                    "changed": result.changed,
                    "version": result.version,
                }
            )
        else:
            self._print(upsert_line(pipeline_name, target_name, result), self.out)

    def execution(
        self, summary: ExecutionSummary, pipeline_arn: str | None, notes: Sequence[str] = ()
    ) -> None:
        """The summary after --start / --wait."""
        if self.json_mode:
            self.emit_json(execution_json(summary, pipeline_arn, notes))
            return
        self._print("\n".join(summary_lines(summary, notes)), self.out)

    def described(self, summary: ExecutionSummary, notes: Sequence[str] = ()) -> None:
        """--describe-execution: the summary plus every step with its reason and log."""
        if self.json_mode:
            self.emit_json(execution_json(summary, None, notes))
            return
        lines = summary_lines(summary, notes, with_hint=False)
        lines += ["steps:"] if summary.steps else []
        for record in summary.steps:
            lines += step_lines(record, show_start=False)
        self._print("\n".join(lines), self.out)

    def executions(
        self, summaries: Sequence[ExecutionSummary], defaults: Mapping[str, Any] | None = None
    ) -> None:
        """--list-executions as a table (or a JSON list): with the accuracy and the
        parameters that differ from the definition's defaults, so runs tell themselves apart."""
        defaults = defaults or {}
        if self.json_mode:
            self.emit_json(
                [
                    {**s.to_json_dict(), "changed_parameters": changed_parameters(s, defaults)}
                    for s in summaries
                ]
            )
            return
        rows = [
            (
                s.execution_id,
                s.status,
                _when(s.started_at),
                _duration(s),
                _fmt(s.metrics["accuracy"]) if "accuracy" in s.metrics else "",
                _pairs(changed_parameters(s, defaults)),
                s.failure_reason or "",
            )
            for s in summaries
        ]
        header = ("EXECUTION", "STATUS", "STARTED", "DURATION", "ACCURACY", "CHANGED", "FAILURE")
        self._table(header, rows)

    def compared(self, comparison: Any, path: Path) -> None:
        """--compare: differing parameters and metrics side by side (best marked with *),
        the verdict, and the HTML comparison's path as the last line."""
        if self.json_mode:
            self.emit_json({**comparison.to_json_dict(), "report": str(path)})
            return
        ids = comparison.execution_ids
        rows = [(name, *(str(v) for v in values)) for name, values in comparison.differing.items()]
        rows += [
            (name, *(_marked(v, i in comparison.best.get(name, [])) for i, v in enumerate(values)))
            for name, values in comparison.metrics.items()
        ]
        self._table(("", *ids), rows)
        print(comparison.verdict, file=self.out)
        print(str(path), file=self.out, flush=True)

    def endpoints(self, endpoints: Sequence[EndpointRef]) -> None:
        """--list-endpoints as a table (or a JSON list)."""
        if self.json_mode:
            self.emit_json([endpoint_json(e) for e in endpoints])
            return
        rows = [(e.name, e.status or "", e.url or "") for e in endpoints]
        self._table(("ENDPOINT", "STATUS", "URL"), rows)

    def invoked(self, name: str, body: bytes, accept: str) -> None:
        """The endpoint's answer: text as is (CSV = one prediction per line)."""
        text = body.decode("utf-8", errors="replace")
        if self.json_mode:
            self.emit_json({"endpoint": name, "content_type": accept, "body": text})
            return
        self._print(text.rstrip("\n"), self.out)

    def report_written(self, path: Path) -> None:
        """Result of --report: the file's path, as the last line (or ``{"report": PATH}``)."""
        if self.json_mode:
            self.emit_json({"report": str(path)})
        else:
            print(str(path), file=self.out, flush=True)

    def deleted(self, name: str) -> None:
        """Result of --delete-endpoint."""
        if self.json_mode:
            self.emit_json({"deleted_endpoint": name})
        else:
            self._print(f"endpoint {name} deleted", self.out)

    def write(self, text: str, stream: TextIO | None = None) -> None:
        """Text as is (a block of lines, a redraw) on ``stream`` (default: the results')."""
        self._print(text, self.out if stream is None else stream)

    def _table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if not rows:
            self._print("(none)", self.out)
            return
        self._print("\n".join(table_lines(header, rows)), self.out)

    def _print(self, text: str, stream: TextIO) -> None:
        """Write a line and flush it; a reader that went away silences the stream, not the run.

        ``... --json | head`` closes the pipe once it has read enough. Raising then would
        end a local execution midway and print a traceback; instead the stream is pointed at
        os.devnull (so the interpreter's final flush is quiet too, as Python's SIGPIPE notes
        advise) and the command ends with the exit code its result deserves.
        """
        if id(stream) in self._gone:
            return
        try:
            print(text, file=stream, flush=True)
        except BrokenPipeError:
            self._gone.add(id(stream))
            _point_at_devnull(stream)


def _point_at_devnull(stream: TextIO) -> None:
    """Make the file descriptor behind ``stream`` write to os.devnull from now on."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's StringIO): nothing will flush it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def upsert_line(pipeline_name: str, target_name: str, result: UpsertResult) -> str:
    """One line saying whether --upsert stored a new version or found nothing to change."""
    version = "" if result.version is None else f"version {result.version}"
    if result.changed:
        stored = f" as {version}" if version else ""
        return f"pipeline {pipeline_name} stored on {target_name}{stored}: {result.pipeline_arn}"
    held = f"{version} is" if version else "it already holds"
    return (
        f"pipeline {pipeline_name} unchanged on {target_name} ({held} this definition; "
        f"nothing written): {result.pipeline_arn}"
    )


def changed_parameters(summary: ExecutionSummary, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The execution's parameters whose value differs from the definition's default."""

    def differs(name: str, value: Any) -> bool:
        default = defaults.get(name)
        if isinstance(value, (int, float)) and isinstance(default, (int, float)):
            return float(value) != float(default)
        return value != default

    return {k: v for k, v in summary.parameters.items() if k in defaults and differs(k, v)}


def step_lines(record: StepRecord, show_start: bool = True) -> list[str]:
    """A step's progress line; on failure its reason and where (or what) its log says."""
    label = f"{record.name} ({record.step_type})" if record.step_type else record.name
    if record.status in _RUNNING:
        return [f"  started    {label}"] if show_start else [f"  running    {label}"]
    verb = _VERB.get(record.status, record.status.lower())
    extras = [_seconds(record.duration_s)] if record.duration_s is not None else []
    extras += ["cache hit"] if record.cache_hit else []
    extras += [f"reused from {r}"] if (r := record.metadata.get("ReusedBySelectionFrom")) else []
    extras += [f"attempt {record.attempt_count}"] if (record.attempt_count or 1) > 1 else []
    lines = [f"  {verb:<10} {label}" + (f"  {', '.join(extras)}" if extras else "")]
    if record.failure_reason:
        lines.append(f"      reason: {plain(record.failure_reason)}")
    if not show_start:  # --describe-execution: why it was (not) a cache hit, its attempts
        lines += _cache_and_attempts(record)
    if record.log_path and (record.status == Status.FAILED or not show_start):
        lines += log_lines(record.log_path, tail=record.status == Status.FAILED)
    return lines


def _cache_and_attempts(record: StepRecord) -> list[str]:
    lines = [f"      cache {why}"] if (why := record.metadata.get("CacheReason")) else []
    for earlier in record.metadata.get("Attempts") or []:
        lines.append(
            f"      attempt {earlier.get('AttemptCount')} failed "
            f"({earlier.get('ExceptionType')}, retried): {plain(str(earlier.get('FailureReason')))}"
        )
    return lines


def log_lines(log_path: str, tail: bool) -> list[str]:
    """Where the log is, and for a failed step with a local log file its last lines."""
    path = Path(log_path)
    if not tail or not path.is_file():
        return [f"      log: {log_path}"]
    text = plain(path.read_text(encoding="utf-8", errors="replace"))  # a job's: no escapes
    lines = text.splitlines()[-LOG_TAIL_LINES:]
    return [f"      log: {log_path} (last {len(lines)} lines)"] + [f"      | {x}" for x in lines]


def summary_lines(
    summary: ExecutionSummary, notes: Iterable[str] = (), with_hint: bool = True
) -> list[str]:
    """The end-of-run block: status, why it failed, metrics, model package, endpoint."""
    took = f" in {_duration(summary)}" if _duration(summary) else ""
    lines = [f"execution {summary.execution_id} {summary.status}{took}"]
    lines.append(f"  execution arn:  {summary.execution_arn}")
    if summary.failure_reason:
        lines.append(f"  failure reason: {summary.failure_reason}")
    if summary.parameters:
        lines += _wrapped("  parameters:     ", _pairs(summary.parameters))
    if summary.metrics:
        lines += _wrapped("  metrics:        ", _pairs(summary.metrics))
    if summary.model_package_arn:
        lines.append(f"  model package:  {summary.model_package_arn}")
    if summary.endpoint is not None:
        where = f"  {summary.endpoint.url}" if summary.endpoint.url else ""
        lines.append(f"  endpoint:       {summary.endpoint.name}{where}")
    if summary.quality_report_uri:
        lines.append(f"  quality report: {summary.quality_report_uri}")
    if summary.report:
        lines.append(f"  report:         {summary.report}")
    lines += [f"  note: {note}" for note in notes]
    if summary.status == Status.STOPPED and "--retry" not in (summary.failure_reason or ""):
        lines.append(f"  resume it:      python run_pipeline.py --retry {summary.execution_id}")
    if with_hint and summary.status == Status.FAILED:
        lines.append(
            "  every step's reason and log: "
            f"python run_pipeline.py --describe-execution {summary.execution_id}"
        )
    return lines


def execution_json(
    summary: ExecutionSummary, pipeline_arn: str | None, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """ExecutionSummary.to_json_dict() plus the pipeline ARN and any notes."""
    data = summary.to_json_dict()
    data["pipeline_arn"] = pipeline_arn
    data["notes"] = list(notes)
    return data


def endpoint_json(endpoint: EndpointRef) -> dict[str, Any]:
    """One endpoint as a JSON object."""
    return {"name": endpoint.name, "status": endpoint.status, "url": endpoint.url}


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, no trailing blanks."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def _wrapped(label: str, text: str) -> list[str]:
    """A long ``k=v, ...`` list as lines of at most WIDTH, continued under the label."""
    indent = " " * len(label)
    return textwrap.wrap(
        text, WIDTH, initial_indent=label, subsequent_indent=indent, break_on_hyphens=False
    )


def _pairs(values: Mapping[str, Any]) -> str:
    return plain(", ".join(f"{k}={_fmt(v)}" for k, v in values.items()))  # values: anyone's


def _marked(value: Any, best: bool) -> str:
    return ("" if value is None else _fmt(value)) + ("*" if best else "")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _duration(summary: ExecutionSummary) -> str:
    if summary.started_at is None or summary.ended_at is None:
        return ""
    return _seconds((summary.ended_at - summary.started_at).total_seconds())


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
