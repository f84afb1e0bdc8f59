"""The endpoint's HTTP limits and the small parts that enforce them, apart from the routes.

pipeline/local/endpoint/server.py keeps the standard library's HTTP/1.1 server (measured
against uvicorn+h11 with the same model: as fast, and uvicorn answers malformed requests in
plain text, not the runtime API's JSON) and hardens it here: every limit is one named number,
checked before any work is done for the request.

- Connections: a listen backlog of ``LISTEN_BACKLOG`` and at most ``MAX_CONNECTIONS`` served
  at once (one thread each; the rest wait in the kernel's queue, never reset).
- Clocks: an idle keep-alive connection is closed after ``IDLE_TIMEOUT_S``; a started request
  must arrive whole (line, headers, body) within ``REQUEST_TIMEOUT_S``, so a slow or half-sent
  client holds its own thread only, and only for that long; a reply that the client does not
  read is abandoned after ``WRITE_TIMEOUT_S``.
- Bodies: ``MAX_PAYLOAD_BYTES`` (SageMaker's 6 MB), one exact ``Content-Length``; bodies over
  ``LARGE_BODY_BYTES`` are read and served ``LARGE_BODY_SLOTS`` at a time, which bounds the
  memory the parsers can take, whatever the number of clients.
- Log: one line per client error, capped (pipeline/local/endpoint/server_log.py).
- Draining (SIGTERM, ``--delete-endpoint``): no new connection is taken; each open one
  answers the request it is on, or one that arrives within ``DRAIN_GRACE_S``, with
  ``Connection: close`` and closes; nothing in flight is reset.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import itertools
import json
import logging
import math
import re
import socket
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from pipeline.local.endpoint.server_log import LOG_MAX_BYTES, CappedLog, printable

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's real-time invocation limit
LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 512
IDLE_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 30.0
WRITE_TIMEOUT_S = 30.0
LARGE_BODY_BYTES = 256 * 1024
LARGE_BODY_SLOTS = 2
LINGER_S = 2.0  # after answering a body it did not read, the server drains it this long
DRAIN_GRACE_S = 1.0  # draining, an idle keep-alive connection waits this long for a request
DRAIN_TIMEOUT_S = 8.0  # draining ends by then (the manager SIGKILLs a server after 10 s)
_WAKE_S = 0.25  # a reader waiting for bytes looks at its deadline this often (drain lowers it)

_DIGITS = re.compile(r"[0-9]{1,12}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110's token)
_MAX_LINE = 65536  # http.client's limits on a header block
_MAX_HEADERS = 100
# What the standard library's own parser answers, made 4xx: an unknown method is not allowed
# here (405, not 501), and HTTP/2 or another version is a malformed request to us (not 505).
_PROTOCOL_STATUS = {501: 405, 505: 400}


class BadContentLength(ValueError):
    """A Content-Length that is missing, malformed or ambiguous; ``status`` to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def content_length(values: list[str] | None, chunked: bool) -> int:
    """The one body length a request declares, or BadContentLength saying what is wrong.

    Plain digits only: ``int()`` would also take ``5_0``, ``+5`` and `` 5``, and two different
    lengths would let the server and a proxy disagree about where the next request starts.
    """
    if chunked or not values:
        raise BadContentLength(411, "send the body with a Content-Length header")
    if len(set(values)) > 1:
        raise BadContentLength(400, f"conflicting Content-Length headers {values!r}; send one")
    if not _DIGITS.fullmatch(values[0]):
        raise BadContentLength(400, f"invalid Content-Length {values[0]!r}")
    length = int(values[0])
    if length > MAX_PAYLOAD_BYTES:
        raise BadContentLength(
            413,
            f"payload of {length} bytes exceeds the "
            f"{MAX_PAYLOAD_BYTES}-byte limit; send smaller batches",
        )
    return length


class BadHeaders(ValueError):
    """A header block the server will not read: ``status``, ``reason`` and ``detail`` are
    what send_error answers (the standard library's words)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def read_headers(rfile: io.BufferedIOBase) -> http.client.HTTPMessage:
    """The header block up to its blank line, as http.client.parse_headers reads it (lines
    of at most 65536 bytes, at most 100 of them, folded lines joined), without the email
    parser. A line that is no ``Name: value`` is a 400 (the email parser would silently
    have taken it, and every header after it, for the body)."""
    fields: list[list[str]] = []
    for lines in itertools.count(1):
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise BadHeaders(431, "Line too long", "header line")
        if line in (b"\r\n", b"\n", b""):
            break
        if lines > _MAX_HEADERS:  # folded lines count, as in http.client
            raise BadHeaders(431, "Too many headers", f"got more than {_MAX_HEADERS} headers")
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:  # a folded line continues the one before
            fields[-1][1] = f"{fields[-1][1]} {text.strip()}"
            continue
        name, colon, value = text.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadHeaders(400, "Bad header line", printable(text))
        fields.append([name, value.strip(" \t")])
    message = http.client.HTTPMessage()
    for name, value in fields:
        message.set_raw(name, value)
    return message


def _version_number(version: str) -> tuple[int, int] | None:
    """(1, 1) for ``HTTP/1.1``; None for anything the standard library would refuse."""
    if not version.startswith("HTTP/"):
        return None
    parts = version.split("/", 1)[1].split(".")
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 10 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


class DeadlineReader(io.RawIOBase):
    """A socket's read side that fails with TimeoutError once ``deadline`` has passed.

    A per-read timeout alone lets a client that sends one byte every few seconds hold a
    connection for ever; a deadline bounds the whole request however the bytes trickle in.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("request deadline passed")
            self._sock.settimeout(min(remaining, _WAKE_S))
            try:
                return self._sock.recv_into(buffer)
            except TimeoutError:
                continue  # the deadline may have moved (a drain): look again


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header, formatted once a second rather than once a request."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class BoundedThreadingServer(ThreadingHTTPServer):
    """A thread per connection, at most MAX_CONNECTIONS of them, behind a real backlog.

    ``listener``: serve on this bound, listening socket (shared with the other worker
    processes of a pre-forked server) instead of binding ``address``; ``share``: how many
    processes share it, so the connection, large-body and log limits hold for them all.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG  # bursts wait in the kernel instead of a reset

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        listener: socket.socket | None = None,
        share: int = 1,
    ) -> None:
        super().__init__(address, handler, bind_and_activate=listener is None)
        if listener is not None:
            self.socket.close()
            self.socket = listener
            self.server_address = listener.getsockname()[:2]
        self.max_connections = max(1, MAX_CONNECTIONS // share)
        self.connection_slots = threading.BoundedSemaphore(self.max_connections)
        self.large_body_slots = threading.BoundedSemaphore(max(1, LARGE_BODY_SLOTS // share))
        self.client_log = CappedLog(
            logging.getLogger("moonpipe.endpoint"), max_bytes=LOG_MAX_BYTES // share
        )
        self.draining = False
        self.drain_deadline = math.inf
        self._open: set[StrictRequestHandler] = set()
        self._open_lock = threading.Lock()

    def opened(self, handler: StrictRequestHandler) -> None:
        with self._open_lock:
            self._open.add(handler)

    def closed(self, handler: StrictRequestHandler) -> None:
        with self._open_lock:
            self._open.discard(handler)

    def drain(self, grace_s: float = DRAIN_GRACE_S, within_s: float = DRAIN_TIMEOUT_S) -> bool:
        """Stop taking connections and let the open ones finish (see the module docstring);
        call from another thread than serve_forever's. True once every connection has
        closed, False if some were still open after ``within_s``."""
        self.drain_deadline = time.monotonic() + grace_s
        self.draining = True  # a connection that starts to wait from now on sees it
        with self._open_lock:
            for handler in self._open:
                handler.drain_by(self.drain_deadline)  # one already waiting
        self.shutdown()
        self._take_queued()
        deadline = time.monotonic() + within_s
        taken = 0
        while taken < self.max_connections:
            if not self.connection_slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
            taken += 1
        return True

    def _take_queued(self) -> None:
        """Serve the connections the kernel completed before the listener stopped taking
        new ones (a non-blocking listener says when there are none left)."""
        while True:
            try:
                request, client_address = self.get_request()
            except OSError:
                return
            self.process_request(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a connection's thread once one of MAX_CONNECTIONS slots is free."""
        self.connection_slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connection_slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def shutdown_request(self, request: Any) -> None:
        """Close gracefully: answer first, then drain what the client still sends.

        Closing a socket with unread bytes makes the kernel send a reset, which can destroy
        the answer (a 413, a 400) before the client reads it; a bounded drain avoids that.
        """
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
            deadline, drained = time.monotonic() + LINGER_S, 0
            while drained <= MAX_PAYLOAD_BYTES and time.monotonic() < deadline:
                request.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (reset, timeout): one capped line, no traceback."""
        exc = sys.exc_info()[1]
        self.client_log.write(
            logging.INFO, f"{client_address[0]} connection ended: {type(exc).__name__}: {exc}"
        )


class StrictRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, deadlines, exact bodies and every error a JSON 4xx.

    Subclasses add the routes (``do_GET`` ...) and call ``_content_length``, ``_read_body``,
    ``_error`` and ``_send``; nothing here knows about models.
    """

    protocol_version = "HTTP/1.1"
    server: BoundedThreadingServer
    timeout = IDLE_TIMEOUT_S
    disable_nagle_algorithm = True  # a reply is one write; never wait 40 ms for an ACK
    _body_unread = False
    _reader: DeadlineReader

    _idle = False

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced by a reader that enforces the request deadline
        self._reader = DeadlineReader(self.connection)
        self._buffered = io.BufferedReader(self._reader, 65536)
        self.rfile = self._buffered
        self.server.opened(self)

    def finish(self) -> None:
        self.server.closed(self)
        super().finish()

    def drain_by(self, deadline: float) -> None:
        """The server drains: if waiting for a request, wait no later than ``deadline``."""
        if self._idle:
            self._reader.deadline = min(self._reader.deadline, deadline)

    def handle_one_request(self) -> None:
        """Wait IDLE_TIMEOUT_S for a request to start, then REQUEST_TIMEOUT_S for all of it."""
        # None until a request line is read, as http.server itself has it (typeshed says str)
        self.command, self.path, self.request_version = cast(str, None), "", "HTTP/1.1"
        self.requestline, self._body_unread = "", False
        self._reader.deadline = time.monotonic() + IDLE_TIMEOUT_S
        self._idle = True  # before looking at draining: drain() sees one or the other
        if self.server.draining:
            self._reader.deadline = min(self._reader.deadline, self.server.drain_deadline)
        try:
            started = self._buffered.peek(1)
        except OSError:  # TimeoutError included: an idle keep-alive connection, closed quietly
            started = b""
        self._idle = False
        if not started:
            self.close_connection = True
            return
        self._reader.deadline = time.monotonic() + REQUEST_TIMEOUT_S
        try:
            self._handle_started_request()
        except TimeoutError:
            self._timed_out()

    def _handle_started_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if self.raw_requestline in (b"\r\n", b"\n"):  # one blank line between requests: allowed
            self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414, "request line longer than 65536 bytes")
        elif not self.raw_requestline.strip():
            self.send_error(400, "empty request line; send METHOD /path HTTP/1.1")
        elif self.parse_request():
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(501)
            else:
                method()
        self.wfile.flush()

    def parse_request(self) -> bool:
        """The standard library's parse_request (request line, then headers), with the
        headers read by :func:`read_headers` instead of the email parser (a fifth of a small
        request's time went there). Same answers for bad request lines and header blocks."""
        self.command = cast(str, None)  # set in case of error on the first line
        self.request_version = version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) >= 3:  # enough to determine the protocol version
            version = words[-1]
            number = _version_number(version)
            if number is None:
                self.send_error(400, f"Bad request version ({version!r})")
                return False
            if number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if number >= (2, 0):
                self.send_error(505, f"Invalid HTTP version ({version.split('/', 1)[1]})")
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(400, f"Bad request syntax ({self.requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(400, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, path
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = read_headers(self.rfile)
        except BadHeaders as err:
            self.send_error(err.status, err.reason, err.detail)
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "")
        if expect.lower() == "100-continue" and self.request_version >= "HTTP/1.1":
            return bool(self.handle_expect_100())
        return True

    def _timed_out(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._error(
                408,
                f"request not received whole within {REQUEST_TIMEOUT_S:g} "
                "s; send the headers and body without pausing",
                "ValidationError",
            )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's protocol errors, as our one-line JSON 4xx."""
        status = _PROTOCOL_STATUS.get(code, code)
        if code == 501:
            message = (
                f"method {printable(str(self.command))} is not supported; use "
                "GET /ping or POST /invocations"
            )
        elif code == 505:
            message = f"{printable(self.requestline.split()[-1])} is not supported; send HTTP/1.1"
        else:
            text = " ".join(filter(None, [message, explain])) or HTTPStatus(code).phrase
            message = printable(text)
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"  # never answer in HTTP/0.9 (no status line)
        self._body_unread = True  # the stream is out of step: close after answering
        self._error(status, message, "ValidationError")

    def _content_length(self) -> int | None:
        """The declared body length, or None after answering 411/400/413 (body unread)."""
        try:
            return content_length(
                self.headers.get_all("Content-Length"), "Transfer-Encoding" in self.headers
            )
        except BadContentLength as exc:
            self._error(exc.status, str(exc), "ValidationError")
            return None

    def _read_body(self, length: int) -> bytes | None:
        """The whole body, or None after answering 400 for one cut short by the client."""
        body = self.rfile.read(length)
        if len(body) < length:
            self._error(
                400,
                f"request body ended after {len(body)} of the {length} bytes its "
                "Content-Length declared; send the whole body",
                "ValidationError",
            )
            return None
        self._body_unread = False
        return body

    def _error(
        self,
        status: int,
        message: str,
        error_type: str,
        headers: dict[str, str] | None = None,
        model_error: bool = False,
    ) -> None:
        body: dict[str, Any] = {"error": message, "message": message}
        if model_error:  # the shape of the runtime API's ModelError
            body.update(OriginalStatusCode=status, OriginalMessage=message)
        level = logging.WARNING if status >= 500 else logging.INFO
        self.server.client_log.write(
            level,
            f"{self.client_address[0]} {self.command} "
            f"{printable(self.path or '')} -> {status} {message}",
        )
        self._send_json(status, body, {"x-amzn-ErrorType": error_type, **(headers or {})})

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Status line, headers and body in one write (one packet for small replies)."""
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Server: moonpipe",
            f"Date: {http_date()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self._body_unread or self.server.draining:  # unread bytes would parse as the next
            self.close_connection = True  # request, and a draining server takes no next one
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.connection.settimeout(WRITE_TIMEOUT_S)
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def log_message(self, format: str, *args: Any) -> None:
        """Whatever the standard library still logs, through the capped client log."""
        self.server.client_log.write(
            logging.INFO, f"{self.client_address[0]} {printable(format % args)}"
        )
