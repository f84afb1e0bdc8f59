"""The warm host proves it is this store's before the client sends it anything (issue 21, 4).

A host another user planted, a socket that is a link (to another store's host), a folder
that is a link or not the user's own, and a same-user host that does not know the store's
key are all refused: nothing is sent to them, no job is recorded as run by them, and
--stop-host does not reach them.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.local.warm.client import SOCKET_NAME, WarmHostRefused, WarmStarter
from pipeline.local.warm.launch import warm_starter

OTHER_UID = 65534


class FakeHost:
    """A listener at a store's socket path that records every byte sent to it and answers
    each line with what a host would answer if it did not know the store's key."""

    def __init__(self, path: Path) -> None:
        self.received: list[bytes] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    self.received.append(data)
                    conn.sendall(b'{"proof": "0", "pid": 1, "exit": 0, "stopping": 1}\n')

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[Path, FakeHost]]:
    """A store whose warm folder holds a fake host's socket (the folder and socket ours)."""
    store = tmp_path / "store"
    warm = store / "warm"
    warm.mkdir(parents=True, mode=0o700)
    host = FakeHost(warm / SOCKET_NAME)
    os.chmod(warm / SOCKET_NAME, 0o600)
    try:
        yield store, host
    finally:
        host.close()


def _refused(store: Path, host: FakeHost, sent_nothing: bool = True) -> str:
    starter = WarmStarter(store, idle_s=30, preload=(), lanes={})
    with pytest.raises(WarmHostRefused) as caught:
        starter.ensure()
    with pytest.raises(WarmHostRefused):
        starter.start([sys.executable, "job.py", "--secret-arg"], {"AWS_X": "y"}, "/opt/ml")
    assert starter.stop() is None
    notes: list[str] = []
    assert warm_starter(store, "warm", 30, notes) is None
    assert len(notes) == 1 and notes[0].startswith("jobs started as subprocesses: ")
    received = b"".join(host.received)
    assert b"secret-arg" not in received and b"AWS_X" not in received and b"run" not in received
    if sent_nothing:
        assert received == b""
    return str(caught.value)


def test_a_host_that_does_not_know_the_stores_key_gets_nothing_but_a_nonce(
    fake: tuple[Path, FakeHost],
) -> None:
    store, host = fake
    reason = _refused(store, host, sent_nothing=False)
    assert reason.startswith("the warm host at ") and "did not prove it is this store's" in reason
    assert all(line.startswith(b'{"nonce": "') for line in b"".join(host.received).splitlines())


def test_a_host_another_user_planted_is_refused(fake: tuple[Path, FakeHost]) -> None:
    if os.getuid() != 0:
        pytest.skip("making files of another user needs root (CI runs as root)")
    store, host = fake
    os.chown(store / "warm" / SOCKET_NAME, OTHER_UID, OTHER_UID)
    assert "is not this user's own socket (uid 65534" in _refused(store, host)
    os.chown(store / "warm", OTHER_UID, OTHER_UID)
    assert f"{store / 'warm'} belongs to uid 65534" in _refused(store, host)


def test_a_socket_open_to_others_is_refused(
    fake: tuple[Path, FakeHost],
) -> None:
    store, host = fake
    os.chmod(store / "warm" / SOCKET_NAME, 0o666)
    assert "is not this user's own socket" in _refused(store, host)


def test_a_socket_linked_to_another_stores_host_is_refused(
    tmp_path: Path, starter: WarmStarter
) -> None:
    """--stop-host on store B must not stop store A's host, nor may B's jobs run there."""
    other = tmp_path / "b"
    (other / "warm").mkdir(parents=True, mode=0o700)
    (other / "warm" / SOCKET_NAME).symlink_to(starter.warm_dir / SOCKET_NAME)
    linked = WarmStarter(other, idle_s=30, preload=(), lanes={})
    with pytest.raises(WarmHostRefused) as caught:
        linked.ensure()
    assert "(uid" in str(caught.value) and "a link" in str(caught.value)
    assert linked.stop() is None
    pid = starter.ensure()  # store A's host is still there, and still answers A
    os.kill(pid, 0)


def test_a_warm_folder_that_is_a_link_is_refused(tmp_path: Path, starter: WarmStarter) -> None:
    other = tmp_path / "c"
    other.mkdir()
    (other / "warm").symlink_to(starter.warm_dir)
    with pytest.raises(WarmHostRefused) as caught:
        WarmStarter(other, idle_s=30, preload=(), lanes={}).ensure()
    assert "is not a folder of its own (a link" in str(caught.value)
