"""The one error the job namespace code raises."""

from __future__ import annotations


class NamespaceError(OSError):
    """The job's namespace could not be set up (the engine falls back, and says so)."""
