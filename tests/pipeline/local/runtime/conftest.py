"""Running code inside a job's namespaces from a test, and skipping where there are none."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pipeline.local.runtime.mode import namespaces_unavailable
from pipeline.local.runtime.namespace import JobView, enter, interpreter_paths

KEEP = interpreter_paths()


def needs_namespaces() -> None:
    """Skip the calling test where this machine gives no namespaces (macOS, a locked-down
    container): there the fallback's own tests apply."""
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(reason)


def view(job_root: Path, **kw: Any) -> JobView:
    """A job's view of ``job_root`` with the interpreter kept visible."""
    kw.setdefault("keep", KEEP)
    return JobView(job_root=job_root, **kw)


def in_job(fn: Callable[[], Any], seen: JobView) -> tuple[Any, int]:
    """Fork, enter ``seen``, run ``fn`` (as a warm job would run); (its result, exit code)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            enter(seen)
            result = {"ok": fn()}
            code = 0
        except BaseException:
            result = {"error": traceback.format_exc()}
        try:
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    result = json.loads(data or b'{"error": "no result"}')
    if "error" in result:
        raise AssertionError(result["error"])
    return result["ok"], os.waitstatus_to_exitcode(status)


def job_env(**extra: str) -> dict[str, str]:
    """A container-like environment: the engine's interpreter first on PATH, HOME=/root."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


def popen_in_job(
    argv: Sequence[str],
    seen: JobView,
    env: dict[str, str] | None = None,
    cwd: str = "/opt/ml",
    **kw: Any,
) -> subprocess.Popen[str]:
    """A subprocess that enters ``seen`` before exec (preexec_fn), cwd inside the job."""

    def setup() -> None:
        enter(seen)
        os.chdir(cwd)

    return subprocess.Popen(
        list(argv),
        env=env or job_env(),
        preexec_fn=setup,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def try_write(path: str) -> str:
    """ "ok", or the errno's name a write to ``path`` fails with."""
    try:
        with open(path, "w") as f:
            f.write("x")
        return "ok"
    except OSError as err:
        return errno.errorcode.get(err.errno or 0, str(err))


@pytest.fixture
def namespaces_here() -> None:
    """For a module whose every test needs namespaces: ``pytestmark`` uses it."""
    needs_namespaces()


@pytest.fixture
def job_root(tmp_path: Path) -> Path:
    needs_namespaces()
    root = tmp_path / "job"
    root.mkdir()
    return root
