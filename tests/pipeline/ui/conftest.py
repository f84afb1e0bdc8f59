"""Fixtures of the UI's browser tests: a real store (the real pipeline, one run), the UI
serving it from ``run_pipeline.py --ui`` in a fresh process, and Chromium pages that count
console errors and requests leaving this server (both must stay zero)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cli_runner import run_local_cli as cli
from tests.cli_runner import started_ui

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium (fail on CI, skip elsewhere, when there is none)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "no Chromium found: install it with `apt-get install -y chromium` (as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; .ci/run does this before the tests")
    pytest.skip(message)


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store holding the real pipeline and one real, deployed run."""
    store = tmp_path_factory.mktemp("ui") / "store"
    done = cli(store, "--upsert", "--start", "--wait", "--json", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    yield store
    cli(store, "--delete-endpoint", json.loads(done.stdout)["endpoint"]["name"])


@pytest.fixture(scope="module")
def pending_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store holding the real pipeline and one real run that registered its model for
    manual approval and deployed nothing: version 1, PendingManualApproval, no endpoint.
    Afterwards any endpoint a test left serving is deleted (its server stopped)."""
    from pipeline.targets.local import LocalTarget

    store = tmp_path_factory.mktemp("registry") / "store"
    done = cli(
        store,
        "--upsert",
        "--start",
        "--wait",
        *("--param", "Deploy=false"),
        *("--param", "ModelApprovalStatus=PendingManualApproval"),
        *("--param", "Epochs=30", "--param", "AccuracyThreshold=0.5"),  # quick, and registered
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    yield store
    target = LocalTarget(store)
    for endpoint in target.list_endpoints():
        target.delete_endpoint(endpoint.name)


@pytest.fixture(scope="module")
def ui_url(ui_store: Path) -> Iterator[str]:
    """The URL (with its token) that ``--ui`` printed first; the server ends afterwards."""
    process, url = started_ui(ui_store)
    yield url
    process.terminate()
    process.wait(20)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Watched:
    """A page and what it did that it must not: console errors, requests elsewhere."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.base, "data:")):
            self.elsewhere.append(request.url)


@pytest.fixture
def watched(browser: Any, ui_url: str) -> Iterator[Watched]:
    """A fresh page on the UI (1280 px), checked for console errors and external requests."""
    parts = urlsplit(ui_url)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    seen = Watched(context.new_page(), f"{parts.scheme}://{parts.netloc}")
    yield seen
    context.close()
    assert seen.errors == [], seen.errors
    assert seen.elsewhere == [], seen.elsewhere


@contextmanager
def serving(target: Any, pipeline_name: str = "moonpipe") -> Iterator[tuple[str, str, Any]]:
    """(base URL, token, target) of the UI app serving ``target`` in a thread."""
    import uvicorn

    from pipeline.ui.app import make_app
    from pipeline.ui.security import new_token
    from pipeline.ui.server import bind
    from pipeline.ui.studio import Studio

    sock = bind(0)
    port, token = sock.getsockname()[1], new_token()
    app = make_app(Studio(target, pipeline_name), token, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", token, target
    finally:
        server.should_exit = True
        thread.join(10)
