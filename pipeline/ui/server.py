"""Serve the Studio on 127.0.0.1 until interrupted.

The socket is bound before anything is printed, so the URL printed (token included) is
already answering; uvicorn serves it, one process, handlers in its thread pool.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from pipeline.core.errors import ConfigError
from pipeline.targets.base import Target
from pipeline.ui.security import new_token

HOST = "127.0.0.1"


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port); one line if taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        raise ConfigError(
            f"--ui cannot listen on {HOST}:{port} ({err.strerror}); choose another --port "
            "or leave it out for a free one"
        ) from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def url_of(port: int, token: str) -> str:
    """The URL a person opens: the token is in it."""
    return f"http://{HOST}:{port}/?token={token}"


def serve(target: Target, pipeline_name: str, port: int, on_url: Callable[[str], None]) -> None:
    """Bind, tell ``on_url`` the URL, serve until Ctrl-C (or SIGTERM)."""
    import uvicorn

    from pipeline.ui.app import make_app
    from pipeline.ui.studio import Studio

    sock = bind(port)
    token = new_token()
    bound = sock.getsockname()[1]
    app = make_app(Studio(target, pipeline_name), token, bound)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        date_header=False,
    )
    on_url(url_of(bound, token))
    uvicorn.Server(config).run(sockets=[sock])
