"""A real moto server on 127.0.0.1 for the tests of the AWS path, and a fresh account on it.

CONTRACTS.md: the AWS path is tested against ThreadedMotoServer through AWS_ENDPOINT_URL, so
boto3 and the CLI (in-process or a fresh process) speak real HTTP to it and nothing leaves
this machine. Each test gets an emptied server and test-only credentials; a developer's
own AWS variables and files never reach it.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """One moto server for the module, on a free port of 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def fresh_account(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Empty the moto server and point this process's AWS environment at it.

    Every ``AWS_*`` variable is removed and replaced by test-only credentials, empty config
    files and no instance metadata; returns those variables, for a fresh process's env.
    """
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def client(service: str) -> Any:
    """A boto3 client of ``service`` in the tests' region (on moto once an account is set)."""
    return boto3.Session(region_name=REGION).client(service)
