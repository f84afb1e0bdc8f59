"""Where a checkout keeps what it derives from its own files (git-ignored).

``<repo>/.moonpipe-build`` holds the definition build cache (pipeline/assembly/build_cache.py)
and parsed YAML (pipeline/core/yaml_cache.py): both are named by digests of what they were
derived from, so a fresh clone starts with none and a stale entry is never found.
``MOONPIPE_BUILD_CACHE`` names another folder (the tests give each run its own).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "MOONPIPE_BUILD_CACHE"
DEFAULT_DIR = REPO_ROOT / ".moonpipe-build"


def derived_dir() -> Path:
    """The checkout's cache folder, or the one ``MOONPIPE_BUILD_CACHE`` names."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_DIR)
