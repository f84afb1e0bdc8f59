"""The execution report, written off the critical path by a detached, low-priority process.

Importing matplotlib and drawing six plots (and scoring a decision boundary with torch) took
seconds on every run; the CLI need not wait for it. :class:`BackgroundReport` starts one
follower per execution (``python -m pipeline.report.background STORE ID``) that rewrites the
page whenever the execution's records change, writes the final page once the execution has
ended (or its runner died), and exits. ``--report`` regenerates the page in the foreground.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_POLL_S = 0.5
_MAX_LIFETIME_S = 24 * 3600.0
_NICENESS = 10
REPO_ROOT = Path(__file__).resolve().parents[2]


def _detached(argv: list[str], log: Path) -> None:
    """``python -m pipeline.report.background ARGV`` in a session of its own (Ctrl-C of the
    run must not stop it), output appended to ``log``; OSError if it cannot be started."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", __name__, *argv],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


class BackgroundReport:
    """Starts the follower; the local target calls :meth:`refresh` as it would the writer."""

    def __init__(self, store_root: Path, execution_id: str, notes: list[str]) -> None:
        self.notes = notes
        path = Path(store_root) / "executions" / execution_id / "report.html"
        log = Path(store_root) / "executions" / execution_id / "report.log"
        try:
            _detached([str(store_root), execution_id], log)
        except OSError as err:
            notes.append(f"report not written: {type(err).__name__}: {err}")
            return
        notes.append(
            f"report {path} is being written in the background "
            "(run --report to write it now and wait for it)"
        )

    def refresh(self, final: bool = True) -> None:
        """Nothing to do: the follower sees every record change itself."""


class DeferredReport:
    """Writes nothing while the execution runs: a sweep writes its points' pages at its end.

    Four points each followed by a process drawing plots (and scoring a boundary with torch)
    slowed the points themselves; one process after the sweep draws them all, once.
    """

    def __init__(self, store_root: Path, execution_id: str, notes: list[str]) -> None:
        self.notes = notes

    def refresh(self, final: bool = True) -> None:
        """Nothing: see :class:`BackgroundReports`."""


class BackgroundReports:
    """Starts one detached process writing several executions' reports, then a comparison."""

    def __init__(
        self,
        store_root: Path,
        execution_ids: list[str],
        comparison: Path | None,
        notes: list[str],
        pages: list[str] | None = None,
    ) -> None:
        """``pages``: the executions whose own page is drawn (default: all; reused sweep
        points already have theirs); ``comparison``: where the page comparing all goes."""
        pages = execution_ids if pages is None else pages
        if not pages and comparison is None:
            return  # nothing to draw
        log = Path(store_root) / "comparisons" / "background.log"
        argv = [
            "--reports",
            str(store_root),
            str(Path(comparison).resolve()) if comparison else "-",
        ]
        argv += [",".join(pages) or "-", *execution_ids]
        try:
            _detached(argv, log)
        except OSError as err:
            notes.append(f"reports not written: {type(err).__name__}: {err}")
            return
        what = [
            w
            for w, due in (("the points' reports", pages), ("the comparison report", comparison))
            if due
        ]
        notes.append(
            f"{' and '.join(what)} {'are' if pages else 'is'} being written in the background "
            "(--report ID or --compare ID ID ... writes one now and waits)"
        )


def write_reports(
    store_root: Path,
    comparison: Path | None,
    execution_ids: list[str],
    pages: list[str] | None = None,
) -> int:
    """Final pages of ``pages`` (default: all), then the comparison of every execution that
    can be read; one writer, so a plot drawn for a page is reused by the comparison."""
    from pipeline.report.write import ReportWriter, write_local_comparison

    writer, failed = ReportWriter(store_root), set()
    for execution_id in execution_ids if pages is None else pages:
        try:
            writer.write(execution_id, final=True)
        except Exception as err:  # one bad point must not cost the others their pages
            print(f"report of {execution_id} not written: {type(err).__name__}: {err}")
            failed.add(execution_id)
    readable = [i for i in execution_ids if i not in failed]
    if comparison is not None and len(readable) >= 2:
        write_local_comparison(store_root, readable, comparison, writer)
    return 1 if failed else 0


def _signature(execution_dir: Path) -> tuple[float, ...]:
    """Changes when the execution's record or any step record changes."""
    files = [execution_dir / "execution.json", *sorted((execution_dir / "steps").glob("*"))]
    return tuple(f.stat().st_mtime_ns for f in files if f.exists())


def follow(store_root: Path, execution_id: str) -> int:
    """Rewrite the report on each change until the execution has ended; then the final page."""
    from pipeline.local.interruptions import RUNNING, settle
    from pipeline.local.store.records import Records
    from pipeline.report.write import ReportWriter

    records, writer = Records(store_root), ReportWriter(store_root)
    execution_dir = records.execution_dir(execution_id)
    seen: tuple[float, ...] = ()
    deadline = time.monotonic() + _MAX_LIFETIME_S
    while time.monotonic() < deadline:
        ended = settle(records, execution_id).status not in (*RUNNING, "Stopping")
        now_seen = _signature(execution_dir)
        if ended:
            writer.write(execution_id, final=True)
            return 0
        if now_seen != seen:
            seen = now_seen
            writer.write(execution_id, final=False)
        time.sleep(_POLL_S)
    return 1


class InProcessReport:
    """Keeps an execution's HTML report current: rewritten after each step and at the end.

    pipeline.report (matplotlib, Jinja2) is imported on the first write only. A report
    that cannot be written never fails the execution: the reason becomes a note.
    """

    def __init__(self, store_root: Path, execution_id: str, notes: list[str]) -> None:
        self.store_root, self.execution_id, self.notes = store_root, execution_id, notes
        self.writer: Any = None

    def refresh(self, final: bool = True) -> None:
        """Rewrite the report (``final``: the execution has ended, wait for every plot)."""
        try:
            if self.writer is None:
                from pipeline.report.write import ReportWriter

                self.writer = ReportWriter(self.store_root)
            self.writer.write(self.execution_id, final=final)
        except Exception as err:  # the run's result matters more than its report
            note = f"report not written: {type(err).__name__}: {err}"
            if note not in self.notes:
                self.notes.append(note)


REPORT_MODES: dict[str, Any] = {
    "in-process": InProcessReport,  # tests and one-shot callers: the page exists on return
    "background": BackgroundReport,  # a person's --start: the CLI returns before the plots
    "deferred": DeferredReport,  # sweep points: BackgroundReports writes them at the end
}
"""How the local target keeps an execution's report (LocalTarget's ``report``)."""


class BackgroundKeeper:
    """TEMP until engine-runner merge: the ReportKeeper the front hands make_target (today's
    BackgroundReport and BackgroundReports behind the shape of pipeline.core.records)."""

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> BackgroundReport:
        return BackgroundReport(store_root, execution_id, notes)

    def draw_later(
        self,
        store_root: Path,
        execution_ids: Sequence[str],
        comparison: Path | None,
        pages: Sequence[str],
        notes: list[str],
    ) -> None:
        BackgroundReports(store_root, list(execution_ids), comparison, notes, list(pages))


def main(argv: list[str]) -> int:
    """``STORE ID``: follow one execution; ``--reports STORE OUT|- PAGES|- ID...``: see
    write_reports (PAGES: comma-separated ids)."""
    os.nice(_NICENESS)
    if argv[:1] == ["--reports"]:
        comparison = None if argv[2] == "-" else Path(argv[2])
        pages = [] if argv[3] == "-" else argv[3].split(",")
        return write_reports(Path(argv[1]), comparison, argv[4:], pages)
    return follow(Path(argv[0]), argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
