"""The Studio in a real browser (Playwright + the system Chromium), on a real store served by
``run_pipeline.py --ui`` in a fresh process: start, watch, read a log, stop, retry, sweep and
compare, 800 px, escaping; and on a second real store (served in a thread, so the test holds
the same LocalTarget) approve, deploy and invoke a registered version on a live endpoint.
Every page also checks zero console errors and zero requests leaving the server. Set
MOONPIPE_SCREENSHOTS=1 to write the pictures docs/ui.md shows into docs/."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.core.errors import MoonpipeError
from pipeline.targets.local import LocalTarget
from tests.cli_runner import REPO
from tests.pipeline.ui.conftest import Watched, serving

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
RUN_S = 180_000  # ms: an execution's whole run, on a busy 2-core machine


def shoot(page: Any, name: str) -> None:
    if os.environ.get("MOONPIPE_SCREENSHOTS") == "1":
        page.screenshot(path=str(REPO / "docs" / name), full_page=False)


def base_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def start_from_form(page: Any, url: str, values: dict[str, str]) -> str:
    page.goto(url)
    form = page.locator("form#start-execution")
    for name, value in values.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator('[data-action="start"]').click()
    page.wait_for_url("**/executions/*")
    page.wait_for_selector("#graph [data-step]")
    return str(page.locator("#execution").get_attribute("data-execution-id"))


def record_statuses(page: Any) -> None:
    """Collect every status each node shows from now on (and the one it shows now)."""
    page.evaluate(
        """() => {
          window.__seen = {};
          const note = (g) => (window.__seen[g.dataset.step] ||= []).push(g.dataset.status);
          document.querySelectorAll('#graph [data-step]').forEach(note);
          new MutationObserver((changes) => changes.forEach((c) => note(c.target)))
            .observe(document.getElementById('graph'),
                     {subtree: true, attributes: true, attributeFilter: ['data-status']});
          window.__same = true;
        }"""
    )


def node_status(page: Any, step: str) -> str:
    return str(page.locator(f'#graph [data-step="{step}"]').get_attribute("data-status"))


def test_start_from_the_form_watch_it_end_without_reloading_and_read_a_log(
    watched: Watched, ui_url: str
) -> None:
    page = watched.page
    start_from_form(page, ui_url, {"HiddenDim": "12", "Deploy": "false"})
    record_statuses(page)
    page.wait_for_selector('#execution[data-status="Succeeded"]', timeout=RUN_S)
    assert page.evaluate("window.__same") is True  # the same page: no reload
    seen = page.evaluate("window.__seen")
    assert seen["EvaluateMoonClassifier"][0] == "Pending"  # not yet, not "not run"
    assert seen["EvaluateMoonClassifier"][-1] == "Succeeded"
    assert node_status(page, "CreateMoonModel-CreateModel") == "Untaken"  # Deploy=false
    assert node_status(page, "AccuracyBelowThreshold") == "Untaken"
    overridden = page.locator('#parameters tr[data-overridden="true"]')
    assert sorted(overridden.evaluate_all("rows => rows.map(r => r.dataset.param)")) == [
        "Deploy",
        "HiddenDim",
    ]
    page.locator('#graph [data-step="TrainMoonClassifier"]').click()
    page.wait_for_selector('#step-panel [data-step-panel="TrainMoonClassifier"]')
    page.wait_for_function(
        "() => document.getElementById('step-log').textContent.includes('train_loss=')"
    )
    assert page.locator("#step-status").inner_text() == "Succeeded"
    assert "AlgorithmSpecification.TrainingImage" in page.locator("#step-panel").inner_text()
    shoot(page, "ui-execution.png")


def test_stop_a_long_execution_then_retry_it(watched: Watched, ui_url: str) -> None:
    page = watched.page
    start_from_form(page, ui_url, {"Epochs": "500000", "Deploy": "false"})
    page.wait_for_function(
        """() => document.querySelector('#graph [data-step="TrainMoonClassifier"]')
                 .dataset.status === 'Executing'""",
        timeout=RUN_S,
    )
    assert page.locator('[data-action="retry"]').is_hidden()  # only what it can do now
    page.locator('[data-action="stop"]').click()
    page.wait_for_selector('#execution[data-status="Stopped"]', timeout=RUN_S)
    page.wait_for_selector('[data-action="stop"]', state="hidden")
    assert node_status(page, "TrainMoonClassifier") == "Stopped"
    assert node_status(page, "EvaluateMoonClassifier") == "NotRun"  # it ended first
    page.locator('[data-action="retry"]').click()
    page.wait_for_function(
        """() => document.querySelector('#graph [data-step="TrainMoonClassifier"]')
                 .dataset.status === 'Executing'""",
        timeout=RUN_S,
    )
    assert node_status(page, "PrepareMoonData") == "Succeeded"  # resumed, not restarted
    page.locator('[data-action="stop"]').click()
    page.wait_for_selector('#execution[data-status="Stopped"]', timeout=RUN_S)


def test_a_sweep_started_here_is_grouped_and_three_points_compare_legibly(
    watched: Watched, ui_url: str
) -> None:
    page = watched.page
    page.goto(ui_url)
    sweep = page.locator("form#start-sweep")
    sweep.locator('[name="axes"]').fill("HiddenDim=4,8,16")
    sweep.locator('[name="params"]').fill("Epochs=30;AccuracyThreshold=0.5")
    sweep.locator('[data-action="sweep"]').click()
    page.wait_for_selector("#sweep-started:not([hidden])")
    points = 'tr[data-sweep][data-status="Succeeded"]'
    page.wait_for_function(
        f"() => document.querySelectorAll('{points}').length === 3", timeout=3 * RUN_S
    )
    assert page.locator("tr.group").count() == 1
    for box in page.locator(f"{points} input.pick").all():
        box.check()
    shoot(page, "ui-executions.png")
    page.locator('[data-action="compare"]').click()
    page.wait_for_url("**/compare?ids=*")
    kinds = ["roc", "pr", "loss", "boundary", "metric-vs-parameter"]
    for kind in kinds:
        page.wait_for_function(
            f"""() => {{ const i = document.querySelector('figure[data-plot="{kind}"] img');
                        return i.complete && i.naturalWidth > 0; }}""",
            timeout=RUN_S,
        )
    assert page.locator('#metrics td[data-best="true"]').count() >= 1
    for width in (1280, 800):
        page.set_viewport_size({"width": width, "height": 900})
        boxes = [page.locator(f'figure[data-plot="{k}"]').bounding_box() for k in kinds]
        assert not _overlaps(boxes), width
        labels = page.locator("figcaption, th, #verdict").all()
        assert not _overlaps([label.bounding_box() for label in labels]), width
        assert _fits(page)
    boundary = page.locator('figure[data-plot="boundary"] img').bounding_box()
    assert boundary is not None and boundary["width"] >= 600  # was ~170 px at 800 px
    page.set_viewport_size({"width": 1280, "height": 900})
    shoot(page, "ui-compare.png")


def _overlaps(boxes: list[Any]) -> bool:
    shown = [b for b in boxes if b and b["width"] > 0 and b["height"] > 0]
    return any(
        a["x"] < b["x"] + b["width"] - 1
        and b["x"] < a["x"] + a["width"] - 1
        and a["y"] < b["y"] + b["height"] - 1
        and b["y"] < a["y"] + a["height"] - 1
        for i, a in enumerate(shown)
        for b in shown[i + 1 :]
    )


def _fits(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_at_800_px_no_page_overflows(watched: Watched, ui_url: str, ui_store: Path) -> None:
    page = watched.page
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(ui_url)
    page.wait_for_selector("tr[data-execution-id]")
    assert _fits(page)
    first = page.locator("tr[data-execution-id]").last.get_attribute("data-execution-id")
    page.goto(f"{base_of(ui_url)}/executions/{first}?step=TrainMoonClassifier")
    page.wait_for_selector("#step-log")
    assert _fits(page)
    page.goto(f"{base_of(ui_url)}/registry")
    assert _fits(page)


def test_a_display_name_holding_a_script_shows_as_text(
    watched: Watched, ui_url: str, ui_store: Path
) -> None:
    name = "<script>window.__pwned=1</script><b>bold</b>"
    target = LocalTarget(ui_store)
    arn = target.start_execution("moonpipe", {}, display_name=name)
    target.stop_execution(arn)  # recorded only: it never runs
    page = watched.page
    page.goto(ui_url)
    row = page.locator(f'tr[data-execution-id="{arn.rsplit("/", 1)[-1]}"]')
    row.wait_for()
    assert row.locator("a").inner_text() == name
    page.goto(f"{base_of(ui_url)}/executions/{arn.rsplit('/', 1)[-1]}")
    assert name in page.locator("h1").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("b", has_text="bold").count() == 0


def test_approve_deploy_and_invoke_from_the_registry_page(
    browser: Any, pending_store: Path
) -> None:
    """A real LocalTarget on a real store: a version the pipeline registered for manual
    approval is refused a deploy (by the target; the page offers none), approved, deployed to a real
    local endpoint and invoked; the page shows what the endpoint itself answers."""
    target = LocalTarget(pending_store)
    [package] = target.list_model_packages()
    assert (package.version, package.approval_status) == (1, "PendingManualApproval")
    assert target.list_endpoints() == []
    name = "moonpipe-endpoint"  # the form's default while no endpoint exists
    with pytest.raises(MoonpipeError) as refusal:  # refused before anything is written
        target.deploy_model_package(package.arn, name)
    with serving(target) as (base, token, _):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        seen = Watched(page, base)
        try:
            page.goto(f"{base}/registry?token={token}")
            row = f'tr[data-package="{package.arn}"]'
            deploy = page.locator(f'{row} [data-action="deploy"]')
            assert deploy.is_disabled()  # not approved yet: offered once it can be done
            assert "approve it first" in str(deploy.get_attribute("title"))
            assert "only an Approved package" in str(refusal.value)
            page.locator(f'{row} [data-action="approve"]').click()
            page.wait_for_selector(f'{row}[data-approval="Approved"]')
            assert target.list_model_packages()[0].approval_status == "Approved"
            page.locator(f'{row} [data-action="deploy"]').click()
            page.wait_for_selector(f'tr[data-endpoint="{name}"]', timeout=RUN_S)
            [endpoint] = target.list_endpoints()
            assert (endpoint.name, endpoint.status) == (name, "InService")
            served = page.locator(f'tr[data-endpoint="{name}"]').inner_text()
            assert f"{package.group} v1" in served and "InService" in served
            assert page.locator(f"{row} td").nth(5).inner_text() == name  # "serving on"
            rows = page.locator('form#invoke-endpoint [name="body"]').input_value()
            page.locator('form#invoke-endpoint [data-action="invoke"]').click()
            page.wait_for_selector("#invoke-result:not([hidden])", timeout=RUN_S)
            shown = page.locator("#invoke-result").inner_text().split()
            answered = _ask_endpoint(str(endpoint.url), name, rows.encode()).split()
            assert shown == answered
            assert len(shown) == len(rows.strip().splitlines()) == 3
            assert all(0.0 <= float(p) <= 1.0 for p in shown)  # probabilities of class 1
            page.set_viewport_size({"width": 800, "height": 900})
            assert _fits(page)
            page.set_viewport_size({"width": 1280, "height": 900})
            shoot(page, "ui-registry.png")
        finally:
            context.close()
        assert seen.errors == [] and seen.elsewhere == []
    target.delete_endpoint(name)
    assert target.list_endpoints() == []
    with pytest.raises(OSError):  # its server stopped with it
        _ask_endpoint(str(endpoint.url), name, rows.encode())


def _ask_endpoint(url: str, name: str, body: bytes) -> str:
    """The live endpoint's own answer to ``body`` (CSV rows), over HTTP."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/endpoints/{name}/invocations",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(response.read().decode())
