"""The checks config/pipeline.yaml's values go through, one factory per kind of value.

Each check returns the value (converted where needed) or raises :class:`Invalid` with the
text that follows ``<key>:`` in the ConfigError. Split from pipeline/config.py, which holds
the schema that uses them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Invalid(ValueError):
    """A check's complaint: the text after ``<key>:`` in the message."""


Check = Callable[[Any], Any]


def integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(f"must be an integer >= {low} and <= {high}")
        return value

    return check


def number(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Check:
    lo, hi = ("(" if open_low else "["), (")" if open_high else "]")
    text = f"must be a number in {lo}{low}, {high}{hi}"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(text)
        number = float(value)
        too_low = number <= low if open_low else number < low
        too_high = number >= high if open_high else number > high
        if not math.isfinite(number) or too_low or too_high:
            raise Invalid(text)
        return number

    return check


def matching(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise Invalid(f"must be {what}")
        return value

    return check


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            raise Invalid("must be one of " + ", ".join(choices))
        return value

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def optional(inner: Check) -> Check:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def directory(value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must be a non-empty directory path")
    return Path(value)
