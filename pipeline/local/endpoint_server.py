"""A local stand-in for a SageMaker PyTorch serving container, on 127.0.0.1.

Run as ``python -m pipeline.local.endpoint_server --endpoint-name N --endpoint-dir D
--config-name C --model-dir M [--host H] [--port P]``; pipeline/local/endpoints.py starts it.
The model is served through its own handlers (``code/<SAGEMAKER_PROGRAM>`` inside the model
archive), called the way the inference toolkit calls them, so what passes here serves there.

Routes:
- ``GET /ping`` → 200 once a model is loaded (it is loaded before the port opens).
- ``POST /invocations`` (container contract) and ``POST /endpoints/<name>/invocations``
  (runtime API, so boto3's ``invoke_endpoint`` works against ``endpoint_url``).
- Control, loopback clients with the token from ``<endpoint-dir>/control.token`` only:
  ``GET /_moonpipe/status`` → the served config; ``POST /_moonpipe/reload`` with JSON
  ``{"config_name", "model_dir", "environment"}`` loads the new model next to the old one and
  swaps one reference, so no request is refused or fails during an update.

Errors are JSON ``{"error": msg, "message": msg}`` plus an ``x-amzn-ErrorType`` header, so
curl users read ``error`` and botocore raises ``ModelError``/``ValidationError`` with the
message. Tracebacks go to the log (the server's stderr), never to the client.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's real-time invocation limit
CONTROL_PREFIX = "/_moonpipe/"
TOKEN_HEADER = "X-Moonpipe-Token"
TOKEN_FILE = "control.token"
_LOOPBACK = ("127.0.0.1", "::1")
_ROUTES = {"/ping": ("GET",), "/invocations": ("POST",), "/_moonpipe/status": ("GET",),
           "/_moonpipe/reload": ("POST",)}

log = logging.getLogger("moonpipe.endpoint")


_TEXT_TYPES = ("application/json", "text/csv")  # the toolkit hands these to input_fn as str
_code_dirs_loaded: list[Path] = []  # code dirs of every model this process imported


class HandlerError(Exception):
    """A request or a model the handlers refused; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the handler wrote
        self.status = status


@dataclass(frozen=True)
class LoadedModel:
    """One loaded model and its handlers; immutable, so a swap is a reference assignment."""

    config_name: str
    model_dir: Path
    module: ModuleType
    model: Any
    default_accept: str = "application/json"
    loaded_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def status(self) -> dict[str, Any]:
        """What the manager asks the control route: which config serves, since when."""
        return {"config_name": self.config_name, "model_dir": str(self.model_dir),
                "loaded_at": self.loaded_at, "pid": os.getpid()}

    def handle(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """One invocation, as the toolkit's Transformer does it; returns (body, content type).

        Raises:
            HandlerError: a client error (a handler exception with a 4xx ``status_code``).
        """
        accept = accept if accept and accept.strip() != "*/*" else self.default_accept
        data = body
        if content_type.split(";")[0].strip().lower() in _TEXT_TYPES:
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HandlerError(400, f"body is not UTF-8 text ({exc.reason})") from exc
        try:
            result = self._run_handlers(data, content_type, accept)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                raise HandlerError(status, str(getattr(exc, "message", None) or exc)) from exc
            raise
        if isinstance(result, tuple):  # (body, content_type), as the toolkit accepts
            result, accept = result[0], str(result[1])
        if isinstance(result, str):
            result = result.encode("utf-8")
        if not isinstance(result, bytes | bytearray):
            raise TypeError(f"output_fn returned {type(result).__name__}; return str or bytes")
        return bytes(result), accept

    def _run_handlers(self, data: str | bytes, content_type: str, accept: str) -> Any:
        transform_fn = getattr(self.module, "transform_fn", None)
        if transform_fn is not None:
            return transform_fn(self.model, data, content_type, accept)
        input_fn = getattr(self.module, "input_fn", default_input_fn)
        predict_fn = getattr(self.module, "predict_fn", default_predict_fn)
        output_fn = getattr(self.module, "output_fn", default_output_fn)
        return output_fn(predict_fn(input_fn(data, content_type), self.model), accept)


def default_input_fn(data: str | bytes, content_type: str) -> Any:
    """JSON → Python objects, CSV → rows of floats, NPY → numpy array (no torch needed)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == "application/json":
            return json.loads(data)
        if media == "text/csv":
            return [[float(v) for v in line.split(",")] for line in str(data).splitlines()
                    if line.strip()]
        if media == "application/x-npy":
            import numpy as np

            return np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    except ValueError as exc:
        raise HandlerError(400, f"cannot parse the {media} body: {exc}") from exc
    raise HandlerError(415, f"content type {content_type!r} is not supported; send "
                       "application/json, text/csv or application/x-npy")


def default_predict_fn(data: Any, model: Any) -> Any:
    """Call the model, as the PyTorch toolkit's default does (without torch.no_grad)."""
    return model(data)


def default_output_fn(prediction: Any, accept: str) -> bytes:
    """Encode as JSON (default), CSV or NPY; ``tolist()`` covers numpy arrays and tensors."""
    media = accept.split(";")[0].strip().lower()
    value = prediction.tolist() if hasattr(prediction, "tolist") else prediction
    if media == "application/json":
        return json.dumps(value).encode()
    if media == "text/csv":
        rows = value if isinstance(value, list) else [value]
        return "".join(",".join(map(str, r if isinstance(r, list) else [r])) + "\n"
                       for r in rows).encode()
    if media == "application/x-npy":
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(value), allow_pickle=False)
        return buffer.getvalue()
    raise HandlerError(406, f"accept type {accept!r} is not supported; ask for "
                       "application/json, text/csv or application/x-npy")


def load_model(config_name: str, model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    """Import ``<code dir>/<SAGEMAKER_PROGRAM>`` fresh and call its ``model_fn`` once.

    Raises:
        HandlerError: (500) the program is missing, fails to import, or model_fn raises.
    """
    program = environment.get("SAGEMAKER_PROGRAM", "inference.py")
    submit_dir = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", str(model_dir / "code"))
    code_dir = Path(submit_dir)
    if "://" in submit_dir or not (code_dir / program).is_file():
        raise HandlerError(500, f"config {config_name!r}: {program} not found in {submit_dir}; "
                           "ship the serving code in model.tar.gz under code/")
    os.environ.update(environment)  # a container sees its model's environment
    try:
        module = _import_fresh(code_dir, code_dir / program)
        model_fn = getattr(module, "model_fn", None)
        if model_fn is None:
            raise HandlerError(500, f"{program} defines no model_fn(model_dir)")
        model = model_fn(str(model_dir))
    except HandlerError as exc:
        raise HandlerError(500, f"config {config_name!r}: {exc}") from exc
    except Exception as exc:
        log.exception("loading %s failed", config_name)
        raise HandlerError(500, f"config {config_name!r}: loading {program} raised "
                           f"{type(exc).__name__}: {exc}") from exc
    _limit_torch_threads()
    accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    return LoadedModel(config_name, model_dir, module, model, accept)


def _import_fresh(code_dir: Path, program_path: Path) -> ModuleType:
    """Import the program so that it and its siblings come from ``code_dir``, not a cache.

    Modules imported from earlier models' code dirs are dropped from ``sys.modules`` (their
    handlers keep their own references, so the old model serves on); if the import fails,
    they and ``sys.path`` are put back, so a broken update leaves the old model intact.
    """
    old_dirs = [d for d in _code_dirs_loaded if d != code_dir]
    purged = {name: mod for name, mod in list(sys.modules.items())
              if _file_under(mod, [*old_dirs, code_dir])}
    for name in purged:
        del sys.modules[name]
    saved_path = list(sys.path)
    sys.path[:] = [code_dir.as_posix()] + [p for p in sys.path if Path(p) not in old_dirs]
    importlib.invalidate_caches()
    try:
        spec = importlib.util.spec_from_file_location(program_path.stem, program_path)
        assert spec is not None and spec.loader is not None  # a .py file always has both
        module = importlib.util.module_from_spec(spec)
        sys.modules[program_path.stem] = module
        spec.loader.exec_module(module)
    except BaseException:
        for name, mod in list(sys.modules.items()):
            if _file_under(mod, [code_dir]):
                del sys.modules[name]
        sys.modules.update(purged)
        sys.path[:] = saved_path
        raise
    _code_dirs_loaded.append(code_dir)
    return module


def _file_under(module: ModuleType | None, dirs: list[Path]) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and any(Path(file).is_relative_to(d) for d in dirs)


def _limit_torch_threads() -> None:
    """One intra-op and inter-op thread if the handlers imported torch (2 shared cores)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
        with contextlib.suppress(RuntimeError):  # only allowed before any inter-op work
            torch.set_num_interop_threads(1)


class EndpointHTTPServer(ThreadingHTTPServer):
    """Holds the served model; a swap replaces ``model`` in one assignment."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoint_name: str, endpoint_dir: Path,
                 model: LoadedModel, token: str) -> None:
        super().__init__(address, RequestHandler)
        self.endpoint_name = endpoint_name
        self.endpoint_dir = endpoint_dir
        self.model = model
        self.token = token
        self.reload_lock = threading.Lock()


class RequestHandler(BaseHTTPRequestHandler):
    """One request; reads ``server.model`` once so a concurrent swap never mixes models."""

    protocol_version = "HTTP/1.1"
    server: EndpointHTTPServer
    _body_unread = False
    timeout = 60  # idle keep-alive connections are dropped, so shutdown never waits on them
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

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

    def _dispatch(self, method: str) -> None:
        self._body_unread = self.headers.get("Content-Length", "0").strip() != "0" or \
            "Transfer-Encoding" in self.headers
        path = self.path.split("?", 1)[0]
        runtime_name = _runtime_endpoint_name(path)
        allowed = ("POST",) if runtime_name is not None else _ROUTES.get(path)
        if allowed is None:
            self._error(404, f"no route {path}; use GET /ping or POST /invocations",
                        "ValidationError")
        elif method not in allowed:
            self._error(405, f"{method} is not allowed on {path}; use {allowed[0]}",
                        "ValidationError", {"Allow": ", ".join(allowed)})
        elif path.startswith(CONTROL_PREFIX):
            self._control(path)
        elif path == "/ping":
            self._send(200, b"", "text/plain")
        elif runtime_name is not None and runtime_name != self.server.endpoint_name:
            self._error(404, f"endpoint {runtime_name!r} is not served here; this server "
                        f"serves {self.server.endpoint_name!r}", "ValidationError")
        else:
            self._invoke()

    def _invoke(self) -> None:
        body = self._read_body()
        if body is None:
            return
        model = self.server.model
        content_type = self.headers.get("Content-Type", "application/json")
        try:
            payload, response_type = model.handle(body, content_type, self.headers.get("Accept"))
        except HandlerError as exc:
            self._error(exc.status, str(exc), "ModelError", model_error=True)
            return
        except Exception as exc:  # the model's own bug: log it whole, answer one line
            log.exception("handler of %s failed", model.config_name)
            self._error(500, f"model handler raised {type(exc).__name__}: {exc}", "ModelError",
                        model_error=True)
            return
        self._send(200, payload, response_type,
                   {"x-Amzn-Invoked-Production-Variant": "AllTraffic"})

    def _control(self, path: str) -> None:
        if self.client_address[0] not in _LOOPBACK or \
                self.headers.get(TOKEN_HEADER) != self.server.token:
            self._error(403, "control routes need a loopback client and the endpoint's token",
                        "AccessDeniedException")
            return
        if path.endswith("/status"):
            self._send_json(200, self.server.model.status())
            return
        body = self._read_body()
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
        except (ValueError, KeyError, TypeError) as exc:
            self._error(400, f"bad reload request: {exc}", "ValidationError")
            return
        with self.server.reload_lock:
            try:
                new_model = load_model(config_name, model_dir, environment)
            except HandlerError as exc:
                log.warning("reload to %s failed: %s", config_name, exc)
                self._error(422, str(exc), "ModelError")
                return
            self.server.model = new_model  # the swap: one reference assignment
        log.info("now serving %s from %s", config_name, model_dir)
        self._send_json(200, new_model.status())

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 411/400/413 (without reading it)."""
        raw = self.headers.get("Content-Length")
        if raw is None or self.headers.get("Transfer-Encoding"):
            self._error(411, "send the body with a Content-Length header", "ValidationError")
            return None
        try:
            length = int(raw)
            if length < 0:
                raise ValueError(raw)
        except ValueError:
            self._error(400, f"invalid Content-Length {raw!r}", "ValidationError")
            return None
        if length > MAX_PAYLOAD_BYTES:
            self._error(413, f"payload of {length} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte "
                        "limit; send smaller batches", "ValidationError")
            return None
        self._body_unread = False
        return self.rfile.read(length)

    def _error(self, status: int, message: str, error_type: str,
               headers: dict[str, str] | None = None, model_error: bool = False) -> None:
        body: dict[str, Any] = {"error": message, "message": message}
        if model_error:  # the shape of the runtime API's ModelError
            body.update(OriginalStatusCode=status, OriginalMessage=message)
        if status >= 500:
            log.warning("%s %s -> %d %s", self.command, self.path, status, message)
        self._send_json(status, body, {"x-amzn-ErrorType": error_type, **(headers or {})})

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self._body_unread:  # unread bytes would parse as the next request: hang up instead
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Access log to server.log, without the /ping polls that would drown it."""
        if not self.path.startswith("/ping"):
            log.info("%s %s", self.address_string(), format % args)


def _runtime_endpoint_name(path: str) -> str | None:
    """``name`` for ``/endpoints/<name>/invocations``, else None."""
    parts = path.split("/")
    if len(parts) == 4 and parts[0] == "" and parts[1] == "endpoints" \
            and parts[3] == "invocations" and parts[2]:
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
    return parser.parse_args(argv)


def _write_ready_file(endpoint_dir: Path, host: str, port: int) -> None:
    """Tell the manager which port was bound, after the model loaded and the port opened."""
    from pipeline.local.atomic import write_json

    write_json(endpoint_dir / "server.json", {"pid": os.getpid(), "host": host, "port": port})


def main(argv: list[str] | None = None) -> int:
    """Load the model, bind, serve until SIGTERM; exit 3 with a one-line reason on failure."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    args = _parse_args(argv)
    token = (args.endpoint_dir / TOKEN_FILE).read_text().strip()
    try:
        model = load_model(args.config_name, args.model_dir, dict(os.environ))
        server = EndpointHTTPServer((args.host, args.port), args.endpoint_name,
                                    args.endpoint_dir, model, token)
    except (HandlerError, OSError) as exc:
        reason = str(exc) if isinstance(exc, HandlerError) else \
            f"cannot listen on {args.host}:{args.port} ({exc.strerror}); free the " \
            "port, or delete the endpoint and deploy again for a new one"
        (args.endpoint_dir / "server.failure").write_text(reason + "\n")
        log.error("endpoint not started: %s", reason)
        return 3
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="http",
                              daemon=True)
    thread.start()
    _write_ready_file(args.endpoint_dir, args.host, server.server_address[1])
    log.info("serving %s (%s) on http://%s:%d", args.endpoint_name, args.config_name,
             args.host, server.server_address[1])
    stop.wait()
    log.info("SIGTERM: shutting down")
    server.shutdown()  # stops accepting; requests already running finish on their threads
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
