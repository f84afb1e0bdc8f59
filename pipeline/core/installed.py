"""Installed distributions' versions, read from their ``.dist-info`` folder names.

``importlib.metadata.version`` parses a distribution's whole METADATA file with the email
parser (~1 ms each), and importing ``importlib.metadata`` costs a command some 20 ms; the
folder names on ``sys.path`` say the same for every installed wheel. The metadata is read
only for a distribution whose folder name does not carry its version.
"""

from __future__ import annotations

import functools
import os
import re
import sys


def version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    found = installed_versions().get(normalized(name))
    if found is not None:
        return found
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def installed_versions() -> dict[str, str]:
    """Normalized distribution name -> version, from ``NAME-VERSION.dist-info`` folders on
    sys.path (the first of a name wins, as the import system finds it first)."""
    versions: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder in names:
            stem = folder[: -len(".dist-info")]
            if folder.endswith(".dist-info") and stem.count("-") == 1:
                name, found = stem.split("-")
                versions.setdefault(normalized(name), found)
    return versions


def normalized(name: str) -> str:
    """PEP 503's normal form: ``PyYAML`` and ``pyyaml``, ``typing_extensions`` and
    ``typing-extensions`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()
