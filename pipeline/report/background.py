"""The report keepers a front hands the local target: how a local execution gets its page.

Importing matplotlib and drawing six plots (and scoring a decision boundary with torch) took
seconds on every run; the CLI need not wait for it. Three keepers (each a ReportKeeper of
pipeline.core.records; the engine imports none of them):

- :class:`BackgroundKeeper`, a person's CLI: one follower per execution (``python -m
  pipeline.report.background STORE ID``, detached and niced) rewrites the page whenever the
  execution's records change, writes the final page once it has ended (or its runner
  died), and exits; a sweep's pages and its comparison are drawn by one detached process
  after the sweep. When the run ends, the run itself writes the page with its final
  records and no plots before it returns (a fraction of a second), so the path the CLI
  prints is there and true; the follower's page with the plots replaces it.
- :class:`DeferredKeeper`: nothing is drawn while an execution runs; pages drawn later are
  drawn in the background as above.
- :class:`InProcessKeeper`, tests and one-shot callers: the page is rewritten in this
  process after each step, so it exists when the run returns.

``--report`` regenerates a page in the foreground.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import ReportFollower
from pipeline.local.store.layout import StoreLayout

_POLL_S = 0.5
_QUIET_S = 1.0
_MAX_LIFETIME_S = 24 * 3600.0
_NICENESS = 10
REPO_ROOT = Path(__file__).resolve().parents[2]


def _detached(argv: list[str], log: Path) -> None:
    """``python -m pipeline.report.background ARGV`` in a session of its own (Ctrl-C of the
    run must not stop it), output appended to ``log``; OSError if it cannot be started."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        os.fchmod(out.fileno(), 0o600)  # the run's output is its user's only (issue 21)
        subprocess.Popen(
            [sys.executable, "-m", __name__, *argv],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


class BackgroundReport:
    """Starts the follower; the local run calls :meth:`refresh` as it would the writer."""

    def __init__(self, store_root: Path, execution_id: str, notes: list[str]) -> None:
        self.store_root, self.execution_id, self.notes = store_root, execution_id, notes
        layout = StoreLayout(store_root)
        self.path, log = layout.report(execution_id), layout.report_log(execution_id)
        self.following = True
        try:
            _detached([str(store_root), execution_id], log)
        except OSError as err:
            self.following = False
            notes.append(f"report not followed: {type(err).__name__}: {err}")
        self._ending = threading.Event()
        self._ready = threading.Thread(target=self._when_waiting, name="report-ready", daemon=True)
        self._ready.start()

    def _when_waiting(self) -> None:
        """Once the run waits on a job (or is ending: it may have none), load the page's
        templates: started sooner, this thread's imports delay the run's first job."""
        from pipeline.local.handlers.jobs import wait_for_a_job

        wait_for_a_job(self._ending)  # or the run is ending: the page is written either way
        _get_ready()

    def refresh(self, final: bool = True) -> None:
        """At the end, the page of the final records (no plots yet) before the run returns;
        the follower sees every other change itself."""
        if not final:
            return
        self._ending.set()
        self._ready.join()
        try:
            write_page_now(self.store_root, self.execution_id, plots=False)
        except Exception as err:  # the run's result matters more than its report
            self.notes.append(f"report not written: {type(err).__name__}: {err}")
            return
        if self.following:
            self.notes.append(
                f"report {self.path}: its plots are being drawn in the background "
                "(reload it in a few seconds, or run --report to wait for them)"
            )


def _get_ready() -> None:
    """Load what the final page needs (the writer's modules, the compiled templates) while
    the run waits on its jobs, its main thread asleep: ~0.1 s less at the end of every run
    (docs/speed.md). A failure here is the final write's to report."""
    with contextlib.suppress(Exception):
        from pipeline.report.render import environment
        from pipeline.report.write import ReportWriter  # noqa: F401  (imported: ready)

        environment().get_template("report.html.j2")


def write_page_now(store_root: Path, execution_id: str, plots: bool) -> Path:
    """Write the execution's page in this process; its path."""
    from pipeline.report.write import ReportWriter
    from pipeline.targets.local import LocalTarget

    return ReportWriter(LocalTarget(store_root)).write(execution_id, final=True, plots=plots)


class DeferredReport:
    """Writes nothing while the execution runs: a sweep writes its points' pages at its end.

    Four points each followed by a process drawing plots (and scoring a boundary with torch)
    slowed the points themselves; one process after the sweep draws them all, once.
    """

    def __init__(self, store_root: Path, execution_id: str, notes: list[str]) -> None:
        self.notes = notes

    def refresh(self, final: bool = True) -> None:
        """Nothing: the pages are drawn after the sweep (:class:`BackgroundReports`)."""


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
        log = StoreLayout(store_root).comparisons_log()
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
    execution_ids: Sequence[str],
    pages: Sequence[str] | None = None,
    say: Any = print,
) -> int:
    """Final pages of ``pages`` (default: all), then the comparison of every execution that
    can be read; one writer, so a plot drawn for a page is reused by the comparison.
    ``say`` gets a line for each page that could not be written."""
    from pipeline.report.write import ReportWriter, write_comparison
    from pipeline.targets.local import LocalTarget

    writer, failed = ReportWriter(LocalTarget(store_root)), set()
    for execution_id in execution_ids if pages is None else pages:
        try:
            writer.write(execution_id, final=True)
        except Exception as err:  # one bad point must not cost the others their pages
            say(f"report of {execution_id} not written: {type(err).__name__}: {err}")
            failed.add(execution_id)
    readable = [i for i in execution_ids if i not in failed]
    if comparison is not None and len(readable) >= 2:
        write_comparison(writer.target, readable, comparison, writer)
    if readable:
        keep_listing(writer.target, readable[0])
    return 1 if failed else 0


def keep_listing(target: Any, execution_id: str) -> None:
    """List once the final pages are written, so the store's listing.json holds them with
    their pages (pipeline.local.listing): the next --ui or --list-executions reads none of
    these executions again. A store it cannot list is the next reader's to report."""
    with contextlib.suppress(MoonpipeError):
        target.list_executions(target.describe_execution(execution_id).pipeline_name)


def _signature(layout: StoreLayout, execution_id: str) -> tuple[float, ...]:
    """Changes when the execution's record or any step record changes."""
    steps = sorted(layout.steps(execution_id).glob("*"))
    files = [layout.execution_record(execution_id), *steps]
    return tuple(f.stat().st_mtime_ns for f in files if f.exists())


def follow(store_root: Path, execution_id: str, quiet_s: float = _QUIET_S) -> int:
    """Rewrite the report on each change until the execution has ended; then the final page.

    Nothing for the first ``quiet_s``: on two cores the follower's imports and plots slowed
    a short run's own jobs (a rerun is over in well under a second, and writes its page
    itself); a longer run's page is followed from then on.
    """
    time.sleep(quiet_s)
    from pipeline.core.status import is_active
    from pipeline.report.write import ReportWriter
    from pipeline.targets.local import LocalTarget

    target = LocalTarget(store_root)
    writer, layout = ReportWriter(target), StoreLayout(store_root)
    seen: tuple[float, ...] = ()
    deadline = time.monotonic() + _MAX_LIFETIME_S
    while time.monotonic() < deadline:
        ended = not is_active(target.describe_execution(execution_id).status)
        now_seen = _signature(layout, execution_id)
        if ended:
            writer.write(execution_id, final=True)
            keep_listing(target, execution_id)
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
                from pipeline.targets.local import LocalTarget

                self.writer = ReportWriter(LocalTarget(self.store_root))
            self.writer.write(self.execution_id, final=final)
        except Exception as err:  # the run's result matters more than its report
            note = f"report not written: {type(err).__name__}: {err}"
            if note not in self.notes:
                self.notes.append(note)


class BackgroundKeeper:
    """A person's CLI: the run returns before the plots; pages are drawn by detached
    processes (the follower, or one writer after a sweep)."""

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> ReportFollower:
        """Start the execution's follower (a note says where the page is)."""
        return BackgroundReport(store_root, execution_id, notes)

    def draw_later(
        self,
        store_root: Path,
        execution_ids: Sequence[str],
        comparison: Path | None,
        pages: Sequence[str],
        notes: list[str],
    ) -> None:
        """One detached process draws ``pages``, then the comparison."""
        BackgroundReports(store_root, list(execution_ids), comparison, notes, list(pages))


class DeferredKeeper(BackgroundKeeper):
    """Nothing drawn while an execution runs (a sweep's point); later pages as the
    background keeper draws them."""

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> ReportFollower:
        """Draw nothing now."""
        return DeferredReport(store_root, execution_id, notes)


class InProcessKeeper:
    """Tests and one-shot callers: the page exists when the run returns."""

    def follow(self, store_root: Path, execution_id: str, notes: list[str]) -> ReportFollower:
        """Rewrite the page in this process after each step and at the end."""
        return InProcessReport(store_root, execution_id, notes)

    def draw_later(
        self,
        store_root: Path,
        execution_ids: Sequence[str],
        comparison: Path | None,
        pages: Sequence[str],
        notes: list[str],
    ) -> None:
        """Draw ``pages`` and the comparison now, in this process (failures become notes)."""
        write_reports(store_root, comparison, execution_ids, pages, notes.append)


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
