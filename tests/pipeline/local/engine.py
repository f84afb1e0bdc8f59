"""The engine as the local target drives it, for the engine's own tests (no pipeline.targets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.local.runner import LocalRunner, open_store


def local_runner(store: Path, endpoints: Any = None, **settings: Any) -> LocalRunner:
    """A runner of ``store`` whose jobs start as plain subprocesses and draw no page."""
    from pipeline.local import gate_model

    # The service model is cached once per process, in the first store a runner opened (a
    # CLI or the UI serves one store); a test worker opens many, and each store must get its
    # own gate cache as a user's would (tests read it, and a store copied without it would
    # write it on its next run).
    gate_model.MODEL_CACHE.clear()
    gate_model.service_model.cache_clear()
    settings = {"job_start": "subprocess", "warm_idle_s": 60.0, **settings}
    return LocalRunner(open_store(store, "us-east-1"), endpoints=endpoints, **settings)
