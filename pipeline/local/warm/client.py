"""The engine's side of the warm job host: find or start it through the store, run jobs on it.

One host serves a store (``<store>/warm/host.sock``), so a rerun from a new CLI process finds
the libraries already imported. It is started on demand, detached (it outlives the CLI, as
the endpoint server does), and leaves by itself after an idle timeout or on ``--stop-host``.
A :class:`WarmJob` looks like the ``subprocess.Popen`` the plain path uses (``stdout``,
``pid``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``), so stopping, time
limits and log merging are shared.

The host proves it is this store's before anything is sent to it: its folder must be a real
folder (no link) owned by this user and closed to others (0700), its socket a socket of this
user's (0600, no link), and every reply carries an HMAC of the request's nonce under the
store's own key (``warm/host.key``, 0600), which only this user can read. A host another
user planted, or one of another store reached through a link, is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.local.runtime.namespace import JobView
from pipeline.local.store.layout import StoreLayout

HOST_PROGRAM = Path(__file__).with_name("host.py")
SOCKET_NAME = "host.sock"
KEY_NAME = "host.key"
DEFAULT_IDLE_S = 600.0
# What the host imports (what the PyTorch images' jobs use), torch as early as it can:
# pandas after it, since the host serves between imports and training needs no pandas.
PRELOAD = ("numpy", "torch", "pandas")
# Its lanes (host.py): SageMaker's scikit-learn processing image holds no torch, so its
# jobs fork from a parent that imported what that image's jobs use, on the other core.
LANES: Mapping[str, Sequence[str]] = {
    "sklearn": ("numpy", "pandas", "sklearn.datasets", "sklearn.model_selection"),
}
_LANE_REPOSITORIES = {"sklearn": "sagemaker-scikit-learn"}  # the image's ECR repository
_START_TIMEOUT_S = 30.0


# The pending host this process started (WarmStarter.prepare), until a job needs it; a
# process forked from this one (a sweep point's worker) inherits it and may take it too.
_pending: subprocess.Popen[bytes] | None = None


class WarmHostError(RuntimeError):
    """The warm host could not be reached or started (the caller falls back to a subprocess)."""


class WarmHostRefused(WarmHostError):
    """What answers at the store's warm host is not provably this store's: nothing is sent
    to it, and no host is started in its place."""


class WarmJob:
    """A job forked by the host, seen through its output pipe and its connection."""

    def __init__(self, conn: socket.socket, out: int, pid: int, pending: bytes = b"") -> None:
        self.conn, self.pid = conn, pid
        self.stdout = open(out, encoding="utf-8", errors="replace")  # noqa: SIM115
        self.returncode: int | None = None
        self._buffer = pending

    def poll(self) -> int | None:
        """The exit code if the job has ended, else None (never blocks)."""
        if self.returncode is None:
            self._read_exit(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Block until the job ends; subprocess.TimeoutExpired after ``timeout`` seconds."""
        if self.returncode is None:
            self._read_exit(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"warm job {self.pid}", timeout or 0.0)
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM, SageMaker's stop signal (the host reports how the job ended)."""
        self.send_signal(15)

    def kill(self) -> None:
        """SIGKILL, when the job did not end after SIGTERM."""
        self.send_signal(9)

    def send_signal(self, sig: int) -> None:
        """Signal the job (with namespaces: its supervisor, which forwards to the job)."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def _read_exit(self, timeout: float | None) -> None:
        self.conn.settimeout(timeout)
        try:
            while not self._buffer.endswith(b"\n"):
                chunk = self.conn.recv(4096)
                if not chunk:  # the host died: the kernel killed the job with it
                    self._finish(-9)
                    return
                self._buffer += chunk
        except (BlockingIOError, TimeoutError):
            return
        self._finish(int(json.loads(self._buffer.splitlines()[-1]).get("exit", -9)))

    def _finish(self, code: int) -> None:
        self.returncode = code
        self.conn.close()
        self.stdout.close()  # read to its end by now, or abandoned by a stop


class WarmStarter:
    """Starts jobs on the store's warm host, starting the host when it is not there."""

    def __init__(
        self,
        store_root: Path,
        idle_s: float = DEFAULT_IDLE_S,
        preload: Sequence[str] = PRELOAD,
        lanes: Mapping[str, Sequence[str]] = LANES,
    ) -> None:
        self.warm_dir = StoreLayout(store_root).warm()
        self.idle_s, self.preload = idle_s, tuple(preload)
        self.lanes = {name: tuple(modules) for name, modules in lanes.items()}

    def prepare(self) -> None:
        """Start a pending host for this store now, unless a host serves it (host.py): it
        imports while the command checks its request and serves once :meth:`ensure` needs
        it. If nothing does, it leaves when this process ends: a refused command leaves
        neither a process nor a file behind."""
        global _pending
        if _pending is not None or self._serving():
            return
        from pipeline.local.handlers.jobs import host_environment

        _pending = subprocess.Popen(
            self._command(pending=True),
            cwd="/",
            env=host_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _serving(self) -> bool:
        try:
            self._request({"cmd": "ping"})
        except WarmHostError:
            return False
        return True

    def _command(self, pending: bool = False) -> list[str]:
        head = [sys.executable, str(HOST_PROGRAM)] + (["--pending"] if pending else [])
        lanes = [word for name, mods in self.lanes.items() for word in ("--lane", name, *mods)]
        return [*head, str(self.warm_dir), str(self.idle_s), *self.preload, *lanes]

    def lane_of(self, image: str | None) -> str | None:
        """The lane for a job of ``image`` (None: the host): a scikit-learn image's."""
        repository = (image or "").rsplit("/", 1)[-1].split(":")[0].split("@")[0]
        for name, wanted in _LANE_REPOSITORIES.items():
            if name in self.lanes and repository == wanted:
                return name
        return None

    def can_run(self, argv: Sequence[str], script: Path) -> bool:
        """Only ``<our python> SCRIPT.py ARGS`` whose SCRIPT is the file ``script`` (a shell
        wrapper or interpreter flags need a real exec)."""
        return (
            sys.platform.startswith("linux")
            and len(argv) >= 2
            and argv[0] == sys.executable
            and not argv[1].startswith("-")
            and argv[1].endswith(".py")
            and Path(script).is_file()
        )

    def shadowed_by(self, layer: Path | None) -> bool:
        """Whether a requirements layer holds a package the host preloaded: a fork would
        keep the host's copy (already in sys.modules), so such a job needs a fresh start."""
        if layer is None:
            return False
        every = [*self.preload, *(name for mods in self.lanes.values() for name in mods)]
        preloaded = {name.split(".")[0] for name in every}
        return any((layer / name).exists() for name in preloaded)

    def ensure(self) -> int:
        """The host's pid, starting it if needed (it may still be importing: requests queue).

        Raises WarmHostRefused, starting nothing, when what is there is not this store's.
        """
        try:
            return int(self._request({"cmd": "ping"})["pid"])
        except WarmHostRefused:
            raise
        except WarmHostError:
            pass
        with self._lock():
            try:
                return int(self._request({"cmd": "ping"})["pid"])
            except WarmHostRefused:
                raise
            except WarmHostError:
                pass
            with contextlib.suppress(FileNotFoundError):
                (self.warm_dir / SOCKET_NAME).unlink()  # a dead host's socket
            if not self._key():
                _write_key(self.warm_dir / KEY_NAME)  # before any host reads it
            return self._adopt_pending() or self._spawn()

    def preloaded(self) -> bool:
        """Whether the host has imported every library it preloads (a job forked earlier
        imports them itself, as a fresh interpreter would)."""
        try:
            return bool(self._request({"cmd": "ping"}).get("preloaded"))
        except WarmHostError:
            return False

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | Path,
        view: JobView | None = None,
        lane: str | None = None,
    ) -> WarmJob:
        """Fork the job on the host, or on its ``lane`` while that serves (in ``view``'s
        namespaces, if given); its merged output arrives on ``WarmJob.stdout``.

        A lane's job goes straight to the lane: the host may still be importing torch, and
        would answer nothing (not even whether it is there) before it has.
        """
        conn = self._lane_connection(lane) or self._host_connection()
        try:
            return self._start_on(conn, argv, env, cwd, view)
        except BaseException:
            conn.close()
            raise

    def _host_connection(self) -> socket.socket:
        """A connection to the host, started first (:meth:`ensure`) when none serves: a
        serving host is not pinged before each job (a connection and a round trip less)."""
        try:
            return self._connect()
        except WarmHostRefused:
            raise
        except WarmHostError:
            self.ensure()
            return self._connect()

    def _start_on(
        self,
        conn: socket.socket,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | Path,
        view: JobView | None,
    ) -> WarmJob:
        """Send the job on ``conn`` (to the host or a lane; closed on failure); the job."""
        read_end, write_end = os.pipe()
        request: dict[str, Any] = {
            "cmd": "run",
            "argv": list(argv[1:]),
            "env": dict(env),
            "cwd": str(cwd),
        }
        fds = [write_end]
        if view is not None:
            request["view"] = view.to_json()
            if view.share is not None:
                request["share"] = view.share.user_fd is not None
                fds += list(view.share.fds())
        try:
            reply, pending = self._exchange(conn, request, fds)
        except BaseException:
            conn.close()
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        if "pid" not in reply:
            os.close(read_end)
            conn.close()
            raise WarmHostError(f"warm host refused the job: {reply.get('error')}")
        return WarmJob(conn, read_end, int(reply["pid"]), pending)

    def spawn_detached(
        self, module: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> int:
        """``python -m MODULE ARGV`` forked from a running host, in its own session; its pid.

        Only a host already running is used (WarmHostError otherwise): this is how a first
        deploy skips a cold torch import, not a reason to start one.
        """
        request = {"cmd": "spawn", "module": module, "argv": list(argv), "env": dict(env)}
        request["cwd"] = str(cwd)
        out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            with self._connect() as conn:
                reply = self._send(conn, request, [out])
        finally:
            os.close(out)
        if not reply.get("pid"):
            raise WarmHostError(f"warm host could not start {module}: {reply.get('error')}")
        return int(reply["pid"])

    def stop(self) -> int | None:
        """Ask the host to leave (its running jobs are killed); its pid, or None if absent
        (or not provably this store's)."""
        try:
            return int(self._request({"cmd": "stop"})["stopping"])
        except WarmHostError:
            return None

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        conn = self._connect()
        with conn:
            return self._send(conn, message, [])

    def _send(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        """One request on a new connection (see :meth:`_exchange`); its reply."""
        return self._exchange(conn, message, fds)[0]

    def _exchange(
        self, conn: socket.socket, message: dict[str, Any], fds: list[int]
    ) -> tuple[dict[str, Any], bytes]:
        """One request, once the host has proved the store's key; the reply and whatever
        the host sent after it (a job's exit line may follow its pid at once).

        First a fresh nonce; the host must answer with its HMAC under the key only this
        user can read, and only then is the request (argv, environment, descriptors) sent.
        """
        nonce = secrets.token_hex(16)
        lines = _Lines(conn)
        try:
            conn.settimeout(_START_TIMEOUT_S + 60.0)  # the host may still be importing
            conn.sendall(json.dumps({"nonce": nonce}).encode() + b"\n")
            hello = lines.next()
            if not hmac.compare_digest(str(hello.get("proof", "")), proof(self._key(), nonce)):
                raise WarmHostRefused(
                    f"the warm host at {self.warm_dir / SOCKET_NAME} did not prove it is "
                    "this store's (no answer in the store's key); nothing was sent to it"
                )
            data = json.dumps(message).encode() + b"\n"
            socket.send_fds(conn, [data], fds) if fds else conn.sendall(data)
            return lines.next(), lines.buffer
        except OSError as err:
            raise WarmHostError(f"warm host: {err}") from None

    def _lane_connection(self, lane: str | None) -> socket.socket | None:
        """A connection to the lane while it serves, else None: the host serves its jobs
        (a lane leaves with its host, or may not have started). What is there but is not
        provably this store's is refused (WarmHostRefused), as for the host."""
        if lane not in self.lanes:
            return None
        try:
            return self._connect(lane_socket(lane))
        except WarmHostRefused:
            raise
        except WarmHostError:
            return None

    def _connect(self, name: str = SOCKET_NAME) -> socket.socket:
        """Connect through an O_PATH handle of the checked folder (the path may be long)."""
        folder = self._open_folder()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _check_own(folder, name, stat.S_ISSOCK, "socket", self.warm_dir)
            conn.connect(f"/proc/self/fd/{folder}/{name}")
        except OSError as err:
            conn.close()
            raise WarmHostError(f"no warm host ({err.strerror})") from None
        except BaseException:
            conn.close()
            raise
        finally:
            os.close(folder)
        return conn

    def _open_folder(self) -> int:
        """The warm folder, opened without following a link; refused unless it is this
        user's own (an own folder open to others is closed first, as the host's starter has
        always made it: what others may have put in it is checked one by one)."""
        try:
            folder = os.open(self.warm_dir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise WarmHostError("no warm host (no folder)") from None
        except OSError as err:
            raise WarmHostRefused(
                f"{self.warm_dir} is not a folder of its own (a link or a file: "
                f"{err.strerror}); remove it and run again"
            ) from None
        info = os.fstat(folder)
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            os.chmod(f"/proc/self/fd/{folder}", 0o700)
            info = os.fstat(folder)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            os.close(folder)
            raise WarmHostRefused(
                f"{self.warm_dir} belongs to uid {info.st_uid} with mode "
                f"{stat.S_IMODE(info.st_mode):o} (must be yours, 0700); a store must not lie "
                "in a folder others can change"
            )
        return folder

    def _key(self) -> bytes:
        """The store's key (the host proves it knows it); b"" when there is none to read."""
        try:
            folder = self._open_folder()
        except WarmHostError:
            return b""
        try:
            fd = os.open(KEY_NAME, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
        except OSError:
            return b""
        finally:
            os.close(folder)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                return b""
            return handle.read()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One starter at a time per store (two CLIs must not start two hosts)."""
        self.warm_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(self._open_folder())  # refused before anything is written into it
        with open(self.warm_dir / "start.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _adopt_pending(self) -> int | None:
        """Tell the pending host (:meth:`prepare`) to serve; its pid, or None if there is
        none for this store (or it has gone)."""
        global _pending
        pending = _pending
        if pending is None or pending.stdin is None or pending.args != self._command(True):
            return None
        _pending = None
        try:
            pending.stdin.write(b"serve\n")
            pending.stdin.flush()
        except OSError:
            return None  # it has gone
        return self._wait_for_socket(pending)

    def _spawn(self) -> int:
        """Start the host detached (own session, clean environment) and wait for its socket."""
        from pipeline.local.handlers.jobs import host_environment

        with open(self.warm_dir / "host.log", "ab") as log:
            os.fchmod(log.fileno(), 0o600)
            proc = subprocess.Popen(
                self._command(),
                cwd=self.warm_dir,
                env=host_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self._wait_for_socket(proc)

    def _wait_for_socket(self, proc: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not (self.warm_dir / SOCKET_NAME).exists():
            if not _alive(proc) or time.monotonic() > deadline:
                raise WarmHostError(f"warm host did not start; see {self.warm_dir / 'host.log'}")
            time.sleep(0.005)
        return proc.pid


def _alive(proc: subprocess.Popen[bytes]) -> bool:
    """The process runs: by /proc, as a sweep worker forked from its parent cannot poll() it
    (a host that ended stays a zombie of its parent until polled)."""
    try:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class _Lines:
    """JSON lines read from a connection, keeping what arrives after the last one read."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buffer = conn, b""

    def next(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.conn.recv(4096)
            if not chunk:
                raise WarmHostError("warm host closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return dict(json.loads(line))
        except (ValueError, TypeError):
            raise WarmHostError("warm host sent something that is not a reply") from None


def lane_socket(name: str) -> str:
    """The socket lane ``name`` serves in the warm folder (as host.py names it)."""
    return f"lane-{name}.sock"


def proof(key: bytes, nonce: str) -> str:
    """What the host answers to ``nonce``: HMAC-SHA256 under the store's key."""
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def _write_key(path: Path) -> None:
    """A new random key, 0600, never through a link (an old unreadable one is replaced)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))


def _check_own(folder: int, name: str, kind: Any, what: str, shown: Path) -> None:
    """``name`` in ``folder`` must be a ``kind`` (not a link) of this user's, closed to others."""
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        raise WarmHostError(f"no warm host (no {what})") from None
    if not kind(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WarmHostRefused(
            f"{shown / name} is not this user's own {what} (uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}, {'a link' if stat.S_ISLNK(info.st_mode) else what})"
            "; nothing was sent to it"
        )
