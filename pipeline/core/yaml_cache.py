"""A YAML file's parsed content, kept as JSON by the digest of its bytes.

Every command reads config/pipeline.yaml, and PyYAML costs ~12 ms to import and ~3 ms to
parse a 2 KB file: some 3% of a local rerun. The answer depends only on the file's bytes
(and PyYAML's version), so it is kept beside the definition build cache (``.moonpipe-build``
or ``MOONPIPE_BUILD_CACHE``), named by the digest of both: a changed file is a new name,
never a stale answer. Only content JSON gives back exactly is kept (mappings with string
keys, lists, strings, integers, finite floats, booleans, null); a date, a set or a number
key is parsed anew every time. An entry that cannot be read, or whose recorded digest is
not its name's, is a miss; a folder that cannot be written only costs the parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from pipeline.core.checkout import derived_dir, keep_entry
from pipeline.core.installed import version

FORMAT = 1
MAX_ENTRIES = 16  # one per config content read; the newest are kept
_FOLDER = "yaml"


def load(text: str, cache_dir: Path | None = None) -> Any:
    """``yaml.safe_load(text)``, from the cache when this content was parsed before.

    Raises whatever ``yaml.safe_load`` raises (yaml.YAMLError); nothing is kept then.
    """
    folder = (cache_dir or derived_dir()) / _FOLDER
    key = _key(text.encode("utf-8", "surrogatepass"))
    found = _read(folder / f"{key}.json", key)
    if found is not None:
        return found[0]
    import yaml

    parsed = yaml.safe_load(text)
    if _exact_in_json(parsed):
        entry = json.dumps({"key": key, "value": parsed}, allow_nan=False)
        with contextlib.suppress(OSError):
            keep_entry(folder, f"{key}.json", entry, MAX_ENTRIES)
    return parsed


def _key(data: bytes) -> str:
    tag = f"moonpipe-yaml-{FORMAT}\0{version('PyYAML')}\0".encode()
    return hashlib.sha256(tag + data).hexdigest()


def _read(path: Path, key: str) -> tuple[Any] | None:
    """(value,) of the entry at ``path``, or None (absent, unreadable, or not this key's)."""
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
        return None
    return (entry["value"],)


def _exact_in_json(value: Any) -> bool:
    """Whether JSON gives ``value`` back with the same types (bool is not int, no NaN)."""
    if value is None or type(value) in (str, bool, int):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_exact_in_json(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _exact_in_json(v) for k, v in value.items())
    return False
