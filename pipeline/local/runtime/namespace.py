"""Put the calling process where a SageMaker job runs: its own view of the machine.

``enter(view)``, called in a freshly forked child (the warm host's) or in a subprocess's
``preexec_fn``, makes the process see:

- ``/opt/ml`` = the job's folder, at its real path and writable, even where ``/opt`` or
  ``/opt/ml`` does not exist or is read-only on this machine (a script's hard-coded
  ``/opt/ml/processing/...`` works; nothing reaches the host's real ``/opt/ml``);
- every other host path at its usual place but read-only, submounts included (a write
  outside the job fails with EROFS, or EACCES where permissions already forbid it);
- ``/tmp``, ``HOME`` and ``/dev/shm`` private and writable; a minimal ``/dev``;
- with ``PID`` isolation (the default) a ``/proc`` that shows only the job's processes, so
  ``/proc/<pid>/root`` of a host process cannot lead back to the writable host tree;
- with ``network=False`` no network but loopback; with a ``NetworkShare`` several hosts
  of one job (InstanceCount > 1) share one network namespace and reach each other on
  127.0.0.x by their SageMaker names (``algo-1``, ...);
- its own hostname (``algo-1``) and IPC namespace, as in a container.

How: unshare (plus a user namespace that maps the caller's uid/gid to themselves when not
root, so files the job writes stay the caller's), then a fresh tmpfs root in which each
host top-level entry is a read-only recursive bind (``open_tree`` + ``mount_setattr``,
one call per entry however many submounts it holds), ``pivot_root`` into it, and drop
the capabilities the namespace gave. Measured costs and rejected alternatives: FINDINGS.md.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.local.runtime import _linux as L
from pipeline.local.runtime.errors import NamespaceError
from pipeline.local.runtime.network import NetworkShare
from pipeline.local.runtime.pidns import fork_into_pid_namespace

CONTAINER_ROOT = "/opt/ml"
_STAGE = "/tmp"  # where the new root is assembled; every source is cloned before it is hidden
_OLD_ROOT = "/.moonpipe-old-root"
# Device nodes a program needs (python opens /dev/null and /dev/urandom); bound from the host.
_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
    "core": "/proc/kcore",
}
# What Docker also keeps read-only inside a fresh /proc: kernel tunables a root job could
# otherwise change for the whole machine (/proc/sys is writable by uid 0, capability or not).
_PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
# Docker's default capability set: what a root job keeps (no SYS_ADMIN: it cannot remount
# anything writable; no SYS_PTRACE, SYS_MODULE, SYS_RAWIO, DAC_READ_SEARCH, NET_ADMIN ...).
DOCKER_CAPS = (0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31)


@dataclass(frozen=True)
class JobView:
    """What one job (one host of it) sees. Paths are host folders.

    Attributes:
        job_root: the job's folder, shown at /opt/ml (writable).
        home: HOME inside (the job's environment gives it); an empty private tmpfs.
        network: False for EnableNetworkIsolation (loopback only); ignored with a share.
        share: join these namespaces instead of making new ones (hosts of one job).
        hostname: the UTS name (SageMaker's current_host, e.g. "algo-1").
        hosts: extra /etc/hosts entries (name -> address), e.g. every algo-N.
        pid_namespace: the job sees only its own processes in /proc (one extra fork).
        keep: host folders that stay visible (read-only) even inside a private /tmp or
            HOME or a hidden folder: the interpreter the job runs (a pyenv Python lives in
            /root/.pyenv, a venv may live in HOME; see ``interpreter_paths()``) and a
            requirements layer.
        hide: host folders shown empty: above all the store (other jobs' data, and the warm
            host's socket: a Unix socket on a read-only mount still accepts connections,
            and the host would run whatever a same-uid peer asks, outside any namespace).
            With ``network=False`` /run is hidden too (daemons' sockets are no network
            namespace's business).
    """

    job_root: Path
    home: str = "/root"
    network: bool = True
    share: NetworkShare | None = None
    hostname: str = "algo-1"
    hosts: Mapping[str, str] = field(default_factory=dict)
    pid_namespace: bool = True
    keep: Sequence[Path] = ()
    hide: Sequence[Path] = ()

    def to_json(self) -> dict[str, Any]:
        """The view as a JSON object (the warm host gets it in its request; the share's
        descriptors travel beside it, as SCM_RIGHTS)."""
        return {
            "job_root": str(self.job_root),
            "home": self.home,
            "network": self.network,
            "hostname": self.hostname,
            "hosts": dict(self.hosts),
            "pid_namespace": self.pid_namespace,
            "keep": [str(p) for p in self.keep],
            "hide": [str(p) for p in self.hide],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], share: NetworkShare | None = None) -> JobView:
        """The view :meth:`to_json` gave, joined to ``share`` (descriptors received)."""
        return cls(
            job_root=Path(data["job_root"]),
            home=str(data["home"]),
            network=bool(data["network"]),
            share=share,
            hostname=str(data["hostname"]),
            hosts={str(k): str(v) for k, v in dict(data["hosts"]).items()},
            pid_namespace=bool(data["pid_namespace"]),
            keep=tuple(Path(p) for p in data["keep"]),
            hide=tuple(Path(p) for p in data["hide"]),
        )


def interpreter_paths() -> tuple[Path, ...]:
    """The folders this interpreter needs (prefixes and sys.path), outermost only."""
    found: list[Path] = []
    for raw in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path):
        if not raw:
            continue
        path = Path(os.path.realpath(raw))
        if path.is_dir() and path != Path("/"):
            found.append(path)
    outer: list[Path] = []
    for path in sorted(set(found), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(o) for o in outer):
            outer.append(path)
    return tuple(outer)


def enter(view: JobView, report_fd: int | None = None) -> None:
    """Make the calling process (and what it execs) see ``view``; returns in the job.

    Call it in a single-threaded process: a child just forked (the warm host's fork, even
    of a process that had threads: the child has one) or ``preexec_fn``. With
    ``pid_namespace`` the caller stays outside as the job's supervisor (it forwards
    signals, and exits as the job exits: same code, same signal) and the function returns
    in a new child, pid 2 of the job's namespace. Raises NamespaceError before anything
    irreversible where it can; after that, the caller must not run the job.
    ``report_fd``: where the supervisor writes the job's exit line before it exits itself
    (pidns.fork_into_pid_namespace); closed in the job either way.
    """
    try:
        _enter(view, report_fd)
    except OSError as err:
        raise NamespaceError(err.errno, f"job namespace: {err.strerror or err}") from None


def _enter(view: JobView, report_fd: int | None) -> None:
    uid, gid = os.getuid(), os.getgid()
    root = uid == 0
    parent = os.getppid()
    flags = L.CLONE_NEWNS | L.CLONE_NEWUTS | L.CLONE_NEWIPC
    if view.pid_namespace:
        flags |= L.CLONE_NEWPID
    own_userns = not root
    if view.share is not None:
        if view.share.user_fd is not None:
            L.setns(view.share.user_fd, L.CLONE_NEWUSER)
        L.setns(view.share.net_fd, L.CLONE_NEWNET)
    else:
        if own_userns:
            flags |= L.CLONE_NEWUSER
        if not view.network:
            flags |= L.CLONE_NEWNET
    L.unshare(flags)
    if flags & L.CLONE_NEWUSER:
        L.map_ids(uid, gid)
    if flags & L.CLONE_NEWNET:
        L.loopback_up()
    if view.hostname:
        L.sethostname(view.hostname)
    L.die_with(parent)
    _build_root(view)
    if view.pid_namespace:
        fork_into_pid_namespace(report_fd)
    elif report_fd is not None:
        os.close(report_fd)  # the caller is the job: its host reports its end
    if view.pid_namespace:
        L.mount("proc", "/proc", "proc", L.MS_NOSUID | L.MS_NODEV | 0x8)  # MS_NOEXEC
    _finish_root(with_proc=view.pid_namespace)
    L.set_capabilities(_docker_mask() if root else 0)


# ---------------------------------------------------------------------------------------
# The root: a tmpfs with each host entry bound read-only, overrides mounted on top.


@dataclass(frozen=True)
class _Mount:
    """One thing to show at a path inside: a host tree (ro or rw), a fresh tmpfs, a file."""

    kind: str  # "bind" | "tmpfs" | "text"
    source: str = ""
    writable: bool = False
    text: str = ""
    is_dir: bool = True  # decided when planned: the source may be hidden by the stage later


def _bind(source: object, writable: bool) -> _Mount:
    return _Mount("bind", str(source), writable, is_dir=os.path.isdir(str(source)))


def _overrides(view: JobView) -> dict[str, _Mount]:
    """Every path the job sees differently from the host, deepest last."""
    over: dict[str, _Mount] = {
        CONTAINER_ROOT: _bind(view.job_root, True),
        "/tmp": _Mount("tmpfs"),
        view.home: _Mount("tmpfs"),
    }
    hidden = [str(p) for p in view.hide]
    if not view.network and view.share is None:
        hidden.append("/run")
    for name in hidden:
        if os.path.isdir(name):
            over[name] = _Mount("empty")
    if view.hostname or view.hosts:
        over["/etc/hosts"] = _Mount("text", text=_hosts_file(view), is_dir=False)
    return dict(sorted(over.items(), key=lambda item: item[0].count("/")))


def _hosts_file(view: JobView) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    names = dict(view.hosts)
    if view.hostname and view.hostname not in names:
        names[view.hostname] = "127.0.0.1"
    lines += [f"{address} {name}" for name, address in names.items()]
    return "\n".join(lines) + "\n"


def _build_root(view: JobView) -> None:
    """Assemble the new root at _STAGE and pivot into it (old root kept at _OLD_ROOT until
    _finish_root: a fresh /proc may only be mounted while a full one is still visible)."""
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)  # nothing we do reaches the host
    over = _overrides(view)
    special = {"/proc", "/dev", "/tmp"}
    explode = _dirs_to_explode(over)
    # Clone every source first: mounting the stage over /tmp hides what lies below it.
    sources = {path: _clone(m) for path, m in over.items() if m.kind == "bind"}
    hidden = [p for p, m in over.items() if m.kind != "text" and p != CONTAINER_ROOT]
    kept = [
        (str(k), _clone(_bind(k, False)))
        for k in view.keep
        if any(Path(k).is_relative_to(h) and str(k) != h for h in hidden)
    ]
    plan = _plan_tree("/", explode, set(over) | special)
    devs = {
        name: L.open_tree(f"/dev/{name}", recursive=False)
        for name in _DEV_NODES
        if os.path.exists(f"/dev/{name}")
    }
    proc = None if view.pid_namespace else _clone(_bind("/proc", True))
    L.mount("tmpfs", _STAGE, "tmpfs", L.MS_NOSUID | L.MS_NODEV, "mode=0755")
    for rel, kind, fd_or_target in plan:
        _place(_STAGE + rel, kind, fd_or_target)
    _build_dev(_STAGE + "/dev", devs)
    os.mkdir(_STAGE + "/proc", 0o555)
    if proc is not None:
        L.move_mount(proc, _STAGE + "/proc")
        os.close(proc)
    # Shallowest first, kept folders among the overrides: a kept folder inside a private
    # /tmp (a checkout under /tmp, its .venv) goes on after /tmp's tmpfs, and the store shown
    # empty inside that checkout after the checkout, never hidden under it.
    steps: list[tuple[str, _Mount | int]] = [*over.items(), *kept]
    for path, what in sorted(steps, key=lambda step: step[0].count("/")):
        if isinstance(what, int):
            os.makedirs(_STAGE + path, 0o755, exist_ok=True)
            L.move_mount(what, _STAGE + path)
            os.close(what)
        else:
            _mount_override(path, what, sources)
    for path, m in over.items():
        if m.kind == "empty":  # read-only once what is kept inside has its mount point
            L.mount_setattr(_STAGE + path, L.MOUNT_ATTR_RDONLY, recursive=False)
    os.mkdir(_STAGE + _OLD_ROOT)
    os.chdir(_STAGE)
    L.pivot_root(".", "." + _OLD_ROOT)
    os.chdir("/")


def _mount_override(path: str, m: _Mount, sources: dict[str, int]) -> None:
    """Show ``m`` at ``path`` of the stage: a bind of its cloned source, a fresh tmpfs (an
    empty one for a hidden folder) or a text file."""
    target = _STAGE + path
    _make_mountpoint(target, m)
    if m.kind == "bind":
        L.move_mount(sources[path], target)
        os.close(sources[path])
    elif m.kind in ("tmpfs", "empty"):
        mode = "mode=1777" if path == "/tmp" else "mode=0755" if m.kind == "empty" else "mode=0700"
        L.mount("tmpfs", target, "tmpfs", L.MS_NOSUID | L.MS_NODEV, mode)
    else:
        _bind_text(target, m.text)


def _finish_root(with_proc: bool) -> None:
    """Hide the old root, make the root tmpfs itself read-only, protect /proc's tunables."""
    if with_proc:
        for name in _PROC_READ_ONLY:
            path = f"/proc/{name}"
            if os.path.exists(path):
                fd = L.open_tree(path, recursive=True)
                L.mount_setattr(fd, L.MOUNT_ATTR_RDONLY, recursive=True)
                L.move_mount(fd, path)
                os.close(fd)
    L.umount2(_OLD_ROOT, L.MNT_DETACH)
    os.rmdir(_OLD_ROOT)
    L.mount_setattr("/", L.MOUNT_ATTR_RDONLY, recursive=False)


def _clone(m: _Mount) -> int:
    """A detached recursive copy of a host tree; read-only unless the mount is writable."""
    fd = L.open_tree(m.source, recursive=True)
    if not m.writable:
        L.mount_setattr(fd, L.MOUNT_ATTR_RDONLY, recursive=True)
    return fd


def _dirs_to_explode(over: Mapping[str, _Mount]) -> set[str]:
    """Host directories that must be rebuilt entry by entry in the stage, because a path
    inside has to be created there (e.g. /opt when /opt/ml does not exist: /opt may be
    read-only, and creating ml in it would change the host)."""
    explode = {"/"}
    for path, m in over.items():
        if _exists_as(path, m):
            continue
        parent = os.path.dirname(path)
        while parent != "/":
            if os.path.isdir(parent) and not os.path.islink(parent):
                explode.add(parent)
            parent = os.path.dirname(parent)
    return explode


def _exists_as(path: str, m: _Mount) -> bool:
    if os.path.islink(path) or not os.path.exists(path):
        return False
    return os.path.isdir(path) == m.is_dir


def _plan_tree(host_dir: str, explode: set[str], skip: set[str]) -> list[tuple[str, str, object]]:
    """(path, kind, what) for every entry of the exploded host directories, in order:
    "dir" (made in the stage), "link" (same target), "tree"/"file" (a read-only clone)."""
    plan: list[tuple[str, str, object]] = []
    try:
        names = sorted(os.listdir(host_dir))
    except OSError:  # a folder we may not list (another user's): it stays empty here
        names = []
    for name in names:
        path = os.path.join(host_dir, name)
        if path in skip and path not in explode:
            continue
        if os.path.islink(path):
            plan.append((path, "link", os.readlink(path)))
        elif path in explode:
            plan.append((path, "dir", None))
            plan += _plan_tree(path, explode, skip)
        else:
            try:
                fd = _clone(_bind(path, False))
            except OSError:
                continue  # a socket, a vanished entry: not part of the job's view
            plan.append((path, "tree" if os.path.isdir(path) else "file", fd))
    return plan


def _place(target: str, kind: str, what: object) -> None:
    if kind == "dir":
        os.mkdir(target, 0o755)
    elif kind == "link":
        os.symlink(str(what), target)
    else:
        assert isinstance(what, int)
        if kind == "tree":
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        L.move_mount(what, target)
        os.close(what)


def _make_mountpoint(target: str, m: _Mount) -> None:
    """Create the file or folder to mount on where the host has none (parents included)."""
    if os.path.lexists(target):
        return
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    if m.is_dir:
        os.mkdir(target, 0o755)
    else:
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))


def _bind_text(target: str, text: str) -> None:
    """A read-only file with ``text`` at ``target`` (e.g. /etc/hosts): written in the stage,
    bound over the target, then unlinked from the stage (the mount keeps it)."""
    scratch = _STAGE + "/.moonpipe-" + os.path.basename(target)
    with open(scratch, "w") as f:
        f.write(text)
    fd = L.open_tree(scratch, recursive=False)
    L.mount_setattr(fd, L.MOUNT_ATTR_RDONLY, recursive=False)
    L.move_mount(fd, target)
    os.close(fd)
    os.unlink(scratch)


def _build_dev(dev: str, nodes: Mapping[str, int]) -> None:
    """A /dev with only what programs need: no disk, no host /dev/shm (a job may not reach
    the host's shared memory or write a block device even as root)."""
    os.mkdir(dev, 0o755)
    for name, fd in nodes.items():
        os.close(os.open(f"{dev}/{name}", os.O_CREAT | os.O_WRONLY, 0o644))
        L.move_mount(fd, f"{dev}/{name}")
        os.close(fd)
    for name, target in _DEV_LINKS.items():
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/shm", 0o1777)
    L.mount("tmpfs", f"{dev}/shm", "tmpfs", L.MS_NOSUID | L.MS_NODEV, "mode=1777")
    os.mkdir(f"{dev}/pts", 0o755)
    with contextlib.suppress(OSError):  # a pty is a nicety; a kernel may refuse devpts here
        L.mount(
            "devpts",
            f"{dev}/pts",
            "devpts",
            L.MS_NOSUID | 0x8,
            "newinstance,ptmxmode=0666,mode=620",
        )


def _docker_mask() -> int:
    mask = 0
    for cap in DOCKER_CAPS:
        mask |= 1 << cap
    return mask


def available() -> str | None:
    """None when namespaces work here, else one line saying why not (for the run summary)."""
    if not sys.platform.startswith("linux"):
        return f"job namespaces need Linux (this is {sys.platform})"
    uid, gid = os.getuid(), os.getgid()  # inside a new user namespace they read 65534
    pid = os.fork()
    if pid == 0:
        try:
            flags = L.CLONE_NEWNS | (0 if uid == 0 else L.CLONE_NEWUSER)
            L.unshare(flags)
            if flags & L.CLONE_NEWUSER:
                L.map_ids(uid, gid)
            L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
            fd = L.open_tree("/", recursive=True)
            L.mount_setattr(fd, L.MOUNT_ATTR_RDONLY, recursive=True)
            os._exit(0)
        except OSError as err:
            os._exit(min(err.errno or 1, 254))
        except BaseException:
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return None
    why = os.strerror(code) if code < 255 else "unknown error"
    return f"job namespaces are not available here ({why})"
