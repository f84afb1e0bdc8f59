"""Ctrl-C and SIGTERM as KeyboardInterrupt that a weakref callback cannot swallow."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from typing import Any

import pytest

from pipeline.core.interrupts import interrupts_unwind, unwind_like_ctrl_c


class _Thing:
    pass


def _drop_with_callback(error: type[BaseException]) -> None:
    """A weakref callback that raises: Python reports it through sys.unraisablehook and
    goes on (the way importlib's module-lock callback met a SIGTERM in the fault script)."""

    def callback(_ref: object) -> None:
        raise error

    thing = _Thing()
    ref = weakref.ref(thing, callback)
    del thing
    assert ref() is None


def test_an_interrupt_python_would_swallow_reaches_the_main_flow(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupts_unwind():
        _drop_with_callback(KeyboardInterrupt)
        time.sleep(5)  # the redelivered interrupt ends this, not the clock
    assert time.monotonic() - started < 2
    assert "Exception ignored" not in capsys.readouterr().err


def test_other_ignored_exceptions_are_reported_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    with interrupts_unwind():
        _drop_with_callback(ValueError)
        time.sleep(0.05)  # (no interrupt comes)
    assert [r.exc_type for r in reported] == [ValueError]


def test_sigterm_unwinds_like_ctrl_c_inside_only() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGALRM)}
    hook = sys.unraisablehook
    with pytest.raises(KeyboardInterrupt), interrupts_unwind():
        assert signal.getsignal(signal.SIGTERM) is unwind_like_ctrl_c
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert {s: signal.getsignal(s) for s in before} == before
    assert sys.unraisablehook is hook
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_sigterm_is_left_alone_when_asked() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with interrupts_unwind(on_sigterm=False):
        assert signal.getsignal(signal.SIGTERM) is before


def test_off_the_main_thread_nothing_is_changed() -> None:
    seen: list[object] = []

    def embedded() -> None:
        with interrupts_unwind():
            seen.append(sys.unraisablehook)

    hook = sys.unraisablehook
    worker = threading.Thread(target=embedded)
    worker.start()
    worker.join()
    assert seen == [hook]
