"""Fault injection on the local engine (issue 21): kills at random moments (the start window
included), --stop at random moments, damaged records and objects, a full disk, --report-out
aimed at what it must not replace. Every case runs ``run_pipeline.py`` as a person would, on
a pipeline built with the SageMaker SDK (tests/pipeline/local/sdk_defs.py), and is checked
for what must never happen; the totals are printed last:

    cases N: 0 stuck Executing, 0 lost stops, 0 tracebacks, 0 faked results,
    0 store objects changed

* stuck Executing: once every process of the case has ended, an execution a fresh
  ``--list-executions`` still shows Executing;
* lost stop: ``--stop`` said Stopped (or another end) and the execution ended otherwise, or
  ran a step after it returned;
* traceback: "Traceback" in anything a command printed;
* faked result: a step recorded Succeeded that used a damaged object (a cache hit's outputs,
  a job's inputs or outputs), or an execution Succeeded with a step that did not;
* store object changed: an object stored before the case whose bytes changed (objects the
  case damaged on purpose excepted), or a device/FIFO that --report-out replaced.

Run it from the repository root (``--cases`` defaults to 240; the full-disk cases need root
and are skipped, and said so, without it)::

    .venv/bin/python -m tests.faults.fault_injection [--cases N] [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.local.liveness import is_held
from pipeline.local.store.objects import ObjectStore, StoreError, output_uris
from pipeline.local.warm.client import WarmStarter
from tests.cli_runner import run_local_cli, start_local_cli
from tests.conftest import end_processes_naming
from tests.pipeline.local.engine import local_runner
from tests.pipeline.local.paused_cli import Paused
from tests.pipeline.local.sdk_defs import integrity_pipeline

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
COUNTS = ("stuck", "lost_stops", "tracebacks", "faked", "objects_changed")
LABELS = {
    "stuck": "stuck Executing",
    "lost_stops": "lost stops",
    "tracebacks": "tracebacks",
    "faked": "faked results",
    "objects_changed": "store objects changed",
}


@dataclass
class Case:
    """One case's outcome."""

    family: str
    what: str
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    unchecked: bool = False  # the script failed to run it: counted apart, never as clean

    def bad(self, kind: str, note: str) -> None:
        self.counts[kind] += 1
        self.notes.append(f"{LABELS[kind]}: {note}")


class Lab:
    """The stores the cases run on, and the checks every case ends with."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder, self.rng = folder, rng
        self.template = folder / "template"
        runner = local_runner(self.template)
        runner.pipelines.upsert(integrity_pipeline(), None)
        done = runner.run(runner.start("moonpipe", {}), lambda record: None)
        assert done.status == "Succeeded", done.failure_reason
        self.template_execution = done.execution_id
        self.shared = folder / "shared"  # the kill cases' store: it grows, as a person's does
        shutil.copytree(self.template, self.shared)
        self.copies = 0

    def copy(self) -> Path:
        """A fresh copy of the template store (for cases that damage it)."""
        self.copies += 1
        return Path(shutil.copytree(self.template, self.folder / f"copy-{self.copies}"))

    # -- checks ------------------------------------------------------------------------------

    def objects(self, store: Path) -> dict[Path, str]:
        root = store / "s3"
        found = root.rglob("*") if root.is_dir() else []
        return {p: _sha(p) for p in found if p.is_file() and not p.name.endswith(".tmp")}

    def settle_and_check(
        self,
        case: Case,
        store: Path,
        before: dict[Path, str],
        known: set[str],
        damaged: frozenset[Path] = frozenset(),
        damaged_record: bool = False,
    ) -> None:
        """Wait for every runner of the store to let go, then check the case's invariants
        (with a record damaged on purpose, a listing may refuse, in one line: then the
        executions are read one by one)."""
        if not _all_let_go(store):
            case.notes.append("a runner was still working after 120 s")
        listed = run_local_cli(store, "--list-executions", "--limit", "0", "--json", timeout=300)
        check_output(case, "--list-executions", listed)
        if listed.returncode == 0:
            every = json.loads(listed.stdout)["executions"]
            statuses = {s["execution_id"]: s["status"] for s in every}
        elif damaged_record:
            statuses = self.statuses_one_by_one(case, store)
        else:
            statuses = {}
            case.notes.append(f"--list-executions refused: {listed.stderr.strip()[-200:]}")
        for execution_id, status in statuses.items():
            if status == "Executing":
                case.bad("stuck", f"{execution_id} still Executing")
        for path, digest in before.items():
            if path in damaged:
                continue
            if not path.is_file() or _sha(path) != digest:
                case.bad("objects_changed", str(path.relative_to(store)))
        self.check_results(case, store, known, damaged)

    def statuses_one_by_one(self, case: Case, store: Path) -> dict[str, str]:
        """Each readable execution's status, as --describe-execution settles and shows it."""
        found = {}
        for execution_id in sorted(executions_of(store)):
            done = run_local_cli(store, "--describe-execution", execution_id, "--json")
            check_output(case, "--describe-execution", done)
            if done.returncode == 0:
                found[execution_id] = json.loads(done.stdout)["status"]
        return found

    def check_results(
        self, case: Case, store: Path, known: set[str], damaged: frozenset[Path]
    ) -> None:
        """No new execution's Succeeded step used a damaged object; no Succeeded execution
        has a step that did not succeed."""
        runner = local_runner(store)
        objects = ObjectStore(store)
        for execution_id in set(runner.records.execution_ids()) - known:
            try:
                data = runner.records.execution(execution_id)
                steps = runner.records.steps(execution_id)
            except Exception as err:  # damaged on purpose by the case: not a result
                case.notes.append(f"{execution_id} unreadable: {err}")
                continue
            for record, properties in steps:
                if record.status != "Succeeded" or not isinstance(properties, dict):
                    continue
                # a cache hit read nothing now: its outputs must be intact; a job read its
                # inputs too (SageMaker keys a hit on the inputs' URIs, not their bytes)
                read = [] if record.cache_hit else _input_uris(properties)
                for uri in [*output_uris(properties), *read]:
                    used = _damaged_under(objects, uri, damaged)
                    if used:
                        case.bad("faked", f"{execution_id}/{record.name} Succeeded using {used}")
            if data.status == "Succeeded" and any(r.status != "Succeeded" for r, _ in steps):
                case.bad("faked", f"{execution_id} Succeeded with a step that did not")


def check_output(case: Case, what: str, done: subprocess.CompletedProcess[str] | Any) -> None:
    """A command's output has no traceback; a refusal is one line ``error: ...``."""
    out, err = done.stdout or "", done.stderr or ""
    if "Traceback" in out + err:
        case.bad("tracebacks", f"{what}: {(out + err).strip().splitlines()[-8:]}")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _all_let_go(store: Path, timeout_s: float = 120) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        locks = list(store.glob("executions/*/runner.lock"))
        if not any(is_held(lock) for lock in locks):
            return True
        time.sleep(0.05)
    return False


def _input_uris(properties: dict[str, Any]) -> list[str]:
    """The S3 URIs a job step read, by their Describe* shapes."""
    found = []
    for entry in properties.get("ProcessingInputs") or []:
        found.append((entry.get("S3Input") or {}).get("S3Uri"))
    for channel in properties.get("InputDataConfig") or []:
        found.append(((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri"))
    code = (properties.get("HyperParameters") or {}).get("sagemaker_submit_directory")
    found.append(json.loads(code) if isinstance(code, str) and code.startswith('"') else code)
    return [u for u in found if isinstance(u, str) and u.startswith("s3://")]


def _damaged_under(objects: ObjectStore, uri: str, damaged: frozenset[Path]) -> str | None:
    """An object under ``uri`` that was damaged on purpose, if any (the step used it)."""
    try:
        listed = objects.list_prefix(uri)
    except StoreError:
        return None
    return next((str(path) for _, path in listed if path in damaged), None)


def executions_of(store: Path) -> set[str]:
    folder = store / "executions"
    return {p.parent.name for p in folder.glob("*/execution.json")} if folder.is_dir() else set()


def new_execution(store: Path, known: set[str], timeout_s: float) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fresh = executions_of(store) - known
        if fresh:
            return sorted(fresh)[0]
        time.sleep(0.005)
    return None


def killed_run(case: Case, store: Path, flags: list[str], delay: float, signum: int) -> None:
    proc = start_local_cli(store, *flags)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        case.notes.append("the interrupted command did not end within 180 s")
    check_output(case, " ".join(flags), subprocess.CompletedProcess(flags, 0, out, err))


def _params(rng: random.Random) -> list[str]:
    rows, nap = rng.randint(3, 400), rng.choice([0, 0.2, 0.6])
    return ["--param", f"Rows={rows}", "--param", f"NapSeconds={nap}"]


# -- the families ------------------------------------------------------------------------------


def kill_start(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.shared
    if rng.random() < 0.35:
        WarmStarter(store).stop()  # the host must start
        case.what += " (host must start)"
    signum, delay = rng.choice(SIGNALS), rng.uniform(0.0, 4.0)
    case.what += f" {signal.Signals(signum).name} after {delay:.2f} s"
    before, known = lab.objects(store), executions_of(store)
    killed_run(case, store, ["--start", *_params(rng)], delay, signum)
    lab.settle_and_check(case, store, before, known)


def kill_paused(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.shared
    moment, signum = rng.choice(["recorded", "host"]), rng.choice(SIGNALS)
    before, known = lab.objects(store), executions_of(store)
    command = ["--start", *_params(rng)]
    if rng.random() < 0.4:
        failed = _failed_execution(lab, case, store)
        known, before = executions_of(store) - {failed or ""}, lab.objects(store)
        if failed:
            command = ["--retry", failed]
    if moment == "host" and rng.random() < 0.5:
        WarmStarter(store).stop()
        case.what += " host must start;"
    case.what += f" {command[0]} at {moment}, {signal.Signals(signum).name}"
    try:
        paused = Paused(store, moment, *command)
    except AssertionError as refused:
        case.notes.append(f"never paused: {str(refused)[:200]}")
    else:
        paused.proc.send_signal(signum)
        out, err = paused.let_go()
        check_output(case, command[0], subprocess.CompletedProcess(command, 0, out, err))
    lab.settle_and_check(case, store, before, known)


def _failed_execution(lab: Lab, case: Case, store: Path) -> str | None:
    done = run_local_cli(store, "--start", "--param", "Banner=fail:on purpose", timeout=300)
    check_output(case, "--start (to fail)", done)
    fresh = executions_of(store)
    listed = _listed(store)
    failed = [s["execution_id"] for s in listed if s["status"] == "Failed"]
    return next((f for f in failed if f in fresh), None)


def kill_retry(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.shared
    failed = _failed_execution(lab, case, store)
    if failed is None:
        case.notes.append("no Failed execution to retry")
        return
    signum, delay = rng.choice(SIGNALS), rng.uniform(0.0, 3.0)
    case.what += f" {signal.Signals(signum).name} after {delay:.2f} s"
    before, known = lab.objects(store), executions_of(store) - {failed}
    killed_run(case, store, ["--retry", failed], delay, signum)
    lab.settle_and_check(case, store, before, known)


def kill_sweep(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.shared
    signum, delay = rng.choice(SIGNALS), rng.uniform(0.5, 5.0)
    rows = sorted(rng.sample(range(3, 400), 3))
    case.what += f" {signal.Signals(signum).name} after {delay:.2f} s"
    before, known = lab.objects(store), executions_of(store)
    flags = ["--sweep", f"Rows={','.join(map(str, rows))}", "--max-parallel", "2", "--rerun"]
    flags += ["--param", f"NapSeconds={rng.choice([0, 0.5, 1])}"]
    killed_run(case, store, flags, delay, signum)
    lab.settle_and_check(case, store, before, known)


def stop_at_random(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.shared
    before, known = lab.objects(store), executions_of(store)
    proc = start_local_cli(store, "--start", *_params(rng))
    execution_id = new_execution(store, known, 30)
    delay = rng.uniform(0.0, 1.5)
    time.sleep(delay)
    case.what += f" after {delay:.2f} s"
    said: str | None = None
    if execution_id is not None:
        stopped = run_local_cli(store, "--stop", execution_id, "--json", timeout=120)
        check_output(case, "--stop", stopped)
        returned = time.time()
        if stopped.returncode == 0:
            said = json.loads(stopped.stdout)["status"]
    out, err = proc.communicate(timeout=180)
    check_output(case, "--start", subprocess.CompletedProcess([], 0, out, err))
    lab.settle_and_check(case, store, before, known)
    if said is None or execution_id is None:
        return
    described = run_local_cli(store, "--describe-execution", execution_id, "--json")
    final = json.loads(described.stdout)
    if said == "Executing" or final["status"] != said:
        case.bad("lost_stops", f"--stop said {said}, the execution ended {final['status']}")
    for record, _ in local_runner(store).records.steps(execution_id):
        if record.started_at and record.started_at.timestamp() > returned + 0.01:
            case.bad("lost_stops", f"step {record.name} started after --stop returned")


DAMAGES: dict[str, Callable[[Any, random.Random], Any]] = {
    "[]": lambda data, rng: [],
    "{}": lambda data, rng: {},
    "null": lambda data, rng: None,
    "a number": lambda data, rng: 7,
    "a key dropped": lambda data, rng: _drop(data, rng),
    "a key of the wrong type": lambda data, rng: _retype(data, rng),
    "nested 5000 deep": lambda data, rng: "DEEP",
}


def _drop(data: Any, rng: random.Random) -> Any:
    if isinstance(data, dict) and data:
        data.pop(rng.choice(sorted(data)))
    return data


def _retype(data: Any, rng: random.Random) -> Any:
    if isinstance(data, dict) and data:
        data[rng.choice(sorted(data))] = rng.choice([[1], {"x": 1}, "text", 5, None, True])
    return data


def damage_record(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.copy()
    eid = lab.template_execution
    files = [
        store / "executions" / eid / "execution.json",
        *(store / "executions" / eid / "steps").glob("*.json"),
        *(store / "pipelines" / "moonpipe" / "versions").glob("*.json"),
        *(store / "cache").rglob("*.json"),
        *[p for p in (store / "digests").rglob("*") if p.is_file()],
        *(store / "gate").glob("*.json"),
    ]
    target = rng.choice(files)
    how = rng.choice([*DAMAGES, "cut short", "binary garbage", "9 MB", "a note beside it"])
    case.what += f" {target.relative_to(store)}: {how}"
    if how == "cut short":
        raw = target.read_bytes()
        target.write_bytes(raw[: rng.randint(0, max(0, len(raw) - 1))])
    elif how == "binary garbage":
        target.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))))
    elif how == "9 MB":
        target.write_bytes(b" " * (9 * 1024 * 1024) + b"{}")
    elif how == "a note beside it":
        (target.parent / "notes.json").write_text('{"note": "mine"}')
    else:
        value = DAMAGES[how](json.loads(target.read_text()), rng)
        text = json.dumps(value)
        target.write_text(text.replace('"DEEP"', "[" * 5000 + "]" * 5000))
    before, known = lab.objects(store), executions_of(store)
    command = rng.choice(
        [
            ["--list-executions"],
            ["--describe-execution", eid],
            ["--start"],
            ["--start", "--param", f"Rows={rng.randint(3, 50)}"],
            ["--retry", eid],
            ["--stop", eid],
            ["--report", eid],
        ]
    )
    case.what += f"; {' '.join(command)}"
    done = run_local_cli(store, *command, timeout=300)
    check_output(case, command[0], done)
    if done.returncode not in (0, 1, 2):
        case.notes.append(f"exit {done.returncode}")
    last = (done.stderr.strip().splitlines() or [""])[-1]
    if done.returncode != 0 and command[0] != "--start" and not last.startswith("error: "):
        case.notes.append(f"not one error line: {done.stderr.strip()[-200:]}")
    lab.settle_and_check(case, store, before, known, damaged_record=True)


def damage_object(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.copy()
    objects = [p for p in (store / "s3").rglob("*") if p.is_file()]
    target = rng.choice(objects)
    raw = target.read_bytes()
    how = rng.choice(["cut short", "same size, other bytes", "appended to"])
    if how == "cut short":
        target.write_bytes(raw[: len(raw) // 2])
    elif how == "same size, other bytes":
        target.write_bytes(bytes(b ^ 0x20 for b in raw))
    else:
        target.write_bytes(raw + b"\n9,9,9\n")
    case.what += f" {target.relative_to(store / 's3')}: {how}"
    before, known = lab.objects(store), executions_of(store)
    params = [] if rng.random() < 0.6 else ["--param", f"Rows={rng.randint(3, 50)}"]
    done = run_local_cli(store, "--start", *params, timeout=300)
    check_output(case, "--start", done)
    lab.settle_and_check(case, store, before, known, frozenset({target}))


def full_disk(lab: Lab, case: Case) -> None:
    rng = lab.rng
    mount = Path(tempfile.mkdtemp(prefix="mnt-", dir=lab.folder))  # two in a row: two names
    free_kb = rng.randint(0, 700)
    case.what += f" {free_kb} KB free"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        store = Path(shutil.copytree(lab.template, mount / "store"))
        found = os.statvfs(mount)
        with open(mount / "filler", "wb") as out:
            out.write(bytes(max(0, found.f_bavail * found.f_frsize - free_kb * 1024)))
        before, known = lab.objects(store), executions_of(store)
        rows = rng.randint(500, 3000)
        done = run_local_cli(store, "--start", "--param", f"Rows={rows}", timeout=300)
        check_output(case, "--start", done)
        lab.settle_and_check(case, store, before, known)
        for summary in _listed(store):
            if "killed?" in (summary["failure_reason"] or ""):
                case.notes.append(f"cause lost: {summary['failure_reason']}")
    finally:
        end_processes_naming(mount)
        subprocess.run(["umount", "-l", str(mount)], check=False)


def report_out(lab: Lab, case: Case) -> None:
    rng, store = lab.rng, lab.shared
    eid = lab.template_execution  # the shared store began as a copy of the template
    kinds = ["fifo", "store object", "link into the store"]
    if os.geteuid() == 0:
        kinds.append("device")
    kind = rng.choice(kinds)
    case.what += f" {kind}"
    scratch = Path(tempfile.mkdtemp(dir=lab.folder))
    if kind == "fifo":
        out = scratch / "pipe"
        os.mkfifo(out)
    elif kind == "device":
        out = scratch / "null"
        os.mknod(out, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "store object":
        out = rng.choice([p for p in (store / "s3").rglob("*") if p.is_file()])
    else:
        out = scratch / "page.html"
        out.symlink_to(rng.choice([p for p in (store / "s3").rglob("*") if p.is_file()]))
    before, known = lab.objects(store), executions_of(store)
    mode = os.lstat(out).st_mode
    done = run_local_cli(store, "--report", eid, "--report-out", str(out), timeout=300)
    check_output(case, "--report", done)
    if os.lstat(out).st_mode != mode:
        case.bad("objects_changed", f"--report-out replaced {kind} {out}")
    lab.settle_and_check(case, store, before, known)


FAMILIES: dict[str, tuple[float, Callable[[Lab, Case], None]]] = {
    # family: (share of the cases, what runs one)
    "kill --start at a random moment": (0.28, kill_start),
    "kill in the start window (paused there)": (0.12, kill_paused),
    "kill --retry at a random moment": (0.08, kill_retry),
    "kill a sweep at a random moment": (0.08, kill_sweep),
    "--stop at a random moment": (0.12, stop_at_random),
    "damaged record": (0.16, damage_record),
    "damaged object": (0.08, damage_object),
    "full disk": (0.04, full_disk),
    "--report-out at what it must not replace": (0.04, report_out),
}


def plan(cases: int, rng: random.Random, root: bool, only: str | None) -> list[str]:
    shares = {
        f: share
        for f, (share, _) in FAMILIES.items()
        if (root or f != "full disk") and (only is None or f == only)
    }
    total = sum(shares.values())
    counts = {f: max(1, round(cases * share / total)) for f, share in shares.items()}
    order = [f for f, n in counts.items() for _ in range(n)]
    rng.shuffle(order)
    return order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=240)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--keep", action="store_true", help="keep the stores (for a look)")
    parser.add_argument("--family", choices=sorted(FAMILIES), help="only cases of this family")
    args = parser.parse_args(argv)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # run with & or nohup: the CLIs
        signal.signal(signal.SIGINT, signal.default_int_handler)  # would ignore its Ctrl-Cs
    rng = random.Random(args.seed)
    root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="moonpipe-faults-"))
    started = time.monotonic()
    results: list[Case] = []
    try:
        lab = Lab(folder, rng)
        families = plan(args.cases, rng, root, args.family)
        for number, family in enumerate(families, 1):
            case = Case(family, "")
            try:
                FAMILIES[family][1](lab, case)
            except Exception as err:  # the script's own trouble, not the engine's
                case.notes.append(f"case error: {type(err).__name__}: {err}")
                case.unchecked = True
            results.append(case)
            flag = " ".join(f"{LABELS[k]}={v}" for k, v in case.counts.items() if v)
            print(f"[{number}/{len(families)}] {family}:{case.what} {flag or 'ok'}", flush=True)
            for note in case.notes:
                print(f"      {note}", flush=True)
    finally:
        end_processes_naming(folder)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    report(results, root, time.monotonic() - started)
    clean = all(not sum(c.counts.values()) and not c.unchecked for c in results)
    return 0 if clean else 1


def report(results: list[Case], root: bool, took_s: float) -> None:
    print()
    print(
        f"{'family':<44} {'cases':>5}  "
        + "  ".join(f"{LABELS[k]:>{len(LABELS[k])}}" for k in COUNTS)
    )
    for family in FAMILIES:
        mine = [c for c in results if c.family == family]
        if mine:
            sums = [sum(c.counts[k] for c in mine) for k in COUNTS]
            cells = (f"{n:>{len(LABELS[k])}}" for n, k in zip(sums, COUNTS, strict=True))
            print(f"{family:<44} {len(mine):>5}  " + "  ".join(cells))
    if not root:
        print("full disk: skipped (mounting a tmpfs needs root)")
    totals = {k: sum(c.counts[k] for c in results) for k in COUNTS}
    print(f"({took_s / 60:.1f} min)")
    unchecked = sum(c.unchecked for c in results)  # a case the script itself failed to run
    print(
        f"cases {len(results)}: "
        + ", ".join(f"{totals[k]} {LABELS[k]}" for k in COUNTS)
        + (
            f" ({unchecked} cases not checked: the script's own error, see above)"
            if unchecked
            else ""
        )
    )


def _listed(store: Path) -> list[dict[str, Any]]:
    """Every execution of the store, as --list-executions --json gives them (none if it
    cannot)."""
    done = run_local_cli(store, "--list-executions", "--limit", "0", "--json")
    try:
        return list(json.loads(done.stdout)["executions"])
    except (ValueError, KeyError, TypeError):
        return []


if __name__ == "__main__":
    sys.exit(main())
