"""The UI's guard on a real server: no token, another Origin, another Host, no CSRF value:
refused, and nothing changes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.ui.security import csrf_of
from tests.pipeline.ui.conftest import serving
from tests.pipeline.ui.fakes import FakeRegistryTarget


@pytest.fixture
def ui() -> Iterator[tuple[str, str, FakeRegistryTarget]]:
    with serving(FakeRegistryTarget()) as running:
        yield running


def _ask(
    base: str, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, str, dict[str, str]]:
    where = urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    payload = None if body is None else json.dumps(body)
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    return response.status, text, {k.lower(): v for k, v in response.getheaders()}


def _approve(base: str, token: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    target_arn = "arn:aws:sagemaker:us-east-1:0:model-package/moons/1"
    return _ask(
        base,
        "POST",
        "/api/packages/approval",
        {"Content-Type": "application/json", **headers},
        {"arn": target_arn, "status": "Approved"},
    )


def test_every_request_needs_the_token(ui: tuple[str, str, FakeRegistryTarget]) -> None:
    base, token, _ = ui
    status, text, _ = _ask(base, "GET", "/registry", {})
    assert status == 403 and "no valid token" in text
    status, _, _ = _ask(base, "GET", "/registry", {"Authorization": "token wrong"})
    assert status == 403
    status, text, headers = _ask(base, "GET", "/registry", {"Authorization": f"token {token}"})
    assert status == 200 and "Model registry" in text
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"


def test_the_token_in_the_url_becomes_a_strict_cookie(
    ui: tuple[str, str, FakeRegistryTarget],
) -> None:
    base, token, _ = ui
    status, _, headers = _ask(base, "GET", f"/registry?token={token}", {})
    assert status == 303 and headers["location"] == "/registry"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    name_value = cookie.split(";")[0]
    status, _, _ = _ask(base, "GET", "/registry", {"Cookie": name_value})
    assert status == 200


def test_a_post_without_the_token_or_the_csrf_value_or_from_elsewhere_changes_nothing(
    ui: tuple[str, str, FakeRegistryTarget],
) -> None:
    base, token, target = ui
    csrf = csrf_of(token)
    origin = base
    refused = [
        _approve(base, token, **{"X-Moonpipe-Csrf": csrf, "Origin": origin}),  # no token
        _approve(base, token, Authorization=f"token {token}", Origin=origin),  # no CSRF value
        _approve(
            base,
            token,
            Authorization=f"token {token}",
            **{"X-Moonpipe-Csrf": csrf, "Origin": "http://evil.example"},
        ),
        _approve(
            base,
            token,
            Authorization=f"token {token}",
            **{"X-Moonpipe-Csrf": csrf, "Sec-Fetch-Site": "cross-site"},
        ),
    ]
    assert [status for status, _, _ in refused] == [403, 403, 403, 403]
    assert "Origin" in refused[2][1]
    assert {p.approval_status for p in target.packages} == {"PendingManualApproval"}
    status, _, _ = _approve(
        base, token, Authorization=f"token {token}", **{"X-Moonpipe-Csrf": csrf, "Origin": origin}
    )
    assert status == 200
    assert target.packages[1].approval_status == "Approved"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.2", "localhost.evil"])
def test_a_host_other_than_this_machine_is_refused(
    ui: tuple[str, str, FakeRegistryTarget], host: str
) -> None:
    base, token, _ = ui
    status, text, _ = _ask(base, "GET", "/", {"Host": host, "Authorization": f"token {token}"})
    assert status == 403 and "Host" in text


def test_localhost_by_name_is_this_machine(ui: tuple[str, str, FakeRegistryTarget]) -> None:
    base, token, _ = ui
    port = urlsplit(base).port
    status, _, _ = _ask(
        base, "GET", "/registry", {"Host": f"localhost:{port}", "Authorization": f"token {token}"}
    )
    assert status == 200
