"""The warm job host: imports the heavy libraries once, then forks each job from a clean parent.

Run as a program (``python host.py WARM_DIR IDLE_S MODULE...``), never imported by the engine:
it imports nothing of ours, so a job sees in ``sys.modules`` only what a fresh interpreter
plus the preloaded libraries would hold. The parent never runs job code; every job is a
fresh fork, so a module a job imports or a global it sets dies with it.

Protocol, one Unix-socket connection per request (socket 0600 in a 0700 folder, and the
peer's uid checked): a JSON line, plus for a job the write end of the job's output pipe
passed as a file descriptor. Replies are JSON lines: ``{"pid": N}`` then ``{"exit": code}``.
If the client goes away while its job runs, the job is killed (as PR_SET_PDEATHSIG does for
a subprocess of the engine). The host leaves after ``IDLE_S`` without jobs, or when asked.
"""

from __future__ import annotations

import array
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

SOCKET_NAME = "host.sock"
_BASE_PATH = list(sys.path[1:])  # a plain interpreter's path, without this file's folder
_TICK_S = 0.2


def main(argv: list[str]) -> int:
    """Bind first (clients may queue while the libraries load), preload, then serve."""
    warm_dir, idle_s, modules = Path(argv[1]), float(argv[2]), argv[3:]
    os.chdir(warm_dir)  # bind by a short relative name: store paths can pass 108 bytes
    old = os.umask(0o177)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(SOCKET_NAME)
    os.umask(old)
    listener.listen(64)
    mine = os.stat(SOCKET_NAME).st_ino
    preload(modules)
    try:
        return Host(listener, idle_s).serve()
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            if os.stat(SOCKET_NAME).st_ino == mine:  # not a newer host's socket
                os.unlink(SOCKET_NAME)


def preload(modules: list[str]) -> None:
    """Import what jobs will need; torch keeps one thread, set before any pool starts.

    Thread pools and fork do not mix: a child forked while an OpenMP pool runs can hang.
    torch's pools start lazily on the first parallel op, which the host never runs.
    """
    for name in modules:
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

    def __init__(self, listener: socket.socket, idle_s: float) -> None:
        self.listener, self.idle_s = listener, idle_s
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

    def serve(self) -> int:
        """Serve until idle for ``idle_s`` or stopped; children are reaped each tick."""
        while not self.stopping:
            for key, _ in self.sel.select(_TICK_S):
                if key.fileobj is self.listener:
                    self.accept()
                elif key.fileobj == self.wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                else:
                    self.client_gone(key.fileobj, key.data)  # type: ignore[arg-type]
            self.reap()
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
        request, fds = _receive(conn)
        self.last_busy = time.monotonic()
        if request.get("cmd") == "ping":
            _reply(conn, {"pid": os.getpid()})
            conn.close()
        elif request.get("cmd") == "stop":
            self.stopping = True
            _reply(conn, {"stopping": os.getpid()})
            conn.close()
        elif request.get("cmd") == "run" and len(fds) == 1:
            self.start(conn, request, fds[0])
        else:
            for fd in fds:
                os.close(fd)
            raise ValueError("unknown request")

    def start(self, conn: socket.socket, request: dict[str, Any], out_fd: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.listener.close()
            for other in self.jobs.values():
                other.close()
            run_job(request, out_fd)  # never returns
        os.close(out_fd)
        self.jobs[pid] = conn
        _reply(conn, {"pid": pid})
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, pid)

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


def run_job(request: dict[str, Any], out_fd: int) -> None:
    """In the forked child: become the job (argv, env, cwd, output, signals), run, exit.

    What ``python PROGRAM ARGS`` would do: ``sys.argv`` is the program and its arguments,
    ``sys.path[0]`` the program's folder, ``__main__`` the program; an uncaught exception
    prints its traceback (from the program's frames on) and exits 1; SystemExit's code is
    the exit code; atexit handlers and non-daemon threads finish first.
    """
    code = 1
    try:
        program = become_job(request, out_fd)
        code = _run_program(program)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def become_job(request: dict[str, Any], out_fd: int) -> str:
    """Take on the job's process state; returns the program's path."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with_host()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    os.chdir(request["cwd"])
    encoding = (env.get("PYTHONIOENCODING") or "utf-8").split(":")[0] or "utf-8"
    sys.stdin = _text(0, "r", encoding, "strict")
    sys.stdout = _text(1, "w", encoding, "strict")
    sys.stderr = _text(2, "w", encoding, "backslashreplace")
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    program = os.path.abspath(request["argv"][0])
    sys.argv = list(request["argv"])
    sys.argv[0] = request["argv"][0]
    sys.path[:] = [os.path.dirname(program), *_BASE_PATH]
    return program


def _text(fd: int, mode: str, encoding: str, errors: str) -> Any:
    """A line-buffered text stream on ``fd``, as python -u gives a job (PYTHONUNBUFFERED)."""
    return open(fd, mode, encoding=encoding, errors=errors, closefd=False, buffering=1)


def _run_program(program: str) -> int:
    import threading
    import traceback

    try:
        _exec_main(program)
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException as err:
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != program:
            tb = tb.tb_next
        traceback.print_exception(type(err), err, tb or err.__traceback__)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    import atexit

    atexit._run_exitfuncs()
    return code


def _exec_main(program: str) -> None:
    """Run the file as ``__main__`` the way the interpreter runs a script (runpy would
    rewrite ``sys.argv[0]``): a fresh module, absolute ``__file__``, no ``__spec__``."""
    import builtins
    import io
    import types

    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=program, __builtins__=builtins, __cached__=None)
    main.__spec__ = None
    sys.modules["__main__"] = main
    with io.open_code(program) as source:
        code = compile(source.read(), program, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def _exit_code(code: object) -> int:
    """SystemExit's code as python's own exit: None 0, an int itself, else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _die_with_host() -> None:
    """The kernel kills the job if the host dies (even by SIGKILL), as for a subprocess."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data, ancdata, _, _ = conn.recvmsg(1 << 20, socket.CMSG_LEN(fds.itemsize))
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
