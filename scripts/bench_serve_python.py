#!/usr/bin/env python3
"""Python-side throughput of serve's transports, same run, interleaved:
pairflow.torch.PairDataset over Flight on TCP loopback, Flight on a Unix
socket, and the shared-memory ring (docs/serve.md, "Same host").

Starts two serve processes on the given shards (one on 127.0.0.1, one on a
Unix socket), then for each round reads --batches batches through each
transport in turn and prints images/s (wall) and images per CPU-second of
client and server together, and the per-round ratios to TCP Flight.

    go build -o /tmp/serve ./tools/serve
    python/.venv/bin/python scripts/bench_serve_python.py --serve /tmp/serve \\
        --data data/fashion-mnist/train --rounds 5 --batches 40
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def wait_ready(proc, connect) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"serve exited with {proc.returncode}")
        try:
            connect()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", required=True, help="serve binary")
    ap.add_argument("--data", required=True, help="shard directory (Fashion-MNIST train)")
    ap.add_argument("--recipe", default="torchvision-a")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--batches", type=int, default=40, help="batches read per transport and round")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    from pairflow.torch import PairDataset

    tmp = tempfile.mkdtemp(prefix="pairflow-bench-")
    sock = os.path.join(tmp, "serve.sock")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    try:
        for listen in (f"127.0.0.1:{port}", f"unix://{sock}"):
            procs.append(subprocess.Popen([a.serve, "--dataset", f"d={a.data}", "--listen", listen],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_ready(procs[0], lambda: socket.create_connection(("127.0.0.1", port), 1).close())

        def unix_connect():
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)

        wait_ready(procs[1], unix_connect)
        variants = [("flight-tcp", f"grpc://127.0.0.1:{port}", "flight", procs[0]),
                    ("flight-unix", f"grpc+unix://{sock}", "flight", procs[1]),
                    ("shm", f"grpc+unix://{sock}", "shm", procs[1])]
        res = {v[0]: [] for v in variants}
        for r in range(a.rounds):
            load = open("/proc/loadavg").read().split()[:3]
            for name, url, transport, proc in variants:
                ds = PairDataset(url, dataset="d", kind="contrastive", recipe=a.recipe, batch_size=a.batch_size,
                                 seed=1, epochs=1000, transport=transport, params=False)
                it = iter(ds)
                next(it)  # connect, first batch (and the ring) untimed
                t0, c0, s0 = time.perf_counter(), self_cpu(), cpu_of(proc.pid)
                n = 0
                for _ in range(a.batches):
                    d = next(it)
                    n += d["view_0"].shape[0]
                wall = time.perf_counter() - t0
                cpu = self_cpu() - c0 + cpu_of(proc.pid) - s0
                it.close()
                res[name].append((n / wall, n / cpu))
                print(f"round {r} load {' '.join(load)} {name:12s} {n / wall:9.0f} images/s {n / cpu:9.0f} images/cpu-s",
                      flush=True)
        print("\nmedians (images/s, images/cpu-s) and medians of per-round ratios to flight-tcp:")
        base = res["flight-tcp"]
        for name in res:
            w = statistics.median(x[0] for x in res[name])
            c = statistics.median(x[1] for x in res[name])
            rw = statistics.median(x[0] / b[0] for x, b in zip(res[name], base))
            rc = statistics.median(x[1] / b[1] for x, b in zip(res[name], base))
            print(f"{name:12s} {w:9.0f} {c:9.0f}  ratio wall {rw:.2f} cpu {rc:.2f}")
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
