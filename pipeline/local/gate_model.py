"""The part of SageMaker's service model the API gate reads, cached in the store.

Loading botocore's whole SageMaker model (a ~2 MB gzip of JSON, every operation) took
~0.35 s of every ``--start``; the gate needs six operations and the shapes they reach. The
subset is kept as plain JSON (never a pickle) under ``<store>/gate/``, named by botocore's
version, so a botocore upgrade reads its own model again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.local.store.atomic import write_bytes

SERVICE = "sagemaker"


def load_service_model(operations: Iterable[str], cache_dir: Path | None) -> Any:
    """botocore's ServiceModel for ``operations`` (from the cache when it is there)."""
    import botocore
    from botocore.model import ServiceModel

    wanted = sorted(operations)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{SERVICE}-model-botocore-{botocore.__version__}.json"
        cached = _read(path, wanted)
        if cached is not None:
            return ServiceModel(cached, SERVICE)
    data = subset(_full_model(), wanted)
    if path is not None:
        with contextlib.suppress(OSError):  # a read-only store runs; it pays the full load
            write_bytes(path, json.dumps(data, separators=(",", ":")).encode())
    return ServiceModel(data, SERVICE)


def subset(model: dict[str, Any], operations: list[str]) -> dict[str, Any]:
    """The model with only ``operations`` and every shape their inputs reach."""
    shapes = model["shapes"]
    kept: dict[str, Any] = {}
    todo = [model["operations"][op]["input"]["shape"] for op in operations]
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
