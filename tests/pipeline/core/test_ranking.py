"""The one ranking rule: direction by metric name, ties to the execution that started first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.core.ranking import Entry, lower_is_better, order, tied_best

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("metric", "lower"),
    [
        ("accuracy", False),
        ("auc", False),
        ("train:loss", True),
        ("false_positive_rate", True),
        ("false_negative_rate", True),
        ("true_positive_rate", False),
    ],
)
def test_losses_and_false_rates_are_better_lower(metric: str, lower: bool) -> None:
    assert lower_is_better(metric) is lower


def test_higher_accuracy_ranks_first_and_missing_values_last_in_given_order() -> None:
    entries = [Entry(None, at(0)), Entry(0.91, at(1)), Entry(0.93, at(2)), Entry(None, at(3))]
    assert order(entries, "accuracy") == [2, 1, 0, 3]


def test_a_lower_loss_ranks_first() -> None:
    entries = [Entry(0.3, at(0)), Entry(0.1, at(1))]
    assert order(entries, "train:loss") == [1, 0]


def test_a_tie_goes_to_the_execution_that_started_first_whatever_the_order_given() -> None:
    early, late = Entry(0.9267, at(0)), Entry(0.9267, at(5))
    assert order([late, early], "accuracy") == [1, 0]
    assert order([early, late], "accuracy") == [0, 1]
    assert tied_best([late, early, Entry(0.9, at(1))], "accuracy") == [1, 0]


def test_without_start_times_the_given_order_breaks_ties() -> None:
    assert order([Entry(0.5), Entry(0.5)], "accuracy") == [0, 1]


def test_no_value_means_no_best() -> None:
    assert tied_best([Entry(None), Entry(None)], "accuracy") == []
    assert tied_best([], "accuracy") == []
