"""The endpoint room's way to put a model server in a namespace like a job's."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from pipeline.local.runtime.serving import enter_server_namespace
from tests.pipeline.local.runtime.conftest import in_job, try_write

pytestmark = pytest.mark.usefixtures("namespaces_here")


def test_a_server_sees_its_model_at_opt_ml_model_and_serves_on_the_hosts_loopback(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    version = store / "endpoints" / "ep" / "models" / "cfg" / "v001"
    (version / "model" / "code").mkdir(parents=True)
    (version / "model" / "model.pth").write_text("weights")
    (store / "executions").mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server: enters its namespace, then listens where the host reaches it
        try:
            os.close(read_end)
            enter_server_namespace(version, store)
            server = socket.socket()
            server.bind(("127.0.0.1", port))
            server.listen(1)
            seen = [
                Path("/opt/ml/model/model.pth").read_text(),
                str(sorted(os.listdir(store))),
                try_write("/opt/ml/model/model.pth"),
                try_write(str(Path(__file__).with_name("planted-by-a-server"))),
            ]
            os.write(write_end, "|".join(seen).encode())
            server.accept()[0].sendall(b"pong")
        finally:
            os._exit(0)
    os.close(write_end)
    seen = os.read(read_end, 4096).decode().split("|")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        assert conn.recv(4) == b"pong"
    os.waitpid(pid, 0)
    assert seen == ["weights", "[]", "ok", "EROFS"]
    assert not Path(__file__).with_name("planted-by-a-server").exists()


def test_the_helper_runs_in_a_forked_job_too(job_root: Path) -> None:
    (job_root / "model").mkdir()
    result, _ = in_job(lambda: sorted(os.listdir("/opt/ml")), _view(job_root))
    assert result == ["model"]


def _view(root: Path) -> object:
    from pipeline.local.runtime.serving import server_view

    return server_view(root, root.parent / "store")
