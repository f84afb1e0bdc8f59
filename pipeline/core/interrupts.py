"""Ctrl-C and SIGTERM as KeyboardInterrupt, never swallowed where Python ignores exceptions.

A signal handler that raises KeyboardInterrupt (Python's own for Ctrl-C, ours for SIGTERM,
so a local execution ends recorded as Stopped) raises it wherever the main thread happens
to be. In a few places Python does not propagate exceptions: weakref callbacks (importlib's
module locks), ``__del__``, at-fork hooks (logging's lock release after ``os.fork``). There
the interrupt was printed as "Exception ignored in ... KeyboardInterrupt" with a traceback
and then lost, and the command ran on (the fault script's SIGTERM during a job's fork).

Those places all report through ``sys.unraisablehook``; :func:`interrupts_unwind` takes that
report for a KeyboardInterrupt and raises the interrupt again a moment later from SIGALRM,
when the callback has returned, instead of printing it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

REDELIVER_AFTER_S = 0.005  # a callback that swallowed it has long returned by then


def unwind_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (kill, a closing terminal, a CI timeout, --stop) unwinds like Ctrl-C, so a
    local execution and its running job end recorded, not left "Executing"."""
    raise KeyboardInterrupt


@contextmanager
def interrupts_unwind(on_sigterm: bool = True) -> Iterator[None]:
    """While inside: SIGTERM (when ``on_sigterm``) raises KeyboardInterrupt like Ctrl-C, and
    an interrupt Python would swallow is raised again in the main flow. Everything is put
    back on leaving. Off the main thread, where Python allows no handlers, it does nothing
    (a caller embedding the CLI keeps its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers: dict[int, Any] = {signal.SIGALRM: unwind_like_ctrl_c}
    if on_sigterm:
        handlers[signal.SIGTERM] = unwind_like_ctrl_c
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _redeliver_interrupts(previous_hook)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.unraisablehook = previous_hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _redeliver_interrupts(
    fallback: Callable[[Any], object],
) -> Callable[[Any], object]:
    """An unraisable-exception hook that re-raises a swallowed KeyboardInterrupt from a timer
    (SIGALRM, handled by :func:`unwind_like_ctrl_c`) and reports anything else as before."""

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_type, type) and issubclass(
            unraisable.exc_type, KeyboardInterrupt
        ):
            signal.setitimer(signal.ITIMER_REAL, REDELIVER_AFTER_S)
            return
        fallback(unraisable)

    return hook
