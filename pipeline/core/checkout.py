"""Where a checkout keeps what it derives from its own files (git-ignored).

``<repo>/.moonpipe-build`` holds the definition build cache (pipeline/assembly/build_cache.py)
and parsed YAML (pipeline/core/yaml_cache.py): both are named by digests of what they were
derived from, so a fresh clone starts with none and a stale entry is never found.
``MOONPIPE_BUILD_CACHE`` names another folder (the tests give each run its own).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "MOONPIPE_BUILD_CACHE"
DEFAULT_DIR = REPO_ROOT / ".moonpipe-build"


def derived_dir() -> Path:
    """The checkout's cache folder, or the one ``MOONPIPE_BUILD_CACHE`` names."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_DIR)


def keep_entry(folder: Path, name: str, text: str, newest: int) -> None:
    """Write ``text`` as ``folder/name``, whole or not at all (a temporary file renamed over
    it: a reader sees the old entry or the new one), then keep only the ``newest`` entries
    (``*.json``) last written or touched. Raises OSError (a cache that cannot be written
    costs its caller the speed, nothing else: callers let it pass)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for stale in entries[newest:]:
        stale.unlink(missing_ok=True)
