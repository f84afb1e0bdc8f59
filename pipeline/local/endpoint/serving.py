"""Load a model through its own serving code and call its handlers as the toolkit does.

The endpoint server (pipeline/local/endpoint/server.py) only speaks HTTP; everything about
the model lives here: importing ``<code dir>/<SAGEMAKER_PROGRAM>`` with fresh modules on
every load (so a swap never serves a sibling module cached from the previous model), the
toolkit's default handlers for programs that define only ``model_fn``, and the call order
``transform_fn`` or ``input_fn`` → ``predict_fn`` → ``output_fn`` with the toolkit's
content-type defaults. Kept apart so the server can swap a :class:`LoadedModel` in one
reference assignment without knowing how it was built.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.core.names import utc_now

# The server's logger: a load failure belongs in the same server.log as the request it broke.
log = logging.getLogger("moonpipe.endpoint")

_TEXT_TYPES = ("application/json", "text/csv")  # the toolkit hands these to input_fn as str
_code_dirs_loaded: list[Path] = []  # code dirs of every model this process imported


class HandlerError(Exception):
    """A request or a model the handlers refused; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the handler wrote
        self.status = status


@dataclass(frozen=True)
class LoadedModel:
    """One loaded model and its handlers; immutable, so a swap is a reference assignment."""

    config_name: str
    model_dir: Path
    module: ModuleType
    model: Any
    default_accept: str = "application/json"
    loaded_at: str = field(default_factory=lambda: utc_now().isoformat())

    def status(self) -> dict[str, Any]:
        """What the manager asks the control route: which config serves, since when."""
        return {
            "config_name": self.config_name,
            "model_dir": str(self.model_dir),
            "loaded_at": self.loaded_at,
            "pid": os.getpid(),
        }

    def handle(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """One invocation, as the toolkit's Transformer does it; returns (body, content type).

        Raises:
            HandlerError: a client error (a handler exception with a 4xx ``status_code``).
        """
        accept = accept if accept and accept.strip() != "*/*" else self.default_accept
        data: str | bytes = body
        if content_type.split(";")[0].strip().lower() in _TEXT_TYPES:
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HandlerError(400, f"body is not UTF-8 text ({exc.reason})") from exc
        try:
            result = self._run_handlers(data, content_type, accept)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                raise HandlerError(status, str(getattr(exc, "message", None) or exc)) from exc
            raise
        if isinstance(result, tuple):  # (body, content_type), as the toolkit accepts
            result, accept = result[0], str(result[1])
        if isinstance(result, str):
            result = result.encode("utf-8")
        if not isinstance(result, bytes | bytearray):
            raise TypeError(f"output_fn returned {type(result).__name__}; return str or bytes")
        return bytes(result), accept

    def _run_handlers(self, data: str | bytes, content_type: str, accept: str) -> Any:
        transform_fn = getattr(self.module, "transform_fn", None)
        if transform_fn is not None:
            return transform_fn(self.model, data, content_type, accept)
        input_fn = getattr(self.module, "input_fn", default_input_fn)
        predict_fn = getattr(self.module, "predict_fn", default_predict_fn)
        output_fn = getattr(self.module, "output_fn", default_output_fn)
        return output_fn(predict_fn(input_fn(data, content_type), self.model), accept)


def default_input_fn(data: str | bytes, content_type: str) -> Any:
    """JSON → Python objects, CSV → rows of floats, NPY → numpy array (no torch needed).

    Hostile bodies are 400s: JSON nested past the parser's recursion limit, .npz archives
    (np.load would hand the model a lazy archive), pickles, and .npy headers claiming more
    data than was sent.
    """
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == "application/json":
            return json.loads(data)
        if media == "text/csv":
            return [
                [float(v) for v in line.split(",")]
                for line in str(data).splitlines()
                if line.strip()
            ]
        if media == "application/x-npy":
            return _load_npy(data.encode() if isinstance(data, str) else data)
    except RecursionError:
        raise HandlerError(400, f"cannot parse the {media} body: nested too deeply") from None
    except (ValueError, EOFError, OSError, MemoryError) as exc:
        raise HandlerError(400, f"cannot parse the {media} body: {exc}") from exc
    raise HandlerError(
        415,
        f"content type {content_type!r} is not supported; send "
        "application/json, text/csv or application/x-npy",
    )


def _load_npy(body: bytes) -> Any:
    """One np.save array, never an .npz archive or a pickle."""
    import numpy as np

    if body[:2] == b"PK":
        raise ValueError("an .npz archive; send one array saved with np.save")
    return np.load(io.BytesIO(body), allow_pickle=False)


def default_predict_fn(data: Any, model: Any) -> Any:
    """Call the model, as the PyTorch toolkit's default does (without torch.no_grad)."""
    return model(data)


def default_output_fn(prediction: Any, accept: str) -> bytes:
    """Encode as JSON (default), CSV or NPY; ``tolist()`` covers numpy arrays and tensors."""
    media = accept.split(";")[0].strip().lower()
    value = prediction.tolist() if hasattr(prediction, "tolist") else prediction
    if media == "application/json":
        return json.dumps(value, allow_nan=False).encode()  # NaN is not JSON: a model fault
    if media == "text/csv":
        rows = value if isinstance(value, list) else [value]
        return "".join(
            ",".join(map(str, r if isinstance(r, list) else [r])) + "\n" for r in rows
        ).encode()
    if media == "application/x-npy":
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(value), allow_pickle=False)
        return buffer.getvalue()
    raise HandlerError(
        406,
        f"accept type {accept!r} is not supported; ask for "
        "application/json, text/csv or application/x-npy",
    )


def load_model(config_name: str, model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    """Import ``<code dir>/<SAGEMAKER_PROGRAM>`` fresh and call its ``model_fn`` once.

    Raises:
        HandlerError: (500) the program is missing, fails to import, or model_fn raises.
    """
    program = environment.get("SAGEMAKER_PROGRAM", "inference.py")
    submit_dir = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", str(model_dir / "code"))
    code_dir = Path(submit_dir)
    if "://" in submit_dir or not (code_dir / program).is_file():
        raise HandlerError(
            500,
            f"config {config_name!r}: {program} not found in {submit_dir}; "
            "ship the serving code in model.tar.gz under code/",
        )
    _check_code_inside(config_name, model_dir, code_dir, program)
    os.environ.update(environment)  # a container sees its model's environment
    try:
        module = _import_fresh(code_dir, code_dir / program)
        model_fn = getattr(module, "model_fn", None)
        if model_fn is None:
            raise HandlerError(500, f"{program} defines no model_fn(model_dir)")
        model = model_fn(str(model_dir))
    except HandlerError as exc:
        raise HandlerError(500, f"config {config_name!r}: {exc}") from exc
    except Exception as exc:
        log.exception("loading %s failed", config_name)
        raise HandlerError(
            500, f"config {config_name!r}: loading {program} raised {type(exc).__name__}: {exc}"
        ) from exc
    _limit_torch_threads()
    accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    return LoadedModel(config_name, model_dir, module, model, accept)


def _check_code_inside(config_name: str, model_dir: Path, code_dir: Path, program: str) -> None:
    """Refuse serving code from outside the model folder, as a container would never see it.

    In SageMaker only what model.tar.gz holds is under /opt/ml/model; a SAGEMAKER_PROGRAM or
    SAGEMAKER_SUBMIT_DIRECTORY reaching elsewhere (an absolute path, ``..``, a symlink) would
    make the local endpoint run code from this machine that no real endpoint could.

    Raises:
        HandlerError: (500) the code directory, the program or a file in it is outside.
    """
    root = model_dir.resolve()
    outside = [
        path
        for path in (code_dir, code_dir / program, *_tree(code_dir))
        if not path.resolve().is_relative_to(root)
    ]
    if outside:
        raise HandlerError(
            500,
            f"config {config_name!r}: serving code must come from inside "
            f"the model directory {model_dir}, but {outside[0]} resolves to "
            f"{outside[0].resolve()}; set SAGEMAKER_SUBMIT_DIRECTORY to "
            "/opt/ml/model/code and SAGEMAKER_PROGRAM to a file name in it",
        )


def _tree(directory: Path) -> list[Path]:
    """Every entry under ``directory`` (symlinks listed, not followed)."""
    return [
        Path(root) / name for root, dirs, files in os.walk(directory) for name in (*dirs, *files)
    ]


def _import_fresh(code_dir: Path, program_path: Path) -> ModuleType:
    """Import the program so that it and its siblings come from ``code_dir``, not a cache.

    Modules imported from earlier models' code dirs are dropped from ``sys.modules`` (their
    handlers keep their own references, so the old model serves on); if the import fails,
    they and ``sys.path`` are put back, so a broken update leaves the old model intact.
    """
    old_dirs = [d for d in _code_dirs_loaded if d != code_dir]
    purged = {
        name: mod
        for name, mod in list(sys.modules.items())
        if _file_under(mod, [*old_dirs, code_dir])
    }
    for name in purged:
        del sys.modules[name]
    saved_path = list(sys.path)
    sys.path[:] = [code_dir.as_posix()] + [p for p in sys.path if Path(p) not in old_dirs]
    importlib.invalidate_caches()
    try:
        spec = importlib.util.spec_from_file_location(program_path.stem, program_path)
        assert spec is not None and spec.loader is not None  # a .py file always has both
        module = importlib.util.module_from_spec(spec)
        sys.modules[program_path.stem] = module
        spec.loader.exec_module(module)
    except BaseException:
        for name, mod in list(sys.modules.items()):
            if _file_under(mod, [code_dir]):
                del sys.modules[name]
        sys.modules.update(purged)
        sys.path[:] = saved_path
        raise
    _code_dirs_loaded.append(code_dir)
    return module


def _file_under(module: ModuleType | None, dirs: list[Path]) -> bool:
    """True for a module loaded from a file inside one of ``dirs`` (absolute folders): a
    prefix test on the text, as a Path per module of a torch process (a thousand) made a
    swap ~50 ms slower."""
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and file.startswith(tuple(f"{d.as_posix()}/" for d in dirs))


def _limit_torch_threads() -> None:
    """One intra-op and inter-op thread if the handlers imported torch (2 shared cores)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
        with contextlib.suppress(RuntimeError):  # only allowed before any inter-op work
            torch.set_num_interop_threads(1)
