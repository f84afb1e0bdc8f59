"""Versions from .dist-info folder names agree with importlib.metadata, and fall back to it."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from pipeline.core import installed


@pytest.mark.parametrize("name", ["torch", "scikit-learn", "PyYAML", "typing_extensions"])
def test_a_wheels_version_is_what_its_metadata_says(name: str) -> None:
    assert installed.version(name) == metadata.version(name)


def test_a_distribution_that_is_not_installed_has_no_version() -> None:
    assert installed.version("no-such-distribution-moonpipe") is None


def test_names_are_compared_in_their_normal_form() -> None:
    assert installed.normalized("Typing_Extensions") == installed.normalized("typing.extensions")
    assert installed.normalized("PyYAML") == "pyyaml"


def test_a_dist_info_folder_without_a_version_in_its_name_is_read_from_its_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "odd_dist.dist-info"  # no "-VERSION": the name does not say it
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: odd-dist\nVersion: 3.2.1\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    installed.installed_versions.cache_clear()
    try:
        assert installed.version("odd-dist") == "3.2.1"
    finally:
        installed.installed_versions.cache_clear()
