"""A deployed model's files: each model.tar.gz extracted once, safely, never overwritten.

``<endpoint>/models/<config_name>/vNNN/model/``: a new version folder per deploy, filled in
a staging folder first and renamed into place, so a half-extracted model is never served.
Split from pipeline/local/endpoint/manager.py.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from pipeline.core.errors import EndpointError


def unpack_model(endpoint_dir: Path, config_name: str, model_data: Path) -> Path:
    """Extract model_data to a new ``models/<config>/vNNN/model``; returns ``vNNN``."""
    parent = endpoint_dir / "models" / config_name
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=parent))
    try:
        safe_extract(model_data, staging / "model")
        numbers = [int(p.name[1:]) for p in parent.glob("v[0-9]*") if p.name[1:].isdigit()]
        target = parent / f"v{max(numbers, default=0) + 1:03d}"
        os.rename(staging, target)  # we hold the endpoint lock: the name is still free
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract regular files and folders only, none outside ``dest``; else EndpointError."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                if (
                    not (member.isfile() or member.isdir())
                    or member.name.startswith("/")
                    or ".." in parts
                ):
                    raise EndpointError(
                        f"model data {archive} holds an unsafe member "
                        f"{member.name!r} (link, device or path outside the "
                        "archive); rebuild the archive"
                    )
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise EndpointError(
            f"model data {archive} is not a readable model.tar.gz ({exc}); re-run the training step"
        ) from None
