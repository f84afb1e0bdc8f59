"""The serving contract, on an in-process server: routes, handler calls, errors, swaps."""

from __future__ import annotations

import http.client
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.local.endpoint.server import (
    MAX_PAYLOAD_BYTES,
    EndpointHTTPServer,
    HandlerError,
    load_model,
)
from tests.pipeline.local.endpoint.served import (
    ECHO_PROGRAM,
    TOKEN,
    call,
    error_of,
    model_env,
    write_model,
)


def test_ping_and_both_invocation_routes_call_the_handlers(serve: Callable) -> None:
    server = serve()
    assert call(server, "GET", "/ping")[0] == 200
    for path in ("/invocations", "/endpoints/ep/invocations"):
        status, response, body = call(
            server,
            "POST",
            path,
            b"1,2\n3,4\n",
            {"Content-Type": "text/csv", "Accept": "application/json"},
        )
        assert status == 200
        assert response.getheader("Content-Type") == "application/json"
        assert json.loads(body) == {
            "type": "str",
            "predictions": [3.0, 7.0],
            "accept": "application/json",
        }


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_missing_or_any_accept_means_json(serve: Callable, accept: str | None) -> None:
    headers = {"Content-Type": "text/csv", **({"Accept": accept} if accept else {})}
    status, _, body = call(serve(), "POST", "/invocations", b"1\n", headers)
    assert status == 200
    assert json.loads(body)["accept"] == "application/json"


def test_npy_arrives_as_bytes_and_a_tuple_sets_the_content_type(serve: Callable) -> None:
    server = serve()
    _, _, body = call(
        server, "POST", "/invocations", b"\x93NUMPY", {"Content-Type": "application/x-npy"}
    )
    assert json.loads(body)["type"] == "bytes"
    assert json.loads(body)["predictions"] == [6]
    status, response, body = call(
        server,
        "POST",
        "/invocations",
        b"1,1\n2,2\n",
        {"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert (status, response.getheader("Content-Type"), body) == (200, "text/csv", b"2.0\n4.0")


def test_client_error_keeps_its_status_and_message(serve: Callable) -> None:
    server = serve()
    status, response, body = call(
        server, "POST", "/invocations", b"1,x\n", {"Content-Type": "text/csv"}
    )
    assert status == 400
    assert error_of(body) == "features must be numbers, like 1.0,2.0"
    assert response.getheader("x-amzn-ErrorType") == "ModelError"
    assert call(server, "GET", "/ping")[0] == 200


def test_crashing_handler_is_500_without_traceback_and_is_logged(
    serve: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve()
    with caplog.at_level(logging.ERROR, logger="moonpipe.endpoint"):
        status, _, body = call(
            server, "POST", "/invocations", b"13\n", {"Content-Type": "text/csv"}
        )
    assert status == 500
    assert error_of(body) == "model handler raised ZeroDivisionError: unlucky"
    assert "Traceback" not in body.decode()
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
    assert call(server, "POST", "/invocations", b"1\n", {"Content-Type": "text/csv"})[0] == 200


def test_payload_over_6_mb_is_refused_without_reading_it(serve: Callable) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.putrequest("POST", "/invocations")
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Content-Length", str(MAX_PAYLOAD_BYTES + 1))
    conn.endheaders()  # no body sent: a server that waited for it would time out
    response = conn.getresponse()
    assert response.status == 413
    assert error_of(response.read()) == (
        f"payload of {MAX_PAYLOAD_BYTES + 1} bytes exceeds the "
        f"{MAX_PAYLOAD_BYTES}-byte limit; send smaller batches"
    )
    conn.close()
    assert call(server, "GET", "/ping")[0] == 200


def test_a_payload_of_exactly_6_mb_is_served(serve: Callable) -> None:
    body = b"\0" * MAX_PAYLOAD_BYTES
    status, _, reply = call(
        serve(), "POST", "/invocations", body, {"Content-Type": "application/x-npy"}
    )
    assert (status, json.loads(reply)["predictions"]) == (200, [MAX_PAYLOAD_BYTES])


@pytest.mark.parametrize(
    ("length", "status", "message"),
    [
        (None, 411, "send the body with a Content-Length header"),
        ("abc", 400, "invalid Content-Length 'abc'"),
        ("-5", 400, "invalid Content-Length '-5'"),
    ],
)
def test_missing_or_invalid_content_length(
    serve: Callable, length: str | None, status: int, message: str
) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.putrequest("POST", "/invocations")
    if length is not None:
        conn.putheader("Content-Length", length)
    conn.endheaders()
    response = conn.getresponse()
    assert (response.status, error_of(response.read())) == (status, message)
    conn.close()
    assert call(server, "GET", "/ping")[0] == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/nowhere", 404, "no route /nowhere; use GET /ping or POST /invocations"),
        (
            "POST",
            "/endpoints/other/invocations",
            404,
            "endpoint 'other' is not served here; this server serves 'ep'",
        ),
        ("GET", "/invocations", 405, "GET is not allowed on /invocations; use POST"),
        ("POST", "/ping", 405, "POST is not allowed on /ping; use GET"),
        (
            "DELETE",
            "/endpoints/ep/invocations",
            405,
            "DELETE is not allowed on /endpoints/ep/invocations; use POST",
        ),
    ],
)
def test_unknown_routes_and_wrong_methods(
    serve: Callable, method: str, path: str, status: int, message: str
) -> None:
    server = serve()
    code, _, body = call(server, method, path, b"1,2\n" if method == "POST" else None)
    assert (code, error_of(body)) == (status, message)
    assert call(server, "GET", "/ping")[0] == 200


def test_unread_body_closes_the_connection_instead_of_parsing_it(serve: Callable) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request("POST", "/endpoints/other/invocations", body=b"GET /ping HTTP/1.1\r\n\r\n")
    response = conn.getresponse()
    response.read()
    assert response.getheader("Connection") == "close"
    conn.close()


def test_default_handlers_serve_json_with_only_model_fn(serve: Callable) -> None:
    program = "def model_fn(model_dir):\n    return lambda rows: [sum(r) for r in rows]\n"
    server = serve(program)
    status, _, body = call(
        server, "POST", "/invocations", b"[[1, 2], [3, 4]]", {"Content-Type": "application/json"}
    )
    assert (status, json.loads(body)) == (200, [3, 7])
    status, _, body = call(
        server, "POST", "/invocations", b"1,2\n", {"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    assert (status, body) == (200, b"3.0\n")
    status, _, body = call(server, "POST", "/invocations", b"x", {"Content-Type": "image/png"})
    assert (status, error_of(body)) == (
        415,
        "content type 'image/png' is not supported; send "
        "application/json, text/csv or application/x-npy",
    )


def test_control_routes_need_the_token(serve: Callable) -> None:
    server = serve()
    status, _, body = call(server, "GET", "/_moonpipe/status")
    assert (status, error_of(body)) == (
        403,
        "control routes need a loopback client and the endpoint's token",
    )
    status, _, body = call(server, "GET", "/_moonpipe/status", headers={"X-Moonpipe-Token": TOKEN})
    assert (status, json.loads(body)["config_name"]) == (200, "cfg-a")


def _reload(server: EndpointHTTPServer, config: str, model_dir: Path) -> tuple[int, bytes]:
    spec = {"config_name": config, "model_dir": str(model_dir), "environment": model_env(model_dir)}
    status, _, body = call(
        server, "POST", "/_moonpipe/reload", json.dumps(spec).encode(), {"X-Moonpipe-Token": TOKEN}
    )
    return status, body


def test_reload_imports_the_new_code_fresh_and_swaps(serve: Callable) -> None:
    server = serve()
    new_dir = write_model(
        server.endpoint_dir / "models" / "cfg-b" / "v001" / "model",
        ECHO_PROGRAM,
        helper="-10 * sum(row)",
    )
    status, body = _reload(server, "cfg-b", new_dir)
    assert (status, json.loads(body)["config_name"]) == (200, "cfg-b")
    _, _, reply = call(server, "POST", "/invocations", b"1,2\n", {"Content-Type": "text/csv"})
    assert json.loads(reply)["predictions"] == [-30.0]
    assert str(new_dir / "code") in sys.path
    assert str(server.endpoint_dir / "models" / "cfg-a" / "v001" / "model" / "code") not in sys.path


def test_broken_reload_is_refused_and_the_old_model_serves_on(serve: Callable) -> None:
    server = serve()
    broken = ECHO_PROGRAM.replace(
        'return {"model_dir": model_dir}', 'raise RuntimeError("weights missing")'
    )
    new_dir = write_model(server.endpoint_dir / "models" / "cfg-b" / "v001" / "model", broken)
    status, body = _reload(server, "cfg-b", new_dir)
    assert (status, error_of(body)) == (
        422,
        "config 'cfg-b': loading inference.py raised RuntimeError: weights missing",
    )
    _, _, reply = call(server, "POST", "/invocations", b"1,2\n", {"Content-Type": "text/csv"})
    assert json.loads(reply)["predictions"] == [3.0]


def test_reload_outside_the_endpoints_models_is_refused(serve: Callable, tmp_path: Path) -> None:
    server = serve()
    elsewhere = write_model(tmp_path / "elsewhere", ECHO_PROGRAM)
    status, body = _reload(server, "cfg-b", elsewhere)
    models = (server.endpoint_dir / "models").resolve()
    assert (status, error_of(body)) == (
        400,
        f"bad reload request: model_dir {elsewhere.resolve()} is outside {models}",
    )


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            None,
            "config 'c': inference.py not found in {code}; ship the serving code in "
            "model.tar.gz under code/",
        ),
        ("x = 1\n", "config 'c': inference.py defines no model_fn(model_dir)"),
        (
            "import no_such_module_here\n",
            "config 'c': loading inference.py raised "
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
    ],
)
def test_load_model_failures_are_one_line(
    tmp_path: Path, program: str | None, message: str
) -> None:
    model_dir = write_model(tmp_path / "model", program or "")
    if program is None:
        (model_dir / "code" / "inference.py").unlink()
    with pytest.raises(HandlerError) as caught:
        load_model("c", model_dir, model_env(model_dir))
    assert str(caught.value) == message.format(code=model_dir / "code")
