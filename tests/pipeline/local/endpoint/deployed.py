"""Real endpoint server processes for tests: a model artifact to deploy, and the clean-up.

The manager, deployment-state and interruption tests deploy real servers (separate
processes that outlive a failed test); :func:`end_servers_under` ends every one started
under a store, whatever the test left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import tarfile
from pathlib import Path

from pipeline.core.errors import EndpointError
from pipeline.local.endpoint.manager import delete_endpoint

# A pure-Python model: predicts scale * combine(features) per CSV row.
PROGRAM = """
import json, os
from helper import combine

class ClientError(Exception):
    status_code = 400

def model_fn(model_dir):
    with open(os.path.join(model_dir, "params.json")) as fh:
        params = json.load(fh)
    if params.get("broken"):
        raise RuntimeError("weights are corrupt")
    return params

def input_fn(body, content_type):
    try:
        return [[float(v) for v in line.split(",")] for line in body.splitlines() if line]
    except ValueError:
        raise ClientError("features must be numbers, like 0.5,-1.0") from None

def predict_fn(rows, model):
    if rows == [[13.0]]:
        raise ZeroDivisionError("unlucky")
    return [model["scale"] * combine(r) for r in rows]

def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction})
"""


# The same model, but loading takes a second: a window for a kill to land in.
SLOW_PROGRAM = PROGRAM.replace(
    "def model_fn(model_dir):\n", "def model_fn(model_dir):\n    import time; time.sleep(1.0)\n"
)


def make_artifact(
    path: Path,
    *,
    scale: float = 1,
    helper: str = "sum(row)",
    broken: bool = False,
    program: str | None = PROGRAM,
) -> Path:
    """Write a model.tar.gz laid out as SageMaker training leaves it (./code/inference.py)."""
    files = {
        "params.json": json.dumps({"scale": scale, "broken": broken}),
        "code/helper.py": f"def combine(row):\n    return {helper}\n",
    }
    if program is not None:
        files["code/inference.py"] = program
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def kill_servers_under(root: Path) -> None:
    """Belt and braces: SIGKILL any server process whose command line names ``root``."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().split(b"\0")
            if b"pipeline.local.endpoint.server" in args and any(
                str(root).encode() in a for a in args
            ):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)


def end_servers_under(root: Path) -> None:
    """Delete every endpoint recorded under ``root`` as a person would, then kill stragglers."""
    for record in root.glob("endpoints/*/endpoint.json"):
        with contextlib.suppress(EndpointError):
            delete_endpoint(root, record.parent.name)
    kill_servers_under(root)
