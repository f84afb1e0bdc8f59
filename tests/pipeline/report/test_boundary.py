"""The decision boundary: scored by the artifact's own code in a background process, once."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pipeline.report.boundary import GRID, BoundaryError, BoundaryPending, BoundaryScorer

RIGHT_IS_ONE = """
import time
import numpy as np
def model_fn(model_dir):
    time.sleep(float(open(model_dir + "/delay").read()))
    return "m"
def predict_fn(data, model):
    return (np.asarray(data)[:, 0] > 0).astype(float)
"""
BROKEN = "def model_fn(model_dir):\n    raise ValueError('no weights here')\n"
BOUNDS = (-1.0, 1.0, -1.0, 1.0)


def _model(path: Path, inference: str, delay: str = "0", extra: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (
            ("code/inference.py", inference),
            ("delay", delay),
            *([(extra, "x")] if extra else []),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def test_grid_is_scored_by_the_model_code_and_kept(tmp_path: Path) -> None:
    archive = _model(tmp_path / "model.tar.gz", RIGHT_IS_ONE)
    cache = tmp_path / "grid.json"
    grid = BoundaryScorer().boundary(cache, archive, "s3://b/m", BOUNDS)
    assert len(grid.probabilities) == GRID and len(grid.probabilities[0]) == GRID
    assert grid.probabilities[0][0] == 0.0 and grid.probabilities[0][-1] == 1.0
    archive.unlink()  # a new scorer reads the kept grid, without the model
    again = BoundaryScorer().boundary(cache, archive, "s3://b/m", BOUNDS)
    assert again == grid


def test_a_running_job_does_not_hold_up_a_rewrite(tmp_path: Path) -> None:
    archive = _model(tmp_path / "model.tar.gz", RIGHT_IS_ONE, delay="2")
    scorer, cache = BoundaryScorer(), tmp_path / "grid.json"
    with pytest.raises(BoundaryPending):
        scorer.boundary(cache, archive, "s3://b/m", BOUNDS, wait=False)
    assert scorer.boundary(cache, archive, "s3://b/m", BOUNDS).probabilities[0][-1] == 1.0


def test_a_model_that_cannot_score_says_why_once(tmp_path: Path) -> None:
    archive = _model(tmp_path / "model.tar.gz", BROKEN)
    scorer, cache = BoundaryScorer(), tmp_path / "grid.json"
    with pytest.raises(BoundaryError, match="ValueError: no weights here"):
        scorer.boundary(cache, archive, "s3://b/m", BOUNDS)
    archive.unlink()  # remembered: not started again
    with pytest.raises(BoundaryError, match="ValueError: no weights here"):
        scorer.boundary(cache, archive, "s3://b/m", BOUNDS)
    assert not cache.exists()


def test_an_archive_that_escapes_is_refused(tmp_path: Path) -> None:
    archive = _model(tmp_path / "model.tar.gz", RIGHT_IS_ONE, extra="../../evil.txt")
    with pytest.raises(BoundaryError, match="could not score the grid"):
        BoundaryScorer().boundary(tmp_path / "grid.json", archive, "s3://b/m", BOUNDS)
    assert not (tmp_path.parent / "evil.txt").exists()
