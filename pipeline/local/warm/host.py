"""The warm job host: imports the heavy libraries once, then forks each job from a clean parent.

Run as a program (``python host.py WARM_DIR IDLE_S MODULE...``), never imported by the engine:
it imports nothing of ours, so a job sees in ``sys.modules`` only what a fresh interpreter
plus the preloaded libraries would hold. The parent never runs job code; every job is a
fresh fork, so a module a job imports or a global it sets dies with it.

Protocol, one Unix-socket connection per request (socket 0600 in a 0700 folder, and the
peer's uid checked): first the client's nonce, answered with ``{"proof": HMAC}`` under the
store's key (``host.key``, read at start: the host proves it is this store's before it is
sent anything); then a JSON line, plus for a job the write end of the job's output pipe
(and a shared network's namespaces) passed as file descriptors. Replies are JSON lines:
``{"pid": N}`` then ``{"exit": code}``. A job with a ``view`` runs in its own namespaces.
If the client goes away while its job runs, the job is killed (as PR_SET_PDEATHSIG does for
a subprocess of the engine). The host leaves after ``IDLE_S`` without jobs, or when asked.

A host may be started before its command knows it will run anything (``python host.py
--pending WARM_DIR IDLE_S MODULE...``): it imports at once but creates nothing and serves
nobody until its starter writes a line on its stdin (having written the store's key); if
stdin closes first (the command was refused, or ended without a job) it leaves at once. So
a command overlaps these imports with its own checks, and a refused command still leaves
nothing behind.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import hmac
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fork_child import run_job, run_module

SOCKET_NAME = "host.sock"
KEY_NAME = "host.key"
LOG_NAME = "host.log"
PENDING = "--pending"
_TICK_S = 0.2
_MAX_FDS = 4  # a job's output pipe, and a shared network's two namespaces


def main(argv: list[str]) -> int:
    """Bind first (clients may queue while the libraries load), preload, then serve."""
    if argv[1] == PENDING:
        return _main_pending(Path(argv[2]), float(argv[3]), argv[4:])
    warm_dir, idle_s, modules = Path(argv[1]), float(argv[2]), argv[3:]
    os.chdir(warm_dir)  # bind by a short relative name: store paths can pass 108 bytes
    old = os.umask(0o177)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(SOCKET_NAME)
    os.umask(old)
    listener.listen(64)
    mine = os.stat(SOCKET_NAME).st_ino
    try:
        with open(KEY_NAME, "rb") as key:
            host = Host(listener, idle_s, key.read())
        preload(modules, between=host.tick)  # a job that comes early need not wait for torch
        host.preloaded = True
        return host.serve()
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            if os.stat(SOCKET_NAME).st_ino == mine:  # not a newer host's socket
                os.unlink(SOCKET_NAME)


def _main_pending(warm_dir: Path, idle_s: float, modules: list[str]) -> int:
    """A pending host: preload now; bind and serve once told (see the module docstring)."""
    commit = _Commitment(warm_dir, idle_s)
    host: Host | None = None

    def between(timeout: float) -> None:
        nonlocal host
        if host is None and commit.ready.is_set():
            host = commit.host()
        if host is not None:
            host.tick(timeout)

    preload(modules, between=between)
    commit.ready.wait()
    host = host or commit.host()
    host.preloaded = True
    try:
        return host.serve()
    finally:
        host.listener.close()
        with contextlib.suppress(FileNotFoundError):
            if os.stat(SOCKET_NAME).st_ino == commit.inode:  # not a newer host's socket
                os.unlink(SOCKET_NAME)


class _Commitment:
    """Waits on stdin for the store (in a thread, so imports go on meanwhile) and binds there.

    The thread ends before the first fork: :meth:`host` joins it.
    """

    def __init__(self, warm_dir: Path, idle_s: float) -> None:
        self.ready = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.warm_dir, self.idle_s, self.inode, self.key = warm_dir, idle_s, -1, b""
        self._thread = threading.Thread(target=self._wait, name="commit", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        try:
            self._bind_when_told()
        except BaseException as err:  # a host that cannot serve must not wait for ever
            print(f"warm host: cannot serve: {err}", file=sys.stderr, flush=True)
            os._exit(1)

    def _bind_when_told(self) -> None:
        if not sys.stdin.buffer.readline():
            os._exit(0)  # abandoned: nothing was created, nothing is left
        folder = os.open(self.warm_dir, os.O_PATH | os.O_DIRECTORY)
        try:  # by the folder's handle: a store's path can pass the 108 bytes a socket takes
            with open(f"/proc/self/fd/{folder}/{KEY_NAME}", "rb") as key:
                self.key = key.read()
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
            log = os.open(f"/proc/self/fd/{folder}/{LOG_NAME}", flags, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
            old = os.umask(0o177)
            self.listener.bind(f"/proc/self/fd/{folder}/{SOCKET_NAME}")
            os.umask(old)
            self.inode = os.stat(f"/proc/self/fd/{folder}/{SOCKET_NAME}").st_ino
        finally:
            os.close(folder)
        self.listener.listen(64)
        self.ready.set()

    def host(self) -> Host:
        """The serving host, in the main thread (signals), once bound."""
        self._thread.join()
        os.chdir(self.warm_dir)
        return Host(self.listener, self.idle_s, self.key)


def preload(modules: list[str], between: Any = None) -> None:
    """Import what jobs will need; torch keeps one thread, set before any pool starts.

    Thread pools and fork do not mix: a child forked while an OpenMP pool runs can hang.
    torch's pools start lazily on the first parallel op, which the host never runs.
    ``between`` serves requests that arrived meanwhile (a job forked before torch is
    imported imports it itself, at a subprocess's cost, not more).
    """
    for name in modules:
        if between is not None:
            between(0.0)
        try:
            importlib.import_module(name)
        except Exception as err:  # a job that needs it will say so itself
            print(f"warm host: cannot preload {name}: {err}", file=sys.stderr, flush=True)
        if name == "torch" and "torch" in sys.modules:
            torch: Any = sys.modules["torch"]
            torch.set_num_threads(1)
            torch.set_num_interop_threads(1)


class Host:
    """A single-threaded select loop (no threads: forking a threaded process is unsafe)."""

    def __init__(self, listener: socket.socket, idle_s: float, key: bytes) -> None:
        self.listener, self.idle_s, self.key = listener, idle_s, key
        self.sel = selectors.DefaultSelector()
        self.sel.register(listener, selectors.EVENT_READ)
        # A job's end wakes the loop at once (SIGCHLD through a self-pipe), not at the next tick.
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wake_w)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.jobs: dict[int, socket.socket] = {}  # pid -> the client's connection
        self.last_busy = time.monotonic()
        self.stopping = False
        self.preloaded = False  # a job forked before imports what it needs itself

    def tick(self, timeout: float) -> None:
        """Handle what is ready (new requests, ended jobs, gone clients) within ``timeout``."""
        for key, _ in self.sel.select(timeout):
            if key.fileobj is self.listener:
                self.accept()
            elif key.fileobj == self.wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_r, 4096)
            else:
                self.client_gone(key.fileobj, key.data)  # type: ignore[arg-type]
        self.reap()

    def serve(self) -> int:
        """Serve until idle for ``idle_s`` or stopped; children are reaped each tick."""
        while not self.stopping:
            self.tick(_TICK_S)
            if self.jobs:
                self.last_busy = time.monotonic()
            elif time.monotonic() - self.last_busy > self.idle_s:
                break
        for pid in list(self.jobs):
            _kill(pid)
        self.reap(block=True)
        return 0

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            self.handle(conn)
        except (OSError, ValueError) as err:
            _reply(conn, {"error": f"{type(err).__name__}: {err}"})
            conn.close()

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            raise ValueError("refused: another user")
        hello, stray = _receive(conn)
        for fd in stray:
            os.close(fd)
        nonce = str(hello.get("nonce", "")).encode()
        _reply(conn, {"proof": hmac.new(self.key, nonce, hashlib.sha256).hexdigest()})
        request, fds = _receive(conn)
        self.last_busy = time.monotonic()
        if request.get("cmd") == "ping":
            _reply(conn, {"pid": os.getpid(), "preloaded": self.preloaded})
            conn.close()
        elif request.get("cmd") == "stop":
            self.stopping = True
            _reply(conn, {"stopping": os.getpid()})
            conn.close()
        elif request.get("cmd") == "run" and len(fds) >= 1:
            self.start(conn, request, fds[0], fds[1:])
        elif request.get("cmd") == "spawn" and len(fds) == 1:
            _reply(conn, {"pid": self.spawn(request, fds[0])})
            conn.close()
        else:
            for fd in fds:
                os.close(fd)
            raise ValueError("unknown request")

    def start(
        self, conn: socket.socket, request: dict[str, Any], out_fd: int, share: list[int]
    ) -> None:
        pid = os.fork()
        if pid == 0:
            self._forget_parent()
            run_job(request, out_fd, share)  # never returns
        os.close(out_fd)
        for fd in share:
            os.close(fd)
        self.jobs[pid] = conn
        _reply(conn, {"pid": pid})
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, pid)

    def spawn(self, request: dict[str, Any], out_fd: int) -> int:
        """Start a detached server (its own session; it outlives the host); its pid.

        A double fork: the middle process exits at once, so the server is nobody's child
        here and is never killed with a job's client.
        """
        read_end, write_end = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(read_end)
            os.setsid()
            server = os.fork()
            if server == 0:
                os.close(write_end)
                self._forget_parent()
                run_module(request, out_fd)  # never returns
            os.write(write_end, str(server).encode())
            os._exit(0)
        os.close(write_end)
        os.close(out_fd)
        with os.fdopen(read_end, "rb") as pipe:
            server_pid = int(pipe.read() or b"0")
        os.waitpid(middle, 0)
        return server_pid

    def _forget_parent(self) -> None:
        signal.set_wakeup_fd(-1)
        os.close(self.wake_r)
        os.close(self.wake_w)
        self.listener.close()
        for other in self.jobs.values():
            other.close()

    def client_gone(self, conn: socket.socket, pid: int) -> None:
        """The client closed its end (it died or was killed): its job must not outlive it."""
        try:
            if conn.recv(1):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        _kill(pid)

    def reap(self, block: bool = False) -> None:
        while self.jobs:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.jobs.pop(pid, None)
            if conn is not None:
                self.sel.unregister(conn)
                conn.setblocking(True)
                _reply(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data, ancdata, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(_MAX_FDS * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    while not data.endswith(b"\n"):
        more = conn.recv(1 << 20)
        if not more:
            break
        data += more
    return json.loads(data), list(fds)


def _reply(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
