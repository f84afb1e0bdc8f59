"""The shipped code/inference.py: every content type and accept, and every bad request."""

from __future__ import annotations

import ast
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


def serve(inference: ModuleType, model: Any, body: Any, content_type: str | None,
          accept: str | None = "application/json") -> tuple[Any, str]:
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
    assert np.allclose(json.loads(response), expected_probabilities(served_model, rows),
                       atol=1e-7)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [(None, "application/json"), ("*/*", "application/json"),
     ("application/json", "application/json"),
     ("application/json; charset=utf-8", "application/json"),
     ("text/csv", "text/csv"), ("application/x-npy", "application/x-npy")],
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
    "too many features": ("1.0,2.0,3.0", "text/csv", 400,
                          "each row must have 2 features, got 3"),
    "too few features": (json.dumps([[1.0]]), "application/json", 400,
                         "each row must have 2 features, got 1"),
    "non-numeric csv": ("1.0,abc", "text/csv", 400,
                        "request rows must hold numbers only, all rows the same length"),
    "non-numeric json": (json.dumps([["a", None]]), "application/json", 400,
                         "request rows must hold numbers only, all rows the same length"),
    "ragged rows": (json.dumps([[1, 2], [3]]), "application/json", 400,
                    "request rows must hold numbers only, all rows the same length"),
    "nan": ("1.0,nan", "text/csv", 400, "request contains NaN or infinite values"),
    "infinity": ("[[1.0, Infinity]]", "application/json", 400,
                 "request contains NaN or infinite values"),
    "empty body": ("", "text/csv", 400, "request body is empty; send at least one row of "
                                        "features"),
    "blank body": (b" \n\n", "application/json", 400,
                   "request body is empty; send at least one row of features"),
    "empty npy": (b"", "application/x-npy", 400,
                  "request body is empty; send at least one row of features"),
    "empty json list": ("[]", "application/json", 400,
                        "expected rows of features, got an array of shape (0,)"),
    "invalid json": ("[1,", "application/json", 400,
                     "request body is not valid JSON: Expecting value: line 1 column 4 (char 3)"),
    "object without instances": ('{"rows": [[1, 2]]}', "application/json", 400,
                                 'JSON object body must have an "instances" list of rows'),
    "pickled npy": (npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
                    "application/x-npy", 400,
                    "request body is not a numeric .npy array: Object arrays cannot be loaded "
                    "when allow_pickle=False"),
    "3-d npy": (npy(np.zeros((1, 2, 2))), "application/x-npy", 400,
                "expected rows of features, got an array of shape (1, 2, 2)"),
    "unsupported content type": ("0,1", "text/plain", 415,
                                 "unsupported content type 'text/plain'; use text/csv, "
                                 "application/json or application/x-npy"),
    "missing content type": ("0,1", None, 415,
                             "unsupported content type None; use text/csv, application/json "
                             "or application/x-npy"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests_raise_a_client_error_saying_what_was_wrong(
    inference, served_model, case: str
) -> None:
    body, content_type, status, message = BAD_REQUESTS[case]
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, body, content_type)
    assert (caught.value.status_code, str(caught.value)) == (status, message)


def test_junk_npy_says_why_numpy_refused_it(inference, served_model) -> None:
    with pytest.raises(ValueError) as numpy_error:
        np.load(io.BytesIO(b"junk"), allow_pickle=False)
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, b"junk", "application/x-npy")
    assert caught.value.status_code == 400
    assert str(caught.value) == f"request body is not a numeric .npy array: {numpy_error.value}"


def test_unsupported_accept_is_406(inference, served_model) -> None:
    with pytest.raises(inference.InferenceError) as caught:
        serve(inference, served_model, "0,1", "text/csv", "text/html")
    assert caught.value.status_code == 406
    assert str(caught.value) == ("unsupported accept type 'text/html'; use application/json, "
                                 "text/csv or application/x-npy")


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
        def __init__(self, status_code: int, message: str | None = None,
                     phrase: str | None = None) -> None:
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
    names = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    allowed = set(sys.stdlib_module_names) | {"torch", "numpy", "sagemaker_inference"}
    assert names - allowed == set()
