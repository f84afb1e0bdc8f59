"""Fixtures shared by the local engine's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    """A file outside every job folder, standing for ~/.aws/credentials: no job may read,
    link to or copy it."""
    secret = tmp_path / "host" / "credentials"
    secret.parent.mkdir()
    secret.write_text("aws_secret_access_key = do-not-copy\n")
    return secret
