"""The shipped code/inference.py: every content type and accept, and every bad request."""

from __future__ import annotations

import ast
import csv
import io
import json
import sys
import types
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

ROWS = [[0.0, 0.9], [1.0, -0.5], [2.0, 0.4]]


def expected_probabilities(model: Any, rows: list[list[float]]) -> np.ndarray:
    """What the network says, bypassing the serving code."""
    return model.predict_proba(torch.tensor(rows, dtype=torch.float32)).numpy()


def serve(
    inference: ModuleType,
    model: Any,
    body: Any,
    content_type: str | None,
    accept: str | None = "application/json",
) -> tuple[Any, str]:
    """One request through the handler chain, as the serving toolkit calls it."""
    data = inference.input_fn(body, content_type)
    return inference.output_fn(inference.predict_fn(data, model), accept)


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    """np.save bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type", "rows"),
    [
        ("0.0,0.9", "text/csv", ROWS[:1]),
        ("0.0,0.9\n1.0,-0.5\n2.0,0.4\n", "text/csv", ROWS),
        (b"0.0,0.9\r\n1.0,-0.5\r\n2.0,0.4", "text/csv; charset=utf-8", ROWS),
        (json.dumps(ROWS), "application/json", ROWS),
        (json.dumps(ROWS[0]).encode(), "application/json", ROWS[:1]),
        (json.dumps({"instances": ROWS}), "Application/JSON; charset=utf-8", ROWS),
        (npy(np.array(ROWS)), "application/x-npy", ROWS),
        (npy(np.array(ROWS[0], dtype=np.float32)), "application/x-npy", ROWS[:1]),
    ],
)
def test_every_content_type_one_row_and_many(
    inference, served_model, body: Any, content_type: str, rows: list[list[float]]
) -> None:
    response, response_type = serve(inference, served_model, body, content_type)
    assert response_type == "application/json"
    assert np.allclose(json.loads(response), expected_probabilities(served_model, rows), atol=1e-7)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("text/csv", "text/csv"),
        ("application/x-npy", "application/x-npy"),
    ],
)
@pytest.mark.parametrize("rows", [ROWS[:1], ROWS], ids=["one row", "many rows"])
def test_every_accept(inference, served_model, accept, content_type, rows) -> None:
    body = "\n".join(",".join(map(str, row)) for row in rows)
    response, response_type = serve(inference, served_model, body, "text/csv", accept)
    assert response_type == content_type
    if content_type == "application/x-npy":
        values = np.load(io.BytesIO(response), allow_pickle=False)
        assert values.shape == (len(rows),)
    elif content_type == "text/csv":
        assert response.endswith("\n")
        values = np.array([float(line) for line in response.splitlines()])
    else:
        values = np.array(json.loads(response))
    assert values.shape == (len(rows),)
    assert np.allclose(values, expected_probabilities(served_model, rows), atol=1e-7)
    assert ((values >= 0) & (values <= 1)).all()


BAD_REQUESTS = {
    "too many features": ("1.0,2.0,3.0", "text/csv", 400, "each row must have 2 features, got 3"),
    "too few features": (
        json.dumps([[1.0]]),
        "application/json",
        400,
        "each row must have 2 features, got 1",
    ),
    "non-numeric csv": (
        "1.0,abc",
        "text/csv",
        400,
        "request rows must hold numbers only, all rows the same length",
    ),
    "non-numeric json": (
        json.dumps([["a", None]]),
        "application/json",
        400,
        "request rows must hold numbers only, all rows the same length",
    ),
    "ragged rows": (
        json.dumps([[1, 2], [3]]),
        "application/json",
        400,
        "request rows must hold numbers only, all rows the same length",
    ),
    "nan": ("1.0,nan", "text/csv", 400, "request contains NaN or infinite values"),
    "infinity": (
        "[[1.0, Infinity]]",
        "application/json",
        400,
        "request contains NaN or infinite values",
    ),
    "empty body": ("", "text/csv", 400, "request body is empty; send at least one row of features"),
    "blank body": (
        b" \n\n",
        "application/json",
        400,
        "request body is empty; send at least one row of features",
    ),
    "empty npy": (
        b"",
        "application/x-npy",
        400,
        "request body is empty; send at least one row of features",
    ),
    "empty json list": (
        "[]",
        "application/json",
        400,
        "expected rows of features, got an array of shape (0,)",
    ),
    "invalid json": (
        "[1,",
        "application/json",
        400,
        "request body is not valid JSON: Expecting value: line 1 column 4 (char 3)",
    ),
    "object without instances": (
        '{"rows": [[1, 2]]}',
        "application/json",
        400,
        'JSON object body must have an "instances" list of rows',
    ),
    "pickled npy": (
        npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
        "application/x-npy",
        400,
        "request body is not a numeric .npy array: Object arrays cannot be loaded "
        "when allow_pickle=False",
    ),
    "3-d npy": (
        npy(np.zeros((1, 2, 2))),
        "application/x-npy",
        400,
        "expected rows of features, got an array of shape (1, 2, 2)",
    ),
    "unsupported content type": (
        "0,1",
        "text/plain",
        415,
        "unsupported content type 'text/plain'; use text/csv, "
        "application/json or application/x-npy",
    ),
    "missing content type": (
        "0,1",
        None,
        415,
        "unsupported content type None; use text/csv, application/json or application/x-npy",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests_raise_a_client_error_saying_what_was_wrong(
    inference, served_model, case: str
) -> None:
    body, content_type, status, message = BAD_REQUESTS[case]
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, body, content_type)
    assert (caught.value.status_code, str(caught.value)) == (status, message)


@pytest.mark.parametrize("junk", [b"junk", b"junk and more junk"])
def test_junk_npy_says_why_numpy_refused_it(inference, served_model, junk: bytes) -> None:
    with pytest.raises(ValueError) as numpy_error:
        np.lib.format.read_magic(io.BytesIO(junk))
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, junk, "application/x-npy")
    assert caught.value.status_code == 400
    assert str(caught.value) == f"request body is not a numeric .npy array: {numpy_error.value}"


def test_unsupported_accept_is_406(inference, served_model) -> None:
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, "0,1", "text/csv", "text/html")
    assert caught.value.status_code == 406
    assert str(caught.value) == (
        "unsupported accept type 'text/html'; use application/json, text/csv or application/x-npy"
    )


def test_model_fn_loads_weights_only_on_cpu_with_one_thread(
    inference, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(inference.torch, "load", spy)
    torch.set_num_threads(2)
    model = inference.model_fn(str(model_dir))
    assert calls == [{"weights_only": True, "map_location": "cpu"}]
    assert torch.get_num_threads() == 1
    assert not model.training


def test_errors_are_the_toolkits_when_it_is_installed(
    jobs, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class GenericInferenceToolkitError(Exception):
        def __init__(
            self, status_code: int, message: str | None = None, phrase: str | None = None
        ) -> None:
            super().__init__(status_code, message, phrase)
            self.status_code, self.message, self.phrase = status_code, message, phrase

    errors = types.ModuleType("sagemaker_inference.errors")
    errors.GenericInferenceToolkitError = GenericInferenceToolkitError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sagemaker_inference", types.ModuleType("sagemaker_inference"))
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", errors)
    module = jobs.load_module(model_dir / "code" / "inference.py", "inference_with_toolkit")
    with pytest.raises(GenericInferenceToolkitError) as caught:
        module.input_fn("0,1", "text/plain")
    assert caught.value.status_code == 415
    assert caught.value.message.startswith("unsupported content type 'text/plain'")


def test_imports_nothing_but_torch_numpy_and_the_standard_library(jobs) -> None:
    tree = ast.parse((jobs.ENTRYPOINTS / "inference.py").read_text())
    names = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    allowed = set(sys.stdlib_module_names) | {"torch", "numpy", "sagemaker_inference"}
    assert names - allowed == set()


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """An .npy header only: what a client claiming ``shape`` but sending no data sends."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)  # magic string included
    return buffer.getvalue()


def npz(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=array)
    return buffer.getvalue()


# Each cause of a 500 (or of an invalid answer) found by fuzzing the endpoint (issue 8).
HOSTILE_REQUESTS = {
    "json nested 1000 deep": (
        "[" * 1000 + "]" * 1000,
        "application/json",
        400,
        "JSON nested deeper than 32 levels; send rows of numbers",
    ),
    "json nested 33 deep": (
        "[" * 33 + "1" + "]" * 33,
        "application/json",
        400,
        "JSON nested deeper than 32 levels; send rows of numbers",
    ),
    "brackets inside strings do not count": (
        json.dumps({"instances": [[0.0, 0.9]], "note": "[" * 100}),
        "application/json",
        None,
        None,
    ),
    "csv field over 128 KiB": (
        "1" * (128 * 1024 + 1) + ",1",
        "text/csv",
        400,
        "a CSV field is longer than 512 characters; send plain numbers",
    ),
    "csv field of 513 characters": (
        "0" * 513 + ",1",
        "text/csv",
        400,
        "a CSV field is longer than 512 characters; send plain numbers",
    ),
    "json integer of 310 digits": (
        "[[1" + "0" * 309 + ", 1]]",
        "application/json",
        400,
        "request contains a number too large for a float; send "
        "values within float32's range (±3.4e38)",
    ),
    "finite float64 beyond float32": (
        "[[1e308, 1e308]]",
        "application/json",
        400,
        "request contains values beyond float32's range (±3.4e38)",
    ),
    "npy header claiming a huge shape": (
        npy_header((10**12, 2)),
        "application/x-npy",
        413,
        "request holds more than 500000 rows; send smaller batches",
    ),
    "npy header claiming more data than sent": (
        npy_header((1000, 2)) + b"\0" * 16,
        "application/x-npy",
        400,
        "the .npy header says shape (1000, 2) (16000 bytes) but 16 bytes follow it",
    ),
    "npz archive": (
        npz(np.zeros((1, 2))),
        "application/x-npy",
        400,
        "request body is an .npz archive; send one array saved with np.save",
    ),
    "body starting with PK": (
        b"PK\x03\x04junk",
        "application/x-npy",
        400,
        "request body is an .npz archive; send one array saved with np.save",
    ),
    "complex npy": (
        npy(np.zeros((1, 2), dtype=np.complex64)),
        "application/x-npy",
        400,
        "request body is not a numeric .npy array: dtype complex64",
    ),
    "too many csv rows": (
        "0,0\n" * 500_001,
        "text/csv",
        413,
        "request holds more than 500000 rows; send smaller batches",
    ),
    "too many json rows": (
        json.dumps([[0, 0]] * 500_001),
        "application/json",
        413,
        "request holds more than 500000 rows; send smaller batches",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_REQUESTS))
def test_hostile_requests_are_client_errors_found_before_the_work(
    inference, served_model, case: str
) -> None:
    body, content_type, status, message = HOSTILE_REQUESTS[case]
    if status is None:
        response, _ = serve(inference, served_model, body, content_type)
        assert len(json.loads(response)) == 1
        return
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, body, content_type)
    assert (caught.value.status_code, str(caught.value)) == (status, message)


def test_a_bare_carriage_return_is_400_with_the_csv_modules_reason(inference, served_model) -> None:
    with pytest.raises(csv.Error) as csv_error:
        list(csv.reader(io.StringIO("1\r,1")))
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, "1\r,1", "text/csv")
    assert (caught.value.status_code, str(caught.value)) == (
        400,
        f"request body is not valid CSV: {csv_error.value}",
    )


def test_the_row_limit_itself_is_served(inference, served_model) -> None:
    body = "0.5,0.5\n" * inference.MAX_ROWS
    response, _ = serve(inference, served_model, body, "text/csv", "application/x-npy")
    assert np.load(io.BytesIO(response)).shape == (inference.MAX_ROWS,)


@pytest.mark.parametrize(
    "array",
    [
        np.asfortranarray(np.array(ROWS)),
        np.array(ROWS, dtype=">f4"),
        np.array(ROWS, dtype=np.int64) * 0,
        np.array([[True, False]]),
    ],
    ids=["fortran order", "big-endian float32", "int64", "bool"],
)
def test_npy_layouts_numpy_writes_are_read_as_numbers(
    inference, served_model, array: np.ndarray
) -> None:
    response, _ = serve(inference, served_model, npy(array), "application/x-npy")
    assert np.allclose(
        json.loads(response),
        expected_probabilities(served_model, array.astype(float).tolist()),
        atol=1e-7,
    )


def test_csv_fast_path_and_csv_module_agree(inference, served_model) -> None:
    rows = np.random.default_rng(0).normal(size=(1000, 2)).round(6).tolist()
    plain = "".join(f"{a},{b}\n" for a, b in rows)
    quoted = "".join(f'"{a}", {b}\r\n  \n' for a, b in rows)  # only the csv module reads this
    expected = expected_probabilities(served_model, rows)
    for body in (plain, quoted):
        response, _ = serve(inference, served_model, body, "text/csv")
        assert np.allclose(json.loads(response), expected, atol=1e-7)


def test_a_model_answering_nan_is_a_model_error_not_invalid_json(inference) -> None:
    with pytest.raises(ValueError, match="the model produced NaN or infinite probabilities"):
        inference.output_fn(np.array([0.5, np.nan]), "application/json")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[[3.4e38, 0]]", "application/json"),  # finite in float32: issue 20 got a 500
        ("3.4e38,0\n0.0,0.9\n", "text/csv"),
        ("[[-3e38, 3e38]]", "application/json"),
    ],
)
def test_a_finite_input_the_model_cannot_score_is_a_client_error(
    inference, served_model, body: str, content_type: str
) -> None:
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, body, content_type)
    assert caught.value.status_code == 400
    assert str(caught.value).startswith("row 1 cannot be scored: its features (up to 3")
    assert str(caught.value).endswith(
        "overflow the model's float32 arithmetic; send features on the scale it was trained on"
    )


def test_a_model_with_non_finite_weights_fails_to_load(
    inference, model_dir: Path, tmp_path: Path
) -> None:
    """So a non-finite answer at serving time is always the input's doing, never the model's."""
    state = torch.load(model_dir / "model.pth", weights_only=True)
    first = next(iter(state))
    state[first].view(-1)[0] = float("nan")
    torch.save(state, tmp_path / "model.pth")
    (tmp_path / "model_config.json").write_text((model_dir / "model_config.json").read_text())
    with pytest.raises(ValueError, match=rf"model.pth holds NaN or infinite weights \({first}\)"):
        inference.model_fn(str(tmp_path))
