"""The few Linux system calls a job's namespace needs, through ctypes on the C library.

Python 3.11 has no ``os.unshare``/``os.setns`` (3.12 adds them) and no call at all for the
new mount API (open_tree, move_mount, mount_setattr: Linux 5.2 and 5.12) or pivot_root.
Everything here is a thin, typed wrapper that raises ``OSError`` naming the call and its
arguments, so a failure in a forked child reads as one line (e.g. ``unshare(USER|NS):
[Errno 1] Operation not permitted``). Nothing here allocates locks or imports lazily: the
functions are safe to call in a child forked from a process that had other threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import platform
import socket
import struct

# clone/unshare flags (linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags (linux/mount.h)
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

# new mount API
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# Syscalls added since Linux 5.1 share one number on every architecture; older ones differ.
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}.get(platform.machine())

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def unshare(flags: int) -> None:
    """Leave the namespaces named by ``flags`` for new ones (the caller must be single-threaded
    for CLONE_NEWUSER: the kernel refuses a user namespace to a process with other threads)."""
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flag_names(flags)})")


def setns(fd: int, nstype: int) -> None:
    """Join the namespace that ``fd`` (an open /proc/PID/ns/* file) stands for."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns({flag_names(nstype)})")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    """mount(2), the classic call: used for propagation changes and pseudo file systems."""
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount({source!r} on {target!r}, type {fstype!r})",
    )


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount2({target!r})")


def open_tree(path: str, recursive: bool = True, dirfd: int = -100) -> int:
    """A detached copy (a file descriptor) of the mount tree at ``path``: a bind mount that is
    not attached anywhere yet, so the source can be hidden afterwards without losing it."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    return _check(
        _syscall(_SYS_OPEN_TREE, ctypes.c_int(dirfd), path.encode(), ctypes.c_uint(flags)),
        f"open_tree({path!r})",
    )


def move_mount(fd: int, target: str) -> None:
    """Attach the detached tree ``fd`` at ``target`` (which must exist)."""
    _check(
        _syscall(
            _SYS_MOVE_MOUNT,
            ctypes.c_int(fd),
            b"",
            ctypes.c_int(-100),
            target.encode(),
            ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
        ),
        f"move_mount(to {target!r})",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount_setattr(fd_or_path: int | str, attr_set: int, recursive: bool) -> None:
    """Set mount attributes (read-only, nosuid, ...) on one mount or, with ``recursive``, on
    every mount below it, in one call (Linux 5.12): no walk of /proc/self/mountinfo."""
    attr = _MountAttr(attr_set, 0, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    if isinstance(fd_or_path, int):
        dirfd, path, flags = fd_or_path, b"", flags | AT_EMPTY_PATH
    else:
        dirfd, path = -100, fd_or_path.encode()
    _check(
        _syscall(
            _SYS_MOUNT_SETATTR,
            ctypes.c_int(dirfd),
            path,
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr({fd_or_path!r})",
    )


def pivot_root(new_root: str, put_old: str) -> None:
    if _SYS_PIVOT_ROOT is None:
        raise OSError(38, f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(
        _syscall(_SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()),
        f"pivot_root({new_root!r}, {put_old!r})",
    )


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), f"sethostname({name!r})")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def set_capabilities(keep: int) -> None:
    """Keep only the capabilities in the bit mask ``keep`` (effective, permitted; none
    inheritable or ambient), and drop the rest from the bounding set so no exec regains them."""
    last_cap = 40
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            last_cap = int(f.read())
    except OSError:
        pass
    for cap in range(last_cap + 1):
        if not keep >> cap & 1:
            try:
                prctl(PR_CAPBSET_DROP, cap)
            except OSError as err:
                if err.errno != 22:  # EINVAL: a capability this kernel does not know
                    raise
    with contextlib.suppress(OSError):
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    for i in range(2):
        word = keep >> (32 * i) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = word
        data[i].inheritable = 0
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def loopback_up() -> None:
    """Bring ``lo`` up in the (new) network namespace: a new namespace starts with it down,
    so without this not even 127.0.0.1 works (SIOCGIFFLAGS / SIOCSIFFLAGS on a socket)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock.fileno(), siocgifflags, req))[1]
        fcntl.ioctl(sock.fileno(), siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))


_FLAG_NAMES = {
    CLONE_NEWUSER: "USER",
    CLONE_NEWNS: "NS",
    CLONE_NEWPID: "PID",
    CLONE_NEWNET: "NET",
    CLONE_NEWUTS: "UTS",
    CLONE_NEWIPC: "IPC",
}


def flag_names(flags: int) -> str:
    return "|".join(name for bit, name in _FLAG_NAMES.items() if flags & bit) or hex(flags)


def map_ids(uid: int, gid: int) -> None:
    """The caller's uid and gid map to themselves in its new user namespace (files it
    writes stay its own); setgroups must be denied first or the kernel refuses an
    unprivileged gid_map. Read uid/gid *before* unsharing: inside they read 65534."""
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1\n"),
        ("gid_map", f"{gid} {gid} 1\n"),
    ):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def die_with(parent: int) -> None:
    """PR_SET_PDEATHSIG (SIGKILL), then check the parent did not die before it took effect.

    Inside a new PID namespace the parent is outside it, so ``getppid()`` is 0 while it
    lives and 1 (the namespace's init) once it has died: ``parent`` 0 means that case.
    """
    prctl(PR_SET_PDEATHSIG, 9)
    now = os.getppid()
    if (parent == 0 and now != 0) or (parent != 0 and now != parent):
        os._exit(137)
