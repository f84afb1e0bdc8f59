"""How one run starts its jobs, decided once at the run's start.

In their own namespaces (``/opt/ml`` at its real path, the rest of the host read-only: what
SageMaker's container shows), or, where namespaces are not available, with ``/opt/ml`` mapped
onto the job's folder wherever the definition names it (the fallback, said once in the
run's summary and report). Forked from the store's warm host, or as subprocesses. The notes
a person should read about what is not emulated (the fallback, an image whose Python or
framework differs from the engine's) are collected here, once per execution.

``MOONPIPE_JOB_ISOLATION=paths`` asks for the fallback where namespaces work (the test suite
runs its end-to-end tests both ways). The run's JobRuntime is made by
pipeline.local.warm.launch.job_runtime, with the store's warm host.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.local.runtime.images import differences, image_versions
from pipeline.local.runtime.limits import SAGEMAKER_GRACE_S
from pipeline.local.runtime.namespace import available, interpreter_paths
from pipeline.local.store.layout import StoreLayout

ISOLATION_VARIABLE = "MOONPIPE_JOB_ISOLATION"
ISOLATION_CHOICES = ("namespaces", "paths")
NOT_EMULATED = (
    "/opt/ml is mapped onto the job's folder only where the definition names it, so "
    "hard-coded /opt/ml paths, FrameworkProcessor's runproc.sh and the SDK's repack step "
    "fail, and network isolation, the read-only host, a private /tmp and the stopping of "
    "a job's child processes are not emulated (docs/isolation.md)"
)


@dataclass
class JobRuntime:
    """How this run's jobs start, and what its summary should say about them.

    Attributes:
        store_root: the store (hidden from jobs: other jobs' data, the warm host's socket).
        starter: the store's warm host (pipeline.local.warm.client.WarmStarter), or None:
            every job is a subprocess.
        namespaces: each job in its own namespaces; False: paths mapped (the fallback).
        fallback: the note saying why not and what that gives up (None with namespaces).
        grace_s: SIGTERM to SIGKILL at MaxRuntimeInSeconds (SageMaker: 120 s).
        notes: the run's notes for people (shared with the runner: printed in the summary).
    """

    store_root: Path
    starter: Any = None  # pipeline.local.warm.client.WarmStarter, or None
    namespaces: bool = False
    fallback: str | None = None
    grace_s: float = SAGEMAKER_GRACE_S
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> str:
        """Add ``text`` to the run's notes unless it is there; returns it."""
        if text not in self.notes:
            self.notes.append(text)
        return text

    def job_notes(self, image_uri: Any) -> list[str]:
        """What a job's step should record about its runtime (each note once per run in the
        summary; the report gathers them from the steps): the fallback, the image's
        differences from the engine."""
        found = [] if self.fallback is None else [self.note(self.fallback)]
        image = image_note(image_uri) if isinstance(image_uri, str) else None
        if image is not None:
            found.append(self.note(image))
        return found

    def hidden(self) -> tuple[Path, ...]:
        """Host folders a job sees empty: the store, and the caller's own HOME (its
        ~/.aws, ~/.config), which a container never sees."""
        hidden = [Path(self.store_root)]
        home = os.environ.get("HOME")
        if home and os.path.isdir(home) and os.path.realpath(home) not in ("/", "/root"):
            hidden.append(Path(os.path.realpath(home)))
        return tuple(hidden)

    def kept(self, layer: Path | None) -> tuple[Path, ...]:
        """Host folders a job still sees inside hidden ones: its interpreter, its layer."""
        return (*interpreter_paths(), *([] if layer is None else [layer]))

    def layer_cache(self) -> Path:
        """Where requirements.txt layers are kept, by content."""
        return StoreLayout(self.store_root).layers()


def isolation_refused(asked: str) -> str | None:
    """Why jobs will not get namespaces (None: they will), given MOONPIPE_JOB_ISOLATION
    (a value that is neither choice is named in the reason, and namespaces are not used)."""
    if asked == "paths":
        return f"{ISOLATION_VARIABLE}=paths"
    if asked not in ("", "namespaces"):
        return f"{ISOLATION_VARIABLE}={asked!r} is not one of {', '.join(ISOLATION_CHOICES)}"
    return namespaces_unavailable()


@functools.cache
def namespaces_unavailable() -> str | None:
    """Why namespaces do not work on this machine (None: they do); probed once per process."""
    return available()


@functools.cache
def image_note(image_uri: str) -> str | None:
    """One line naming where the image's Python or framework differs from the engine's by
    a major or minor version (None for an image the SDK does not know, or no difference)."""
    image = image_versions(image_uri)
    if image is None:
        return None
    found = differences(image)
    if not found:
        return None
    name = image_uri.rsplit("/", 1)[-1]
    return f"image {name} differs from the interpreter jobs run here: " + "; ".join(found)
