"""A command: the typed request it carries out, the function that does, and its usage line.

pipeline/commands/__init__.py keeps one table of them; pipeline/flags.py builds exactly
one request from the flags and the table says which function runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.commands.front import Front

R = TypeVar("R")


@dataclass(frozen=True)
class Command(Generic[R]):
    """One action of run_pipeline.py."""

    request: type[R]
    run: Callable[[R, Front], int]  # carries the request out; returns the exit code
    usage: str  # its flags, as the usage line after ``run_pipeline.py`` shows them
