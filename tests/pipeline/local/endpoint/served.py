"""An in-process endpoint server for tests: a model folder, a fixture that serves it, a client.

The ``serve`` fixture itself is in conftest.py (so every test module here gets it); these are
the plain helpers the tests import.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.local.endpoint.server import EndpointHTTPServer, load_model

TOKEN = "test-token"

# Echoes what the toolkit contract hands the handlers, so tests can see it.
ECHO_PROGRAM = """
import json
from helper import combine

class ClientError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.status_code = 400

def model_fn(model_dir):
    return {"model_dir": model_dir}

def input_fn(body, content_type):
    if content_type == "application/x-npy":
        return {"type": type(body).__name__, "rows": [[len(body)]]}
    try:
        rows = [[float(v) for v in line.split(",")] for line in body.splitlines() if line]
    except ValueError:
        raise ClientError("features must be numbers, like 1.0,2.0") from None
    return {"type": type(body).__name__, "rows": rows}

def predict_fn(data, model):
    if data["rows"] == [[13.0]]:
        raise ZeroDivisionError("unlucky")
    return {"type": data["type"], "predictions": [combine(r) for r in data["rows"]]}

def output_fn(prediction, accept):
    if accept == "text/csv":
        return "\\n".join(map(str, prediction["predictions"])), "text/csv"
    return json.dumps({**prediction, "accept": accept})
"""


def write_model(model_dir: Path, program: str, helper: str = "sum(row)") -> Path:
    """A model dir as model.tar.gz would unpack: code/inference.py plus a sibling module."""
    code = model_dir / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(program)
    (code / "helper.py").write_text(f"def combine(row):\n    return {helper}\n")
    return model_dir


def model_env(model_dir: Path) -> dict[str, str]:
    return {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(model_dir / "code"),
    }


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., EndpointHTTPServer]]:
    """Start in-process servers on free ports; all are shut down after the test."""
    servers: list[EndpointHTTPServer] = []

    def start(program: str = ECHO_PROGRAM, helper: str = "sum(row)") -> EndpointHTTPServer:
        endpoint_dir = tmp_path / "ep"
        model_dir = write_model(
            endpoint_dir / "models" / "cfg-a" / "v001" / "model", program, helper
        )
        model = load_model("cfg-a", model_dir, model_env(model_dir))
        server = EndpointHTTPServer(("127.0.0.1", 0), "ep", endpoint_dir, model, TOKEN)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def call(
    server: EndpointHTTPServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


def error_of(body: bytes) -> str:
    return json.loads(body)["error"]
