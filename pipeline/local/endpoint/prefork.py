"""One endpoint, one process per core: a supervisor and the workers it forks.

The supervisor is the process the manager starts (the record names its pid): it loads the
model, binds the port, and forks a worker per core. Every worker serves HTTP on the shared
listening socket with its own copy of the model (pipeline/local/endpoint/server.py), so
requests use every core instead of queueing for one interpreter lock; the kernel hands each
new connection to a worker that is waiting for one. The supervisor serves no request: it
keeps the workers, and coordinates what they must agree on.

- **Hot swap.** The worker that gets ``POST /_moonpipe/reload`` asks the supervisor, which has
  every worker load the new model beside the one it serves (*prepare*); once all have, each
  swaps it in (*commit*), and if any could not, each drops it (*abort*). Then the asking
  worker answers. Until the commit every request is answered by the old model, after it by
  the new one; none is refused. One swap at a time.
- **Drain** (SIGTERM: ``--delete-endpoint``, the manager's stop). A socket filter on the
  listener drops new connections' SYNs, so none completes from then on (they are refused
  once the listener closes); every worker takes what the kernel had already queued, answers
  what is in flight with ``Connection: close`` (http_limits.BoundedThreadingServer.drain) and
  exits; the supervisor exits once they have (SIGKILL for any still there after
  ``DRAIN_TIMEOUT_S``). Nothing in flight is reset.
- **Failure.** A worker that dies is replaced, loading the model served then; if a new worker
  dies within ``_STEADY_S`` of its start, the supervisor drains and exits instead of
  restarting it for ever. Workers get SIGTERM when the supervisor dies (PR_SET_PDEATHSIG).

Messages are JSON lines over one Unix socketpair per worker. The supervisor is one thread
(it forks; threads and fork do not mix); a worker reads its end in a thread of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import selectors
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pipeline.local.endpoint.http_limits import DRAIN_TIMEOUT_S

# (model spec or None for the model loaded before the fork, the worker's end) -> never returns
StartWorker = Callable[[socket.socket, "Mapping[str, Any] | None"], NoReturn]
_STEADY_S = 2.0  # a worker that dies sooner after its start is not restarted
_HOME_CHECK_S = 2.0  # how often the supervisor asks whether its store is still there
_PR_SET_PDEATHSIG = 1
_SO_ATTACH_FILTER = 26
_DROP_EVERYTHING = struct.pack("HBBI", 0x06, 0, 0, 0)  # BPF: ret #0


def worker_count() -> int:
    """One per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class ReloadRefused(Exception):
    """A swap the workers could not make; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Worker:
    pid: int
    link: socket.socket
    started: float
    buffer: bytes = b""
    linked: bool = True  # its link is in the selector (until the worker closes it)


@dataclass
class _Swap:
    """One hot swap in progress: who asked, and whom the supervisor still waits for."""

    id: int
    asker: int  # the asking worker's pid
    ref: int  # the asker's number for its request
    spec: dict[str, Any]
    phase: str = "prepare"
    waiting: set[int] = field(default_factory=set)
    error: tuple[int, str] | None = None
    status: dict[str, Any] | None = None


class Supervisor:
    """Forks and keeps ``count`` workers on ``listener``; see the module docstring."""

    def __init__(
        self,
        listener: socket.socket,
        count: int,
        start_worker: StartWorker,
        still_wanted: Callable[[], bool] | None = None,
    ) -> None:
        """``still_wanted``: asked every few seconds; once False the server drains and
        exits (its store was deleted: nothing could delete the endpoint any more)."""
        self.listener, self.count, self.start_worker = listener, count, start_worker
        self.still_wanted, self.next_check = still_wanted, 0.0
        self.workers: dict[int, _Worker] = {}
        self.spec: dict[str, Any] | None = None  # what a new worker loads (None: as forked)
        self.asked: deque[tuple[int, int, dict[str, Any]]] = deque()
        self.swap: _Swap | None = None
        self.ids = itertools.count(1)
        self.draining = False
        self.drain_deadline = 0.0
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()

    def run(self) -> int:
        """Fork the workers, keep them until drained; 0 after a drain, 3 if they kept dying."""
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        for _ in range(self.count):
            self._fork()
        failed = False
        while self.workers:
            for key, _ in self.sel.select(0.5):
                if key.fd == self.wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                else:
                    self._read(key.data)
            failed = self._reap() or failed
            if not self.draining and self._abandoned():
                self._on_stop()
            if self.draining and time.monotonic() > self.drain_deadline:
                for pid in self.workers:
                    _signal(pid, signal.SIGKILL)
        self.listener.close()
        return 3 if failed else 0

    def _abandoned(self) -> bool:
        """True once ``still_wanted`` says no (asked at most every _HOME_CHECK_S)."""
        now = time.monotonic()
        if self.still_wanted is None or now < self.next_check:
            return False
        self.next_check = now + _HOME_CHECK_S
        return not self.still_wanted()

    # -- workers ---------------------------------------------------------------------------

    def _fork(self) -> None:
        if self.draining:
            return
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            mine.close()
            self._forget_in_child()
            self.start_worker(theirs, self.spec)  # never returns
        theirs.close()
        mine.setblocking(False)
        self.workers[pid] = _Worker(pid, mine, time.monotonic())
        self.sel.register(mine, selectors.EVENT_READ, pid)

    def _forget_in_child(self) -> None:
        """In a new worker: no supervisor's signals, pipes or other workers' links."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        os.close(self.wake_r)
        os.close(self.wake_w)
        for worker in self.workers.values():
            worker.link.close()
        self.sel.close()
        _die_with_parent()

    def _reap(self) -> bool:
        """Collect ended workers; replace them unless draining. True if one died too young."""
        too_young = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return too_young
            if pid == 0:
                return too_young
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            if worker.linked:
                self.sel.unregister(worker.link)
            worker.link.close()
            self._forget_in_swap(pid)
            if self.draining:
                continue
            if time.monotonic() - worker.started < _STEADY_S:
                too_young = True
                self._on_stop()
            elif self.swap is None:
                self._fork()

    def _on_stop(self, *_: Any) -> None:
        """Drain: no new connection completes; every worker finishes what it has and exits."""
        if self.draining:
            return
        self.draining = True
        self.drain_deadline = time.monotonic() + DRAIN_TIMEOUT_S + 1.0
        with contextlib.suppress(OSError):  # not Linux: the workers' own close refuses them
            self.listener.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, _program())
        for pid in self.workers:
            _signal(pid, signal.SIGTERM)

    # -- messages --------------------------------------------------------------------------

    def _read(self, pid: int) -> None:
        worker = self.workers.get(pid)
        if worker is None:
            return
        try:
            chunk = worker.link.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the worker is ending; _reap collects it
            self.sel.unregister(worker.link)
            worker.linked = False
            return
        worker.buffer += chunk
        *lines, worker.buffer = worker.buffer.split(b"\n")
        for line in lines:
            self._message(pid, json.loads(line))

    def _message(self, pid: int, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "reload":
            self.asked.append((pid, int(message["ref"]), dict(message["spec"])))
            self._next_swap()
        elif self.swap is not None and message.get("id") == self.swap.id:
            self._answer(pid, message)

    def _next_swap(self) -> None:
        if self.swap is not None or not self.asked:
            return
        asker, ref, spec = self.asked.popleft()
        if self.draining:
            refusal = {"ok": False, "status": 503, "error": "the endpoint is being deleted"}
            self._send(asker, {"op": "result", "ref": ref, **refusal})
            self._next_swap()
            return
        self.swap = _Swap(next(self.ids), asker, ref, spec, waiting=set(self.workers))
        for pid in list(self.workers):
            self._send(pid, {"op": "prepare", "id": self.swap.id, "spec": spec})

    def _answer(self, pid: int, message: dict[str, Any]) -> None:
        swap = self.swap
        assert swap is not None
        swap.waiting.discard(pid)
        if not message.get("ok", False) and swap.error is None:
            swap.error = (int(message.get("status", 500)), str(message.get("error")))
        if message.get("model") is not None and pid == swap.asker:
            swap.status = message["model"]
        self._advance()

    def _forget_in_swap(self, pid: int) -> None:
        if self.swap is not None:
            self.swap.waiting.discard(pid)
            self._advance()

    def _advance(self) -> None:
        swap = self.swap
        if swap is None or swap.waiting:
            return
        if swap.phase == "prepare":
            swap.phase = "commit" if swap.error is None else "abort"
            swap.waiting = set(self.workers)
            for pid in list(self.workers):
                self._send(pid, {"op": swap.phase, "id": swap.id})
            if swap.waiting:
                return
        result: dict[str, Any] = {"op": "result", "ref": swap.ref, "ok": swap.phase == "commit"}
        if swap.phase == "commit":
            self.spec = swap.spec
            result["model"] = swap.status
        else:
            result["status"], result["error"] = swap.error or (500, "no worker loaded it")
        self._send(swap.asker, result)
        self.swap = None
        while len(self.workers) < self.count and not self.draining:
            self._fork()  # replacements wait for a swap to end: they load what it chose
        self._next_swap()

    def _send(self, pid: int, message: Mapping[str, Any]) -> None:
        worker = self.workers.get(pid)
        if worker is None:
            return
        try:
            worker.link.setblocking(True)
            worker.link.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            pass  # it is ending; _reap collects it
        finally:
            with contextlib.suppress(OSError):
                worker.link.setblocking(False)


class WorkerLink:
    """A worker's end of its socketpair: it answers the supervisor's prepare/commit/abort in
    a thread of its own, and asks it for a swap (:meth:`reload`)."""

    def __init__(
        self,
        link: socket.socket,
        prepare: Callable[[Mapping[str, Any]], Any],
        commit: Callable[[Any], dict[str, Any]],
    ) -> None:
        """``prepare(spec)`` loads a model (raising an exception with a ``status`` for a
        refusal); ``commit(model)`` swaps it in and returns its status."""
        self.link, self.prepare, self.commit = link, prepare, commit
        self._write = threading.Lock()
        self._refs = itertools.count(1)
        self._results: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._prepared: dict[int, Any] = {}
        self.gone = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._serve, name="supervisor-link", daemon=True).start()

    def reload(self, spec: Mapping[str, Any], timeout_s: float) -> dict[str, Any]:
        """Have every worker swap to ``spec``; the new model's status, or ReloadRefused."""
        ref = next(self._refs)
        done, answer = threading.Event(), list[dict[str, Any]]()
        self._results[ref] = (done, answer)
        try:
            self._send({"op": "reload", "ref": ref, "spec": dict(spec)})
            if not done.wait(timeout_s) or not answer:
                raise ReloadRefused(
                    503, f"the endpoint's workers did not answer in {timeout_s:g} s"
                )
        finally:
            self._results.pop(ref, None)
        result = answer[0]
        if not result.get("ok"):
            raise ReloadRefused(int(result.get("status", 500)), str(result.get("error")))
        return dict(result.get("model") or {})

    def _serve(self) -> None:
        with self.link.makefile("rb") as lines:
            for line in lines:
                self._handle(json.loads(line))
        self.gone.set()  # the supervisor died: the worker drains and exits
        for done, _ in list(self._results.values()):
            done.set()

    def _handle(self, message: dict[str, Any]) -> None:
        op, swap_id = message.get("op"), int(message.get("id", 0))
        if op == "result":
            waiting = self._results.get(int(message["ref"]))
            if waiting is not None:
                waiting[1].append(message)
                waiting[0].set()
        elif op == "prepare":
            try:
                self._prepared[swap_id] = self.prepare(message["spec"])
                self._send({"op": "prepared", "id": swap_id, "ok": True})
            except Exception as exc:  # the supervisor tells the asker, who answers it
                refusal = {"ok": False, "status": int(getattr(exc, "status", 500))}
                self._send({"op": "prepared", "id": swap_id, **refusal, "error": str(exc)})
        elif op == "commit":
            status = self.commit(self._prepared.pop(swap_id))
            self._send({"op": "committed", "id": swap_id, "ok": True, "model": status})
        elif op == "abort":
            self._prepared.pop(swap_id, None)
            self._send({"op": "aborted", "id": swap_id, "ok": True})

    def _send(self, message: Mapping[str, Any]) -> None:
        with self._write, contextlib.suppress(OSError):
            self.link.sendall(json.dumps(message).encode() + b"\n")


def _program() -> bytes:
    """A ``struct sock_fprog`` holding one BPF instruction that drops every packet (kept
    alive in a module global: the kernel copies it, but only during the call)."""
    global _filter
    _filter = ctypes.create_string_buffer(_DROP_EVERYTHING)
    return struct.pack("HL", 1, ctypes.addressof(_filter))


_filter: Any = None


def _die_with_parent() -> None:
    """SIGTERM this worker when the supervisor dies (Linux), so it drains instead of staying."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
