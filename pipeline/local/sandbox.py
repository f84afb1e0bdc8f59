"""Keep a local job inside its own folder: the code it starts and the files it hands back.

With namespaces a job sees the rest of the machine read-only and the store not at all
(pipeline/local/runtime/); in the fallback it sees the same file system and network as its
user. Either way the engine holds the edges a definition controls, and a crafted definition
must not get past them:

- the program a job starts comes from the job's own folder (the mapped ``/opt/ml``), never
  from elsewhere on this machine: no absolute or ``..`` training program, no processing
  entrypoint naming a host script, no interpreter option that runs code from a string or
  a host module, no link that leads out, no code-loading variable naming a host path;
- the files a job hands back (processing outputs, the model folder) are read without
  following a link out of the job's folder, so no host file is copied into the store.

Every check raises SandboxError with one line naming the value or file and what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from pipeline.local.container_paths import CONTAINER_ROOT, host_path

# Interpreters a local job may start (for these python names the engine starts its own
# interpreter; shells run the FrameworkProcessor's runproc.sh), each with the options allowed
# before the script. Options that take code or a module (-c, -m, -W, -X) are not among them:
# they run code that is not a file in the job's folder.
PYTHON_NAMES = frozenset({"python", "python3"})
_SHELLS = frozenset({"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"})
_PYTHON_OPTIONS = re.compile(r"-[uBObqsEIv]+")
_SHELL_OPTIONS = re.compile(r"-[eux]+")

# Variables that make an interpreter or the loader read code from the paths they name.
CODE_PATH_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONEXECUTABLE",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
)


class SandboxError(ValueError):
    """A definition or a job's output that would reach outside the job's folder."""


def check_program_name(program: str) -> None:
    """Refuse a training ``sagemaker_program`` that cannot be a file inside /opt/ml/code.

    Checked before anything is fetched: the toolkit runs ``python <program>`` from
    /opt/ml/code, so an absolute path, a ``..`` part or a leading ``-`` (an interpreter
    option such as ``-mhttp.server``) would run something that is not the job's code.
    """
    where = f"sagemaker_program {program!r}"
    fix = "name a script inside the source directory, e.g. 'train.py'"
    if not program.strip():
        raise SandboxError(f"{where} is empty; {fix}")
    if program.startswith("-"):
        raise SandboxError(f"{where} starts with '-' (an interpreter option); {fix}")
    path = PurePosixPath(program)
    if path.is_absolute():
        raise SandboxError(f"{where} is an absolute path; {fix}")
    if ".." in path.parts:
        raise SandboxError(f"{where} climbs out of {CONTAINER_ROOT}/code with '..'; {fix}")


def program_file(program: str, code_dir: Path) -> Path:
    """The file ``program`` names in the unpacked code folder, refusing links that lead out."""
    check_program_name(program)
    where = f"sagemaker_program {program!r}"
    real = _resolve(code_dir / program)
    if not real.is_relative_to(_resolve(code_dir)):
        raise SandboxError(
            f"{where} is a link to {real}, outside the job's code folder; "
            "ship the script itself in the source directory"
        )
    if not real.is_file():
        raise SandboxError(
            f"{where} is not a file in the source directory unpacked to {CONTAINER_ROOT}/code; "
            "check the entry point's name"
        )
    return real


def check_command(argv: Sequence[str], job_root: Path) -> None:
    """Refuse a processing command whose script is not a file in the job's folder.

    ``argv`` is ContainerEntrypoint followed by ContainerArguments, still spelled with
    container paths: an interpreter (python, python3, sh, bash), the options allowed for
    it, then a script under /opt/ml that does not lead out of the job folder by a link.
    """
    fix = (
        f"locally a processing job runs an interpreter and a script under {CONTAINER_ROOT} "
        f"(e.g. python3 {CONTAINER_ROOT}/processing/input/code/<file>)"
    )
    if not argv:
        raise SandboxError("AppSpecification has no ContainerEntrypoint to run")
    interpreter, rest = str(argv[0]), [str(a) for a in argv[1:]]
    options = _options_for(interpreter)
    if options is None:
        raise SandboxError(f"processing entrypoint starts {interpreter!r}; {fix}")
    while rest and rest[0].startswith("-"):
        if not options.fullmatch(rest[0]):
            raise SandboxError(
                f"processing entrypoint passes {rest[0]!r} to {interpreter}, which runs code "
                f"that is not a file in the job's folder; {fix}"
            )
        rest.pop(0)
    if not rest:
        raise SandboxError(f"processing entrypoint names no script after {interpreter}; {fix}")
    _check_script(rest[0], job_root, fix)


def _options_for(interpreter: str) -> re.Pattern[str] | None:
    if interpreter in PYTHON_NAMES:
        return _PYTHON_OPTIONS
    if interpreter in _SHELLS:
        return _SHELL_OPTIONS
    return None


def _check_script(script: str, job_root: Path, fix: str) -> None:
    try:
        path = host_path(script, job_root)
    except ValueError:
        raise SandboxError(
            f"processing entrypoint runs {script!r}, which is not under {CONTAINER_ROOT}; {fix}"
        ) from None
    real = _resolve(path)
    if not real.is_relative_to(_resolve(job_root)):
        raise SandboxError(
            f"processing script {script} is a link to {real}, outside the job folder; "
            "ship the script itself as a processing input"
        )


def check_code_paths(environment: Mapping[str, object]) -> None:
    """Refuse code-loading variables (PYTHONPATH, LD_PRELOAD, ...) that name host paths.

    Such a variable makes Python, the loader or the shell read code from the paths it
    names; locally each part must be a container path under /opt/ml (mapped to the job).
    """
    for name in CODE_PATH_VARIABLES:
        value = environment.get(name)
        if value is None:
            continue
        for part in re.split(r"[:\s]+", str(value)):
            if part and not _is_container_path(part):
                raise SandboxError(
                    f"Environment {name}={value!r} loads code from {part!r}, outside "
                    f"{CONTAINER_ROOT}; locally such variables may only name paths under "
                    f"{CONTAINER_ROOT}"
                )


def _is_container_path(value: str) -> bool:
    try:  # only whether the value maps matters, not where to
        host_path(value, Path(CONTAINER_ROOT))
    except ValueError:
        return False
    return True


def confined_files(
    folder: Path, boundary: Path, shown_as: str | None = None
) -> list[tuple[str, Path]]:
    """Every regular file below ``folder`` as (relative name, file to read), sorted by parts.

    Links are followed only while they stay inside ``boundary`` (the job's folder): such a
    link is stored as its content. A link (or ``folder`` itself) leading out, a directory
    link looping back, and a file with more than one name (a hard link can name any file of
    the same user) are refused, naming the file as ``shown_as`` (the container path the job
    wrote to; default: the folder's name) plus its relative name. Broken links, sockets and
    pipes are not files and are left out, as before. Nothing is read here, so a caller can
    check every output before storing any.
    """
    walker = _Walker(_resolve(boundary), PurePosixPath(shown_as or folder.name))
    start = walker.follow(folder, PurePosixPath())
    if start.is_dir():
        walker.walk(start, PurePosixPath(), (start,))
    return sorted(walker.found, key=lambda item: PurePosixPath(item[0]).parts)


class _Walker:
    """One walk of an output folder: the boundary, how files are named, what was found."""

    def __init__(self, limit: Path, label: PurePosixPath) -> None:
        self.limit, self.label = limit, label
        self.found: list[tuple[str, Path]] = []

    def walk(self, directory: Path, prefix: PurePosixPath, ancestors: tuple[Path, ...]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            raise SandboxError(f"cannot list {self.label / prefix}: {err.strerror}") from None
        for entry in entries:
            name, path = prefix / entry.name, Path(entry.path)
            if entry.is_symlink():
                path = self.follow(path, name)
            if path.is_dir():
                if path in ancestors:
                    raise SandboxError(
                        f"{self.label / name} is a link back to a folder above it (a loop)"
                    )
                self.walk(path, name, (*ancestors, path))
            elif path.is_file():
                self._add(name, path)

    def follow(self, path: Path, name: PurePosixPath) -> Path:
        """Where ``path`` really is; SandboxError when that is outside the boundary."""
        real = _resolve(path)
        if not real.is_relative_to(self.limit):
            raise SandboxError(
                f"{self.label / name} is a link to {real}, outside the job folder; outputs "
                "never follow links out (write the file itself into the output folder)"
            )
        return real

    def _add(self, name: PurePosixPath, path: Path) -> None:
        links = path.stat().st_nlink
        if links > 1:
            raise SandboxError(
                f"{self.label / name} is a hard link ({links} names for one file); write the "
                "file itself into the output folder"
            )
        self.found.append((name.as_posix(), path))


def own_file(path: Path, boundary: Path) -> bool:
    """True for a regular file that really lies inside ``boundary`` and has one name."""
    real = _resolve(path)
    return real.is_relative_to(_resolve(boundary)) and real.is_file() and real.stat().st_nlink == 1


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(path))
