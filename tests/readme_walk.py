"""The README's commands, run in its order on a fresh clone, the way a newcomer types them.

Every line of every ```bash block of README.md before its "On AWS" section is a command
(``make test`` aside: it is the suite that runs this walk); they run one after the other
in a fresh copy of the repository's tracked files, each in bash with the virtualenv active
(``source .venv/bin/activate`` is that). A ``<id>`` in a command is filled with the newest
executions' ids, newest first, as a person copies them from the output before.

Each command's output is kept, so the README's example outputs can be checked against (and
refreshed from) a real run: ``python -m tests.readme_walk`` prints every command and what it
printed. By default the clone borrows this checkout's virtualenv (a fresh one costs minutes
of pip); ``--fresh-venv`` lets ``make run`` build its own, as on a new machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
NOT_RUN = ("make test",)  # the suite itself
ACTIVATE = "source .venv/bin/activate"
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


SHOWN_AS = "/home/me/moonpipe"  # where the README's examples say the clone is
ELIDED = "…"  # an example line standing for lines left out


@dataclass(frozen=True)
class Step:
    """One command of the walk and what it did."""

    template: str  # as the README writes it
    command: str  # as run (its <id>s filled)
    code: int
    output: str  # stdout and stderr as a terminal shows them (interleaved)


def examples(text: str) -> list[tuple[list[str], list[str]]]:
    """(the commands of a ```bash block, the lines of the ```text block right after it): the
    README's example outputs, each with the commands whose output it shows."""
    found: list[tuple[list[str], list[str]]] = []
    last: list[str] | None = None
    for language, body in blocks(text):
        if language == "bash":
            last = [c for c in (re.sub(r"\s+#.*$", "", x).strip() for x in body.splitlines()) if c]
        elif language == "text" and last is not None:
            found.append((last, body.splitlines()))
            last = None
    return found


def unmatched(example: list[str], output: str, clone: Path) -> list[str]:
    """The example's lines (``…`` aside) that the real output does not have, in order."""
    real = [normalized(line, clone) for line in output.splitlines()]
    missing, at = [], 0
    for line in example:
        if line.strip() == ELIDED:
            continue
        want = normalized(line.replace(SHOWN_AS, str(clone)), clone)
        try:
            at = real.index(want, at) + 1
        except ValueError:
            missing.append(line)
    return missing


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of the README up to its "On AWS" section."""
    head = text.split("\n## On AWS")[0]
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(head)]


def commands(text: str) -> list[str]:
    """The walk's commands, in the README's order (a trailing ``# comment`` dropped)."""
    found = []
    for language, body in blocks(text):
        if language != "bash":
            continue
        for line in body.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and command not in NOT_RUN:
                found.append(command)
    return found


def fresh_clone(into: Path, borrow_venv: bool = True) -> Path:
    """The repository's tracked files (as a clone has them, with uncommitted edits) in a
    new folder; with ``borrow_venv`` its .venv is this checkout's, already installed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    clone = into / "moonpipe"
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    if borrow_venv:
        (clone / ".venv").symlink_to(REPO / ".venv")
        os.utime(clone / "pyproject.toml", (0, 0))  # make sees the venv as up to date
    return clone


def walk(clone: Path, on_step: object = None) -> list[Step]:
    """Run the README's commands in ``clone``, in order; stops at the first that fails."""
    venv = clone / ".venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOONPIPE_"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        TERM="dumb",
    )
    env.pop("PYTHONPATH", None)
    done: list[Step] = []
    for command in commands((clone / "README.md").read_text()):
        if command == ACTIVATE:
            continue  # the environment above is the activated one
        filled = _fill_ids(command, clone, env)
        proc = subprocess.run(
            ["bash", "-c", filled],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            timeout=900,
        )
        step = Step(command, filled, proc.returncode, proc.stdout)
        done.append(step)
        if callable(on_step):
            on_step(step)
        if proc.returncode != 0:
            break
    return done


def _fill_ids(command: str, clone: Path, env: dict[str, str]) -> str:
    if "<id>" not in command:
        return command
    listed = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "run_pipeline.py", "--list-executions", "--json"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    ids = iter(e["execution_id"] for e in json.loads(listed.stdout)["executions"])
    return re.sub(r"<id>", lambda _: next(ids), command)


def normalized(line: str, clone: Path) -> str:
    """A line with what changes from run to run made generic: execution ids, times,
    durations, ports, the clone's folder, spacing."""
    line = line.replace(str(clone), SHOWN_AS)
    line = re.sub(r"\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{12}\b", "<id>", line)
    for run_id in _execution_ids(clone):  # an id of letters only (one in fifty) as well
        line = re.sub(rf"\b{run_id}\b", "<id>", line)
    line = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>", line)
    line = re.sub(r"\b\d+ min \d+ s\b|\b\d+\.\d s\b", "<t>", line)
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", line)
    line = re.sub(r"pid \d+", "pid <pid>", line)
    return " ".join(line.split())


def _execution_ids(clone: Path) -> list[str]:
    """The ids of the clone's executions (its store's folders), whatever their letters."""
    folder = clone / ".moonpipe" / "executions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def refreshed(text: str, steps: list[Step], clone: Path) -> str:
    """The README with each example line replaced by the real line it stands for (so the
    examples are one run's, ids and times included)."""
    outputs = {step.template: step.output for step in steps}
    for commands_, example in examples(text):
        real = "\n".join(outputs.get(c, "") for c in commands_).splitlines()
        by_form: dict[str, str] = {}
        for line in real:  # the first line of a form: the first table, not a later one
            by_form.setdefault(normalized(line, clone), line.replace(str(clone), SHOWN_AS))
        new = [
            by_form.get(normalized(line.replace(SHOWN_AS, str(clone)), clone), line)
            for line in example
        ]
        text = text.replace("\n".join(example), "\n".join(new), 1)
    return text


def main() -> int:
    """Print each command of the walk and its output; with ``--refresh``, also rewrite the
    README's example lines from this run (a newcomer then reads one run's ids and times)."""
    fresh = "--fresh-venv" in sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="readme-walk-", ignore_cleanup_errors=True) as folder:
        clone = fresh_clone(Path(folder), borrow_venv=not fresh)

        def show(step: Step) -> None:
            print(f"$ {step.command}   # exit {step.code}\n{step.output}", flush=True)

        steps = walk(clone, show)
        ok = bool(steps) and steps[-1].code == 0
        if ok and "--refresh" in sys.argv[1:]:
            README.write_text(refreshed(README.read_text(), steps, clone))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
