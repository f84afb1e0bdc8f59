"""The part of SageMaker's service model the engine reads, cached in the store.

Loading botocore's whole SageMaker model (a ~2 MB gzip of JSON, every operation) took
~0.35 s of every ``--start``; the engine needs a dozen operations and the shapes they reach:
the requests its steps "send" (the API gate, api_gate.py) and the Describe* responses its
steps' properties take the shape of (describe.py). The subset is kept as plain JSON (never a
pickle) under ``<store>/gate/`` and the checkout's ``.moonpipe-build/gate/`` (a new store
starts from it), named by botocore's version, so a botocore upgrade reads its own model
again. :func:`service_model` loads it once per process, as shapes.py's ServiceModel
(botocore's semantics, without importing ``botocore.model``).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.core.checkout import derived_dir
from pipeline.local.shapes import ServiceModel
from pipeline.local.store.atomic import write_bytes

SERVICE = "sagemaker"
# The requests the API gate checks and the responses step properties are shaped after.
OPERATIONS = (
    "CreateProcessingJob",
    "CreateTrainingJob",
    "CreateModelPackage",
    "CreateModel",
    "CreateEndpointConfig",
    "CreateEndpoint",
    "DescribeProcessingJob",
    "DescribeTrainingJob",
    "DescribeModelPackage",
    "DescribeModel",
    "DescribeEndpointConfig",
    "DescribeEndpoint",
)
MODEL_CACHE: dict[str, Path] = {}  # "dir": where the local target keeps the model subset


def cache_service_model_in(folder: Path) -> None:
    """Keep the engine's part of the service model under ``folder`` (the store's cache)."""
    MODEL_CACHE.setdefault("dir", Path(folder))


@functools.cache
def service_model() -> ServiceModel:
    """SageMaker's service model as botocore ships it (:data:`OPERATIONS`), once per process."""
    return load_service_model(OPERATIONS, MODEL_CACHE.get("dir"))


def load_service_model(
    operations: Iterable[str], cache_dir: Path | None, shared_dir: Path | None = None
) -> ServiceModel:
    """The service model of ``operations``: the store's copy (``cache_dir``), else the
    checkout's (``shared_dir``, default ``.moonpipe-build/gate``: a new store's first run
    need not read botocore's whole model again, ~0.1 s of CPU beside the host's imports),
    else botocore's, kept in both. Without ``cache_dir``, botocore's."""
    import botocore  # its version only (~6 ms): botocore.model would be ~55 ms (shapes.py)

    wanted = sorted(operations)
    if cache_dir is None:
        return ServiceModel(subset(_full_model(), wanted))
    name = f"{SERVICE}-model-botocore-{botocore.__version__}.json"
    path, shared = Path(cache_dir) / name, (shared_dir or derived_dir() / "gate") / name
    cached = _read(path, wanted)
    if cached is not None:
        return ServiceModel(cached)
    data = _read(shared, wanted)
    fresh = data is None
    if data is None:
        data = subset(_full_model(), wanted)
    for copy in (path, shared) if fresh else (path,):
        with contextlib.suppress(OSError):  # read-only: the next run pays the full load
            write_bytes(copy, json.dumps(data, separators=(",", ":")).encode())
    return ServiceModel(data)


def subset(model: dict[str, Any], operations: list[str]) -> dict[str, Any]:
    """The model with only ``operations`` and every shape their inputs and outputs reach."""
    shapes = model["shapes"]
    kept: dict[str, Any] = {}
    todo = [
        model["operations"][op][end]["shape"]
        for op in operations
        for end in ("input", "output")
        if end in model["operations"][op]
    ]
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        shape = kept[name] = shapes[name]
        todo.extend(m["shape"] for m in shape.get("members", {}).values())
        todo.extend(shape[key]["shape"] for key in ("member", "key", "value") if key in shape)
    return {
        "version": model.get("version", "2.0"),
        "metadata": model["metadata"],
        "operations": {op: model["operations"][op] for op in operations},
        "shapes": kept,
    }


def _read(path: Path, operations: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    ops = data.get("operations") if isinstance(data, dict) else None
    if not isinstance(ops, dict) or sorted(ops) != operations:
        return None
    try:  # a damaged cache is read again from botocore, never a traceback
        subset(data, operations)
    except (KeyError, TypeError, AttributeError):
        return None
    return dict(data)


def _full_model() -> dict[str, Any]:
    """Read with a bare loader rather than ``botocore.session``: a session reads the AWS
    config (a missing AWS_PROFILE would be an error) and ~/.aws/models, neither of which
    describes the service; only botocore's own data does."""
    from botocore.loaders import Loader

    loader = Loader(
        include_default_search_paths=False, extra_search_paths=[Loader.BUILTIN_DATA_PATH]
    )
    return dict(loader.load_service_model(SERVICE, "service-2"))
