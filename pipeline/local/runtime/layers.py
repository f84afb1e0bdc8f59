"""A job's ``requirements.txt`` as a read-only layer on PYTHONPATH, cached by content.

FrameworkProcessor's runproc.sh (and the training toolkit) run
``python -m pip install -r requirements.txt`` inside the container. Locally that pip would
write into the engine's own environment, and needs a network. Instead, before the job:

1. ``pip install --dry-run --report`` against the job's interpreter tells which
   requirements its environment does not already satisfy (``--target`` alone would ignore
   what is installed and reinstall numpy for a file that merely names it);
2. exactly those pinned distributions are installed with ``--target`` into
   ``<cache>/<sha256 of requirements.txt + interpreter>``, offline (``--no-index`` and
   the machine's local wheel folders), built in a temporary folder and renamed into place
   (two jobs with the same file never see a half-built layer);
3. the job gets the layer first on PYTHONPATH. Inside, runproc.sh's own pip then finds
   every requirement satisfied and changes nothing (it could not: the environment is
   read-only there).

A requirement no local wheel satisfies is a LayerError with one line naming it, which the
engine reports as the step's failure.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

_COMPLETE = ".complete"


class LayerError(RuntimeError):
    """requirements.txt cannot be installed offline; the message is one line."""


def layer_for(
    requirements: bytes,
    cache_root: Path,
    find_links: Sequence[Path] | None = None,
    python: str = sys.executable,
) -> Path:
    """The folder to put first on the job's PYTHONPATH (built once per content)."""
    key = hashlib.sha256(requirements + b"\0" + _interpreter_tag(python).encode()).hexdigest()[:32]
    dest = cache_root / key
    if (dest / _COMPLETE).exists():
        return dest
    cache_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    links = list(find_links) if find_links is not None else local_wheel_folders()
    with tempfile.TemporaryDirectory(prefix=f".{key}.", dir=cache_root) as work:
        req = Path(work) / "requirements.txt"
        req.write_bytes(requirements)
        wanted = _missing(python, req, links, Path(work))
        site = Path(work) / "layer"
        site.mkdir()
        if wanted:
            _pip(
                python,
                ["install", "--target", str(site), "--no-deps", "--no-compile", *wanted],
                links,
                req,
            )
        (site / "requirements.txt").write_bytes(requirements)
        (site / _COMPLETE).write_text("\n".join(wanted) + "\n")
        try:
            site.rename(dest)
        except OSError:  # another job built it meanwhile (rename onto a non-empty folder)
            if not (dest / _COMPLETE).exists():
                raise
    return dest


def requirements_in_sourcedir(tarball: Path) -> bytes | None:
    """requirements.txt at the top of a sourcedir.tar.gz (what runproc.sh would install)."""
    import tarfile

    with tarfile.open(tarball, "r:*") as tar:
        for name in ("requirements.txt", "./requirements.txt"):
            try:
                member = tar.getmember(name)
            except KeyError:
                continue
            handle = tar.extractfile(member)
            return handle.read() if handle else None
    return None


def _missing(python: str, req: Path, links: Sequence[Path], work: Path) -> list[str]:
    """name==version of every distribution the interpreter lacks for ``req``."""
    report = work / "report.json"
    _pip(
        python,
        ["install", "--dry-run", "--quiet", "--report", str(report), "-r", str(req)],
        links,
        req,
    )
    data = json.loads(report.read_text())
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in data.get("install", [])]


def _pip(python: str, args: list[str], links: Sequence[Path], req: Path) -> None:
    offline = [
        "--isolated",
        "--no-index",
        "--disable-pip-version-check",
        "--no-input",
        "--no-cache-dir",
    ]
    for link in links:
        offline += ["--find-links", str(link)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    proc = subprocess.run(
        [python, "-m", "pip", *args, *offline], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise LayerError(_one_line(proc.stderr, links))


_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")
_CONFLICT = re.compile(r"Cannot install (.+?) because these package versions have conflicting")


def _one_line(stderr: str, links: Sequence[Path]) -> str:
    where = ", ".join(str(p) for p in links) or "no local wheel folder"
    found = _NOT_FOUND.search(stderr)
    if found:
        return (
            f"requirements.txt: no local distribution satisfies {found[1]!r} (installed "
            f"offline from {where}; SageMaker would download it from PyPI)"
        )
    found = _CONFLICT.search(stderr)
    if found:
        return f"requirements.txt: conflicting requirements {found[1]}"
    errors = [
        line.removeprefix("ERROR: ") for line in stderr.splitlines() if line.startswith("ERROR:")
    ]
    return "requirements.txt: " + (
        errors[-1] if errors else (stderr.strip().splitlines() or ["pip failed"])[-1]
    )


def _interpreter_tag(python: str) -> str:
    """What a layer depends on besides the file: the interpreter, its version and platform."""
    if python == sys.executable:
        return f"{os.path.realpath(python)}|{sys.version}|{sys.platform}"
    out = subprocess.run(
        [python, "-c", "import sys;print(sys.version, sys.platform)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return f"{os.path.realpath(python)}|{out.strip()}"


def local_wheel_folders() -> list[Path]:
    """The local folders pip is configured to find distributions in: ``find-links`` paths
    and, for a ``file://`` index, the folder of files beside its ``simple`` page (the
    layout here: /opt/pypi/simple + /opt/pypi/files). Nothing on the network."""
    values: list[str] = []
    values += os.environ.get("PIP_FIND_LINKS", "").split()
    for url in (
        os.environ.get("PIP_EXTRA_INDEX_URL", "") + " " + os.environ.get("PIP_INDEX_URL", "")
    ).split():
        values.append(url)
    for conf in (
        "/etc/pip.conf",
        "/etc/xdg/pip/pip.conf",
        str(Path.home() / ".config/pip/pip.conf"),
        str(Path.home() / ".pip/pip.conf"),
    ):
        parser = configparser.ConfigParser()
        try:
            parser.read(conf)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            for key in ("find-links", "extra-index-url", "index-url"):
                values += parser.get(section, key, fallback="").split()
    found: list[Path] = []
    for value in values:
        path = Path(value.removeprefix("file://"))
        if value.startswith(("http://", "https://")):
            continue
        if path.name == "simple" and (path.parent / "files").is_dir():
            path = path.parent / "files"
        if path.is_dir() and path not in found:
            found.append(path)
    return found
