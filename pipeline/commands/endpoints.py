"""--list-endpoints, --invoke, --delete-endpoint: the deployed endpoints."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands.base import Command
from pipeline.commands.front import Front
from pipeline.core.errors import ConfigError

CSV = "text/csv"  # --invoke's Content-Type and Accept unless given: one prediction a line


@dataclass(frozen=True)
class ListEndpoints:
    """--list-endpoints."""


@dataclass(frozen=True)
class InvokeEndpoint:
    """--invoke NAME --data FILE|- [--content-type TYPE] [--accept TYPE]."""

    endpoint: str
    data: str  # a file, or - for stdin
    content_type: str = CSV
    accept: str = CSV


@dataclass(frozen=True)
class DeleteEndpoint:
    """--delete-endpoint NAME."""

    endpoint: str


def list_endpoints(request: ListEndpoints, front: Front) -> int:
    """Every endpoint with its status (and URL, locally)."""
    front.console.endpoints(front.target().list_endpoints())
    return 0


def invoke_endpoint(request: InvokeEndpoint, front: Front) -> int:
    """One request; the answer as the endpoint sent it (a refusal is an EndpointError)."""
    target = front.target()
    body = target.invoke_endpoint(
        request.endpoint, read_data(request.data), request.content_type, request.accept
    )
    front.console.invoked(request.endpoint, body, request.accept)
    return 0


def delete_endpoint(request: DeleteEndpoint, front: Front) -> int:
    """Delete it (locally: stop its server)."""
    front.target().delete_endpoint(request.endpoint)
    front.console.deleted(request.endpoint)
    return 0


def read_data(source: str) -> bytes:
    """The --invoke body: a file, or stdin for '-'."""
    try:
        return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"--data {source}: cannot read it ({exc.strerror}); give a CSV file or -"
        ) from None


COMMANDS = (
    Command(ListEndpoints, list_endpoints, "--list-endpoints"),
    Command(
        InvokeEndpoint,
        invoke_endpoint,
        "--invoke NAME --data FILE|- [--content-type TYPE] [--accept TYPE]",
    ),
    Command(DeleteEndpoint, delete_endpoint, "--delete-endpoint NAME"),
)
