"""What a job sees of the file system: /opt/ml, the read-only host, private /tmp and HOME."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline.local.runtime import _linux as L
from tests.pipeline.local.runtime.conftest import in_job, popen_in_job, try_write, view

pytestmark = pytest.mark.usefixtures("namespaces_here")


def test_opt_ml_is_the_job_folder_at_its_real_path(job_root: Path) -> None:
    (job_root / "processing" / "input").mkdir(parents=True)
    (job_root / "processing" / "input" / "data.csv").write_text("a,b\n")
    host_had_opt_ml = os.path.exists("/opt/ml")

    def job() -> dict:
        os.makedirs("/opt/ml/processing/output", exist_ok=True)
        with open("/opt/ml/processing/output/result.txt", "w") as f:
            f.write("done")
        return {
            "input": open("/opt/ml/processing/input/data.csv").read(),
            "opt": sorted(os.listdir("/opt")),
        }

    result, code = in_job(job, view(job_root))
    assert code == 0
    assert result["input"] == "a,b\n"
    assert (job_root / "processing/output/result.txt").read_text() == "done"
    assert os.path.exists("/opt/ml") == host_had_opt_ml  # nothing created on the host
    # the host's other /opt entries are still there (the folder was rebuilt, not hidden)
    assert set(os.listdir("/opt")) <= set(result["opt"])


def test_files_written_stay_the_callers(job_root: Path) -> None:
    in_job(lambda: Path("/opt/ml/mine").write_text("x"), view(job_root))
    st = (job_root / "mine").stat()
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())


def test_rest_of_host_is_read_only_submounts_included(job_root: Path, tmp_path: Path) -> None:
    def job() -> dict:
        return {
            p: try_write(p)
            for p in (
                "/etc/jobns-test",
                "/usr/jobns-test",
                "/work/jobns-test",
                "/opt/jobns-test",
                "/sys/fs/cgroup/jobns-test",
                "/jobns-test",
                str(job_root / "via-host-path"),
                "/proc/sys/vm/drop_caches",
            )
        }

    result, _ = in_job(job, view(job_root))
    for path, outcome in result.items():
        assert outcome in ("EROFS", "EACCES", "ENOENT"), (path, outcome)
    assert result["/etc/jobns-test"] in ("EROFS", "EACCES")
    assert result["/sys/fs/cgroup/jobns-test"] in ("EROFS", "EACCES")  # a submount of /sys
    assert not (job_root / "via-host-path").exists()


def test_a_job_cannot_remount_anything_writable(job_root: Path) -> None:
    def job() -> dict:
        out = {}
        for target in ("/", "/etc", "/usr"):
            try:
                L.mount(None, target, None, L.MS_BIND | 0x20 | L.MS_REC)  # MS_REMOUNT
                out[target] = "remounted"
            except OSError as err:
                out[target] = err.errno
        try:
            L.unshare(L.CLONE_NEWNS | L.CLONE_NEWUSER)
            out["unshare"] = "ok"
        except OSError as err:
            out["unshare"] = err.errno
        return out

    result, _ = in_job(job, view(job_root))
    assert all(v != "remounted" for v in result.values()), result


def test_tmp_and_home_are_private_and_writable(job_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "host-tmp-marker"
    marker.write_text("host")

    def job() -> dict:
        with open("/tmp/scratch", "w") as f:
            f.write("t")
        with open(os.path.expanduser("~/.cache-file"), "w") as f:
            f.write("h")
        return {
            "marker_visible": os.path.exists(str(marker)),
            "home": os.path.expanduser("~"),
            "home_entries": os.listdir("/root"),
        }

    os.environ["HOME"] = "/root"
    result, _ = in_job(job, view(job_root))
    assert result["marker_visible"] is False
    assert not os.path.exists("/tmp/scratch")
    assert not os.path.exists("/root/.cache-file") or os.getuid() != 0


def test_home_and_opt_that_do_not_exist_on_the_host(job_root: Path) -> None:
    """A HOME whose parents are missing: the same path as /opt/ml on a host with no /opt."""
    missing = "/jobns-no-such-dir/deeper/home"

    def job() -> str:
        with open(missing + "/f", "w") as f:
            f.write("x")
        return try_write("/jobns-no-such-dir/other")

    result, _ = in_job(job, view(job_root, home=missing))
    assert result == "EROFS"  # the rebuilt parent is part of the read-only root
    assert not os.path.exists("/jobns-no-such-dir")


def test_dev_has_what_python_needs_and_no_disk(job_root: Path) -> None:
    def job() -> dict:
        with open("/dev/null", "w") as f:
            f.write("x")
        with open("/dev/urandom", "rb") as f:
            n = len(f.read(16))
        return {"urandom": n, "dev": sorted(os.listdir("/dev")), "shm": try_write("/dev/shm/x")}

    result, _ = in_job(job, view(job_root))
    assert result["urandom"] == 16 and result["shm"] == "ok"
    assert not any(name.startswith(("vd", "sd", "nvme", "loop")) for name in result["dev"])


def test_proc_shows_only_the_job(job_root: Path) -> None:
    def job() -> dict:
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        return {"pids": pids, "me": os.getpid()}

    result, _ = in_job(job, view(job_root))
    assert result["me"] == 2 and result["pids"] == [1, 2]


def test_proc_does_not_lead_back_to_the_host(job_root: Path, tmp_path: Path) -> None:
    """/proc/<pid>/root of a host process is that process's root: the writable host tree.
    With the PID namespace no host process is visible (ENOENT). Without it the kernel still
    refuses (EACCES): the job's capabilities are not a superset of the target's (root job,
    capabilities dropped) or the target is in another user namespace (non-root job), and
    ptrace access, which /proc/<pid>/root needs, requires one or the other."""
    target = tmp_path / "escaped"
    me = os.getpid()

    def job() -> str:
        return try_write(f"/proc/{me}/root{target}")

    result, _ = in_job(job, view(job_root, pid_namespace=False))
    assert result == "EACCES" and not target.exists()
    result, _ = in_job(job, view(job_root))
    assert result == "ENOENT" and not target.exists()


def test_resolv_conf_and_hosts(job_root: Path) -> None:
    def job() -> dict:
        import socket

        return {
            "resolv": open("/etc/resolv.conf").read(),
            "algo": socket.gethostbyname("algo-1"),
            "hostname": socket.gethostname(),
        }

    result, _ = in_job(job, view(job_root))
    assert result["resolv"] == Path("/etc/resolv.conf").read_text()
    assert result["algo"] == "127.0.0.1" and result["hostname"] == "algo-1"


def test_the_engines_interpreter_runs_inside(job_root: Path) -> None:
    """The venv's python (and a pyenv Python under /root, hidden by the private HOME) stay
    visible: interpreter_paths() keeps them."""
    proc = popen_in_job(
        [sys.executable, "-c", "import sys, json; print(sys.prefix)"], view(job_root)
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert out.strip() == sys.prefix


def test_forked_child_of_a_threaded_process(job_root: Path) -> None:
    """A user namespace needs a single-threaded caller: the engine (threads) cannot unshare
    one itself, but its forked child can, while the other threads keep running."""
    import threading

    stop = threading.Event()
    threads = [
        threading.Thread(target=lambda: [0 for _ in iter(lambda: stop.is_set(), True)])
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    try:
        if os.getuid() != 0:
            try:
                L.unshare(L.CLONE_NEWUSER)
                raised = None
            except OSError as err:
                raised = err.errno
            assert raised == 22  # EINVAL: the caller has threads
        for _ in range(5):
            proc = popen_in_job(["/bin/sh", "-c", "echo ok > /opt/ml/t"], view(job_root))
            proc.communicate(timeout=30)
            assert proc.returncode == 0
        result, _ = in_job(lambda: Path("/opt/ml/t").read_text(), view(job_root))
        assert result == "ok\n"
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_job_sees_no_caller_environment_files(job_root: Path) -> None:
    """HOME is private: the caller's ~/.aws (credentials) is not visible to a job."""
    home = Path(os.path.expanduser("~"))
    if not home.is_dir() or not os.access(home, os.W_OK):
        return
    aws = home / ".aws-jobns-test"
    aws.write_text("secret")
    try:

        def job() -> bool:
            return os.path.exists(str(aws))

        result, _ = in_job(job, view(job_root, home=str(home)))
        assert result is False
    finally:
        aws.unlink()


def test_the_store_is_hidden_but_its_layer_cache_kept(tmp_path: Path) -> None:
    """A Unix socket on a read-only mount still accepts connections: the warm host's socket
    in the store would run anything a same-uid job asks. ``hide`` the store, ``keep`` what
    jobs need of it (the requirements layers)."""
    import socket

    if not os.access("/var/tmp", os.W_OK):
        pytest.skip("needs a writable /var/tmp: a store outside /tmp, which jobs do not see")
    store = Path(tempfile.mkdtemp(prefix="moonpipe-store-", dir="/var/tmp"))
    (store / "warm").mkdir(parents=True)
    (store / "layers/abc").mkdir(parents=True)
    (store / "layers/abc/mod.py").write_text("X = 1\n")
    job_root = store / "jobs/j1"
    job_root.mkdir(parents=True)
    sock_path = str(store / "warm/host.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(sock_path)
    server.listen(1)
    try:

        def job() -> dict:
            c = socket.socket(socket.AF_UNIX)
            try:
                c.connect(sock_path)
                reached = "connected"
            except OSError as err:
                reached = err.errno
            return {
                "socket": reached,
                "layer": open(str(store / "layers/abc/mod.py")).read(),
                "store": sorted(os.listdir(str(store))),
                "write": try_write(str(store / "x")),
            }

        open_view, _ = in_job(job, view(job_root, keep=(*view(job_root).keep, store / "layers")))
        assert open_view["socket"] == "connected"  # the hole
        result, _ = in_job(
            job, view(job_root, hide=(store,), keep=(*view(job_root).keep, store / "layers"))
        )
        assert result["socket"] == 2  # ENOENT
        assert result["layer"] == "X = 1\n" and result["store"] == ["layers"]
        assert result["write"] == "EROFS"
    finally:
        server.close()
        import shutil

        shutil.rmtree(store)


def test_a_checkout_under_tmp_keeps_its_code_and_hides_its_store(tmp_path: Path) -> None:
    """A fresh clone under /tmp (its .venv kept inside the private /tmp) with the store in
    the checkout, as `make run` makes it: every job failed with mount_setattr's EINVAL, the
    checkout's bind covering the store's empty mount."""
    checkout = tmp_path / "moonpipe"
    (checkout / ".venv/lib").mkdir(parents=True)
    (checkout / ".venv/lib/site.py").write_text("VENV = 1\n")
    store = checkout / ".moonpipe"
    (store / "warm").mkdir(parents=True)
    (store / "warm/host.key").write_text("secret")
    job_root = store / "executions/e1/jobs/A"
    job_root.mkdir(parents=True)

    def job() -> dict:
        return {
            "venv": open(str(checkout / ".venv/lib/site.py")).read(),
            "store": sorted(os.listdir(str(store))),
            "tmp": sorted(os.listdir("/tmp")),
        }

    seen = view(job_root, hide=(store,), keep=(*view(job_root).keep, checkout))
    result, code = in_job(job, seen)
    assert code == 0, result
    assert result["venv"] == "VENV = 1\n"
    assert result["store"] == []  # hidden, not visible through the kept checkout
    # the private /tmp shows only what is kept in it (the checkout, the interpreter's folders)
    assert tmp_path.relative_to("/tmp").parts[0] in result["tmp"]


def test_namespaces_are_available_here() -> None:
    """Where the suite runs (CI: Linux, root), namespaces work: the fallback is not taken by
    accident. Elsewhere available() names why, in one line."""
    from pipeline.local.runtime.namespace import available

    reason = available()
    if sys.platform.startswith("linux") and os.environ.get("CI"):
        assert reason is None
    assert reason is None or "\n" not in reason
