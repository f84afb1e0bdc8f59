"""The endpoint tests' store: every server a test starts under it ends with the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.local.endpoint.deployed import end_servers_under


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A store root; every endpoint server started under it is stopped after the test."""
    root = (tmp_path / "store").resolve()
    yield root
    end_servers_under(root)
