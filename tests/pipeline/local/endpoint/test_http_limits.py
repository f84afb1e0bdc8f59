"""The endpoint's HTTP layer under malformed, truncated, slow and abusive requests (issue 8).

Every request here is sent byte for byte over a raw socket, as a hostile client would, and
every one must be answered: a 4xx with a one-line JSON error, never a dropped connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable

import pytest

from pipeline.local.endpoint import http_limits as endpoint_http
from pipeline.local.endpoint.http_limits import BadContentLength, content_length
from pipeline.local.endpoint.server import EndpointHTTPServer
from tests.pipeline.local.endpoint.served import call

CSV = b"Content-Type: text/csv\r\n"


def raw(
    server: EndpointHTTPServer, data: bytes, half_close: bool = True, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is; return the parsed response (fails if the server hangs up)."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def json_error(body: bytes) -> str:
    return json.loads(body)["error"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (b"GET /ping HTTP/2.0\r\n\r\n", 400, "HTTP/2.0 is not supported; send HTTP/1.1"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            400,  # a TLS hello
            "Bad request syntax ('\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\xfc\\x03\\x03')",
        ),
        (b"GET /ping HTTP/1.x\r\n\r\n", 400, "Bad request version ('HTTP/1.x')"),
        (b"\r\n\r\n", 400, "empty request line; send METHOD /path HTTP/1.1"),
        (
            b"FOO /ping HTTP/1.1\r\n\r\n",
            405,
            "method FOO is not supported; use GET /ping or POST /invocations",
        ),
        (
            b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
            414,
            "request line longer than 65536 bytes",
        ),
        (
            b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n",
            431,
            "Too many headers got more than 100 headers",
        ),
    ],
)
def test_a_malformed_request_line_or_header_block_gets_a_json_4xx(
    serve: Callable, request_bytes: bytes, status: int, message: str
) -> None:
    server = serve()
    code, headers, body = raw(server, request_bytes)
    assert (code, headers["Content-Type"], json_error(body)) == (
        status,
        "application/json",
        message,
    )
    assert headers["Connection"] == "close"
    assert call(server, "GET", "/ping")[0] == 200


@pytest.mark.parametrize("lengths", [["5_0"], ["+5"], ["5 5"], ["5", "6"], ["0x5"]])
def test_ambiguous_content_length_is_refused(serve: Callable, lengths: list[str]) -> None:
    headers = b"".join(b"Content-Length: %s\r\n" % v.encode() for v in lengths)
    code, _, body = raw(
        serve(), b"POST /invocations HTTP/1.1\r\n" + CSV + headers + b"\r\n1,2\n3,4\n" + b"0" * 50
    )
    assert code == 400
    assert json_error(body).startswith(("invalid Content-Length", "conflicting Content-Length"))


def test_a_truncated_body_is_400_not_a_prediction_from_the_rows_that_came(serve: Callable) -> None:
    code, _, body = raw(
        serve(), b"POST /invocations HTTP/1.1\r\n" + CSV + b"Content-Length: 100\r\n\r\n1,2\n3,4\n"
    )
    assert (code, json_error(body)) == (
        400,
        "request body ended after 8 of the 100 bytes its Content-Length declared; send "
        "the whole body",
    )


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_get_405_with_allow_and_head_gets_no_body(
    serve: Callable, method: str
) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request(method, "/ping")
    response = conn.getresponse()
    body = response.read()
    assert (response.status, response.getheader("Allow")) == (405, "GET")
    assert (
        body == b""
        if method == "HEAD"
        else json_error(body) == ("OPTIONS is not allowed on /ping; use GET")
    )
    conn.request("GET", "/ping")  # the connection is still in step
    assert conn.getresponse().status == 200
    conn.close()


def test_keep_alive_serves_many_requests_on_one_connection(serve: Callable) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    ports = set()
    for i in range(20):
        conn.request("POST", "/invocations", b"%d,1\n" % i, {"Content-Type": "text/csv"})
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())["predictions"]) == (200, [i + 1.0])
        ports.add(conn.sock.getsockname()[1])
    assert len(ports) == 1
    conn.close()


def test_a_slow_client_gets_408_and_does_not_hold_up_others(
    serve: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint_http, "REQUEST_TIMEOUT_S", 0.6)
    server = serve()
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        start = time.monotonic()
        with contextlib.suppress(BrokenPipeError):  # the server answers at its deadline
            for byte in b"POST /invocations HTTP/1.1\r\nContent-Length: 4\r\n\r\n1":
                sock.sendall(bytes([byte]))  # each read on time, the whole request late
                if time.monotonic() - start < 0.3:
                    assert call(server, "GET", "/ping")[0] == 200  # others are served
                time.sleep(0.02)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 408
        assert json_error(response.read()) == (
            "request not received whole within 0.6 s; send the headers and body without pausing"
        )
        assert time.monotonic() - start < 3


def test_an_idle_keep_alive_connection_is_closed(
    serve: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint_http, "IDLE_TIMEOUT_S", 0.3)
    server = serve()
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        assert sock.recv(1) == b""  # closed by the server, with nothing sent


def test_300_concurrent_clients_are_all_answered(serve: Callable) -> None:
    server = serve()
    results: list[int | str] = []

    def client(i: int) -> None:
        try:
            results.append(
                call(server, "POST", "/invocations", b"%d,1\n" % i, {"Content-Type": "text/csv"})[0]
            )
        except OSError as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 300


def test_a_client_error_logs_one_line_without_traceback(
    serve: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve()
    with caplog.at_level(logging.INFO, logger="moonpipe.endpoint"):
        raw(server, b"GET /ping HTTP/2.0\r\n\r\n")
    assert [(r.getMessage(), bool(r.exc_info)) for r in caplog.records] == [
        ("127.0.0.1 None  -> 400 HTTP/2.0 is not supported; send HTTP/1.1", False)
    ]


@pytest.mark.parametrize(
    ("values", "chunked", "status"),
    [
        (None, False, 411),
        (["5"], True, 411),
        (["1_0"], False, 400),
        (["5", "05"], False, 400),
        ([str(6 * 1024 * 1024 + 1)], False, 413),
        (["9" * 13], False, 400),
    ],
)
def test_content_length_rules(values: list[str] | None, chunked: bool, status: int) -> None:
    with pytest.raises(BadContentLength) as caught:
        content_length(values, chunked)
    assert caught.value.status == status


def test_content_length_accepts_plain_digits_up_to_6_mb() -> None:
    assert content_length(["0"], False) == 0
    assert content_length(["6291456", "6291456"], False) == 6 * 1024 * 1024


def test_a_client_that_sends_its_whole_oversize_body_still_reads_the_413(serve: Callable) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request(
        "POST",
        "/invocations",
        b"1" * (endpoint_http.MAX_PAYLOAD_BYTES + 1),
        {"Content-Type": "text/csv"},
    )  # sent whole before the answer is read
    response = conn.getresponse()
    assert (response.status, response.getheader("Connection")) == (413, "close")
    assert json_error(response.read()).startswith("payload of 6291457 bytes exceeds")
    conn.close()


@pytest.mark.parametrize(
    ("block", "status", "message"),
    [
        (b"no colon here\r\n", 400, "Bad header line no colon here"),
        (b"Bad Name: 1\r\n", 400, "Bad header line Bad Name: 1"),
        (b"X-A: 1\r\n" + b" folded\r\n" * 100, 431, "Too many headers got more than 100 headers"),
    ],
)
def test_a_header_block_the_server_will_not_read_gets_a_json_4xx(
    serve: Callable, block: bytes, status: int, message: str
) -> None:
    """Headers are read without the email parser; a malformed line is refused, not taken
    for the start of a body, and folded lines count towards the 100-line limit."""
    server = serve()
    code, headers, body = raw(server, b"GET /ping HTTP/1.1\r\n" + block + b"\r\n")
    assert (code, json_error(body), headers["Connection"]) == (status, message, "close")


def test_a_folded_header_line_continues_the_one_before() -> None:
    import io

    block = b"Content-Type: text/csv;\r\n charset=utf-8\r\nAccept:  */* \r\n\r\n"
    headers = endpoint_http.read_headers(io.BytesIO(block))
    assert headers.get("content-type") == "text/csv; charset=utf-8"
    assert headers.get("Accept") == "*/*"
