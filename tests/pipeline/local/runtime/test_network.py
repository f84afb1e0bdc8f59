"""Network: isolation (loopback only), the host's network otherwise, two hosts of one job."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.local.runtime.hosts import Host, host_addresses
from pipeline.local.runtime.network import share_network
from tests.pipeline.local.runtime.conftest import in_job, job_env, popen_in_job, view

pytestmark = pytest.mark.usefixtures("namespaces_here")


@pytest.fixture
def host_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def _probe(port: int) -> dict:
    def job() -> dict:
        out = {}
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            out["host_port"] = "connected"
        except OSError as err:
            out["host_port"] = err.errno
        try:
            socket.create_connection(("10.255.255.1", 9), timeout=1).close()
            out["outside"] = "connected"
        except OSError as err:
            out["outside"] = err.errno
        inner = socket.socket()
        inner.bind(("127.0.0.1", 0))
        inner.listen(1)
        socket.create_connection(inner.getsockname(), timeout=2).close()
        out["loopback"] = "ok"
        return out

    return job


def test_network_isolation_leaves_loopback_only(job_root: Path, host_server: int) -> None:
    result, _ = in_job(_probe(host_server), view(job_root, network=False))
    assert result["loopback"] == "ok"
    assert result["host_port"] == 111  # ECONNREFUSED: the host's 127.0.0.1 is not this one
    assert result["outside"] == 101  # ENETUNREACH: no other interface, no route


def test_without_isolation_the_host_network_is_unchanged(job_root: Path, host_server: int) -> None:
    result, _ = in_job(_probe(host_server), view(job_root, network=True))
    assert result["host_port"] == "connected" and result["loopback"] == "ok"


ADDRESSES = host_addresses([Host("algo-1", Path("/")), Host("algo-2", Path("/"))])
_GLOO = textwrap.dedent("""
    import datetime, json, os, socket
    import torch, torch.distributed as dist
    env = json.loads(open("/opt/ml/input/config/resourceconfig.json").read())
    rank = env["hosts"].index(env["current_host"])
    dist.init_process_group("gloo", init_method=f"tcp://{env['hosts'][0]}:29511", rank=rank,
                            world_size=len(env["hosts"]), timeout=datetime.timedelta(seconds=60))
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t)
    os.makedirs("/opt/ml/output/data", exist_ok=True)
    open("/opt/ml/output/data/sum", "w").write(f"{socket.gethostname()} {t.item()}")
    dist.destroy_process_group()
""")


def test_two_isolated_hosts_form_a_gloo_process_group(job_root: Path) -> None:
    """Under isolation the hosts share one loopback-only network (the SDK pipelines' test
    forms a group over the host's loopback)."""
    isolated, tmp_path = True, job_root
    hosts = ["algo-1", "algo-2"]
    addresses = ADDRESSES
    share = share_network(isolated)
    procs = []
    try:
        for name in hosts:
            root = tmp_path / name
            (root / "input/config").mkdir(parents=True)
            (root / "input/config/resourceconfig.json").write_text(
                f'{{"current_host": "{name}", "hosts": ["algo-1", "algo-2"]}}'
            )
            (root / "code").mkdir()
            (root / "code/train.py").write_text(_GLOO)
            v = view(root, network=not isolated, share=share, hostname=name, hosts=addresses)
            procs.append(
                popen_in_job(
                    [sys.executable, "/opt/ml/code/train.py"],
                    v,
                    env=job_env(SM_CURRENT_HOST=name),
                    pass_fds=share.fds() if share else (),
                )
            )
        outs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if share:
            share.close()
    assert [p.returncode for p in procs] == [0, 0], outs
    for name in hosts:
        assert (tmp_path / name / "output/data/sum").read_text() == f"{name} 3.0"


def test_two_isolated_hosts_see_each_other_but_not_the_host(
    tmp_path: Path, host_server: int
) -> None:
    share = share_network(True)
    try:
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir(), b.mkdir()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # host 1: listens on its own address inside the shared namespace
            os.close(r)
            from pipeline.local.runtime.namespace import enter

            enter(view(a, share=share, hostname="algo-1", hosts=ADDRESSES))
            srv = socket.socket()
            srv.bind(("algo-1", 7001))
            srv.listen(1)
            os.write(w, b"1")
            conn, _ = srv.accept()
            conn.sendall(b"hello")
            conn.close()
            os._exit(0)
        os.close(w)
        assert os.read(r, 1) == b"1"

        def job() -> dict:
            data = socket.create_connection(("algo-1", 7001), timeout=5).recv(5).decode()
            try:
                socket.create_connection(("127.0.0.1", host_server), timeout=2)
                host = "connected"
            except OSError as err:
                host = err.errno
            return {"data": data, "host": host}

        result, _ = in_job(job, view(b, share=share, hostname="algo-2", hosts=ADDRESSES))
        os.waitpid(pid, 0)
    finally:
        share.close()
    assert result == {"data": "hello", "host": 111}
