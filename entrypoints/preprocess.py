"""PrepareMoonData: generate the two-moons data set and split it into train and test CSVs.

Runs in SageMaker's scikit-learn 1.2-1 processing image (Python 3.9, numpy 1.x, pandas 1.x) and
locally, so it uses no syntax newer than 3.9 at run time. With the defaults it reproduces the
course's data exactly::

    np.random.seed(0); X, y = make_moons(600, noise=0.25)
    train_test_split(X, y, test_size=0.25, random_state=1)     # 450 train / 150 test

Output: ``<train-dir>/train.csv`` and ``<test-dir>/test.csv``, one row per point, the integer
label first and then the features, no header, no index. Floats are written with 17
significant digits, so reading them back gives the very same doubles.

Usage (every container path is an option whose default is the real /opt/ml path)::

    python3 preprocess.py --num-points 600 --noise 0.25 --test-size 0.25 --seed 0 \\
        --split-seed 1 --train-dir /opt/ml/processing/train \\
        --test-dir /opt/ml/processing/test --failure-file /opt/ml/output/message

Invalid options exit with status 2 and one line naming the option, on stderr and in the
failure file (SageMaker shows that file's first 1 KB as the job's failure reason).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

DEFAULT_FAILURE_FILE = "/opt/ml/output/message"
MAX_SEED = 2**32 - 1  # numpy's legacy seeding and sklearn's random_state accept 0 .. 2**32-1


# Failure helpers: one text copied in preprocess/evaluate/train.py (a processing job ships 1 file).


def write_failure(message: str, failure_file: str | None) -> None:
    """Best effort: the message is on stderr already; failing here must not hide it."""
    if failure_file:
        with contextlib.suppress(OSError):
            Path(failure_file).parent.mkdir(parents=True, exist_ok=True)
            Path(failure_file).write_text(message + "\n")


def fail(message: str, failure_file: str | None, code: int) -> NoReturn:
    """Print one line to stderr, record it in the failure file and exit ``code``."""
    print(message, file=sys.stderr, flush=True)
    write_failure(message, failure_file)
    raise SystemExit(code)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, also written to the failure file."""

    def __init__(self, failure_file: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._failure_file = failure_file

    def error(self, message: str) -> NoReturn:
        """Replace argparse's usage + message block by one line naming the option."""
        fail(f"{self.prog}: error: {message}", self._failure_file, code=2)


def failure_file_in(argv: Sequence[str]) -> str:
    """The --failure-file value in ``argv``, found without argparse (which may be failing)."""
    for i, arg in enumerate(argv):
        if arg == "--failure-file" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--failure-file="):
            return arg.split("=", 1)[1]
    return DEFAULT_FAILURE_FILE


def _number(text: str, kind: type) -> float:
    """Parse ``text`` as ``kind`` (int or float), rejecting NaN and infinity."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def at_least_2(text: str) -> int:
    """An integer of at least 2: make_moons needs one point per moon."""
    value = int(_number(text, int))
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {text!r}")
    return value


def non_negative(text: str) -> float:
    """A finite float >= 0 (the standard deviation of the Gaussian noise)."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def open_unit(text: str) -> float:
    """A float strictly between 0 and 1 (a fraction of the points)."""
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed numpy and sklearn both accept."""
    value = int(_number(text, int))
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {text!r}")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse and check every option, including the ones that only make sense together."""
    parser = OneLineParser(
        failure_file_in(argv), prog="preprocess.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--num-points", type=at_least_2, default=600)
    parser.add_argument("--noise", type=non_negative, default=0.25)
    parser.add_argument("--test-size", type=open_unit, default=0.25)
    parser.add_argument("--seed", type=seed, default=0, help="seed of the data generation")
    parser.add_argument("--split-seed", type=seed, default=1, help="seed of the split")
    parser.add_argument("--train-dir", default="/opt/ml/processing/train")
    parser.add_argument("--test-dir", default="/opt/ml/processing/test")
    parser.add_argument("--failure-file", default=DEFAULT_FAILURE_FILE)
    args = parser.parse_args(argv)
    # train_test_split's own arithmetic for a float test_size and no train_size.
    n_test = math.ceil(args.test_size * args.num_points)
    if n_test >= args.num_points:
        parser.error(
            f"argument --test-size: {args.test_size} of --num-points {args.num_points} "
            f"leaves no training points; lower --test-size or raise --num-points"
        )
    return args


def write_csv_atomically(frame: object, path: Path) -> None:
    """Write ``frame`` (a DataFrame) so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, header=False, index=False, float_format="%.17g")  # type: ignore[attr-defined]
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def make_split(args: argparse.Namespace) -> tuple:
    """The course's data generation and split, seeded exactly as the course did it."""
    # Imported here so a bad option fails in milliseconds, before sklearn loads.
    import numpy as np
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    np.random.seed(args.seed)
    features, labels = make_moons(args.num_points, noise=args.noise)
    return train_test_split(
        features, labels, test_size=args.test_size, random_state=args.split_seed
    )


def to_frame(features: object, labels: object) -> object:
    """A DataFrame with the integer label first, then one float column per feature."""
    import pandas as pd

    frame = pd.DataFrame(features).astype("float64")
    frame.insert(0, "label", pd.Series(labels).astype("int64").to_numpy())
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, split and write the data; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    x_train, x_test, y_train, y_test = make_split(args)
    try:
        write_csv_atomically(to_frame(x_train, y_train), Path(args.train_dir) / "train.csv")
        write_csv_atomically(to_frame(x_test, y_test), Path(args.test_dir) / "test.csv")
    except OSError as exc:
        fail(f"preprocess.py: error: cannot write output: {exc}", args.failure_file, code=1)
    print(
        f"wrote {len(y_train)} training points to {args.train_dir}/train.csv and "
        f"{len(y_test)} test points to {args.test_dir}/test.csv"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
