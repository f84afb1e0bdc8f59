"""host.py's socket appears only once it listens: a client that finds it never gets refused.

(Bound at its name and then listening, a client that came in between was refused, took the
host for dead, removed its socket and started a second host for the same store.)
"""

from __future__ import annotations

import importlib.util
import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HOST_PROGRAM = Path(__file__).resolve().parents[4] / "pipeline" / "local" / "warm" / "host.py"


def _host_module() -> ModuleType:
    """host.py as the program imports it (its folder first on the path, for fork_child)."""
    sys.path.insert(0, str(HOST_PROGRAM.parent))
    try:
        spec = importlib.util.spec_from_file_location("warm_host_under_test", HOST_PROGRAM)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(HOST_PROGRAM.parent))


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[int]:
    handle = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        yield handle
    finally:
        os.close(handle)


def test_the_name_appears_only_once_the_socket_listens(
    tmp_path: Path, folder: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = _host_module()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening_when_named: list[int] = []
    real_link = os.link

    def link(*args: Any, **kwargs: Any) -> None:
        accepting = listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        listening_when_named.append(accepting)
        real_link(*args, **kwargs)

    monkeypatch.setattr(os, "link", link)
    with listener:
        inode = host.publish(listener, folder, "host.sock")
        assert listening_when_named == [1]
        path = tmp_path / "host.sock"
        assert os.listdir(tmp_path) == ["host.sock"]  # no temporary name left
        assert path.stat().st_ino == inode
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(path))


def test_a_name_already_there_is_not_taken_over(tmp_path: Path, folder: int) -> None:
    host = _host_module()
    with socket.socket(socket.AF_UNIX) as first, socket.socket(socket.AF_UNIX) as second:
        inode = host.publish(first, folder, "host.sock")
        with pytest.raises(FileExistsError):
            host.publish(second, folder, "host.sock")
        assert os.listdir(tmp_path) == ["host.sock"]
        assert (tmp_path / "host.sock").stat().st_ino == inode
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(tmp_path / "host.sock"))  # still the first's
