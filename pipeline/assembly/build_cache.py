"""A cache of built definitions, so an unchanged build never imports the SageMaker SDK.

Building the definition is pure: the same config, the same sources and the same installed
packages give byte-identical output (pipeline/assembly/builder.py makes sure of it). Yet a
build costs seconds, nearly all of it importing the SDK. So every build records what it read,
the way a compiler's dependency file does, and a later build is answered from the record
when every one of those inputs is unchanged:

* the config values the build can see (every section but ``local``, which only the engine
  reads), through the cache entry's name;
* the content of every project module loaded for the build (``pipeline/assembly``,
  ``steps``, ``pipeline/config*``, ``pipeline/core`` and anything else of ours the build
  imported) and the names and content of the top-level ``entrypoints/*.py`` (the code
  archive holds all of them);
* the name and version of every installed distribution the build imported (the SDK,
  boto3, botocore, their dependencies), and the Python version.

* any other module the build imported from outside an installed distribution (a pipeline
  module of the user's, say), by its absolute path and content.

Any difference is a miss and a real build, whose result replaces the entry. A pipeline of
another module (``--module-name``) is never cached: the files its SDK objects read (code,
source folders) live outside the repository and are not imported, so nothing here could
tell that they changed. An entry that cannot be read is a miss too, never an error. Entries
live in the checkout they describe (``<repo>/.moonpipe-build/``, git-ignored;
``MOONPIPE_BUILD_CACHE`` names another folder), so every store of a checkout shares them and
a fresh clone starts with none; the newest ``MAX_ENTRIES`` are kept. Looking up costs a few
milliseconds: hashing some forty files and reading package versions, with no import of the
SDK or of boto3.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.assembly.module_names import DEFAULT_MODULE
from pipeline.core.checkout import CACHE_ENV as CACHE_ENV
from pipeline.core.checkout import DEFAULT_DIR as DEFAULT_DIR
from pipeline.core.checkout import REPO_ROOT, derived_dir, keep_entry
from pipeline.core.installed import version as _version
from pipeline.core.records import PipelineDefinition

FORMAT = 1
MAX_ENTRIES = 32  # one per config built; tests build many
# Always part of a build, whether or not this process had imported them already.
BUILD_PACKAGES = (
    "pipeline.assembly",
    "steps",
    "pipeline.config",
    "pipeline.config_checks",
    "pipeline.core",
)
BUILD_DISTRIBUTIONS = ("sagemaker", "boto3", "botocore")


@dataclasses.dataclass(frozen=True)
class BuildInputs:
    """What one build read: project files by content, distributions by version."""

    files: Mapping[str, str]  # path relative to the repository -> sha256 of its bytes
    distributions: Mapping[str, str]  # distribution name -> version
    python: str

    def still_hold(self, root: Path = REPO_ROOT) -> bool:
        """True when every recorded input is exactly as it was."""
        if self.python != _python() or self.files.keys() != _project_files(root, self.files):
            return False
        if any(_digest(root / rel) != digest for rel, digest in self.files.items()):
            return False
        return all(_version(name) == version for name, version in self.distributions.items())


def default_dir() -> Path:
    """The checkout's cache folder, or the one ``MOONPIPE_BUILD_CACHE`` names."""
    return derived_dir()


def config_key(config: Any) -> str:
    """The entry name for a config: a digest of every value a build can see."""
    values = dataclasses.asdict(config)
    values.pop("local", None)  # store root, job start, idle time: read by the engine only
    values.pop("source", None)  # where the values came from: only error messages name it
    text = json.dumps({"format": FORMAT, "config": values}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def lookup(cache_dir: Path, config: Any, root: Path = REPO_ROOT) -> PipelineDefinition | None:
    """The cached build for ``config`` if every input it read is unchanged, else None.

    ``root``: the repository the build's files are read from (tests use a copy).
    """
    if not cacheable(config):
        return None
    entry = _read(cache_dir / f"{config_key(config)}.json")
    if entry is None:
        return None
    try:
        inputs = BuildInputs(entry["files"], entry["distributions"], entry["python"])
        if not inputs.still_hold(root):
            return None
        found = PipelineDefinition(
            name=entry["name"],
            description=entry["description"],
            definition=entry["definition"],
            artifacts={uri: base64.b64decode(body) for uri, body in entry["artifacts"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError, OSError):
        return None  # damaged or from another format: build again
    with contextlib.suppress(OSError):  # the newest entries are the ones kept
        os.utime(cache_dir / f"{config_key(config)}.json")
    return found


def build_through(
    cache_dir: Path,
    config: Any,
    build: Callable[[Any], PipelineDefinition],
    root: Path = REPO_ROOT,
) -> tuple[PipelineDefinition, bool]:
    """The definition for ``config``: from the cache, or built now and remembered.

    Returns:
        (definition, True when it came from the cache).
    """
    if not cacheable(config):
        return build(config), False
    found = lookup(cache_dir, config, root)
    if found is not None:
        return found, True
    loaded_before = set(sys.modules)
    built = build(config)
    remember(cache_dir, config, built, inputs_of(set(sys.modules) - loaded_before, root))
    return built, False


def cacheable(config: Any) -> bool:
    """True for moonpipe's own pipeline (no other module named in the config)."""
    module = getattr(config, "module_name", None)
    return module is None or module == DEFAULT_MODULE


def remember(cache_dir: Path, config: Any, built: PipelineDefinition, inputs: BuildInputs) -> None:
    """Write the entry (atomically: a reader sees the old entry or the new one, never half)."""
    entry = {
        "format": FORMAT,
        "name": built.name,
        "description": built.description,
        "definition": built.definition,
        "artifacts": {u: base64.b64encode(b).decode() for u, b in sorted(built.artifacts.items())},
        "files": dict(inputs.files),
        "distributions": dict(inputs.distributions),
        "python": inputs.python,
    }
    with contextlib.suppress(OSError):  # unwritable: the next build pays, nothing else
        text = json.dumps(entry, sort_keys=True)
        keep_entry(cache_dir, f"{config_key(config)}.json", text, MAX_ENTRIES)


def inputs_of(imported_now: Iterable[str], root: Path = REPO_ROOT) -> BuildInputs:
    """The inputs of a build that imported ``imported_now`` (plus what a build always reads).

    Files: every module of ours the build imported or always reads, and any module from
    outside an installed distribution it imported (by absolute path when it is not in
    ``root``). Distributions: those of every module loaded when the build ended, whether
    the build or the process before it imported them (the SDK may use what was there).
    """
    names = set(imported_now) | {
        name
        for name in sys.modules
        if any(name == p or name.startswith(p + ".") for p in BUILD_PACKAGES)
    }
    files: dict[str, str] = {}
    for name in sorted(names):
        path = _module_file(name)
        if path is None or _installed(path):
            continue
        key = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        files[key] = _digest(path)
    for path in sorted((root / "entrypoints").glob("*.py")):
        files[path.relative_to(root).as_posix()] = _digest(path)
    top_levels = {name.split(".")[0] for name in list(sys.modules)} - set(sys.stdlib_module_names)
    return BuildInputs(files, _distributions(top_levels), _python())


def _distributions(top_levels: Iterable[str]) -> dict[str, str]:
    """Installed distributions that provide these top-level modules, with their versions."""
    providers = metadata.packages_distributions()
    wanted = set(BUILD_DISTRIBUTIONS)
    for module in top_levels:
        wanted.update(providers.get(module, ()))
    found = {name: _version(name) for name in sorted(wanted)}
    return {name: version for name, version in found.items() if version is not None}


def _project_files(root: Path, recorded: Mapping[str, str]) -> set[str]:
    """The recorded files, with the entrypoints folder's listing as it is now (a new script
    enters the code archive, so it changes the build)."""
    listed = {p.relative_to(root).as_posix() for p in (root / "entrypoints").glob("*.py")}
    kept = {rel for rel in recorded if not rel.startswith("entrypoints/")}
    return kept | listed


def _installed(path: Path) -> bool:
    """True for a file of an installed distribution (a virtualenv may sit in the repo)."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return any(path.is_relative_to(prefix) for prefix in prefixes)


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    where = getattr(module, "__file__", None)
    return Path(where).resolve() if where else None


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _python() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None
