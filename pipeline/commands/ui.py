"""--ui: a local Studio in the browser, over the same store (or service) the CLI uses.

``python run_pipeline.py --ui [--port N]`` prints the URL (with its token) as the first line
on stdout and serves until interrupted. See docs/ui.md.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front


@dataclass(frozen=True)
class ServeUI:
    """--ui [--port N]."""

    port: int = 0  # 0: any free port


def serve_ui(request: ServeUI, front: Front) -> int:
    """Serve until Ctrl-C; 0."""
    from pipeline.ui.server import serve  # starlette and uvicorn load only for --ui

    console = front.console

    def announce(url: str) -> None:
        if console.json_mode:
            console.emit_json({"ui": url})
        else:
            console.write(f"{url}\nmoonpipe studio is serving (Ctrl-C stops it)")

    # uvicorn raises Ctrl-C / SIGTERM again once it has shut down; the Studio ran nothing of
    # its own, so it ends quietly (not with run_pipeline's "interrupted" line for a run)
    with contextlib.suppress(KeyboardInterrupt):
        serve(front.target(), front.config().pipeline.name, request.port, announce)
    return 0


COMMANDS = (Command(ServeUI, serve_ui, "--ui [--port N]"),)
