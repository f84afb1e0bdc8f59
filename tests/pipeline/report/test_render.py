"""The HTML: stable hooks, every status, escaping, and nothing that reaches a network."""

from __future__ import annotations

import json
import re

from pipeline.report.graph import layout_definition
from pipeline.report.plots import PlotData, figures
from pipeline.report.render import render_report
from pipeline.report.report_model import build_report
from tests.pipeline.local.local_defs import full_definition
from tests.pipeline.report.facts import QUALITY, facts, record, upstream_steps

NETWORK = re.compile(
    r"""(?:src|href)\s*=\s*["'](?!data:|#)|url\((?!#|data:)|<script[^>]*src|@import""",
    re.IGNORECASE,
)


def _html(**extra: object) -> str:
    steps = [
        *upstream_steps(branch=False),
        (
            record("TooLow", "Fail", "Failed", 8, failure_reason="<script>alert(1)</script> below"),
            {},
        ),
    ]
    report = build_report(
        facts(
            steps,
            status="Failed",
            quality_report=QUALITY,
            failure_reason="accuracy <b>0.4</b> below",
            **extra,
        )
    )
    return render_report(
        report, layout_definition(json.dumps(full_definition())), figures(report, PlotData())
    )


def test_every_step_is_a_node_with_its_status_hook() -> None:
    html = _html()
    nodes = dict(re.findall(r'data-step="([^"]+)" data-status="([^"]+)"', html))
    assert nodes == {
        "Prep": "Succeeded",
        "Train": "Succeeded",
        "Eval": "Succeeded",
        "Check": "Succeeded",
        "Reg-RegisterModel": "Untaken",
        "Cre-CreateModel": "Untaken",
        "Cfg": "Untaken",
        "Deploy": "Untaken",
        "TooLow": "Failed",
    }


def test_metrics_table_and_every_plot_kind_are_present() -> None:
    html = _html()
    assert 'id="metrics"' in html and 'data-metric="accuracy"' in html
    assert re.findall(r'data-plot="(\w+)"', html) == [
        "data",
        "boundary",
        "roc",
        "pr",
        "loss",
        "confusion",
    ]
    # No data points or model given: those two say why instead of drawing something fake.
    assert "Not shown: the data step" in html
    assert "Not shown: the trained model was not available" in html
    assert html.count('src="data:image/png;base64,') == 4


def test_text_from_the_run_is_escaped_not_markup() -> None:
    html = _html()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "accuracy &lt;b&gt;0.4&lt;/b&gt; below" in html


def test_page_loads_nothing_from_anywhere() -> None:
    html = _html()
    assert NETWORK.search(html) is None, NETWORK.search(html)
    assert "<link" not in html


def test_a_step_says_why_it_was_no_cache_hit_and_which_attempts_failed() -> None:
    steps = upstream_steps()
    attempts = [
        {"AttemptCount": 1, "ExceptionType": "SageMaker.CAPACITY_ERROR", "FailureReason": "oom"}
    ]
    steps[1] = (
        record(
            "Train",
            "Training",
            "Succeeded",
            1,
            attempt_count=2,
            metadata={
                "CacheReason": "miss: HyperParameters changed since execution e0",
                "Attempts": attempts,
            },
        ),
        {},
    )
    report = build_report(facts(steps))
    html = render_report(
        report, layout_definition(json.dumps(full_definition())), figures(report, PlotData())
    )
    assert '<p class="small" data-cache>cache miss: HyperParameters changed since execution e0' in (
        html
    )
    assert (
        '<p class="small" data-attempts>attempt 2; retried after: attempt 1: '
        "SageMaker.CAPACITY_ERROR: oom</p>"
    ) in html
