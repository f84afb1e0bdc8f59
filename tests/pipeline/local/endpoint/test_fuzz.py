"""Fuzzing the local endpoint with the real model and serving code (issue 8).

A real server (in-process, on 127.0.0.1) serves a real MoonClassifier through the shipped
entrypoints/inference.py. Hypothesis sends it raw, hostile requests: random bytes, broken
request lines, wrong or conflicting lengths, truncated bodies, odd content types and bodies
built to stress the parsers. Every one must be answered within the time bound with a status
below 500 and a body that parses as what its Content-Type says; afterwards /ping and a
reference prediction are unchanged. The 10,000-request run is benchmarks/bench_endpoint.py.
"""

from __future__ import annotations

import http.client
import io
import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.local.endpoint.server import EndpointHTTPServer, load_model
from tests.pipeline.local.endpoint.served import TOKEN, call

ENTRYPOINTS = Path(__file__).resolve().parents[4] / "entrypoints"
TIME_BOUND_S = 10.0
REFERENCE = b"0.0,0.9\n1.0,-0.5\n"


def write_real_model(model_dir: Path) -> Path:
    """A model folder as train.py leaves it: weights (a state dict), config, serving code."""
    code = model_dir / "code"
    code.mkdir(parents=True)
    for name in ("inference.py", "network.py"):
        shutil.copyfile(ENTRYPOINTS / name, code / name)
    config = {"input_dim": 2, "hidden_dim": 8, "output_dim": 1, "num_hidden_layers": 2}
    (model_dir / "model_config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    layers = [
        torch.nn.Linear(2, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 8),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(8, 1),
    ]
    state = {
        f"layers.{i}.{k}": v
        for i, layer in enumerate(layers)
        for k, v in layer.state_dict().items()
    }
    state.update(feature_mean=torch.zeros(2), feature_std=torch.ones(2))
    torch.save(state, model_dir / "model.pth")
    return model_dir


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndpointHTTPServer]:
    import threading

    endpoint_dir = tmp_path_factory.mktemp("fuzz") / "ep"
    model_dir = write_real_model(endpoint_dir / "models" / "cfg" / "v001" / "model")
    env = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(model_dir / "code"),
    }
    server = EndpointHTTPServer(
        ("127.0.0.1", 0), "ep", endpoint_dir, load_model("cfg", model_dir, env), TOKEN
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.sampled_from([10**309, -(10**400), 1e308, 3.5e38, 0]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=20,
)
csv_bodies = st.lists(
    st.lists(st.one_of(numbers.map(str), st.text(max_size=6)), max_size=4), max_size=6
).map(lambda rows: "\n".join(",".join(r) for r in rows))
npy_bodies = st.builds(
    lambda rows, cols, dtype, cut: npy_bytes(np.ones((rows, cols), dtype=dtype))[:cut],
    st.integers(0, 4),
    st.integers(0, 3),
    st.sampled_from(["<f8", ">f4", "<i2", "|b1", "<c8", "<U3"]),
    st.integers(0, 400),
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    csv_bodies.map(str.encode),
    npy_bodies,
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"[" * 5000 + b"]" * 5000,
            b"1\r,1",
            b"PK\x03\x04",
            b"[[1e308,1e308]]",
            b"[[1" + b"0" * 320 + b",1]]",
            b"9" * 140_000 + b",1",
            b"\xff\xfe",
            b"",
        ]
    ),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "application/x-npy",
            "text/csv; charset=utf-8",
            "Application/JSON",
            "image/png",
            "",
            "*/*",
        ]
    ),
    st.text(max_size=20),
)
accepts = st.sampled_from(
    [None, "*/*", "application/json", "text/csv", "application/x-npy", "text/html", ""]
)
paths = st.sampled_from(
    [
        "/invocations",
        "/endpoints/ep/invocations",
        "/ping",
        "/",
        "/endpoints/other/invocations",
        "/_moonpipe/status",
        "/_moonpipe/reload",
        "/%00",
        "//invocations?x=1",
    ]
)
methods = st.sampled_from(["POST", "POST", "POST", "GET", "HEAD", "OPTIONS", "PUT", "FOO"])
versions = st.sampled_from(["HTTP/1.1"] * 4 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1"])
length_modes = st.sampled_from(
    ["exact", "exact", "short", "long", "none", "twice", "underscore", "chunked"]
)


def header_safe(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c.isascii())


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One raw HTTP request, usually well-formed around a hostile body, sometimes not at all."""
    if draw(st.integers(0, 9)) == 0:  # an empty request gets no answer, by design
        return draw(st.binary(min_size=1, max_size=200)) + draw(st.sampled_from([b"", b"\r\n\r\n"]))
    body, mode = draw(bodies), draw(length_modes)
    lines = [f"{draw(methods)} {draw(paths)} {draw(versions)}"]
    lines.append(f"Content-Type: {header_safe(draw(content_types))}")
    accept = draw(accepts)
    if accept is not None:
        lines.append(f"Accept: {accept}")
    declared = {"exact": len(body), "short": max(0, len(body) - 3), "long": len(body) + 50}
    if mode in declared:
        lines.append(f"Content-Length: {declared[mode]}")
    elif mode == "twice":
        lines += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 1}"]
    elif mode == "underscore":
        lines.append(f"Content-Length: {len(body)}_0")
    elif mode == "chunked":
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(port: int, request: bytes) -> tuple[int, str, bytes, float]:
    """Send one request, half-close, read the answer; fails on a hang-up or a hang."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=TIME_BOUND_S) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        method = request.split(b" ", 1)[0]
        response = http.client.HTTPResponse(sock, method="HEAD" if method == b"HEAD" else "GET")
        response.begin()
        body = response.read()
        return (
            response.status,
            response.getheader("Content-Type") or "",
            body,
            time.monotonic() - start,
        )


def assert_well_formed(content_type: str, body: bytes) -> None:
    """The body is what its Content-Type says: strict JSON (no NaN), CSV numbers or .npy."""
    if content_type == "application/json" and body:
        json.loads(body, parse_constant=lambda c: pytest.fail(f"{c} in a JSON answer"))
    elif content_type == "text/csv":
        assert np.isfinite([float(v) for v in body.decode().split()]).all()
    elif content_type == "application/x-npy":
        assert np.isfinite(np.load(io.BytesIO(body), allow_pickle=False)).all()


def reference_answer(server: EndpointHTTPServer) -> bytes:
    status, _, body = call(server, "POST", "/invocations", REFERENCE, {"Content-Type": "text/csv"})
    assert status == 200
    return body


def test_fuzzed_requests_never_get_5xx_a_hang_up_or_a_hang(server: EndpointHTTPServer) -> None:
    before = reference_answer(server)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests())
    def one_request(request: bytes) -> None:
        status, content_type, body, elapsed = exchange(server.server_address[1], request)
        assert status < 500, body
        assert elapsed < TIME_BOUND_S
        if status >= 400 and not request.startswith(b"HEAD "):
            assert content_type == "application/json"
            assert json.loads(body)["error"]
        assert_well_formed(content_type, body)

    one_request()
    assert call(server, "GET", "/ping")[0] == 200
    assert reference_answer(server) == before
