"""The warm host's lane: a scikit-learn image's jobs fork from a parent holding what that
image holds (no torch), imported on the other core while the host imports torch.

The lane serves its own socket under the store's key and the same checks, leaves with its
host (killing its jobs when the host is told to stop, letting them finish when the host
merely went away), and when it is not there its jobs fork from the host.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

from pipeline.local.warm.client import WarmHostRefused, WarmStarter
from tests.conftest import no_process_names
from tests.pipeline.local.warm.conftest import run_in, write

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312"
SAYS_WHERE = """
import json, os, sys
print(json.dumps({"torch": "torch" in sys.modules, "sklearn": "sklearn" in sys.modules,
                  "parent": os.getppid()}))
"""
WAITS_FOR_FILE = """
import os, sys, time
print("waiting", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
print("done", flush=True)
"""


def _lane_pid(starter: WarmStarter) -> int:
    conn = starter._lane_connection("sklearn")
    assert conn is not None, "no lane serves the store"
    with conn:
        return int(starter._exchange(conn, {"cmd": "ping"}, [])[0]["pid"])


def _where(tmp: Path, starter: WarmStarter, image: str) -> dict[str, object]:
    script = write(tmp / "code", "where.py", SAYS_WHERE)
    run, log = run_in(
        tmp / image.rsplit("/", 1)[-1], starter, [sys.executable, str(script)], image=image
    )
    assert run.exit_code == 0, log
    return dict(json.loads(log.splitlines()[-1]))


def _started(tmp: Path) -> WarmStarter:
    starter = WarmStarter(tmp / "store", idle_s=120)
    starter.ensure()
    deadline = time.monotonic() + 120
    while not starter.preloaded() and time.monotonic() < deadline:
        time.sleep(0.05)
    return starter


def test_a_scikit_learn_image_job_forks_from_the_lane_and_a_pytorch_one_from_the_host(
    tmp_path: Path, starter: WarmStarter
) -> None:
    host, lane = starter.ensure(), _lane_pid(starter)
    assert lane != host
    on_lane = _where(tmp_path, starter, SKLEARN_IMAGE)
    assert on_lane == {"torch": False, "sklearn": True, "parent": lane}
    on_host = _where(tmp_path, starter, PYTORCH_IMAGE)
    assert on_host == {"torch": True, "sklearn": False, "parent": host}
    custom = _where(tmp_path, starter, "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1")
    assert custom["parent"] == host


@pytest.mark.parametrize(
    ("image", "lane"),
    [
        (SKLEARN_IMAGE, "sklearn"),
        ("sagemaker-scikit-learn:1.2-1-cpu-py3", "sklearn"),
        ("1.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn@sha256:ab", "sklearn"),
        (PYTORCH_IMAGE, None),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-sagemaker-scikit-learn:1", None),
        (None, None),
    ],
)
def test_the_lane_is_chosen_by_the_images_repository(image: str | None, lane: str | None) -> None:
    assert WarmStarter(Path("/nonexistent")).lane_of(image) == lane
    assert WarmStarter(Path("/nonexistent"), lanes={}).lane_of(image) is None


def test_the_lanes_socket_is_the_users_own_and_closed_to_others(starter: WarmStarter) -> None:
    info = (starter.warm_dir / "lane-sklearn.sock").lstat()
    assert stat.S_ISSOCK(info.st_mode) and info.st_uid == os.getuid()
    assert stat.S_IMODE(info.st_mode) == 0o600


def test_stopping_the_host_stops_its_lane_and_the_lanes_jobs(tmp_path: Path) -> None:
    starter = _started(tmp_path)
    script = write(tmp_path / "code", "waits.py", WAITS_FOR_FILE)
    job = starter.start(
        [sys.executable, str(script), str(tmp_path / "never")], {}, tmp_path, lane="sklearn"
    )
    assert job.stdout.readline() == "waiting\n"
    starter.stop()
    assert job.wait(timeout=15) != 0  # killed with its lane
    assert no_process_names(tmp_path)
    assert not (starter.warm_dir / "lane-sklearn.sock").exists()


def test_a_host_that_went_away_lets_the_lanes_jobs_finish_then_the_lane_leaves(
    tmp_path: Path,
) -> None:
    starter = _started(tmp_path)
    script = write(tmp_path / "code", "waits.py", WAITS_FOR_FILE)
    go = tmp_path / "go"
    job = starter.start([sys.executable, str(script), str(go)], {}, tmp_path, lane="sklearn")
    assert job.stdout.readline() == "waiting\n"
    os.kill(starter.ensure(), signal.SIGKILL)
    time.sleep(0.3)  # the lane has seen its host go: it takes no new job now
    go.touch()
    assert job.stdout.readline() == "done\n"
    assert job.wait(timeout=15) == 0
    assert no_process_names(tmp_path)


def test_without_its_lane_a_lane_job_forks_from_the_host(tmp_path: Path) -> None:
    starter = _started(tmp_path)
    try:
        os.kill(_lane_pid(starter), signal.SIGKILL)
        time.sleep(0.2)
        where = _where(tmp_path, starter, SKLEARN_IMAGE)
        assert where["parent"] == starter.ensure() and where["torch"] is True
    finally:
        starter.stop()


def test_a_lane_socket_open_to_others_is_refused(tmp_path: Path) -> None:
    starter = _started(tmp_path)
    try:
        os.chmod(starter.warm_dir / "lane-sklearn.sock", 0o666)
        with pytest.raises(WarmHostRefused, match=r"lane-sklearn\.sock"):
            starter.start([sys.executable, "job.py"], {}, tmp_path, lane="sklearn")
    finally:
        starter.stop()
