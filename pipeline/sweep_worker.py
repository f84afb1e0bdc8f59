"""Run one stored local execution to its end in its own process: a sweep point.

``python -m pipeline.sweep_worker STORE_ROOT REGION EXECUTION_ARN`` — the sweep records the
execution (so every point is checked before any runs) and starts one worker per running
point, in its own session: Ctrl-C reaches the sweep only, which then stops each point with
--stop semantics (stop.json, SIGTERM) so every point ends recorded as Stopped.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

from pipeline.errors import MoonpipeError


def _terminate_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """--stop sends SIGTERM; unwinding as KeyboardInterrupt ends the execution Stopped."""
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Run the execution; 0 when it succeeded, 1 when not, 2 when it could not be run."""
    if len(argv) != 3:
        print("usage: python -m pipeline.sweep_worker STORE_ROOT REGION EXECUTION_ARN")
        return 2
    signal.signal(signal.SIGTERM, _terminate_like_ctrl_c)
    from pipeline.targets.local import LocalTarget

    target = LocalTarget(Path(argv[0]), argv[1])
    try:
        summary = target.wait(argv[2], lambda _record: None)
    except MoonpipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if summary.status == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
