"""A forked job starts with the randomness a fresh interpreter has (issue 21, 5).

A fresh interpreter seeds Python's random, numpy's global RandomState and torch's default
generator from the OS; a fork would copy the host's state to every job, so two executions
of an unseeded step (or two sweep points) drew the same numbers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipeline.local.warm.client import WarmStarter
from tests.pipeline.local.runtime.conftest import needs_namespaces
from tests.pipeline.local.warm.conftest import run_in, write

DRAWS = """
import json, random
import numpy, torch
print(json.dumps({"numpy": numpy.random.rand(), "random": random.random(),
                  "torch": torch.rand(1).item()}))
"""


@pytest.mark.parametrize("namespaces", [False, True], ids=["paths", "namespaces"])
def test_two_forked_jobs_draw_different_numbers(
    tmp_path: Path, starter: WarmStarter, namespaces: bool
) -> None:
    if namespaces:
        needs_namespaces()
    draws = []
    for n in range(2):
        script = write(tmp_path / f"job{n}" / "code", "draws.py", DRAWS)
        assert starter.can_run([sys.executable, "draws.py"], script)  # the job is forked
        argv = [sys.executable, "/opt/ml/code/draws.py"]
        run, log = run_in(tmp_path / f"job{n}", starter, argv, namespaces=namespaces)
        assert run.exit_code == 0, log
        draws.append(json.loads(log))
    assert [name for name in draws[0] if draws[0][name] == draws[1][name]] == []
