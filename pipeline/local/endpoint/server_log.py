"""The endpoint's log of client errors: one line each, capped, never a traceback.

A hostile client can send thousands of bad requests a second; logging each with a traceback
filled the disk at about 1 MB/s. Here every client error is one line, at most
``LOG_LINES_PER_S`` a second (the rest counted and reported when logging resumes) and
``LOG_MAX_BYTES`` in a server's life, so server.log needs no rotation.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

LOG_LINES_PER_S = 20
LOG_MAX_BYTES = 8 * 1024 * 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CappedLog:
    """One-line log records with a rate cap and a lifetime cap (no rotation needed)."""

    def __init__(
        self,
        logger: logging.Logger,
        lines_per_s: int = LOG_LINES_PER_S,
        max_bytes: int = LOG_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._clock = clock
        self._lines_per_s = lines_per_s
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._second = 0
        self._in_second = 0
        self._suppressed = 0
        self.bytes_written = 0

    def write(self, level: int, message: str, exc_info: bool = False) -> None:
        """Log ``message`` unless a cap is reached; say how many were dropped when resuming."""
        with self._lock:
            if self.bytes_written >= self._max_bytes:
                return
            now = int(self._clock())
            if now != self._second:
                self._second, self._in_second = now, 0
            self._in_second += 1
            if self._in_second > self._lines_per_s:
                self._suppressed += 1
                return
            dropped, self._suppressed = self._suppressed, 0
            self.bytes_written += len(message) + 40
            capped = self.bytes_written >= self._max_bytes
        if dropped:
            self._log.warning(
                "%d more client errors not logged (over %d lines/s)", dropped, self._lines_per_s
            )
        self._log.log(level, "%s", message, exc_info=exc_info)
        if capped:
            self._log.warning(
                "log cap of %d bytes reached: further client errors are not "
                "logged until the server restarts",
                self._max_bytes,
            )


def printable(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with control characters escaped (log-safe)."""
    cut = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text[:limit])
    return cut + ("..." if len(text) > limit else "")
