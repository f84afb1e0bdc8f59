"""--definition: print the definition JSON (offline, no credentials, no target made)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.commands.base import Command
from pipeline.commands.front import Front


@dataclass(frozen=True)
class ShowDefinition:
    """--definition."""


def show_definition(request: ShowDefinition, front: Front) -> int:
    """The definition as built from the config: pretty, or exactly as built under --json."""
    front.console.definition(front.definition().definition)
    return 0


COMMANDS = (Command(ShowDefinition, show_definition, "--definition"),)
