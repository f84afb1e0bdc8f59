"""A real report from a real local run, loaded in a real browser (Playwright + system Chromium).

On CI (CI=true) a missing Chromium fails the test; .ci/run installs it. On a developer
machine without it the test skips and says how to enable it. The screenshot it takes is the
one the README shows (set MOONPIPE_SCREENSHOT=PATH to write it there as well).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.report.report_model import definition_steps
from tests.cli_runner import REPO

pytestmark = pytest.mark.browser

PLOTS = ["data", "boundary", "roc", "pr", "loss", "confusion"]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT_CLIP = {"x": 0, "y": 0, "width": 1280, "height": 1000}


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium's path; fail on CI, skip elsewhere, when there is none.

    Requested before ``real_run`` so that a machine without a browser skips at once.
    """
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "no Chromium found: install it with `apt-get install -y chromium` (as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; .ci/run does this before the tests")
    pytest.skip(f"{message} to run the real-browser report test")


def screenshot(page: Any, path: Path) -> Path:
    """The report's top (graph, metrics, parameters) as a PNG: the README's picture."""
    page.screenshot(path=str(path), clip=SCREENSHOT_CLIP)
    return path


def test_report_of_a_real_run_renders_in_chromium(
    chromium: str, real_run: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    report = Path(real_run["report"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        requests: list[str] = []
        failed: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri(), wait_until="load")
        _check_graph(page, real_run)
        _check_metrics(page, real_run)
        _check_plots(page)
        shot = screenshot(page, tmp_path / "report.png")
        if os.environ.get("MOONPIPE_SCREENSHOT"):
            screenshot(page, REPO / os.environ["MOONPIPE_SCREENSHOT"])
        browser.close()
    assert failed == [] and errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert shot.stat().st_size > 10_000


def _check_graph(page: Any, run: dict[str, Any]) -> None:
    definition = json.loads(
        (Path(run["store"]) / "pipelines" / "moonpipe" / "versions" / "1.json").read_text()
    )
    doc = json.loads(definition["PipelineDefinition"])
    ran = {s["name"]: s["status"] for s in run["steps"]}
    names = [s["Name"] for s in definition_steps(doc["Steps"])]
    assert len(names) == len(ran) + 1  # every step ran but the Fail branch
    for name in names:
        node = page.locator(f'[data-step="{name}"]')
        assert node.count() == 1, name
        # the Fail branch has no record: the condition did not take it (issue 19: told
        # apart from NotRun, a step the execution ended before)
        assert node.get_attribute("data-status") == ran.get(name, "Untaken"), name
        box = node.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0


def _check_metrics(page: Any, run: dict[str, Any]) -> None:
    cell = page.locator('#metrics [data-metric="accuracy"] td').nth(1)
    assert float(cell.inner_text()) == pytest.approx(run["metrics"]["accuracy"], abs=1e-4)
    assert page.locator('#metrics [data-metric="train:loss"]').count() == 1


def _check_plots(page: Any) -> None:
    kinds = page.locator("figure[data-plot]").evaluate_all("els => els.map(e => e.dataset.plot)")
    assert kinds == PLOTS
    for kind in PLOTS:
        img = page.locator(f'figure[data-plot="{kind}"] img')
        assert img.count() == 1, kind
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), kind
        box = img.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 50, kind
