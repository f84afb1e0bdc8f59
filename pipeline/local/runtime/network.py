"""Namespaces the hosts of one job share (InstanceCount > 1): one network, loopback names.

A non-root process may join a network namespace only from inside the user namespace that
owns it, and sibling user namespaces have no rights over each other: so the user + network
namespaces are made once, by a short-lived forked helper (a threaded engine may not unshare
a user namespace itself), and every host joins both before making its own mount, PID and
UTS namespaces.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from pipeline.local.runtime import _linux as L
from pipeline.local.runtime.errors import NamespaceError


@dataclass(frozen=True)
class NetworkShare:
    """Open namespace files that several hosts of one job join (InstanceCount > 1).

    ``user_fd`` is the user namespace that owns ``net_fd`` (None when root): a non-root
    process may join a network namespace only from inside the user namespace that owns it.
    The descriptors keep the namespaces alive; ``close()`` them when the job has ended.
    """

    net_fd: int
    user_fd: int | None

    def close(self) -> None:
        for fd in (self.net_fd, self.user_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def fds(self) -> tuple[int, ...]:
        """What a subprocess must inherit (``pass_fds``) to join."""
        return tuple(fd for fd in (self.net_fd, self.user_fd) if fd is not None)


def share_network(isolated: bool) -> NetworkShare | None:
    """Namespaces the hosts of one job join: a network namespace with loopback only when
    ``isolated``; None when not (each host then keeps the host's network, which they share
    anyway). Made by a short-lived forked helper (a threaded engine may not unshare a user
    namespace itself); the returned descriptors keep the namespaces alive."""
    if not isolated:
        return None
    root = os.getuid() == 0
    uid, gid = os.getuid(), os.getgid()
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: make the namespaces, say so, wait to be looked at
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            L.unshare(L.CLONE_NEWNET | (0 if root else L.CLONE_NEWUSER))
            if not root:
                L.map_ids(uid, gid)
            L.loopback_up()
            os.write(ready_w, b"1")
            os.read(done_r, 1)
            code = 0
        except BaseException as err:
            with contextlib.suppress(OSError):
                os.write(ready_w, b"0" + str(err).encode()[:500])
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        answer = os.read(ready_r, 1024)
        if answer != b"1":
            raise NamespaceError(1, f"network namespace: {answer[1:].decode(errors='replace')}")
        net_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        user_fd = None if root else os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        return NetworkShare(net_fd, user_fd)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)
