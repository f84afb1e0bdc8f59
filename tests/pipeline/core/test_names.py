"""pipeline.core.names: each shared rule once, and the places that used to hold a copy agree."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import pytest

from pipeline.config import TARGETS
from pipeline.core.names import (
    check_record_name,
    is_resource_name,
    local_arn,
    parse_duration,
    split_s3_uri,
    utc_now,
)
from pipeline.flags import build_parser
from pipeline.local.store.registry import Registry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P30D", timedelta(days=30)),
        ("PT1H", timedelta(hours=1)),
        ("P1W", timedelta(days=7)),
        ("P1Y2M", timedelta(days=425)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30D", "P", "PT", "P1H", "P1DT"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == (
        f"ExpireAfter {text!r} is not an ISO 8601 duration like P30D or PT1H"
    )


@pytest.mark.parametrize("text", ["P30D\n", "P1D ", " P1D"])
def test_a_duration_is_the_whole_text(text: str) -> None:
    # the config check and the cache each had their own regex; the cache's let "P30D\n" by
    with pytest.raises(ValueError):
        parse_duration(text, "caching.expire_after")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("moonpipe-endpoint", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("-lead", False),
        ("under_score", False),
        ("trailing-newline\n", False),
        (7, False),
    ],
)
def test_resource_names(name: object, ok: bool) -> None:
    assert is_resource_name(name) is ok


def test_record_names_allow_step_underscores_but_no_path_tricks() -> None:
    assert check_record_name("step", "Prepare_Data-1") == "Prepare_Data-1"
    for bad in ("../x", "a/b", "", "x\n"):
        with pytest.raises(ValueError) as caught:
            check_record_name("step", bad)
        assert str(caught.value) == (
            f"step name {bad!r} is invalid; use letters, digits, '-' and '_' (max 256)"
        )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("s3://b/k/x.py", ("b", "k/x.py")), ("s3://b", ("b", "")), ("s3://b/", ("b", ""))],
)
def test_split_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert split_s3_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [("b/k", "'b/k' is not an s3:// URI"), ("s3:///k", "'s3:///k' has no valid bucket name")],
)
def test_split_s3_uri_refuses(uri: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        split_s3_uri(uri)
    assert str(caught.value) == message


def test_local_arns_lower_case_the_name_as_sagemaker_does() -> None:
    assert local_arn("eu-west-1", "pipeline", "MoonPipe") == (
        "arn:aws:sagemaker:eu-west-1:000000000000:pipeline/moonpipe"
    )


def test_registry_arns_follow_the_same_rule(tmp_path: Path) -> None:
    # the registry kept a model package group's case; every other local ARN lower-cased it
    record = Registry(tmp_path, "us-east-1").add_model_package("MoonModels", {})
    assert record["ModelPackageArn"] == (
        "arn:aws:sagemaker:us-east-1:000000000000:model-package/moonmodels/1"
    )
    group = (tmp_path / "registry" / "MoonModels" / "group.json").read_text()
    assert "model-package-group/moonmodels" in group


def test_the_clock_is_aware_utc() -> None:
    assert utc_now().tzinfo is timezone.utc


def test_target_names_are_the_configs() -> None:
    target_flag = next(a for a in build_parser()._actions if a.dest == "target")
    assert tuple(target_flag.choices) == TARGETS == ("local", "sagemaker")
