"""Hostile requests for the endpoint benchmark: a seeded corpus and a runner that counts.

Every cause of a 5xx, a dropped connection or a wrong answer from issue 8 is in the corpus,
mixed with random bytes, random JSON and CSV, truncated and mislabelled bodies; a few 6 MB
bodies exercise the large-body path. The runner sends each over its own connection (half
closed, as a client that has said everything) and sorts the outcomes.
"""

from __future__ import annotations

import http.client
import io
import json
import random
import socket
import threading
import time
from collections import Counter

import numpy as np

HANG_S = 10.0


def _npy(shape: tuple[int, ...], dtype: str = "<f8", data: bool = True) -> bytes:
    buffer = io.BytesIO()
    if data:
        np.save(buffer, np.ones(shape, dtype=dtype), allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
        )
    return buffer.getvalue()


def _bodies(rng: random.Random) -> list[tuple[str, bytes]]:
    """(content type, body) pairs: the issue's concrete causes first, then random ones."""
    junk_json = json.dumps(
        [
            [rng.choice([1e308, -1, 10**20, "x", None, [], {}]) for _ in range(rng.randint(0, 3))]
            for _ in range(3)
        ]
    )
    rows = "\n".join(
        ",".join(str(rng.uniform(-1e3, 1e3)) for _ in range(rng.randint(0, 3)))
        for _ in range(rng.randint(0, 5))
    )
    return [
        ("application/json", b"[" * rng.randint(1000, 20_000)),
        ("text/csv", b"1" * (128 * 1024 + rng.randint(1, 9000)) + b",1"),
        ("text/csv", b"1\r,1"),
        ("application/json", b"[[1" + b"0" * 309 + b", 1]]"),
        ("application/x-npy", _npy((10**12, 2), data=False)),
        ("application/x-npy", b"PK\x03\x04" + rng.randbytes(40)),
        ("application/json", b"[[1e308,1e308]]"),
        ("application/x-npy", _npy((3, 2))[: rng.randint(0, 150)]),
        ("application/x-npy", _npy((2, 2), rng.choice(["<c8", "<U3", "|b1", ">i8"]))),
        ("application/json", junk_json.encode()),
        ("text/csv", rows.encode()),
        (
            rng.choice(["text/csv", "application/json", "application/x-npy", "image/png", ""]),
            rng.randbytes(rng.randint(0, 400)),
        ),
    ]


def _request(rng: random.Random) -> bytes:
    """One raw request: a hostile body in a well- or ill-formed HTTP frame, or just bytes."""
    kind = rng.random()
    if kind < 0.08:
        return rng.randbytes(rng.randint(1, 300)) + rng.choice([b"", b"\r\n\r\n"])
    if kind < 0.1:
        return rng.choice(
            [
                b"GET /ping HTTP/2.0\r\n\r\n",
                b"FOO / HTTP/1.1\r\n\r\n",
                b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
                b"HEAD /ping HTTP/1.1\r\n\r\n",
                b"OPTIONS * HTTP/1.1\r\n\r\n",
            ]
        )
    if kind < 0.101:  # a valid 6 MB batch: the large-body path, not hostile but heavy
        content_type, body = "text/csv", b"0.123456,-0.654321\n" * (6 * 1024 * 1024 // 19)
    else:
        content_type, body = rng.choice(_bodies(rng))
    length = rng.choice(
        [str(len(body))] * 6 + [str(len(body) + 40), f"{len(body)}_0", str(6 * 1024 * 1024 + 1)]
    )
    head = [
        f"POST {rng.choice(['/invocations', '/endpoints/bench/invocations'])} HTTP/1.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
        f"Accept: {rng.choice(['application/json', 'text/csv', 'application/x-npy', '*/*'])}",
    ]
    if rng.random() < 0.03:
        head.append(f"Content-Length: {len(body) + 1}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def hostile_requests(n: int, seed: int) -> list[bytes]:
    """``n`` requests, the same for the same seed."""
    rng = random.Random(seed)
    return [_request(rng) for _ in range(n)]


def _exchange(port: int, request: bytes) -> tuple[str, float]:
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HANG_S) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            method = "HEAD" if request.startswith(b"HEAD ") else "POST"
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            response.read()
            outcome = f"{response.status // 100}xx"
    except TimeoutError:
        outcome = "hung"
    except (OSError, http.client.HTTPException):
        outcome = "dropped"
    return outcome, time.monotonic() - start


def run_fuzz(port: int, requests: list[bytes], threads: int = 4) -> dict[str, object]:
    """Send every request (``threads`` at a time); counts by outcome and the slowest answer."""
    outcomes: Counter[str] = Counter()
    slowest = [0.0]
    lock = threading.Lock()
    chunks = [requests[i::threads] for i in range(threads)]

    def work(chunk: list[bytes]) -> None:
        for request in chunk:
            outcome, elapsed = _exchange(port, request)
            with lock:
                outcomes[outcome] += 1
                slowest[0] = max(slowest[0], elapsed)

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {**dict(sorted(outcomes.items())), "slowest_s": round(slowest[0], 2)}
