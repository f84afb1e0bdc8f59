"""Map SageMaker container paths onto a job directory on this machine (the fallback).

With namespaces a job sees ``/opt/ml`` at its real path and nothing is mapped
(pipeline/local/runtime/namespace.py); the engine still uses :func:`host_path` to lay a job's
folder out. Where namespaces are not available, jobs run with this mapping.

Every path an entrypoint uses reaches it from the definition (ContainerEntrypoint,
ContainerArguments, Environment, SM_* variables, the job's config files), always spelled
as the real container path under ``/opt/ml``. Running a job without root or Docker
therefore needs exactly one rule: replace the ``/opt/ml`` prefix by the job's own
directory wherever such a value appears. The engine and the entrypoints' tests both use
this module, so a script that passes its tests runs unchanged in the engine.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

CONTAINER_ROOT = "/opt/ml"

# "/opt/ml" at the start of a value or right after "=" (as in "--model-dir=/opt/ml/model"),
# followed by "/" or the end of the value, so "/opt/mlx" is left alone.
_PREFIX = re.compile(r"(^|=)/opt/ml(?=/|$)")


def map_path(value: str, job_root: Path) -> str:
    """Return ``value`` with a leading ``/opt/ml`` replaced by ``job_root``.

    Values that do not name a container path come back unchanged, so callers can pass
    every argument and environment value through without inspecting it.
    """
    root = str(job_root)
    return _PREFIX.sub(lambda m: m.group(1) + root, value)


def map_args(values: Sequence[str], job_root: Path) -> list[str]:
    """Map every element of an argument vector (entrypoint or arguments)."""
    return [map_path(v, job_root) for v in values]


def map_env(env: Mapping[str, str], job_root: Path) -> dict[str, str]:
    """Map every value of an environment mapping; names are never touched."""
    return {k: map_path(v, job_root) for k, v in env.items()}


def host_path(container_path: str, job_root: Path) -> Path:
    """The file on this machine that stands for ``container_path`` in this job.

    Raises:
        ValueError: the path is not under ``/opt/ml`` once ``..`` is resolved; such a path
            cannot be mapped and would otherwise point at (and let a definition write to, or
            upload from) the real file system.
    """
    normal = posixpath.normpath(container_path)
    if not _PREFIX.match(normal) or normal.startswith("//"):
        raise ValueError(f"{container_path!r} is not a container path under {CONTAINER_ROOT}")
    return Path(map_path(normal, job_root))
