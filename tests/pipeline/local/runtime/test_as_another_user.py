"""The job runtime, the warm host and the SDK-built pipelines as a user that is not root.

As root (CI: a fresh clone, no test user) the engine's own tests of these rooms run again in
a fresh pytest as ``nobody`` (other_user.py says how, changing nothing on the machine). Run
as a user that is not root, the suite itself is that case and this test has nothing to add.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import processes_naming
from tests.pipeline.local.runtime.conftest import needs_namespaces
from tests.pipeline.local.runtime.other_user import REPO, other_uid, run_as_other_user

pytestmark = pytest.mark.e2e

ROOMS = ("tests/pipeline/local/runtime", "tests/pipeline/local/warm")


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder of the other user's own (under /tmp: pytest's folders are root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="moonpipe-other-user-"))
    os.chown(folder, *other_uid())
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_runtime_and_the_sdk_pipelines_as_a_user_that_is_not_root(home: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("the suite runs as a user that is not root: it is this case itself")
    needs_namespaces()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_")},
    }
    argv = [
        sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "-m", "not e2e",
        "--basetemp", str(home / "pytest"), *ROOMS,
    ]  # fmt: skip
    done = run_as_other_user(argv, env, REPO, timeout=1500)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary
    # the other user's session left nothing running (its warm hosts ended with its tests;
    # the sockets the refusal tests planted stay as files, which is fine)
    assert processes_naming(home, any_user=True) == []
