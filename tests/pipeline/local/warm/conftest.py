"""One warm host per test module (its imports cost seconds), stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.local.warm.client import WarmStarter


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmStarter]:
    warm = WarmStarter(tmp_path_factory.mktemp("warm") / "store", idle_s=300)
    warm.ensure()
    try:
        yield warm
    finally:
        warm.stop()


def write(folder: Path, name: str, text: str) -> Path:
    """A small job script in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path
