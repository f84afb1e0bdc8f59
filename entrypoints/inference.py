"""Serving handlers for the SageMaker PyTorch inference toolkit (and the local endpoint).

This file travels inside model.tar.gz as code/inference.py next to code/model.py and is
imported from there (SAGEMAKER_PROGRAM=inference.py, SAGEMAKER_SUBMIT_DIRECTORY=
/opt/ml/model/code). It imports only torch, numpy, the standard library and model.py from its
own folder, so it runs on the torch 2.6 serving image and locally alike.

Requests:  text/csv (rows of features, no label, no header), application/json (a list of rows,
one row as a flat list, or {"instances": [...]}), application/x-npy (np.save bytes, no
pickles). Content types may carry parameters ("text/csv; charset=utf-8").
Responses: the probability of class 1 per row as text/csv (one value per line),
application/json (an array of numbers) or application/x-npy (float array of shape (n,));
no Accept or */* means application/json.

Client errors raise :class:`InferenceError` with ``status_code`` 400 (bad body), 406
(unsupported Accept) or 415 (unsupported Content-Type) and a one-line message. It is the
toolkit's GenericInferenceToolkitError when sagemaker_inference is importable, so the
toolkit answers with that status instead of 500.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
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
    """model.py from this file's folder, by path, so no other 'model' module can shadow it."""
    path = Path(__file__).resolve().parent / "model.py"
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
        config["input_dim"], config["hidden_dim"], config["output_dim"],
        num_hidden_layers=config.get("num_hidden_layers", 3),
    )
    state = torch.load(root / "model.pth", weights_only=True, map_location="cpu")
    model.load_state_dict(state)
    model.eval()
    model.input_dim = int(config["input_dim"])
    return model


def _parse_csv(text: str) -> list[list[str]]:
    """Non-blank CSV rows of a request body."""
    return [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]


def _parse_json(text: str) -> Any:
    """A JSON body: rows, one flat row, or {"instances": rows}."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InferenceError(400, f"request body is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        if "instances" not in data:
            raise InferenceError(400, 'JSON object body must have an "instances" list of rows')
        data = data["instances"]
    if isinstance(data, list) and data and not isinstance(data[0], list):
        data = [data]  # a single row
    return data


def _parse_npy(body: bytes) -> Any:
    """An np.save payload; pickled object arrays are refused."""
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise InferenceError(400, f"request body is not a numeric .npy array: {exc}") from None


def _to_matrix(data: Any) -> np.ndarray:
    """Rows of numbers → float32 [N, d], or 400 saying what is wrong."""
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise InferenceError(400, "request rows must hold numbers only, all rows the "
                                  "same length") from None
    if array.ndim == 1 and array.size:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[0] == 0:
        raise InferenceError(400, f"expected rows of features, got an array of shape "
                                  f"{tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise InferenceError(400, "request contains NaN or infinite values")
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
        raise InferenceError(415, f"unsupported content type {request_content_type!r}; "
                                  f"use {CSV}, {JSON} or {NPY}")
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
    with torch.no_grad():
        return model.predict_proba(torch.from_numpy(features)).numpy().astype(np.float64)


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes | str, str]:
    """Serialise probabilities; returns (body, content type)."""
    media_type = _media_type(accept)
    values = np.asarray(prediction, dtype=np.float64).reshape(-1)
    if media_type in ("", "*/*", JSON):
        return json.dumps([float(v) for v in values]), JSON
    if media_type == CSV:
        return "".join(f"{float(v)!r}\n" for v in values), CSV
    if media_type == NPY:
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        return buffer.getvalue(), NPY
    raise InferenceError(406, f"unsupported accept type {accept!r}; use {JSON}, {CSV} or {NPY}")

