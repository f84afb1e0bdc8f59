"""The one /opt/ml → job-directory mapping rule, table-tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.local.container_paths import host_path, map_args, map_env, map_path

ROOT = Path("/tmp/job")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/opt/ml/processing/train", "/tmp/job/processing/train"),
        ("/opt/ml", "/tmp/job"),
        ("--model-dir=/opt/ml/model", "--model-dir=/tmp/job/model"),
        ("/opt/mlx/data", "/opt/mlx/data"),  # another folder that merely starts alike
        ("/data/opt/ml/x", "/data/opt/ml/x"),  # not at the start
        ("s3://bucket/opt/ml/x", "s3://bucket/opt/ml/x"),
        ("python3", "python3"),
        ("", ""),
    ],
)
def test_map_path(value: str, expected: str) -> None:
    assert map_path(value, ROOT) == expected


def test_map_args_and_env_map_values_only() -> None:
    assert map_args(["python3", "/opt/ml/code/x.py", "--n", "3"], ROOT) == [
        "python3",
        "/tmp/job/code/x.py",
        "--n",
        "3",
    ]
    assert map_env({"SM_MODEL_DIR": "/opt/ml/model", "/opt/ml": "x"}, ROOT) == {
        "SM_MODEL_DIR": "/tmp/job/model",
        "/opt/ml": "x",
    }


def test_host_path_refuses_paths_outside_the_container_root() -> None:
    assert host_path("/opt/ml/output/message", ROOT) == ROOT / "output" / "message"
    with pytest.raises(ValueError, match=r"'/etc/passwd' is not a container path under /opt/ml"):
        host_path("/etc/passwd", ROOT)


@pytest.mark.parametrize(
    "path", ["/opt/ml/processing/../../../tmp/pwn", "/opt/ml/..", "/opt/ml/input/data/../../../etc"]
)
def test_host_path_refuses_paths_that_climb_out_of_the_job(path: str) -> None:
    with pytest.raises(ValueError, match="is not a container path under /opt/ml"):
        host_path(path, ROOT)


def test_host_path_normalises_paths_that_stay_inside() -> None:
    assert host_path("/opt/ml/processing/x/../train", ROOT) == ROOT / "processing" / "train"
