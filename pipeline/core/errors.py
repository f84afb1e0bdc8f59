"""Errors that reach a person, each with the exit code the CLI uses for it."""

from __future__ import annotations


class MoonpipeError(Exception):
    """Base: a one-line message that says what was wrong and what to do.

    ``exit_code`` follows run_pipeline.py's contract: 2 for usage and config errors
    (nothing was sent or started), 1 for a run that failed.
    """

    exit_code = 2


class ConfigError(MoonpipeError):
    """The config file, a flag or an environment override is invalid."""


class ParameterError(MoonpipeError):
    """A pipeline parameter override names no parameter or has the wrong type."""


class PipelineNotFoundError(MoonpipeError):
    """The target has no pipeline of that name (run --upsert first)."""


class ExecutionNotFoundError(MoonpipeError):
    """No execution matches the id or ARN given."""


class EndpointError(MoonpipeError):
    """An endpoint does not exist, is not serving, or refused a request."""

    exit_code = 1


class EndpointNotFoundError(EndpointError):
    """No endpoint of that name: a usage error (exit 2), nothing was sent."""

    exit_code = 2


class EndpointUsageError(EndpointError):
    """A request that cannot be sent as given (a name SageMaker would refuse, a body over
    its 6 MB limit): a usage error (exit 2), nothing was sent."""

    exit_code = 2


class StoreCorruptError(MoonpipeError):
    """A record in the local store cannot be read (moonpipe's own writes are atomic, so
    something else changed or truncated it); says which file, so it can be restored."""

    exit_code = 1


class StoreWriteError(MoonpipeError, OSError):
    """The store cannot be written: its disk is full, it is read-only or not ours to write.
    The message names the file and the cause in one line (never a traceback). Still an
    OSError, so code that copes with a failed write (``except OSError``) keeps coping."""

    exit_code = 1


class Interrupted(MoonpipeError):
    """Ctrl-C (or SIGTERM) ended a command that has already recorded what it stopped; the
    message says what that was (exit 130, as for any interrupted command)."""

    exit_code = 130
