"""preprocess.py end to end, as a processing job with mapped /opt/ml paths."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from tests.entrypoints.conftest import ENTRYPOINTS


def read_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, features) of a written CSV."""
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    return table[:, 0], table[:, 1:]


def course_split(
    num_points: int, noise: float, test_size: float, seed: int, split_seed: int
) -> list[np.ndarray]:
    """The course's recipe, run directly."""
    np.random.seed(seed)
    features, labels = make_moons(num_points, noise=noise)
    return train_test_split(features, labels, test_size=test_size, random_state=split_seed)


def test_defaults_reproduce_the_course_split_value_for_value(course_data) -> None:
    x_train, x_test, y_train, y_test = course_split(600, 0.25, 0.25, 0, 1)
    train_labels, train_features = read_split(
        course_data.path("/opt/ml/processing/train/train.csv")
    )
    test_labels, test_features = read_split(course_data.path("/opt/ml/processing/test/test.csv"))
    assert np.array_equal(train_features, x_train)
    assert np.array_equal(test_features, x_test)
    assert np.array_equal(train_labels, y_train)
    assert np.array_equal(test_labels, y_test)
    assert (len(train_labels), len(test_labels)) == (450, 150)
    assert np.bincount(test_labels.astype(int)).tolist() == [71, 79]


def test_rows_are_integer_label_then_features_without_header(course_data) -> None:
    lines = course_data.path("/opt/ml/processing/test/test.csv").read_text().splitlines()
    fields = [line.split(",") for line in lines]
    assert {row[0] for row in fields} == {"0", "1"}
    assert {len(row) for row in fields} == {3}


def test_options_reach_generation_and_split(jobs: ModuleType, tmp_path: Path) -> None:
    options = [
        "--num-points",
        "101",
        "--noise",
        "0.1",
        "--test-size",
        "0.3",
        "--seed",
        "5",
        "--split-seed",
        "7",
    ]
    job = jobs.run_processing(tmp_path, "preprocess.py", [*options, *jobs.PREPROCESS_ARGS])
    assert job.result.returncode == 0, job.result.stderr
    x_train, x_test, y_train, y_test = course_split(101, 0.1, 0.3, 5, 7)
    test_labels, test_features = read_split(job.path("/opt/ml/processing/test/test.csv"))
    train_labels, train_features = read_split(job.path("/opt/ml/processing/train/train.csv"))
    assert np.array_equal(test_features, x_test) and np.array_equal(test_labels, y_test)
    assert np.array_equal(train_features, x_train) and np.array_equal(train_labels, y_train)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--num-points", "1"], "argument --num-points: must be at least 2, got '1'"),
        (["--num-points", "many"], "argument --num-points: expected int, got 'many'"),
        (["--noise", "-0.1"], "argument --noise: must be >= 0, got '-0.1'"),
        (["--noise", "nan"], "argument --noise: must be a finite number, got 'nan'"),
        (
            ["--test-size", "0"],
            "argument --test-size: must be between 0 and 1 (exclusive), got '0'",
        ),
        (
            ["--test-size", "1.0"],
            "argument --test-size: must be between 0 and 1 (exclusive), got '1.0'",
        ),
        (["--seed", "-1"], "argument --seed: must be between 0 and 4294967295, got '-1'"),
        (
            ["--split-seed", "4294967296"],
            "argument --split-seed: must be between 0 and 4294967295, got '4294967296'",
        ),
        (
            ["--num-points", "3", "--test-size", "0.9"],
            "argument --test-size: 0.9 of --num-points 3 leaves no training points; "
            "lower --test-size or raise --num-points",
        ),
        (["--epochs", "3"], "unrecognized arguments: --epochs 3"),
    ],
)
def test_nonsense_options_fail_with_one_line_naming_the_option(
    jobs: ModuleType, tmp_path: Path, options: list[str], message: str
) -> None:
    job = jobs.run_processing(tmp_path, "preprocess.py", [*jobs.PREPROCESS_ARGS, *options])
    full = f"preprocess.py: error: {message}"
    jobs.assert_failed(job, 2, full, job.path("/opt/ml/output/message"))
    assert not job.path("/opt/ml/processing/train/train.csv").exists()
    assert not job.path("/opt/ml/processing/test/test.csv").exists()


def test_the_failure_helpers_are_one_shape_copied_into_each_script() -> None:
    # preprocess.py and evaluate.py ship alone (one file per processing job), so each script
    # holds a copy; the copies must stay the same text, or the scripts drift apart again.
    def helpers(script: str) -> dict[str, str]:
        tree = ast.parse((ENTRYPOINTS / script).read_text())
        wanted = {"write_failure", "fail", "OneLineParser"}
        return {n.name: ast.unparse(n) for n in tree.body if getattr(n, "name", "") in wanted}

    copies = [helpers(s) for s in ("preprocess.py", "evaluate.py", "train.py")]
    assert set(copies[0]) == {"write_failure", "fail", "OneLineParser"}
    assert copies[0] == copies[1] == copies[2]
