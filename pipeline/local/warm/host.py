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

Lanes (``... MODULE... --lane NAME MODULE...``): a lane is a second forked parent that
holds what one kind of container holds (the scikit-learn processing image: no torch), so a
new store's imports run on two cores, not one after the other. The host imports the
modules both lists start with, forks the lane, and each goes on with the rest of its own
list; the lane serves its own socket (``lane-NAME.sock``, same key, same checks) and its
jobs while the host still imports torch. The host binds its socket only once every lane's
is bound (a client that sees ``host.sock`` finds the lanes too), and a lane leaves with
its host: it serves until the pipe from the host reads end of file.
"""

from __future__ import annotations

import array
import contextlib
import gc
import hashlib
import hmac
import importlib
import json
import os
import select
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
LANE = "--lane"
_LANE_WAIT_S = 30.0
_TICK_S = 0.2
_MAX_FDS = 4  # a job's output pipe, a shared network's two namespaces, (to a spare) its client
_REPORT = "report_to_client"  # host to spare: the last descriptor is the client's connection


def main(argv: list[str]) -> int:
    """Preload (forking the lanes once their shared imports are done), bind, then serve.

    Started pending (``--pending``), the host binds only once its starter says so; else at
    once. Either way it binds after its lanes (see the module docstring).
    """
    pending = argv[1] == PENDING
    warm_dir, idle_s, modules, lanes = parse_args(argv[2:] if pending else argv[1:])
    shared = common_prefix([modules, *lanes.values()]) if lanes else []
    commit = _Commitment(warm_dir, idle_s, [Lane(name) for name in lanes], pending)
    host: Host | None = None

    def between(timeout: float) -> None:
        nonlocal host
        if host is None and commit.ready.is_set():
            host = commit.host()
        if host is not None:
            host.tick(timeout)

    preload(shared, between=between)
    for lane in commit.lanes:
        lane.fork(lambda lane=lane: _lane_main(lane, lanes[lane.name][len(shared) :], commit))
    preload(modules[len(shared) :], between=between)  # a job that comes early need not wait
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


def parse_args(args: list[str]) -> tuple[Path, float, list[str], dict[str, list[str]]]:
    """``WARM_DIR IDLE_S MODULE... [--lane NAME MODULE...]...``: the folder, the idle
    timeout, the host's modules and each lane's."""
    warm_dir, idle_s, rest = Path(args[0]), float(args[1]), args[2:]
    modules: list[str] = []
    lanes: dict[str, list[str]] = {}
    current: list[str] | None = None
    while rest:
        word = rest.pop(0)
        if word == LANE:
            current = lanes.setdefault(rest.pop(0), [])
        else:
            (modules if current is None else current).append(word)
    return warm_dir, idle_s, modules, lanes


def common_prefix(lists: list[list[str]]) -> list[str]:
    """The modules every list starts with (imported once, before the lanes fork)."""
    shared: list[str] = []
    for names in zip(*lists, strict=False):
        if len(set(names)) != 1:
            break
        shared.append(names[0])
    return shared


class _Commitment:
    """Waits for the store (stdin, in a thread, so imports go on meanwhile; at once when
    not pending), has every lane bind its socket, then binds the host's.

    The thread ends before the host's first fork: :meth:`host` joins it. (Lanes fork while
    it may still wait: it holds no lock a lane uses.)
    """

    def __init__(self, warm_dir: Path, idle_s: float, lanes: list[Lane], pending: bool) -> None:
        self.ready = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.warm_dir, self.idle_s, self.inode, self.key = warm_dir, idle_s, -1, b""
        self.lanes, self.pending = lanes, pending
        self._thread = threading.Thread(target=self._wait, name="commit", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        try:
            self._bind_when_told()
        except BaseException as err:  # a host that cannot serve must not wait for ever
            print(f"warm host: cannot serve: {err}", file=sys.stderr, flush=True)
            os._exit(1)

    def _bind_when_told(self) -> None:
        if self.pending and not sys.stdin.buffer.readline():
            os._exit(0)  # abandoned: nothing was created, nothing is left
        folder = os.open(self.warm_dir, os.O_PATH | os.O_DIRECTORY)
        try:  # by the folder's handle: a store's path can pass the 108 bytes a socket takes
            with open(f"/proc/self/fd/{folder}/{KEY_NAME}", "rb") as key:
                self.key = key.read()
            _log_to(folder)
            for lane in self.lanes:
                lane.tell(self.key)
            for lane in self.lanes:
                lane.wait_bound()
            self.inode = publish(self.listener, folder, SOCKET_NAME)
        finally:
            os.close(folder)
        self.ready.set()

    def host(self) -> Host:
        """The serving host, in the main thread (signals), once bound."""
        self._thread.join()
        os.chdir(self.warm_dir)
        lanes = [lane.told_w for lane in self.lanes]
        return Host(self.listener, self.idle_s, self.key, lanes=lanes)


def _log_to(folder: int) -> None:
    """Standard output and error to the warm folder's host.log (appended, 0600)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    log = os.open(f"/proc/self/fd/{folder}/{LOG_NAME}", flags, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


class Lane:
    """The host's end of one lane: a pipe to tell it the key (its end of file: the host
    has gone) and one on which it says its socket is bound."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.told_r, self.told_w = os.pipe()
        self.ack_r, self.ack_w = os.pipe()
        self.pid = 0
        self._lock = threading.Lock()
        self._given_up = False

    def fork(self, child: Any) -> None:
        """Fork the lane (``child`` never returns), unless the host gave up waiting."""
        with self._lock:
            if self._given_up:
                return
            self.pid = os.fork()
            if self.pid == 0:
                child()
        os.close(self.told_r)
        os.close(self.ack_w)

    def tell(self, key: bytes) -> None:
        """Send the store's key: the lane may bind and serve."""
        with contextlib.suppress(OSError):  # it died: the host serves its jobs
            os.write(self.told_w, b"serve " + key.hex().encode() + b"\n")

    def wait_bound(self) -> None:
        """Until the lane's socket is bound, it died, or it has not come in 30 s."""
        ready, _, _ = select.select([self.ack_r], [], [], _LANE_WAIT_S)
        with self._lock:
            if not ready and not self.pid:
                self._given_up = True  # (the host's imports never got this far)
        os.close(self.ack_r)


def _lane_main(lane: Lane, modules: list[str], commit: _Commitment) -> None:
    """In the forked lane: its imports, then serve its socket until the host goes."""
    code = 1
    try:
        commit.listener.close()  # the host's (not yet bound): the lane has its own
        for end in [lane.ack_r] + [other.told_w for other in commit.lanes]:
            os.close(end)  # (another lane's: it must see the host's end of file, not ours)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the starter's pipe stays the host's alone
        os.close(null)
        orders = _LaneOrders(lane, commit.warm_dir)
        preload(modules)
        code = orders.serve(commit.idle_s)
    finally:
        os._exit(code)


class _LaneOrders:
    """The lane's wait for the key (a thread, so its imports go on) and its socket."""

    def __init__(self, lane: Lane, warm_dir: Path) -> None:
        self.lane, self.warm_dir = lane, warm_dir
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.key, self.inode = b"", -1
        self._thread = threading.Thread(target=self._wait, name="lane", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        try:
            line = _read_line(self.lane.told_r)
            if not line.startswith(b"serve "):
                os._exit(0)  # the host left before the store was chosen
            self.key = bytes.fromhex(line[6:].decode())
            self._bind()
        except BaseException as err:  # the host serves the lane's jobs instead
            print(f"warm host lane {self.lane.name}: {err}", file=sys.stderr, flush=True)
            os._exit(1)
        finally:
            os.close(self.lane.ack_w)  # bound, or never: the host goes on either way

    def _bind(self) -> None:
        name = lane_socket(self.lane.name)
        folder = os.open(self.warm_dir, os.O_PATH | os.O_DIRECTORY)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=folder)  # a lane's that died without its host
            self.inode = publish(self.listener, folder, name)
            _log_to(folder)
        finally:
            os.close(folder)

    def serve(self, idle_s: float) -> int:
        """Serve the lane's socket once bound, until idle or the host's end of file."""
        self._thread.join()
        os.chdir(self.warm_dir)
        host = Host(self.listener, idle_s, self.key, parent=self.lane.told_r)
        host.preloaded = True
        try:
            return host.serve()
        finally:
            self.listener.close()
            name = lane_socket(self.lane.name)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(name).st_ino == self.inode:  # not a newer lane's socket
                    os.unlink(name)


def publish(listener: socket.socket, folder: int, name: str) -> int:
    """Bind ``listener`` under ``name`` in ``folder`` (mode 0600), listening before the name
    exists: a client that finds the socket connects. (Bound at its name, then listening, a
    client that came in between was refused, took the host for dead, removed its socket and
    started a second host.) Bound under a temporary name, it is linked to ``name``, which
    fails if something is there already. The mode is set by chmod, not umask: the umask is
    the whole process's, and this runs in a thread beside the imports. Returns the inode."""
    temporary = f".{name}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=folder)
    listener.bind(f"/proc/self/fd/{folder}/{temporary}")  # in the host's 0700 folder
    try:
        os.chmod(temporary, 0o600, dir_fd=folder)
        listener.listen(64)
        os.link(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        os.unlink(temporary, dir_fd=folder)
    return os.stat(name, dir_fd=folder).st_ino


def _read_line(fd: int) -> bytes:
    """One line from a pipe, byte by byte (nothing read past it); b"" at end of file."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            return b""
        line += byte
    return line


def lane_socket(name: str) -> str:
    """The socket a lane serves in the warm folder."""
    return f"lane-{name}.sock"


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
    gc.freeze()  # a job's collections pass over the libraries' objects (their pages stay shared)


class Host:
    """A single-threaded select loop (no threads: forking a threaded process is unsafe)."""

    def __init__(
        self,
        listener: socket.socket,
        idle_s: float,
        key: bytes,
        lanes: list[int] | None = None,
        parent: int | None = None,
    ) -> None:
        """``lanes``: the host's pipes to its lanes; ``parent``: a lane's pipe from its
        host. No job may hold either (a job holding one would keep a lane after its host)."""
        self.listener, self.idle_s, self.key = listener, idle_s, key
        self.lanes, self.parent = lanes or [], parent
        self.keep_out = [*self.lanes, *([parent] if parent is not None else [])]
        self.draining = False
        self.sel = selectors.DefaultSelector()
        self.sel.register(listener, selectors.EVENT_READ)
        if parent is not None:
            self.sel.register(parent, selectors.EVENT_READ)
        # A job's end wakes the loop at once (SIGCHLD through a self-pipe), not at the next tick.
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wake_w)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.jobs: dict[int, socket.socket] = {}  # pid -> the client's connection
        self.spare: tuple[int, socket.socket] | None = None  # the next job, forked ahead
        self.last_busy = time.monotonic()
        self.stopping = False
        self.preloaded = False  # a job forked before imports what it needs itself

    def tick(self, timeout: float) -> None:
        """Handle what is ready (new requests, ended jobs, gone clients) within ``timeout``;
        then, unless a request waits, fork the next job's process (:meth:`keep_spare`)."""
        for key, _ in self.sel.select(timeout):
            if key.fileobj is self.listener:
                self.accept()
            elif key.fileobj == self.wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_r, 4096)
            elif key.fileobj == self.parent:
                self.heard_from_host()
            else:
                self.client_gone(key.fileobj, key.data)  # type: ignore[arg-type]
        self.reap()
        self.keep_spare(unless_asked=True)

    def serve(self) -> int:
        """Serve until idle for ``idle_s`` or stopped; children are reaped each tick."""
        while not self.stopping:
            self.tick(_TICK_S)
            if self.jobs:
                self.last_busy = time.monotonic()
            elif self.draining or time.monotonic() - self.last_busy > self.idle_s:
                break
        if self.stopping:  # asked to leave: so are its lanes (each kills its jobs too)
            for fd in self.lanes:
                with contextlib.suppress(OSError):
                    os.write(fd, b"stop\n")
        self.drop_spare()
        for pid in list(self.jobs):
            _kill(pid)
        self.reap(block=True)
        return 0

    def heard_from_host(self) -> None:
        """A lane's host said stop (its jobs are killed, as the host's are), or went away
        (idle, or killed): the lane takes no new job and leaves once its jobs end."""
        assert self.parent is not None
        message = os.read(self.parent, 4096)
        if message.startswith(b"stop"):
            self.stopping = True
            return
        if not message:
            self.sel.unregister(self.parent)
            self.sel.unregister(self.listener)
            self.listener.close()  # new clients are refused: they start a new host
            self.draining = True
            self.drop_spare()

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
            spare = self.spare[0] if self.spare else None
            _reply(conn, {"pid": os.getpid(), "preloaded": self.preloaded, "spare": spare})
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
        """The job runs in the spare forked after the last one (else in a fork made now);
        the next spare is forked once the client has its pid, while the job runs."""
        # The client's connection goes along: a job's supervisor writes the exit line
        # before its own ~7 ms exit (the host's reply on reaping it comes second).
        pid = self.hand_to_spare({**request, _REPORT: True}, [out_fd, *share, conn.fileno()])
        if pid is None:
            pid = os.fork()
            if pid == 0:
                report = os.dup(conn.fileno())
                self._forget_parent()
                conn.close()
                run_job(request, out_fd, share, report)  # never returns
        os.close(out_fd)
        for fd in share:
            os.close(fd)
        self.jobs[pid] = conn
        _reply(conn, {"pid": pid})
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, pid)
        self.keep_spare()

    def keep_spare(self, unless_asked: bool = False) -> None:
        """Fork the next job's process ahead of its request (a fork of a process holding
        torch is ~10 ms: off the path from a request to its job). It waits on a socket of
        its own for the request, and leaves when the host closes it or dies.
        ``unless_asked``: not while a request waits (it would wait for the fork)."""
        if self.spare is not None or not self.preloaded or self.stopping or self.draining:
            return
        if unless_asked and select.select([self.listener], [], [], 0)[0]:
            return
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            mine.close()
            self._forget_parent()
            _become_the_next_job(theirs)  # never returns
        theirs.close()
        self.spare = (pid, mine)

    def hand_to_spare(self, request: dict[str, Any], fds: list[int]) -> int | None:
        """Send the job to the spare; its pid, or None without a spare that took it."""
        if self.spare is None:
            return None
        pid, mine = self.spare
        self.spare = None
        try:
            socket.send_fds(mine, [json.dumps(request).encode() + b"\n"], fds)
        except OSError:
            _kill(pid)  # (it is reaped like any child that is not a job)
            return None
        finally:
            mine.close()
        return pid

    def drop_spare(self) -> None:
        """The spare leaves (its socket closes: it reads the end of it and exits)."""
        if self.spare is not None:
            self.spare[1].close()
            self.spare = None

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
        """In a fork of the host: close everything of the host's (a job holds only its
        own descriptors; the selector's epoll instance used to stay open in every job)."""
        signal.set_wakeup_fd(-1)
        self.sel.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        self.listener.close()
        for fd in self.keep_out:
            os.close(fd)
        for other in self.jobs.values():
            other.close()
        if self.spare is not None:
            self.spare[1].close()

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


def _become_the_next_job(sock: socket.socket) -> None:
    """In a spare: wait for the job the host hands over, then become it (never returns).
    The host closing the socket (it left, or died) ends the spare."""
    try:
        request, fds = _receive(sock)
    except (OSError, ValueError):  # the end of the socket: no job will come
        os._exit(0)
    sock.close()
    if not fds:
        os._exit(0)
    report = fds.pop() if request.pop(_REPORT, False) and len(fds) > 1 else None
    run_job(request, fds[0], fds[1:], report)


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
