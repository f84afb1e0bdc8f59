"""Local endpoint timings: first deploy, hot swap, request latency (medians printed).

Usage: .venv/bin/python benchmarks/bench_endpoint.py [--repeats 5] [--requests 300] [--torch]

``--torch`` serves a handler that imports torch (what the real model costs at start);
without it a pure-Python model measures the endpoint's own overhead.
"""

from __future__ import annotations

import argparse
import http.client
import io
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.local.endpoints import delete_endpoint, deploy, invoke

PURE = """
def model_fn(model_dir):
    return lambda rows: [sum(r) for r in rows]
"""
TORCH = """
import torch
def model_fn(model_dir):
    layer = torch.nn.Linear(2, 1)
    return lambda rows: layer(torch.tensor(rows, dtype=torch.float32)).detach()
"""


def artifact(path: Path, program: str) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = program.encode()
        info = tarfile.TarInfo("./code/inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def timed(fn: object, *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start


def keep_alive_latencies(port: int, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("POST", "/invocations", b"[[0.5, 0.5]]", {"Content-Type": "application/json"})
        conn.getresponse().read()
        out.append(time.perf_counter() - start)
    conn.close()
    return out


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--torch", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, model = Path(tmp) / "store", artifact(Path(tmp) / "m.tar.gz",
                                                     TORCH if args.torch else PURE)
        starts, swaps = [], []
        for i in range(args.repeats):
            starts.append(timed(deploy, store, "bench", "cfg-a", model, {}))
            swaps.append(timed(deploy, store, "bench", f"cfg-b{i}", model, {}))
            if i < args.repeats - 1:
                delete_endpoint(store, "bench")
        port = deploy(store, "bench", "cfg-c", model, {}).port
        assert port is not None
        via_invoke = [timed(invoke, store, "bench", b"[[0.5, 0.5]]", "application/json")
                      for _ in range(args.requests)]
        raw = keep_alive_latencies(port, args.requests)
        delete_endpoint(store, "bench")
    print(f"model: {'torch' if args.torch else 'pure python'}")
    print(f"first deploy (spawn, load, /ping 200): median {ms(starts)} over {args.repeats}")
    print(f"hot swap (load + swap + status):       median {ms(swaps)} over {args.repeats}")
    print(f"invoke() (record, liveness, new conn): median {ms(via_invoke)} over {args.requests}")
    print(f"keep-alive POST /invocations:          median {ms(raw)} over {args.requests}")


if __name__ == "__main__":
    main()
