#!/usr/bin/env python3
"""How fast the Python client receives from the real ``serve`` over TCP,
against the Go client, in the same run (docs/serve.md, "Python receive
side").

One ``serve`` process (built from this checkout) serves a dataset on
127.0.0.1; each round reads the same stream (endpoint 0, unbounded epochs,
``--batches`` batches after one untimed batch) with, in turn:

- ``go``: the Go Flight client (``BenchmarkServeClient`` in a ``go test -c``
  binary of tools/serve; ClientCodec),
- ``pyarrow``: ``pyarrow.flight`` alone (``read_chunk``), the transport as
  any Python client sees it,
- ``pairflow``: the package's ``open_stream`` (pyarrow plus its checks:
  ``validate(full=True)``, positions, the completeness CRC),
- ``pyarrow-opts``: ``pyarrow.flight`` with larger gRPC TCP read chunks
  (``generic_options``), to see whether the C++ client's options help.

It prints per round images/s, MB/s, the client's CPU seconds per GB and
the server's, then the medians of the per-round ratios to ``go``. Server
and clients share the machine's cores (as the serve benchmarks do).

    python3 scripts/serve_recv_bench.py --data data/fashion-mnist/train --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("serve did not listen")


def run_go(gotest: str, addr: str, desc: bytes, n: int) -> dict:
    env = dict(os.environ, PAIRFLOW_BENCH_ADDR=addr, PAIRFLOW_BENCH_DESC=desc.decode())
    r = subprocess.run([gotest, "-test.run", "^$", "-test.bench", "^BenchmarkServeClient$",
                        "-test.benchtime", f"{n}x"], cwd=REPO / "tools" / "serve", env=env,
                       capture_output=True, text=True)
    m = re.search(r"BenchmarkServeClient\S*\s+\d+\s+\d+ ns/op(.*)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"go client failed:\n{r.stdout}\n{r.stderr}")
    vals = {u: float(v) for v, u in re.findall(r"([\d.e+-]+) (\S+)", m.group(1))}
    return {"images/s": vals["images/s"], "MB/s": vals["MB/s"], "client_cpu": vals["client-cpu-s"],
            "MB": vals["MB"]}


def run_py(mode: str, url: str, desc: bytes, n: int) -> dict:
    import pyarrow.flight as fl

    if mode == "pairflow":
        sys.path.insert(0, str(REPO / "python" / "src"))
        from pairflow.client import open_stream

        _, it = open_stream(url, desc, 0, timeout=60, read_timeout=120)
        it = (sb.rb for sb in it)
        client = None
    else:
        opts = []
        if mode == "pyarrow-opts":
            opts = [("grpc.experimental.tcp_min_read_chunk_size", 1 << 20),
                    ("grpc.experimental.tcp_max_read_chunk_size", 16 << 20),
                    ("grpc.experimental.tcp_read_chunk_size", 4 << 20)]
        client = fl.FlightClient(url, generic_options=opts)
        info = client.get_flight_info(fl.FlightDescriptor.for_command(desc))
        reader = client.do_get(info.endpoints[0].ticket)

        def chunks():
            while True:
                yield reader.read_chunk().data
        it = chunks()
    rows = nbytes = 0
    t0 = c0 = 0.0
    for i in range(n + 1):
        rb = next(it)
        if i == 0:
            t0, c0 = time.perf_counter(), time.process_time()
            continue
        rows += rb.num_rows
        nbytes += rb.nbytes
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if client is not None:
        reader.cancel()
        client.close()
    else:
        it.close()
    return {"images/s": rows / wall, "MB/s": nbytes / 1e6 / wall, "client_cpu": cpu, "MB": nbytes / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="shard directory to serve")
    ap.add_argument("--recipe", default="torchvision-a")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=100, help="timed batches per client per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--modes", default="go,pyarrow,pairflow,pyarrow-opts")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pairflow-recv-"))
    serve, gotest = tmp / "serve", tmp / "serve.test"
    for cmd in (["go", "build", "-o", str(serve), "./tools/serve"],
                ["go", "test", "-c", "-o", str(gotest), "./tools/serve"]):
        subprocess.run(cmd, cwd=REPO, check=True)
    port = free_port()
    srv = subprocess.Popen([str(serve), "--dataset", f"d={args.data}", "--listen", f"127.0.0.1:{port}",
                            "--workers", "2"], stderr=subprocess.DEVNULL)
    try:
        wait_port(port, srv)
        cfg = {"kind": "contrastive", "batch_size": args.batch, "recipe": args.recipe, "seed": 1, "epochs": 0}
        desc = json.dumps({"version": 1, "dataset": "d", "config": cfg}).encode()
        modes = args.modes.split(",")
        res = {m: [] for m in modes}
        print(f"load average before: {os.getloadavg()}")
        for r in range(args.rounds):
            for m in modes:
                s0 = proc_cpu(srv.pid)
                out = (run_go(str(gotest), f"127.0.0.1:{port}", desc, args.batches) if m == "go"
                       else run_py(m, f"grpc://127.0.0.1:{port}", desc, args.batches))
                # The server's CPU over the client's whole run (setup and the
                # untimed batch included: an upper bound).
                out["server_cpu"] = proc_cpu(srv.pid) - s0
                res[m].append(out)
                gb = out["MB"] / 1e3
                print(f"round {r} {m:13s} {out['images/s']:9.0f} images/s {out['MB/s']:7.0f} MB/s  "
                      f"client {out['client_cpu'] / gb:5.2f} CPU-s/GB  server {out['server_cpu'] / gb:5.2f} CPU-s/GB",
                      flush=True)
        print(f"load average after: {os.getloadavg()}")
        print("\nmedians of per-round ratios to go (wall images/s; client CPU per GB):")
        for m in modes:
            if m == "go":
                continue
            wall = statistics.median(a["images/s"] / g["images/s"] for a, g in zip(res[m], res["go"]))
            cpu = statistics.median((a["client_cpu"] / a["MB"]) / (g["client_cpu"] / g["MB"])
                                    for a, g in zip(res[m], res["go"]))
            print(f"  {m:13s} wall {wall:.2f}   client CPU per GB {cpu:.2f}x go's")
        for m in modes:
            print(f"  {m:13s} median {statistics.median(a['MB/s'] for a in res[m]):7.0f} MB/s, client "
                  f"{statistics.median(a['client_cpu'] / a['MB'] * 1e3 for a in res[m]):.2f} CPU-s/GB")
    finally:
        srv.kill()
        srv.wait()


if __name__ == "__main__":
    main()
