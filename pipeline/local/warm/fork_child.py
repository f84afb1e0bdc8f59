"""What a forked child of the warm host does to become a job (or a detached server).

Imported by host.py as a top-level module (the host runs as a program, this folder first on
its path), and dropped from ``sys.modules`` before a job's code runs. Of ours it imports only
the job namespace code (pipeline/local/runtime/: the standard library only), from the
checkout or installation this file belongs to, and drops that from ``sys.modules`` too: a
job sees what a fresh interpreter plus the preloaded libraries would hold.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
_TOP = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))  # what holds pipeline/
sys.path.insert(0, _TOP)
try:
    from pipeline.local.runtime.namespace import JobView, NamespaceError, enter
    from pipeline.local.runtime.network import NetworkShare
finally:
    sys.path.remove(_TOP)
_BASE_PATH = [p for p in sys.path if p != _HERE]
_OURS = ("fork_child", "pipeline")


def run_job(
    request: dict[str, Any], out_fd: int, share: list[int], report_fd: int | None = None
) -> None:
    """In the forked child: become the job (argv, env, cwd, output, signals, namespaces
    when the request has a view: ``share`` are a shared network's descriptors), run, exit.
    ``report_fd``: the client's connection, for the supervisor's early exit line (see
    namespace.enter); the job never holds it.

    What ``python PROGRAM ARGS`` would do: ``sys.argv`` is the program and its arguments,
    ``sys.path[0]`` the program's folder, ``__main__`` the program; an uncaught exception
    prints its traceback (from the program's frames on) and exits 1; SystemExit's code is
    the exit code; atexit handlers and non-daemon threads finish first.
    """
    code = 1
    try:
        program = become_job(request, out_fd, share=share, report_fd=report_fd)
        code = _run_program(program)
    except NamespaceError as err:  # said in the job's log; its step fails with it
        print(f"{err.strerror}", file=sys.stderr)
        code = 126
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def run_module(request: dict[str, Any], out_fd: int) -> None:
    """In a detached child: ``python -m MODULE ARGS`` with the request's env, cwd and log.

    For servers, which must outlive the host: no parent-death signal. PYTHONPATH from the
    request's environment is put on ``sys.path`` as the interpreter would.
    """
    code = 1
    try:
        become_job({**request, "argv": [request["module"], *request["argv"]]}, out_fd, False)
        sys.path[:] = [os.getcwd(), *_python_path(request["env"]), *_BASE_PATH]
        import runpy

        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def become_job(
    request: dict[str, Any],
    out_fd: int,
    die_with_host: bool = True,
    share: Sequence[int] = (),
    report_fd: int | None = None,
) -> str:
    """Take on the job's process state; returns the program's path.

    With a view the job enters its namespaces once its output is in place (so a failure
    to is in its log) and before it moves to its folder: the container's path. With a PID
    namespace this process stays outside as the job's supervisor and only the job returns.
    """
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if die_with_host:
        _die_with_host()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    if request.get("view"):
        enter(JobView.from_json(request["view"], _network(request, share)), report_fd)
    elif report_fd is not None:
        os.close(report_fd)  # this process is the job: the host reports its end
    for fd in share:
        os.close(fd)
    _fresh_randomness()
    _leave_finalizers_to_host()
    os.chdir(request["cwd"])
    encoding = (env.get("PYTHONIOENCODING") or "utf-8").split(":")[0] or "utf-8"
    sys.stdin = _text(0, "r", encoding, "strict")
    sys.stdout = _text(1, "w", encoding, "strict")
    sys.stderr = _text(2, "w", encoding, "backslashreplace")
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    program = os.path.abspath(request["argv"][0])
    sys.argv = list(request["argv"])
    sys.argv[0] = request["argv"][0]
    sys.path[:] = [os.path.dirname(program), *_python_path(env), *_BASE_PATH]
    for name in [m for m in sys.modules if m.split(".")[0] in _OURS]:
        del sys.modules[name]  # the job's own modules of these names must win
    return program


def _python_path(env: dict[str, str]) -> list[str]:
    """PYTHONPATH's folders, which an interpreter puts after the script's own (a job's
    requirements layer among them)."""
    return [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]


def _network(request: dict[str, Any], share: Sequence[int]) -> NetworkShare | None:
    """The shared network the client sent: the network namespace, then (not root) its
    user namespace."""
    if not share:
        return None
    return NetworkShare(share[0], share[1] if request.get("share") else None)


def _fresh_randomness() -> None:
    """Reseed what the fork copied from the host, as a fresh interpreter starts: numpy's
    global RandomState and torch's default generator from the OS (a new process seeds both
    so). Python's ``random`` reseeds itself in a forked child (os.register_at_fork)."""
    numpy: Any = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch: Any = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "seed"):
        torch.seed()


def _leave_finalizers_to_host() -> None:
    """The exit-time finalizers the preloaded libraries registered as they were imported
    (torch: one per operator library, 134 of them) do not run at the job's exit: they
    only undo in-process registrations, and ran 27 ms at the end of every job. The job's
    own finalizers and atexit handlers run as in a fresh interpreter."""
    import weakref

    registry: Any = getattr(weakref.finalize, "_registry", {})
    for info in list(registry.values()):
        info.atexit = False


def _text(fd: int, mode: str, encoding: str, errors: str) -> Any:
    """A line-buffered text stream on ``fd``, as python -u gives a job (PYTHONUNBUFFERED)."""
    return open(fd, mode, encoding=encoding, errors=errors, closefd=False, buffering=1)


def _run_program(program: str) -> int:
    import threading
    import traceback

    try:
        _exec_main(program)
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException as err:
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != program:
            tb = tb.tb_next
        traceback.print_exception(type(err), err, tb or err.__traceback__)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    import atexit

    atexit._run_exitfuncs()
    return code


def _exec_main(program: str) -> None:
    """Run the file as ``__main__`` the way the interpreter runs a script (runpy would
    rewrite ``sys.argv[0]``): a fresh module, absolute ``__file__``, no ``__spec__``."""
    import builtins
    import io
    import types

    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=program, __builtins__=builtins, __cached__=None)
    main.__spec__ = None
    sys.modules["__main__"] = main
    with io.open_code(program) as source:
        code = compile(source.read(), program, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def _exit_code(code: object) -> int:
    """SystemExit's code as python's own exit: None 0, an int itself, else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _die_with_host() -> None:
    """The kernel kills the job if the host dies (even by SIGKILL), as for a subprocess."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
