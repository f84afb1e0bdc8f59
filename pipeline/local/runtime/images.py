"""What an image URI says about the job's framework and Python, read from the SDK's own table.

The SageMaker Python SDK builds framework image URIs from ``sagemaker/image_uri_config/
<framework>.json``: for each scope (training, inference, ...) a ``versions`` map whose
entries name the ECR ``repository``, the ``processors`` and the ``py_versions``; the tag is
``<version>-<processor>-<py_version>`` (e.g. ``pytorch-training:2.6.0-cpu-py312``,
``sagemaker-scikit-learn:1.2-1-cpu-py3``). Reading the same files back gives the framework
version and Python of any image the SDK can produce, with no table of our own, except
where the tag says only ``py3``: the scikit-learn images, whose Python is in their
Dockerfiles (aws/sagemaker-scikit-learn-container, docker/<version>/base/Dockerfile.cpu).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.core import installed

# Images whose tag says "py3": the Python their Dockerfile installs (PYTHON_VERSION ARG of
# aws/sagemaker-scikit-learn-container docker/<v>/base/Dockerfile.cpu; 1.2-1 checked).
_PY3_IMAGES = {("sagemaker-scikit-learn", "1.2-1"): "3.9"}
# The distribution that carries each framework locally (to compare versions).
_LOCAL_DISTRIBUTION = {
    "pytorch": "torch",
    "sklearn": "scikit-learn",
    "xgboost": "xgboost",
    "tensorflow": "tensorflow",
    "mxnet": "mxnet",
    "huggingface": "transformers",
}
_URI = re.compile(r"^(?:[^/]+/)?(?P<repo>[^:@]+):(?P<tag>[^@]+)$")


@dataclass(frozen=True)
class ImageVersions:
    """What an image runs: framework, its version as the SDK names it, Python."""

    framework: str  # the image_uri_config file: "pytorch", "sklearn", ...
    scope: str  # "training", "inference", ...
    version: str  # "2.6.0", "1.2-1"
    library_version: str  # the library's own version: "2.6.0", "1.2" (the "-1" is SageMaker's)
    python: str | None  # "3.12", or None when neither the tag nor our table says


def image_versions(image_uri: str, config_dir: Path | None = None) -> ImageVersions | None:
    """The framework and Python of ``image_uri``, or None for an image the SDK does not know
    (a custom image: nothing can be said about it)."""
    match = _URI.match(image_uri.strip())
    if not match:
        return None
    repo, tag = match["repo"].rsplit("/", 1)[-1], match["tag"]
    try:
        folder = config_dir or _sdk_config_dir()
    except FileNotFoundError:
        return None
    for framework, scope, versions in _scopes(folder, repo):
        for version, entry in sorted(versions.items(), key=lambda kv: -len(kv[0])):
            if entry.get("repository") != repo or not tag.startswith(version + "-"):
                continue
            py_tag = next(
                (p for p in entry.get("py_versions", []) if f"-{p}" in tag[len(version) :]), None
            )
            python = _python_of(py_tag) or _PY3_IMAGES.get((repo, version))
            full = entry.get("_alias_of", version)
            return ImageVersions(framework, scope, version, full.split("-")[0], python)
    return None


def _python_of(py_tag: str | None) -> str | None:
    """ "py312" -> "3.12", "py39" -> "3.9"; "py3" says no minor version: None."""
    if not py_tag or not re.fullmatch(r"py\d{2,}", py_tag):
        return None
    digits = py_tag[2:]
    return f"{digits[0]}.{digits[1:]}"


def differences(image: ImageVersions) -> list[str]:
    """One phrase per major/minor difference between the image and this interpreter, e.g.
    "Python 3.11 here, 3.9 in the image", "scikit-learn 1.9.1 here, 1.2 in the image"."""
    lines: list[str] = []
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if image.python and image.python != here:
        lines.append(f"Python {here} here, {image.python} in the image")
    dist = _LOCAL_DISTRIBUTION.get(image.framework)
    if dist:
        local = installed.version(dist)
        if local is None:
            lines.append(f"no {dist} here, {image.library_version} in the image")
        elif _major_minor(local) != _major_minor(image.library_version):
            lines.append(f"{dist} {local} here, {image.library_version} in the image")
    return lines


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(re.split(r"[.+]", version)[:2])


def _sdk_config_dir() -> Path:
    """The SDK's folder, found without importing it (importing sagemaker takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the sagemaker package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "image_uri_config"


@lru_cache(maxsize=32)
def _scopes(config_dir: Path, repo: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """(framework, scope, versions) for every versioned scope of every config file that
    names ``repo``, with version aliases (e.g. "1.13" -> "1.13.1") resolved to their entries.

    Only files that mention the repository are parsed (a text search first: parsing all 67
    files of the SDK's table costs ~40 ms, once per run).
    """
    found = []
    for path in sorted(config_dir.glob("*.json")):
        try:
            text = path.read_text()
            if f'"{repo}"' not in text:
                continue
            data = json.loads(text)
        except (OSError, ValueError):
            continue
        scopes = data.items() if "versions" not in data else [("", data)]
        for scope, body in scopes:
            if not isinstance(body, dict) or not isinstance(body.get("versions"), dict):
                continue
            versions = dict(body["versions"])
            for alias, target in body.get("version_aliases", {}).items():
                if target in versions:
                    versions.setdefault(alias, {**versions[target], "_alias_of": target})
            found.append((path.stem, scope, versions))
    # One repository serves several scopes (sklearn: training and inference): say training.
    return tuple(sorted(found, key=lambda f: (f[1] != "training", f[0], f[1])))
