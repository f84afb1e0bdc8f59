"""Serving handlers for the SageMaker PyTorch inference toolkit (and the local endpoint).

This file travels inside model.tar.gz as code/inference.py next to code/network.py and is
imported from there (SAGEMAKER_PROGRAM=inference.py, SAGEMAKER_SUBMIT_DIRECTORY=
/opt/ml/model/code). It imports only torch, numpy, the standard library and network.py from its
own folder, so it runs on the torch 2.6 serving image and locally alike.

Requests:  text/csv (rows of features, no label, no header), application/json (a list of rows,
one row as a flat list, or {"instances": [...]}), application/x-npy (np.save bytes, no
pickles). Content types may carry parameters ("text/csv; charset=utf-8").
Responses: the probability of class 1 per row as text/csv (one value per line),
application/json (an array of numbers) or application/x-npy (float array of shape (n,));
no Accept or */* means application/json.

Client errors raise :class:`InferenceError` with ``status_code`` 400 (bad body, or finite
values the model's float32 arithmetic cannot score), 406
(unsupported Accept), 413 (too many rows) or 415 (unsupported Content-Type) and a one-line
message. It is the toolkit's GenericInferenceToolkitError when sagemaker_inference is
importable, so the toolkit answers with that status instead of 500.

Limits, checked before the expensive work so hostile bodies cost little and never reach the
model: at most MAX_ROWS rows, JSON nested at most MAX_JSON_DEPTH deep, CSV fields at most
MAX_FIELD_CHARS long, .npy headers whose shape matches the bytes sent (no .npz, no pickles),
and every value finite as float32 (what the network computes in), so no answer holds NaN.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:  # present in SageMaker's serving images; absent locally
    from sagemaker_inference.errors import GenericInferenceToolkitError as _ErrorBase
except ImportError:  # pragma: no cover - depends on the image
    _ErrorBase = Exception

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"

MAX_ROWS = 500_000  # 6 MB of the shortest rows ("0,0\n") is 1.5 M; real batches stay far below
MAX_JSON_DEPTH = 32  # rows need 3 ({"instances": [[...]]}); deeper only exhausts the parser
MAX_FIELD_CHARS = 512  # no number needs more; longer fields are hostile or not numbers
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: what converts to features exactly
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


class InferenceError(_ErrorBase):  # type: ignore[misc,valid-type]
    """A request the model cannot answer; ``status_code`` is the HTTP status to return."""

    def __init__(self, status_code: int, message: str) -> None:
        if _ErrorBase is Exception:
            super().__init__(message)
        else:
            super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message
        self.phrase = message

    def __str__(self) -> str:
        return self.message


def _media_type(value: str | None) -> str:
    """'Text/CSV; charset=utf-8' → 'text/csv'; None or '' → ''."""
    return (value or "").split(";", 1)[0].strip().lower()


def _load_model_module() -> Any:
    """network.py from this file's folder, by path, so no other "network" module can shadow it."""
    path = Path(__file__).resolve().parent / "network.py"
    spec = importlib.util.spec_from_file_location("moonpipe_serving_model", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_fn(model_dir: str) -> torch.nn.Module:
    """Rebuild the network from model_config.json and load model.pth (tensors only)."""
    torch.set_num_threads(1)  # tiny model: more threads only add overhead
    root = Path(model_dir)
    config = json.loads((root / "model_config.json").read_text())
    module = _load_model_module()
    model = module.MoonClassifier(
        config["input_dim"],
        config["hidden_dim"],
        config["output_dim"],
        num_hidden_layers=config.get("num_hidden_layers", 3),
    )
    state = torch.load(root / "model.pth", weights_only=True, map_location="cpu")
    broken = [name for name, tensor in state.items() if not torch.isfinite(tensor).all()]
    if broken:  # a model fault, caught at load: a non-finite answer is then the input's doing
        raise ValueError(f"model.pth holds NaN or infinite weights ({broken[0]})")
    model.load_state_dict(state)
    model.eval()
    model.input_dim = int(config["input_dim"])
    return model


def _parse_csv(text: str) -> Any:
    """CSV rows of numbers: numpy's C parser first, the csv module for quoted or odd input."""
    _check_rows(text.count("\n") + (not text.endswith("\n")))
    _check_field_length(text)
    try:
        return np.loadtxt(
            io.StringIO(text),
            delimiter=",",
            dtype=np.float64,
            ndmin=2,
            comments=None,
            quotechar=None,
        )
    except ValueError:
        pass  # quoted fields, blank lines with spaces, or bad input: the csv module says which
    try:
        return [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InferenceError(400, f"request body is not valid CSV: {exc}") from None


def _check_rows(rows: int) -> None:
    """413 before parsing a body that holds more rows than one request may."""
    if rows > MAX_ROWS:
        raise InferenceError(413, f"request holds more than {MAX_ROWS} rows; send smaller batches")


def _check_field_length(text: str) -> None:
    """400 if any CSV field is longer than MAX_FIELD_CHARS (found without splitting)."""
    if len(text) <= MAX_FIELD_CHARS:
        return
    raw = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    breaks = np.flatnonzero((raw == ord(",")) | (raw == ord("\n")) | (raw == ord("\r")))
    edges = np.concatenate(([-1], breaks, [raw.size]))
    if int(np.diff(edges).max()) - 1 > MAX_FIELD_CHARS:
        raise InferenceError(
            400, f"a CSV field is longer than {MAX_FIELD_CHARS} characters; send plain numbers"
        )


def _json_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings, counted in C (no recursion, no parse)."""
    raw = text.encode("utf-8", "replace")
    if b'"' in raw:
        raw = _JSON_STRING.sub(b'""', raw)
    codes = np.frombuffer(raw, dtype=np.uint8)
    steps = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int32) - (
        (codes == ord("]")) | (codes == ord("}"))
    ).astype(np.int32)
    return int(np.cumsum(steps).max()) if steps.size else 0


def _parse_json(text: str) -> Any:
    """A JSON body: rows, one flat row, or {"instances": rows}."""
    _check_rows(text.count("[") - 1)
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _json_depth(text) > MAX_JSON_DEPTH:
        raise InferenceError(
            400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels; send rows of numbers"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InferenceError(400, f"request body is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        if "instances" not in data:
            raise InferenceError(400, 'JSON object body must have an "instances" list of rows')
        data = data["instances"]
    if isinstance(data, list) and data and not isinstance(data[0], list):
        data = [data]  # a single row
    return data


def _parse_npy(body: bytes) -> np.ndarray:
    """An np.save payload, its header checked against the bytes sent; no pickles, no .npz."""
    if body[:2] == b"PK":
        raise InferenceError(
            400, "request body is an .npz archive; send one array saved with np.save"
        )
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if reader is None:
            raise ValueError(f"format version {version} is not supported; use np.save")
        shape, fortran_order, dtype = reader(stream)
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise InferenceError(400, f"request body is not a numeric .npy array: {exc}") from None
    return _npy_array(body, stream.tell(), shape, fortran_order, dtype)


def _npy_array(
    body: bytes, offset: int, shape: tuple[int, ...], fortran_order: bool, dtype: np.dtype
) -> np.ndarray:
    """The array behind a checked header, viewed from the body without a copy."""
    if dtype.hasobject:
        raise InferenceError(
            400,
            "request body is not a numeric .npy array: Object arrays "
            "cannot be loaded when allow_pickle=False",
        )
    if dtype.kind not in _NUMERIC_KINDS:
        raise InferenceError(400, f"request body is not a numeric .npy array: dtype {dtype}")
    if len(shape) not in (1, 2):
        raise InferenceError(400, f"expected rows of features, got an array of shape {shape}")
    _check_rows(shape[0] if len(shape) == 2 else 1)
    count = math.prod(shape)
    if count * dtype.itemsize != len(body) - offset:
        raise InferenceError(
            400,
            f"the .npy header says shape {shape} ({count * dtype.itemsize}"
            f" bytes) but {len(body) - offset} bytes follow it",
        )
    flat = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran_order else "C")


def _to_matrix(data: Any) -> np.ndarray:
    """Rows of numbers → float32 [N, d], or 400 saying what is wrong."""
    try:
        array = np.asarray(data, dtype=np.float64)
    except OverflowError:
        raise InferenceError(
            400,
            "request contains a number too large for a float; send "
            "values within float32's range (±3.4e38)",
        ) from None
    except (TypeError, ValueError):
        raise InferenceError(
            400, "request rows must hold numbers only, all rows the same length"
        ) from None
    if array.ndim == 1 and array.size:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[0] == 0:
        raise InferenceError(
            400, f"expected rows of features, got an array of shape {tuple(array.shape)}"
        )
    _check_rows(array.shape[0])
    if not np.isfinite(array).all():
        raise InferenceError(400, "request contains NaN or infinite values")
    if array.size and float(np.abs(array).max()) > _FLOAT32_MAX:  # would cast to inf
        raise InferenceError(400, "request contains values beyond float32's range (±3.4e38)")
    return array.astype(np.float32)


def _decode(body: str | bytes, media_type: str) -> Any:
    """Body → Python rows (CSV, JSON) or an ndarray (NPY)."""
    if media_type == NPY:
        raw = body.encode() if isinstance(body, str) else bytes(body)
        return _parse_npy(raw)
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    except UnicodeDecodeError:
        raise InferenceError(400, "request body is not UTF-8 text") from None
    if not text.strip():
        raise InferenceError(400, "request body is empty; send at least one row of features")
    return _parse_csv(text) if media_type == CSV else _parse_json(text)


def input_fn(request_body: str | bytes, request_content_type: str | None) -> np.ndarray:
    """Decode a request into a float32 array [N, d]."""
    media_type = _media_type(request_content_type)
    if media_type not in (CSV, JSON, NPY):
        raise InferenceError(
            415, f"unsupported content type {request_content_type!r}; use {CSV}, {JSON} or {NPY}"
        )
    if request_body is None or len(request_body) == 0:
        raise InferenceError(400, "request body is empty; send at least one row of features")
    return _to_matrix(_decode(request_body, media_type))


def predict_fn(input_data: np.ndarray, model: torch.nn.Module) -> np.ndarray:
    """Probability of class 1 for each row, float array of shape (n,)."""
    features = np.asarray(input_data, dtype=np.float32)
    expected = getattr(model, "input_dim", None)
    if features.ndim != 2 or (expected is not None and features.shape[1] != expected):
        got = features.shape[1] if features.ndim == 2 else f"shape {features.shape}"
        raise InferenceError(400, f"each row must have {expected} features, got {got}")
    with torch.inference_mode():  # cheaper than no_grad: no version counters either
        probabilities = (
            model.predict_proba(torch.from_numpy(np.ascontiguousarray(features)))
            .numpy()
            .astype(np.float64)
        )
    unscorable = np.flatnonzero(~np.isfinite(probabilities.reshape(len(features), -1)).all(axis=1))
    if unscorable.size:  # finite input whose float32 arithmetic overflows: the client's to fix
        row = int(unscorable[0])
        largest = float(np.abs(features[row]).max())
        raise InferenceError(
            400,
            f"row {row + 1} cannot be scored: its features (up to {largest:.3g} in magnitude) "
            "overflow the model's float32 arithmetic; send features on the scale it was "
            "trained on",
        )
    return probabilities


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes | str, str]:
    """Serialise probabilities; returns (body, content type)."""
    media_type = _media_type(accept)
    values = np.asarray(prediction, dtype=np.float64).reshape(-1)
    if not np.isfinite(values).all():  # a model fault, not the client's: the toolkit's 500
        raise ValueError("the model produced NaN or infinite probabilities")
    # The network computes in float32: 9 significant digits give back exactly that float32,
    # at a third of the time (and two thirds of the bytes) of a float64 repr per value.
    if media_type in ("", "*/*", JSON):
        return "[" + ",".join(["%.9g"] * values.size) % tuple(values.tolist()) + "]", JSON
    if media_type == CSV:
        return "%.9g\n" * values.size % tuple(values.tolist()), CSV
    if media_type == NPY:
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        return buffer.getvalue(), NPY
    raise InferenceError(406, f"unsupported accept type {accept!r}; use {JSON}, {CSV} or {NPY}")
