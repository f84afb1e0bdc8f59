"""Everything a person reads from run_pipeline.py, and the --json objects.

One module formats output so both targets look the same and the human and machine shapes
stay in step. Results go to ``out`` (stdout). Progress (a line per step as it starts and
ends, --follow's job lines) goes to ``out`` in human mode, to ``err`` with --json, so
stdout then carries exactly one JSON document."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pipeline.core.records import (
    EndpointRef,
    ExecutionSummary,
    ModelPackageRef,
    StepRecord,
    UpsertResult,
)
from pipeline.core.status import ACTIVE, Status
from pipeline.core.text import plain

LOG_TAIL_LINES = 15
WIDTH = 100
LIST_LIMIT = 20  # --list-executions' rows unless --limit says
TABLE_WIDTH = 120  # a listing's rows fit in this; the whole values are in --json
_CELL = 30  # a cell longer than this is cut (the last column gets what the row has left)
MetricPatterns = Mapping[str, Sequence[tuple[str, str]]]  # step -> (metric name, regex)
_RUNNING = ACTIVE - {Status.STOPPING}  # a step shown as "started" (or "running")
_VERB: dict[str, str] = {
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "FAILED",
    Status.STOPPED: "stopped",
}


class Console:
    """Writes progress, results and errors for one CLI invocation.

    ``store`` is the local store a command used (the front sets it once the target is
    made; None on SageMaker): every summary and every --json result names it. ``defaults``
    are the pipeline's parameter defaults, when the front knows them: a reused step is
    shown with the values its source ran with that differ from them.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        json_mode: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.err = err
        self.json_mode = json_mode
        self.store: str | None = None
        self.defaults: Mapping[str, Any] | None = None
        self._progress = err if json_mode else out
        self._gone: set[int] = set()  # ids of streams whose reader went away
        self._clock = clock
        self._live: LiveSteps | None = None

    # -- progress ---------------------------------------------------------------------

    def progress(self, line: str) -> None:
        """A line about what is happening now (stderr under --json)."""
        if self._live is not None:
            self._live.permanent([line])
        else:
            self._print(line, self._progress)

    def step(self, record: StepRecord) -> None:
        """The StepListener: one line when a step starts, one (or a block) when it ends;
        with live progress on, the running steps' lines follow (see :meth:`watch_metrics`)."""
        lines = step_lines(record, defaults=self.defaults)
        if self._live is not None:
            self._live.step(record, lines)
            return
        for line in lines:
            self.progress(line)

    def watch_metrics(
        self, patterns: Callable[[], Mapping[str, Sequence[tuple[str, str]]]]
    ) -> None:
        """Show one live line per running step from the metrics its job logs (fed by
        :meth:`live_line`). ``patterns`` gives, when first needed, each step's
        (metric name, regex) pairs: its MetricDefinitions, as SageMaker applies them."""
        self._live = LiveSteps(self, self._progress, patterns, self._clock)

    def live_line(self, step_name: str, line: str) -> None:
        """The LineListener without --follow: a job's line feeds its step's live line."""
        if self._live is not None:
            self._live.feed(step_name, line)

    def job_line(self, step_name: str, line: str) -> None:
        """--follow: one line of a running job's output, indented under its step."""
        self.progress(f"      | {plain(line)}")

    def error(self, message: str) -> None:
        """The one line every MoonpipeError becomes."""
        if self._live is not None:
            self._live.close()
        self._print(f"error: {message}", self.err)

    # -- results ----------------------------------------------------------------------

    def emit_json(self, value: Any) -> None:
        """The single JSON document --json prints on stdout."""
        self._print(json.dumps(value, indent=2, sort_keys=False), self.out)

    def emit_result(self, value: Mapping[str, Any]) -> None:
        """A --json result of a command that used a target: the store first, then ``value``."""
        self.emit_json({"store": self.store, **value})

    def definition(self, text: str) -> None:
        """The definition JSON: pretty for people, exactly as built under --json."""
        shown = text if self.json_mode else json.dumps(json.loads(text), indent=2)
        self._print(shown, self.out)

    def upserted(self, pipeline_name: str, target_name: str, result: UpsertResult) -> None:
        """Result of --upsert without --start: stored, or unchanged (nothing written)."""
        if self.json_mode:
            self.emit_result(
                {
                    "pipeline_name": pipeline_name,
                    "pipeline_arn": result.pipeline_arn,
                    "changed": result.changed,
                    "version": result.version,
                }
            )
        else:
            self._print(upsert_line(pipeline_name, target_name, result), self.out)
            self._store_line()

    def execution(
        self, summary: ExecutionSummary, pipeline_arn: str | None, notes: Sequence[str] = ()
    ) -> None:
        """The summary after --start / --wait / --retry."""
        if self._live is not None:
            self._live.close()
        if self.json_mode:
            self.emit_result(execution_json(summary, pipeline_arn, notes))
            return
        lines = summary_lines(summary, notes, store=self.store, defaults=self.defaults)
        self._print("\n".join(lines), self.out)

    def described(self, summary: ExecutionSummary, notes: Sequence[str] = ()) -> None:
        """--describe-execution: the summary plus every step with its reason and log."""
        if self.json_mode:
            self.emit_result(execution_json(summary, None, notes))
            return
        lines = summary_lines(
            summary, notes, with_hint=False, store=self.store, defaults=self.defaults
        )
        lines += ["steps:"] if summary.steps else []
        for record in summary.steps:
            lines += step_lines(record, show_start=False, defaults=self.defaults)
        self._print("\n".join(lines), self.out)

    def executions(
        self,
        summaries: Sequence[ExecutionSummary],
        defaults: Mapping[str, Any] | None = None,
        limit: int | None = LIST_LIMIT,
    ) -> None:
        """--list-executions as a table (or JSON): with the accuracy and the parameters that
        differ from the definition's defaults, so runs tell themselves apart; the newest
        ``limit`` (None or 0: all), each row at most :data:`WIDTH` characters wide."""
        defaults = defaults or {}
        shown = list(summaries[:limit] if limit else summaries)
        if self.json_mode:
            self.emit_result(
                {
                    "total": len(summaries),
                    "executions": [
                        {**s.to_json_dict(), "changed_parameters": changed_parameters(s, defaults)}
                        for s in shown
                    ],
                }
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
            for s in shown
        ]
        header = ("EXECUTION", "STATUS", "STARTED", "DURATION", "ACCURACY", "CHANGED", "FAILURE")
        self._table(header, rows, fit=True)
        more = len(summaries) - len(shown)
        tail = f"; {more} older not shown (--limit N, or --limit 0 for all)" if more else ""
        self._store_line(f"{len(shown)} of {len(summaries)} executions{tail}")

    def compared(self, comparison: Any, path: Path) -> None:
        """--compare: differing parameters and metrics side by side (best marked with *),
        the verdict, and the HTML comparison's path as the last line."""
        if self.json_mode:
            self.emit_result({**comparison.to_json_dict(), "report": str(path)})
            return
        ids = comparison.execution_ids
        rows = [("status", *comparison.statuses)]
        rows += [
            (name, *(_fmt(v) for v in values)) for name, values in comparison.differing.items()
        ]
        rows += [
            (name, *(_marked(v, i in comparison.best.get(name, [])) for i, v in enumerate(values)))
            for name, values in comparison.metrics.items()
        ]
        self._table(("", *ids), rows)
        self._print(comparison.verdict, self.out)
        self._store_line()
        self._print(str(path), self.out)

    def endpoints(self, endpoints: Sequence[EndpointRef]) -> None:
        """--list-endpoints as a table (or JSON)."""
        if self.json_mode:
            self.emit_result({"endpoints": [endpoint_json(e) for e in endpoints]})
            return
        rows = [(e.name, e.status or "", e.url or "") for e in endpoints]
        self._table(("ENDPOINT", "STATUS", "URL"), rows)
        self._store_line()

    def model_packages(self, packages: Sequence[ModelPackageRef]) -> None:
        """--list-model-packages: group, version, approval, accuracy (every metric in --json),
        the execution that registered it, the endpoints serving it."""
        if self.json_mode:
            self.emit_result({"model_packages": [package_json(p) for p in packages]})
            return
        rows = [
            (
                p.group,
                "" if p.version is None else str(p.version),
                p.approval_status,
                _when(p.created_at),
                _fmt(p.metrics["accuracy"]) if "accuracy" in p.metrics else "",
                p.execution_id or "",
                ", ".join(p.endpoints),
            )
            for p in packages
        ]
        header = ("GROUP", "VERSION", "APPROVAL", "CREATED", "ACCURACY", "EXECUTION", "SERVED BY")
        self._table(header, rows, fit=True)
        self._store_line()

    def package_updated(self, package: ModelPackageRef) -> None:
        """--approve / --reject: the package's new approval status."""
        if self.json_mode:
            self.emit_result({"model_package": package_json(package)})
            return
        self._print(
            f"model package {package_label(package)} is now {package.approval_status}: "
            f"{package.arn}",
            self.out,
        )
        self._store_line()

    def package_deployed(self, package: ModelPackageRef, endpoint: EndpointRef) -> None:
        """--deploy-model-package: which package the endpoint serves now, and where."""
        if self.json_mode:
            self.emit_result(
                {"model_package": package_json(package), "endpoint": endpoint_json(endpoint)}
            )
            return
        where = f": {endpoint.url}" if endpoint.url else ""
        status = f" ({endpoint.status})" if endpoint.status else ""
        self._print(
            f"endpoint {endpoint.name}{status} serves model package {package_label(package)}"
            f"{where}",
            self.out,
        )
        self._store_line()

    def invoked(self, name: str, body: bytes, accept: str) -> None:
        """The endpoint's answer: text as is (CSV = one prediction per line)."""
        text = body.decode("utf-8", errors="replace")
        if self.json_mode:
            self.emit_result({"endpoint": name, "content_type": accept, "body": text})
            return
        self._print(text.rstrip("\n"), self.out)

    def report_written(self, path: Path) -> None:
        """Result of --report: the file's path, as the last line (or ``{"report": PATH}``)."""
        if self.json_mode:
            self.emit_result({"report": str(path)})
        else:
            self._store_line()
            self._print(str(path), self.out)

    def deleted(self, name: str) -> None:
        """Result of --delete-endpoint."""
        if self.json_mode:
            self.emit_result({"deleted_endpoint": name})
        else:
            self._print(f"endpoint {name} deleted", self.out)
            self._store_line()

    def write(self, text: str, stream: TextIO | None = None) -> None:
        """Text as is (a block of lines, a redraw) on ``stream`` (default: the results')."""
        self._print(text, self.out if stream is None else stream)

    def _store_line(self, before: str = "") -> None:
        """``store: PATH`` after a result (with ``before``, a count, ahead of it)."""
        parts = [before] if before else []
        parts += [f"store: {self.store}"] if self.store else []
        if parts:
            self._print("; ".join(parts), self.out)

    def _table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], fit: bool = False
    ) -> None:
        if not rows:
            self._print("(none)", self.out)
            return
        if fit:
            rows = fitted(header, rows)
        self._print("\n".join(table_lines(header, rows)), self.out)

    def _print(self, text: str, stream: TextIO) -> None:
        """Write a line and flush it; a reader that went away silences the stream, not the run.

        ``... --json | head`` closes the pipe once it has read enough. Raising then would
        end a local execution midway and print a traceback; instead the stream is pointed at
        os.devnull (so the interpreter's final flush is quiet too, as Python's SIGPIPE notes
        advise) and the command ends with the exit code its result deserves.
        """
        self._raw(text + "\n", stream)

    def _raw(self, text: str, stream: TextIO) -> None:
        """Write ``text`` exactly (no newline added) and flush it; see :meth:`_print`."""
        if id(stream) in self._gone:
            return
        try:
            stream.write(text)
            stream.flush()
        except BrokenPipeError:
            self._gone.add(id(stream))
            _point_at_devnull(stream)


_EPOCH = re.compile(r"\bepoch\b\s*[=:]?\s*(\d+)", re.IGNORECASE)
PIPE_INTERVAL_S = 1.0  # in a pipe, a step's progress line at most once a second


class LiveSteps:
    """One live line per running step, from the metrics its job logs.

    On a terminal the running steps' lines are one block at the bottom, redrawn in place
    as metrics arrive (permanent lines, a step starting or ending, print above it). In a
    pipe, a log or CI (or with TERM=dumb) each change is a line of its own, at most one a
    second per step, so a hundred epochs do not become a hundred lines. The metrics are the
    step's MetricDefinitions (what SageMaker charts) and an ``epoch N`` the job prints.
    """

    def __init__(
        self,
        console: Console,
        stream: TextIO,
        patterns: Callable[[], MetricPatterns],
        clock: Callable[[], float],
    ) -> None:
        self.console, self.stream, self.clock = console, stream, clock
        self.in_place = is_terminal(stream)
        self._patterns_of = patterns
        self._patterns: dict[str, list[tuple[str, re.Pattern[str]]]] | None = None
        self.labels: dict[str, str] = {}  # running step -> its label, in start order
        self.values: dict[str, dict[str, str]] = {}  # step -> shown name -> value
        self.printed_at: dict[str, float] = {}
        self.drawn = 0  # block lines on the screen
        self.lock = threading.RLock()

    def step(self, record: StepRecord, lines: Sequence[str]) -> None:
        """A step's status moved: its permanent lines, then the block as it is now."""
        with self.lock:
            if record.status in _RUNNING:
                self.labels[record.name] = _label(record)
            else:
                self.labels.pop(record.name, None)
                self.values.pop(record.name, None)
            self.permanent(lines)

    def feed(self, step_name: str, line: str) -> None:
        """A job's line: the step's live line changes if it holds a metric."""
        with self.lock:
            found = self._metrics_in(step_name, line)
            if not found or step_name not in self.labels:
                return
            shown = self.values.setdefault(step_name, {})
            if all(shown.get(k) == v for k, v in found.items()):
                return
            shown.update(found)
            if self.in_place:
                self.permanent([])
                return
            now = self.clock()
            last = self.printed_at.get(step_name)
            if last is None or now - last >= PIPE_INTERVAL_S:
                self.printed_at[step_name] = now
                self.console._raw(self.line_of(step_name) + "\n", self.stream)

    def line_of(self, step_name: str) -> str:
        """``  running    TrainMoonClassifier (Training)  epoch 37  train:loss 0.21 ...``"""
        shown = self.values.get(step_name, {})
        parts = "  ".join(f"{k} {v}" for k, v in shown.items())
        return f"  running    {self.labels[step_name]}" + (f"  {parts}" if parts else "")

    def permanent(self, lines: Sequence[str]) -> None:
        """Print ``lines`` for good; on a terminal, above the redrawn block."""
        with self.lock:
            if not self.in_place:
                for line in lines:
                    self.console._raw(line + "\n", self.stream)
                return
            width = max(20, shutil.get_terminal_size().columns - 1)  # a wrapped line breaks "up"
            block = [self.line_of(n)[:width] for n in self.labels if self.values.get(n)]
            rows = [*lines, *block]
            stale = max(0, self.drawn - len(rows))
            text = f"\x1b[{self.drawn}A" if self.drawn else ""
            text += "".join(f"\r\x1b[2K{row}\n" for row in rows)
            text += "\r\x1b[2K\n" * stale + (f"\x1b[{stale}A" if stale else "")
            self.drawn = len(block)
            self.console._raw(text, self.stream)

    def close(self) -> None:
        """Nothing runs any more: clear the block (the summary or an error comes next)."""
        with self.lock:
            self.labels.clear()
            if self.in_place and self.drawn:
                self.permanent([])

    def _metrics_in(self, step_name: str, line: str) -> dict[str, str]:
        if self._patterns is None:
            self._patterns = {}
            try:
                for step, pairs in self._patterns_of().items():
                    self._patterns[step] = [(name, re.compile(regex)) for name, regex in pairs]
            except Exception:
                pass  # no definition to read, or a regex Python cannot take: epochs only
        found: dict[str, str] = {}
        epoch = _EPOCH.search(line)
        if epoch:
            found["epoch"] = epoch.group(1)
        for name, pattern in self._patterns.get(step_name, ()):
            match = pattern.search(line)
            if match:
                found[name] = _metric_text(match.group(1) if match.groups() else match.group(0))
        return found


def _metric_text(text: str) -> str:
    """A logged metric as the live line shows it: 4 significant digits."""
    try:
        return f"{float(text):.4g}"
    except ValueError:
        return text.strip()[:12]


def is_terminal(stream: Any) -> bool:
    """A terminal that understands cursor movement (not a pipe, a file, or TERM=dumb)."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


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


def missing_dependency(module: str, python: str) -> str:
    """The one line for a Python that lacks moonpipe's packages (the system's, say)."""
    return (
        f"the Python package {module!r} is not installed in {python}; moonpipe runs in its "
        "virtualenv: run `make run` once (it creates .venv and installs everything), then "
        "`source .venv/bin/activate` or call .venv/bin/python"
    )


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


def step_lines(
    record: StepRecord, show_start: bool = True, defaults: Mapping[str, Any] | None = None
) -> list[str]:
    """A step's progress line; on failure its reason and where (or what) its log says.

    A step a selective execution reused says its source and the values the source ran with
    (those that differ from ``defaults``, the pipeline's, when known)."""
    label = _label(record)
    if record.status in _RUNNING:
        return [f"  started    {label}"] if show_start else [f"  running    {label}"]
    verb = _VERB.get(record.status, record.status.lower())
    extras = [_seconds(record.duration_s)] if record.duration_s is not None else []
    extras += ["cache hit"] if record.cache_hit else []
    extras += (
        [reused_text(record, defaults)] if record.metadata.get("ReusedBySelectionFrom") else []
    )
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


def reused_text(record: StepRecord, defaults: Mapping[str, Any] | None) -> str:
    """``reused from abc (ran with HiddenDim=8, Deploy=false)``: the source and its values."""
    source = record.metadata.get("ReusedBySelectionFrom")
    ran_with = record.metadata.get("SourceParameters")
    if not isinstance(ran_with, Mapping):
        return f"reused from {source}"
    if defaults is not None:
        ran_with = {k: v for k, v in ran_with.items() if k in defaults and not same(v, defaults[k])}
        if not ran_with:
            return f"reused from {source} (ran with the defaults)"
    return f"reused from {source} (ran with {_pairs(ran_with)})"


def reuse_mismatch(summary: ExecutionSummary) -> str | None:
    """One line when steps this execution reused ran with parameter values other than its
    own (its outputs were made with them); None when every reused step agrees."""
    by_source: dict[str, list[str]] = {}
    differ: dict[str, dict[str, tuple[Any, Any]]] = {}
    for record in summary.steps:
        source = record.metadata.get("ReusedBySelectionFrom")
        ran_with = record.metadata.get("SourceParameters")
        if not source or not isinstance(ran_with, Mapping):
            continue
        found = {
            k: (v, summary.parameters[k])
            for k, v in ran_with.items()
            if k in summary.parameters and not same(v, summary.parameters[k])
        }
        if found:
            by_source.setdefault(str(source), []).append(record.name)
            differ.setdefault(str(source), {}).update(found)
    if not by_source:
        return None
    parts = []
    for source, steps in by_source.items():
        theirs = ", ".join(f"{k}={_fmt(a)}" for k, (a, _) in differ[source].items())
        ours = ", ".join(f"{k}={_fmt(b)}" for k, (_, b) in differ[source].items())
        parts.append(
            f"{', '.join(steps)} reused from {source}, which ran with {theirs} "
            f"(this execution: {ours})"
        )
    return "parameters differ: " + "; ".join(parts)


def same(a: Any, b: Any) -> bool:
    """Two parameter values are the same value (SageMaker sends every value as a string)."""
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return str(a).lower() == str(b).lower() or _as_number(a) == _as_number(b) is not None
    return float(a) == float(b)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(record: StepRecord) -> str:
    return f"{record.name} ({record.step_type})" if record.step_type else record.name


def log_lines(log_path: str, tail: bool) -> list[str]:
    """Where the log is, and for a failed step with a local log file its last lines."""
    path = Path(log_path)
    if not tail or not path.is_file():
        return [f"      log: {log_path}"]
    text = plain(path.read_text(encoding="utf-8", errors="replace"))  # a job's: no escapes
    lines = text.splitlines()[-LOG_TAIL_LINES:]
    return [f"      log: {log_path} (last {len(lines)} lines)"] + [f"      | {x}" for x in lines]


def summary_lines(
    summary: ExecutionSummary,
    notes: Iterable[str] = (),
    with_hint: bool = True,
    store: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[str]:
    """The end-of-run block: status, why it failed, parameters (and the reused steps' when
    they differ), metrics, model package, endpoint, report, store."""
    took = f" in {_duration(summary)}" if _duration(summary) else ""
    lines = [f"execution {summary.execution_id} {summary.status}{took}"]
    lines.append(f"  execution arn:  {summary.execution_arn}")
    if summary.failure_reason:
        lines.append(f"  failure reason: {summary.failure_reason}")
    if summary.parameters:
        lines += _wrapped("  parameters:     ", _pairs(summary.parameters))
    reused: dict[str, list[StepRecord]] = {}
    for step in summary.steps:
        if step.metadata.get("ReusedBySelectionFrom"):
            reused.setdefault(str(step.metadata["ReusedBySelectionFrom"]), []).append(step)
    for steps in reused.values():  # the steps, their source, and what the source ran with
        names = ", ".join(s.name for s in steps)
        said = reused_text(steps[0], defaults).removeprefix("reused ")
        lines += _wrapped("  reused:         ", f"{names} {said}")
    mismatch = reuse_mismatch(summary)
    if mismatch:
        lines.append(f"  {mismatch}")
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
    if store:
        lines.append(f"  store:          {store}")
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
    mismatch = reuse_mismatch(summary)
    data["notes"] = [*notes, *([mismatch] if mismatch else [])]
    return data


def package_json(package: ModelPackageRef) -> dict[str, Any]:
    """One model package version as a JSON object."""
    return {
        "arn": package.arn,
        "group": package.group,
        "version": package.version,
        "approval_status": package.approval_status,
        "created_at": None if package.created_at is None else package.created_at.isoformat(),
        "metrics": dict(package.metrics),
        "model_data_url": package.model_data_url,
        "execution_id": package.execution_id,
        "endpoints": list(package.endpoints),
    }


def package_label(package: ModelPackageRef) -> str:
    """``moonpipe-models/3``: a package as a person names it."""
    return package.group if package.version is None else f"{package.group}/{package.version}"


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
    if summary.ended_at is None or summary.duration_s is None:
        return ""
    return _seconds(summary.duration_s)


def fitted(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[list[str]]:
    """Rows whose cells are cut (``…`` says where) so each line fits :data:`TABLE_WIDTH`:
    every cell at most :data:`_CELL` characters, the last column what the others leave."""
    cut = [[_cut(str(cell), _CELL) for cell in row[:-1]] + [str(row[-1])] for row in rows]
    widths = [max(len(str(r[i])) for r in [header, *cut]) for i in range(len(header) - 1)]
    room = max(20, TABLE_WIDTH - sum(widths) - 2 * (len(header) - 1))
    return [[*row[:-1], _cut(row[-1], room)] for row in cut]


def _cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 1] + "…"


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
