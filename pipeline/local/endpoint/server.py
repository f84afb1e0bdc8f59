"""A local stand-in for a SageMaker PyTorch serving container, on 127.0.0.1.

Run as ``python -m pipeline.local.endpoint.server --endpoint-name N --endpoint-dir D
--config-name C --model-dir M [--host H] [--port P] [--workers W]``;
pipeline/local/endpoint/manager.py starts it. The process loads the model, binds the port
and forks W workers (default: one per core) that serve it, each with its own copy of the
model and the same limits (pipeline/local/endpoint/prefork.py keeps them and coordinates
swaps and drains). The model is served through its own handlers
(``code/<SAGEMAKER_PROGRAM>`` inside the model archive), called the way the inference toolkit
calls them, so what passes here serves there; loading and calling them is
pipeline/local/endpoint/serving.py, this module is only HTTP.

Routes:
- ``GET /ping`` → 200 once a model is loaded (it is loaded before the port opens).
- ``POST /invocations`` (container contract) and ``POST /endpoints/<name>/invocations``
  (runtime API, so boto3's ``invoke_endpoint`` works against ``endpoint_url``).
- Control, loopback clients with the token from ``<endpoint-dir>/control.token`` only:
  ``GET /_moonpipe/status`` → the served config; ``POST /_moonpipe/reload`` with JSON
  ``{"config_name", "model_dir", "environment"}`` has every worker load the new model next
  to the old one and swap one reference, so no request is refused or fails during an update.
- SIGTERM drains: nothing in flight is reset (pipeline/local/endpoint/http_limits.py).

Errors are JSON ``{"error": msg, "message": msg}`` plus an ``x-amzn-ErrorType`` header, so
curl users read ``error`` and botocore raises ``ModelError``/``ValidationError`` with the
message. Every malformed, oversized, truncated or slow request is a 4xx (limits and clocks in
pipeline/local/endpoint/http_limits.py); 500 is kept for a model handler's own failure. The log (the
server's stderr) gets one capped line per client error; tracebacks only for model failures.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from pipeline.local.endpoint import http_limits as limits
from pipeline.local.endpoint.http_limits import MAX_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from pipeline.local.endpoint.prefork import ReloadRefused, Supervisor, WorkerLink, worker_count

# The handler names stay importable from here too (tests and callers used them before the
# model side moved out); the `X as X` form marks them as deliberate re-exports.
from pipeline.local.endpoint.serving import HandlerError as HandlerError
from pipeline.local.endpoint.serving import LoadedModel as LoadedModel
from pipeline.local.endpoint.serving import default_input_fn as default_input_fn
from pipeline.local.endpoint.serving import default_output_fn as default_output_fn
from pipeline.local.endpoint.serving import default_predict_fn as default_predict_fn
from pipeline.local.endpoint.serving import load_model as load_model

CONTROL_PREFIX = "/_moonpipe/"
TOKEN_HEADER = "X-Moonpipe-Token"
TOKEN_FILE = "control.token"
_LOOPBACK = ("127.0.0.1", "::1")
_RELOAD_TIMEOUT_S = 120.0
_ROUTES = {
    "/ping": ("GET",),
    "/invocations": ("POST",),
    "/_moonpipe/status": ("GET",),
    "/_moonpipe/reload": ("POST",),
}

log = logging.getLogger("moonpipe.endpoint")


class EndpointHTTPServer(limits.BoundedThreadingServer):
    """Holds the served model; a swap replaces ``model`` in one assignment.

    ``listener``, ``share``: a pre-forked worker's shared socket and how many workers share
    it (http_limits.BoundedThreadingServer); ``link``: its way to the supervisor, through
    which a reload reaches every worker (None: this process is the only server, it swaps
    alone).
    """

    def __init__(
        self,
        address: tuple[str, int],
        endpoint_name: str,
        endpoint_dir: Path,
        model: LoadedModel,
        token: str,
        listener: socket.socket | None = None,
        share: int = 1,
        link: WorkerLink | None = None,
    ) -> None:
        super().__init__(address, RequestHandler, listener, share)
        self.endpoint_name = endpoint_name
        self.endpoint_dir = endpoint_dir
        self.model = model
        self.token = token
        self.reload_lock = threading.Lock()
        self.link = link

    def swap(self, config_name: str, model_dir: Path, environment: Mapping[str, str]) -> Any:
        """Load and serve a new model (in every worker); its status, or ReloadRefused (422)
        while the old model serves on."""
        spec = {"config_name": config_name, "model_dir": str(model_dir), "environment": environment}
        if self.link is not None:
            return self.link.reload(spec, _RELOAD_TIMEOUT_S)
        with self.reload_lock:
            self.model = self.prepare(spec)  # the swap: one reference assignment
        return self.model.status()

    def prepare(self, spec: Mapping[str, Any]) -> LoadedModel:
        """The model ``spec`` names, loaded beside the served one; ReloadRefused (422) if not."""
        try:
            return load_model(spec["config_name"], Path(spec["model_dir"]), spec["environment"])
        except HandlerError as exc:
            log.warning("reload to %s failed: %s", spec["config_name"], exc)
            raise ReloadRefused(422, str(exc)) from None

    def commit(self, model: LoadedModel) -> dict[str, Any]:
        """Serve ``model`` from now on (a worker's part of a coordinated swap)."""
        self.model = model
        log.info("now serving %s from %s", model.config_name, model.model_dir)
        return model.status()


class RequestHandler(limits.StrictRequestHandler):
    """One connection; each request reads ``server.model`` once so a swap never mixes models."""

    server: EndpointHTTPServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _dispatch(self, method: str) -> None:
        self._body_unread = (
            self.headers.get("Content-Length", "0").strip() != "0"
            or "Transfer-Encoding" in self.headers
        )
        path = self.path.split("?", 1)[0]
        runtime_name = _runtime_endpoint_name(path)
        allowed = ("POST",) if runtime_name is not None else _ROUTES.get(path)
        if allowed is None:
            self._error(
                404,
                f"no route {limits.printable(path)}; use GET /ping or POST /invocations",
                "ValidationError",
            )
        elif method not in allowed:
            self._error(
                405,
                f"{method} is not allowed on {limits.printable(path)}; use {allowed[0]}",
                "ValidationError",
                {"Allow": ", ".join(allowed)},
            )
        elif path.startswith(CONTROL_PREFIX):
            self._control(path)
        elif path == "/ping":
            self._send(200, b"", "text/plain")
        elif runtime_name is not None and runtime_name != self.server.endpoint_name:
            self._error(
                404,
                f"endpoint {limits.printable(runtime_name)!r} is not served here; "
                f"this server serves {self.server.endpoint_name!r}",
                "ValidationError",
            )
        else:
            self._invoke()

    def _invoke(self) -> None:
        length = self._content_length()
        if length is None:
            return
        slot = (
            self.server.large_body_slots
            if length > limits.LARGE_BODY_BYTES
            else contextlib.nullcontext()
        )
        with slot:  # big bodies a few at a time: memory stays bounded under any load
            body = self._read_body(length)
            if body is not None:
                self._answer(body)
        if length > limits.LARGE_BODY_BYTES:
            del body
            trim_malloc()

    def _answer(self, body: bytes) -> None:
        model = self.server.model
        content_type = self.headers.get("Content-Type", "application/json")
        try:
            payload, response_type = model.handle(body, content_type, self.headers.get("Accept"))
        except HandlerError as exc:
            self._error(exc.status, str(exc), "ModelError", model_error=True)
            return
        except Exception as exc:  # the model's own bug: log it whole, answer one line
            self.server.client_log.write(
                logging.ERROR, f"handler of {model.config_name} failed", exc_info=True
            )
            self._error(
                500,
                f"model handler raised {type(exc).__name__}: {exc}",
                "ModelError",
                model_error=True,
            )
            return
        self._send(200, payload, response_type, {"x-Amzn-Invoked-Production-Variant": "AllTraffic"})

    def _control(self, path: str) -> None:
        if (
            self.client_address[0] not in _LOOPBACK
            or self.headers.get(TOKEN_HEADER) != self.server.token
        ):
            self._error(
                403,
                "control routes need a loopback client and the endpoint's token",
                "AccessDeniedException",
            )
            return
        if path.endswith("/status"):
            self._send_json(200, self.server.model.status())
            return
        length = self._content_length()
        body = None if length is None else self._read_body(length)
        if body is not None:
            self._reload(body)

    def _reload(self, body: bytes) -> None:
        try:
            spec = json.loads(body)
            model_dir = Path(spec["model_dir"]).resolve()
            models_root = (self.server.endpoint_dir / "models").resolve()
            if not model_dir.is_relative_to(models_root):
                raise ValueError(f"model_dir {model_dir} is outside {models_root}")
            config_name, environment = str(spec["config_name"]), dict(spec["environment"])
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            self._error(400, f"bad reload request: {exc}", "ValidationError")
            return
        try:
            status = self.server.swap(config_name, model_dir, environment)
        except ReloadRefused as exc:
            self._error(exc.status, str(exc), "ModelError")
            return
        log.info("now serving %s from %s", config_name, model_dir)
        self._send_json(200, status)


def bound_malloc() -> None:
    """Make glibc give freed memory back, so RSS stays flat however bodies come and go.

    By default glibc raises its mmap threshold after a large block is freed (then keeps later
    large blocks in the heap for ever) and gives each new thread its own arena; a server
    parsing 6 MB bodies on short-lived threads then grows by hundreds of MB. A fixed threshold
    and two arenas keep it flat. A no-op where the C library is not glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD: fixed, so no dynamic growth
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def trim_malloc() -> None:
    """Return free heap pages to the system (after a large body was parsed and answered)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _runtime_endpoint_name(path: str) -> str | None:
    """``name`` for ``/endpoints/<name>/invocations``, else None."""
    parts = path.split("/")
    if (
        len(parts) == 4
        and parts[0] == ""
        and parts[1] == "endpoints"
        and parts[3] == "invocations"
        and parts[2]
    ):
        return parts[2]
    return None


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve one model on the SageMaker contract.")
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--endpoint-dir", required=True, type=Path)
    parser.add_argument("--config-name", required=True)
    parser.add_argument("--model-dir", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--workers", type=int, default=0, help="0 = one per core")
    return parser.parse_args(argv)


def _write_ready_file(endpoint_dir: Path, host: str, port: int) -> None:
    """Tell the manager which port was bound, after the model loaded and the port opened."""
    from pipeline.local.store.atomic import write_json

    write_json(endpoint_dir / "server.json", {"pid": os.getpid(), "host": host, "port": port})


def main(argv: list[str] | None = None) -> int:
    """Load the model, bind, fork the workers and keep them until SIGTERM (a drain); exit 3
    with a one-line reason on failure."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    bound_malloc()
    args = _parse_args(argv)
    token = (args.endpoint_dir / TOKEN_FILE).read_text().strip()
    try:
        model = load_model(args.config_name, args.model_dir, dict(os.environ))
        listener = _listen(args.host, args.port)
    except (HandlerError, OSError) as exc:
        reason = (
            str(exc)
            if isinstance(exc, HandlerError)
            else f"cannot listen on {args.host}:{args.port} ({exc.strerror}); free the "
            "port, or delete the endpoint and deploy again for a new one"
        )
        (args.endpoint_dir / "server.failure").write_text(reason + "\n")
        log.error("endpoint not started: %s", reason)
        return 3
    workers = args.workers or worker_count()

    def start_worker(link: socket.socket, spec: Mapping[str, Any] | None) -> NoReturn:
        code = 1
        try:
            code = _serve(args, token, listener, workers, link, model, spec)
        finally:
            logging.shutdown()
            os._exit(code)

    supervisor = Supervisor(listener, workers, start_worker, _same_folder(args.endpoint_dir))
    port = listener.getsockname()[1]
    _write_ready_file(args.endpoint_dir, args.host, port)  # they queue until a worker is up
    log.info(
        "serving %s (%s) on http://%s:%d with %d worker(s)",
        args.endpoint_name,
        args.config_name,
        args.host,
        port,
        workers,
    )
    code = supervisor.run()
    log.info("stopped (drained)" if code == 0 else "stopped: workers kept dying")
    return code


def _same_folder(endpoint_dir: Path) -> Callable[[], bool]:
    """Whether the endpoint's folder is still the one the server started in. A store
    deleted (``make clean``, ``rm -rf .moonpipe``) or replaced by a new one left its servers
    serving for ever, with no record left to delete them by; now they drain and exit."""
    home = os.stat(endpoint_dir)

    def still_there() -> bool:
        try:
            now = os.stat(endpoint_dir)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (home.st_dev, home.st_ino)

    return still_there


def _listen(host: str, port: int) -> socket.socket:
    """The endpoint's listening socket, non-blocking: its workers all accept on it, and the
    one that loses a connection to another must not wait for the next."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(limits.LISTEN_BACKLOG)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)
    return listener


def _serve(
    args: argparse.Namespace,
    token: str,
    listener: socket.socket,
    workers: int,
    link_socket: socket.socket,
    model: LoadedModel,
    spec: Mapping[str, Any] | None,
) -> int:
    """A worker: serve on the shared listener until SIGTERM or the supervisor's end, drain."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides; SIGTERM drains
    if spec is not None:  # a replacement: serve what the last swap chose
        try:
            model = load_model(spec["config_name"], Path(spec["model_dir"]), spec["environment"])
        except HandlerError as exc:
            log.error("worker not started: %s", exc)
            return 3
    address = (args.host, listener.getsockname()[1])
    server = EndpointHTTPServer(
        address, args.endpoint_name, args.endpoint_dir, model, token, listener, workers
    )
    link = WorkerLink(link_socket, server.prepare, server.commit)
    server.link = link
    link.start()
    threading.Thread(target=server.serve_forever, args=(0.1,), name="http", daemon=True).start()
    while not stop.wait(0.5) and not link.gone.is_set():
        pass
    if not server.drain():
        log.warning("drained with connections still open after %g s", limits.DRAIN_TIMEOUT_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
