"""The training channel's CSV files → features and labels, or one line naming the bad row.

A sibling of train.py, shipped with it in sourcedir.tar.gz (the training toolkit runs
``python train.py`` from /opt/ml/code, so this folder is on sys.path there and locally).
Well-formed files go through numpy's C parser; any file it cannot read, or whose values
fail a check, is read again row by row so the message names the first bad line.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np


class TrainingError(Exception):
    """Bad data or environment: the message is the one line a person reads."""


def _parse_row(row: list[str], where: str, input_dim: int) -> tuple[float, list[float]]:
    """One CSV row → (label, features), or TrainingError naming the file and line."""
    if len(row) != input_dim + 1:
        raise TrainingError(
            f"{where}: expected {input_dim + 1} columns (label, then --input_dim {input_dim} "
            f"features), got {len(row)}"
        )
    try:
        values = [float(cell) for cell in row]
    except ValueError:
        raise TrainingError(f"{where}: non-numeric value in {','.join(row)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise TrainingError(f"{where}: NaN or infinite value in {','.join(row)!r}")
    if values[0] not in (0.0, 1.0):
        raise TrainingError(f"{where}: label must be 0 or 1, got {row[0]!r}")
    return values[0], values[1:]


def load_training_data(channel: Path, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Every CSV under ``channel``, in path order → (features [N, d], labels [N])."""
    if not channel.is_dir():
        raise TrainingError(
            f"the train channel {channel} is not a directory; "
            f"check the training input (SM_CHANNEL_TRAIN)"
        )
    files = sorted(p for p in channel.rglob("*.csv") if p.is_file())
    if not files:
        raise TrainingError(
            f"no CSV file in the train channel {channel}; "
            f"check the training input (SM_CHANNEL_TRAIN)"
        )
    tables = [_read_fast(path, input_dim) for path in files]
    tables = [
        _read_rows(path, input_dim) if table is None else table
        for path, table in zip(files, tables, strict=True)
    ]
    table = np.concatenate(tables)
    if not len(table):
        raise TrainingError(f"the CSV files in {channel} hold no rows")
    return table[:, 1:].astype(np.float32), table[:, 0].astype(np.float32)


def _read_fast(path: Path, input_dim: int) -> np.ndarray | None:
    """A well-formed file through numpy's C parser (~5x the csv module), else None.

    None sends the file to :func:`_read_rows`, whose message names the bad line; values are
    parsed as float64, as ``float()`` does, so both readers give the same numbers.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": _read_rows decides
            table = np.loadtxt(path, delimiter=",", dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    usable = (
        table.shape[1] == input_dim + 1
        and len(table) > 0
        and bool(np.isfinite(table).all())
        and bool(np.isin(table[:, 0], (0, 1)).all())
    )
    return table if usable else None


def _read_rows(path: Path, input_dim: int) -> np.ndarray:
    """One file row by row, skipping blank lines; TrainingError names the first bad line."""
    rows: list[list[float]] = []
    with path.open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            label, values = _parse_row(row, f"{path.name} line {line_no}", input_dim)
            rows.append([label, *values])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), input_dim + 1)
