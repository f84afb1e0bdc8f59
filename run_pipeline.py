#!/usr/bin/env python3
"""Build, run and manage the moonpipe pipeline — on this machine or on SageMaker.

A thin entry point: parse the flags into one typed request (pipeline.flags), hand it to
its command (pipeline.cli -> pipeline/commands/), turn every MoonpipeError into one
``error: ...`` line and its exit code. ``python run_pipeline.py --help`` shows every action
and runnable examples.
"""

from __future__ import annotations

import os
import signal


def _interrupted_early(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM before main() has its handlers (the interpreter still imports):
    nothing has started, so one line and exit 130, not a KeyboardInterrupt traceback.
    Installed before any other import: a kill 20 ms into a fresh clone's first run once
    landed in ``collections.abc``'s import, above where this used to be installed."""
    os.write(2, b"error: interrupted before anything was started\n")
    os._exit(130)


if __name__ == "__main__":  # main() puts Python's own Ctrl-C handling back first thing
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # (nohup, `cmd &` in a script)
        signal.signal(signal.SIGINT, _interrupted_early)
    signal.signal(signal.SIGTERM, _interrupted_early)
    import gc

    gc.disable()  # no collection passes over the imports: main() freezes them, then collects

import sys  # noqa: E402  (every import below runs with the early handler in place)
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from types import FrameType  # noqa: E402
from typing import TYPE_CHECKING, NoReturn  # noqa: E402

from pipeline.console import Console, missing_dependency  # noqa: E402  (the stdlib only)
from pipeline.core.errors import MoonpipeError  # noqa: E402
from pipeline.core.interrupts import interrupts_unwind  # noqa: E402

if TYPE_CHECKING:
    from pipeline.cli import Services

EXIT_INTERRUPTED = 130
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None, services: Services | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 run failed, 2 usage/config error).

    ``services``: what the commands use (config loader, builder, target); the real ones
    by default, fakes in tests. Run by a Python without moonpipe's packages (the system's,
    not the virtualenv's), it says so in one line and how to set up (exit 2).
    """
    _take_over_ctrl_c()
    try:  # Ctrl-C or SIGTERM while the CLI still imports or parses: nothing has started
        with interrupts_unwind(on_sigterm=False):  # (SIGTERM: still the early handler)
            from pipeline.cli import run
            from pipeline.flags import parse

            invocation = parse(argv)
        _collect_from_here()
    except ModuleNotFoundError as exc:
        return _not_set_up(exc, Console(sys.stdout, sys.stderr))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    except KeyboardInterrupt:  # (a sweep killed under load met this window: a traceback)
        Console(sys.stdout, sys.stderr).error("interrupted before anything was started")
        return EXIT_INTERRUPTED
    console = Console(sys.stdout, sys.stderr, json_mode=invocation.settings.json)
    try:
        with interrupts_unwind():
            return run(invocation, console, services)
    except MoonpipeError as exc:
        console.error(str(exc))
        return exc.exit_code
    except ModuleNotFoundError as exc:
        return _not_set_up(exc, console)
    except BrokenPipeError:  # a write outside the Console met a reader that went away
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        console.error(
            "interrupted; a SageMaker execution keeps running, a local one is recorded as "
            "Stopped (resume it with --retry ID; see --list-executions)"
        )
        return EXIT_INTERRUPTED


def _collect_from_here() -> None:
    """The command's imports are done: what they made lives as long as the process, so the
    collector leaves it out from now on (gc.freeze), and collects again (it was off while
    they ran: ~100 young collections passing over import-time objects, ~15 ms a command)."""
    import gc

    if not gc.isenabled():  # (off only in a process started as the CLI, not in tests)
        gc.freeze()
        gc.enable()


def _take_over_ctrl_c() -> None:
    """From here Ctrl-C is KeyboardInterrupt again (main's handlers say what it stopped)."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGINT) is _interrupted_early:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _not_set_up(exc: ModuleNotFoundError, console: Console) -> int:
    """A package moonpipe needs is missing from this Python: one line, exit 2. A module of
    moonpipe's own that is missing is a broken checkout, not a set-up step: raised."""
    name = (exc.name or "").split(".")[0]
    if name in ("pipeline", "steps", "entrypoints"):
        raise exc
    console.error(missing_dependency(name, sys.executable))
    return EXIT_USAGE


def leave(code: int) -> NoReturn:
    """Exit with ``code`` as the interpreter would, minus tearing its modules down (~45 ms
    of every command, docs/speed.md): threads it would join are joined and atexit handlers
    run (temporary folders, logging), then the streams are flushed and the process ends.
    The command is over: a signal now ends it quietly (SIGTERM as the default does)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        shutdown = getattr(threading, "_shutdown", None)  # what Py_Finalize does first
        if shutdown is not None:
            shutdown()
        import atexit

        atexit._run_exitfuncs()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away: as Python, exit 120
            code = code or 120
    os._exit(code)


if __name__ == "__main__":
    if sys.getprofile() or sys.gettrace():  # a profiler or debugger reports at the real exit
        sys.exit(main())
    leave(main())
