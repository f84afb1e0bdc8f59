"""The endpoint's model server in a namespace like a job's: for pipeline/local/endpoint/.

A SageMaker endpoint's container sees the model it serves at ``/opt/ml/model`` and nothing of
the account's other data. :func:`enter_server_namespace`, called in the server's process
before it loads the model (a subprocess's ``preexec_fn``, or a child the warm host forked),
shows ``<version>/model`` (the extracted model.tar.gz) at ``/opt/ml/model``, hides the store
and the caller's HOME, leaves the rest of the machine read-only and keeps the host's network,
so the server is reached at 127.0.0.1 as before. With the PID namespace the calling process
stays outside as the server's supervisor: the pid the endpoint room keeps is the
supervisor's, which forwards SIGTERM and exits as the server exits.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.local.runtime.mode import JobRuntime
from pipeline.local.runtime.namespace import JobView, enter


def server_view(version_dir: Path, store_root: Path) -> JobView:
    """What the server sees: ``version_dir`` (which holds ``model/``) as /opt/ml."""
    runtime = JobRuntime(store_root)
    return JobView(
        job_root=version_dir, network=True, keep=runtime.kept(None), hide=runtime.hidden()
    )


def enter_server_namespace(version_dir: Path, store_root: Path) -> None:
    """Make the calling (single-threaded, just forked) process the model server's
    namespaces; NamespaceError where they cannot be made (the caller then serves as today)."""
    enter(server_view(version_dir, store_root))
