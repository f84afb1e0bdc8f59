"""The client-error log: capped per second and per server life, control characters escaped."""

from __future__ import annotations

import logging

import pytest

from pipeline.local.endpoint.server_log import CappedLog, printable


def test_the_log_is_capped_per_second_and_for_the_servers_life(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    capped = CappedLog(
        logging.getLogger("moonpipe.test"), lines_per_s=3, max_bytes=600, clock=lambda: now[0]
    )
    with caplog.at_level(logging.INFO, logger="moonpipe.test"):
        for i in range(10):
            capped.write(logging.INFO, f"error {i}")
        now[0] += 1
        for i in range(10, 40):
            capped.write(logging.INFO, "x" * 100 + str(i))
            now[0] += 1
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:5] == [
        "error 0",
        "error 1",
        "error 2",
        "7 more client errors not logged (over 3 lines/s)",
        "x" * 100 + "10",
    ]
    assert messages[-1] == (
        "log cap of 600 bytes reached: further client errors are not "
        "logged until the server restarts"
    )
    assert len(messages) == 9


def test_printable_escapes_control_characters_and_cuts_long_text() -> None:
    assert printable("GET /\r\nX-Injected: 1") == "GET /\\x0d\\x0aX-Injected: 1"
    assert printable("ü" * 300, limit=3) == "üüü..."
