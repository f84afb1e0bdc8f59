"""Score a grid with a trained model.tar.gz through the artifact's own code/inference.py.

Run as a separate process (``python boundary_job.py MODEL_TAR X0 X1 Y0 Y1 N``) so that the
process writing a report never imports torch, and so the artifact's code runs the way the
evaluation step runs it: model.pth is loaded by its model_fn with weights_only=True, never
unpickled. Prints ``{"probabilities": [[...], ...]}`` (N rows of N, y-major) on stdout.
It imports nothing of ours: it must run wherever the artifact's code runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType


def extract(archive: Path, dest: Path) -> None:
    """Extract model.tar.gz, refusing links and paths outside ``dest`` (the 'data' filter)."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(dest, filter="data")


def load_inference(model_dir: Path) -> ModuleType:
    """code/inference.py from inside the artifact, imported by path."""
    code_dir = model_dir / "code"
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location("inference", code_dir / "inference.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{code_dir / 'inference.py'} is missing from the model")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    """Score the NxN grid over [X0, X1]x[Y0, Y1]; print the probabilities as JSON."""
    archive, bounds, n = Path(argv[0]), [float(v) for v in argv[1:5]], int(argv[5])
    import numpy as np

    xs, ys = np.linspace(bounds[0], bounds[1], n), np.linspace(bounds[2], bounds[3], n)
    grid = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        extract(archive, Path(tmp))
        inference = load_inference(Path(tmp))
        model = inference.model_fn(tmp)
        probabilities = np.asarray(inference.predict_fn(grid, model), dtype=float).reshape(n, n)
    json.dump({"probabilities": np.round(probabilities, 4).tolist()}, sys.stdout)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny model: one thread is fastest here
    sys.exit(main(sys.argv[1:]))
