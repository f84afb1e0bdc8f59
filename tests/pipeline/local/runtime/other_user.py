"""Run a command as an unprivileged user from a root test run, with nothing set up beforehand.

CI runs the suite as root on a fresh clone: no test user exists, /root is 0700 and the
engine's Python lives under it (a pyenv), and the clone may lie in a 0700 temporary folder.
So the command runs in a private mount namespace of its own (nothing on the host changes)
where every folder on the way to the interpreter and the checkout that others may not enter
is covered by an empty tmpfs (0755) holding only those paths, bound back at the same place;
then it drops to ``nobody`` (uid 65534 where /etc/passwd has no such name) and execs. It is
then a real unprivileged process of the initial user namespace: no capabilities, its own
uid on every file it writes, user namespaces of its own to make, as a developer's would.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.local.runtime import _linux as L
from pipeline.local.runtime.namespace import interpreter_paths

REPO = Path(__file__).resolve().parents[4]


def other_uid() -> tuple[int, int]:
    """nobody's uid and gid (65534 where the name is unknown)."""
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def run_as_other_user(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``argv`` as the unprivileged user (see the module docstring); output captured."""
    uid, gid = other_uid()
    needed = [*interpreter_paths(), REPO]
    return subprocess.run(
        list(argv),
        env=dict(env),
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=lambda: _become_other_user(needed, uid, gid),
    )


def _become_other_user(needed: Sequence[Path], uid: int, gid: int) -> None:
    L.unshare(L.CLONE_NEWNS)
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    closed = _closed_ancestors(needed)
    clones = {path: L.open_tree(str(path), recursive=True) for path in needed}
    for folder in closed:
        L.mount("tmpfs", str(folder), "tmpfs", L.MS_NOSUID | L.MS_NODEV, "mode=0755")
    for path, fd in clones.items():
        if any(path.is_relative_to(folder) for folder in closed):
            os.makedirs(path, 0o755, exist_ok=True)
            L.move_mount(fd, str(path))
        os.close(fd)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def _closed_ancestors(needed: Sequence[Path]) -> list[Path]:
    """The outermost folders on the way to ``needed`` that others may not enter."""
    closed: list[Path] = []
    for path in needed:
        for folder in reversed(path.parents):
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                if not any(folder.is_relative_to(c) for c in closed):
                    closed.append(folder)
                break
    return closed
