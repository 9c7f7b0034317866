#!/usr/bin/env python3
"""The same PyTorch SimCLR training loop fed two ways, in alternating runs:

  pairflow     serve (Go, on this machine) streams torchvision-a views (3x32x32
               float32, SimCLR colour strength 1) over Arrow Flight into
               pairflow.torch.PairDataset; DataLoader(batch_size=None), no workers.
  torchvision  the peer pipeline a PyTorch user would write (the peer benchmark's
               setting A): Fashion-MNIST in memory tiled to 3-channel HWC uint8,
               PIL Image.fromarray, two views of RandomResizedCrop(32, scale=(0.08, 1)),
               RandomHorizontalFlip, RandomApply([ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
               RandomGrayscale(0.2), ToTensor; DataLoader(batch 256, shuffle, drop_last,
               2 workers, persistent, prefetch_factor 2).

Loop (examples/torch_simclr.py's Trainer): smallcnn (3 channels) + projection head,
NT-Xent tau 0.5, SGD, torch threads --threads (2). Reported per run: training
images/s (source images) over the timed steps, and the share of that time the
loop spent waiting for its next batch. Each run is its own process.

    scripts/torch_feed_bench.py --data data/fashion-mnist/train --serve bin/serve \\
        --rounds 3 --steps 40 --warmup 5 [--json out.json]

Run torch with OPENBLAS_CORETYPE=SkylakeX and OPENBLAS_L2_SIZE unset on CPUs
Debian's OpenBLAS 0.3.21 does not know (the script sets this for its runs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "examples"))


def fmnist3(path="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    import numpy as np
    with gzip.open(path) as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        x = np.frombuffer(f.read(n * h * w), dtype=np.uint8).reshape(n, h, w)
    return np.ascontiguousarray(np.repeat(x[:, :, :, None], 3, axis=3))


def torchvision_batches(batch, workers, seed):
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms as T

    t = T.Compose([T.RandomResizedCrop(32, scale=(0.08, 1.0)), T.RandomHorizontalFlip(),
                   T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8), T.RandomGrayscale(p=0.2),
                   T.ToTensor()])

    class TwoViews(Dataset):
        def __init__(self):
            self.x = fmnist3()

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            img = Image.fromarray(self.x[i])
            return t(img), t(img)

    torch.manual_seed(seed)
    dl = DataLoader(TwoViews(), batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                    persistent_workers=workers > 0, prefetch_factor=2 if workers else None)
    while True:
        for v0, v1 in dl:
            yield {"view_0": v0, "view_1": v1}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pairflow_batches(url, batch, seed):
    import torch
    import pairflow.torch
    ds = pairflow.torch.PairDataset(url, dataset="fmnist", kind="contrastive", recipe="torchvision-a", seed=seed,
                                    batch_size=batch, epochs=100, params=False)
    return iter(torch.utils.data.DataLoader(ds, batch_size=None))


def one(a):
    """One measured run in this process; prints a JSON line."""
    import torch
    from torch_simclr import Trainer
    torch.set_num_threads(a.threads)
    if a.mode == "torchvision":
        batches = torchvision_batches(a.batch, a.workers, a.seed)
    else:
        batches = pairflow_batches(a.url, a.batch, a.seed)
    tr = Trainer(channels=3, batch=a.batch, seed=a.seed)
    tr.run(batches, a.warmup)  # warm-up: worker start, first batches, allocator
    tr.images, tr.wait_s, tr.train_s = 0, 0.0, 0.0
    t0 = time.perf_counter()
    tr.run(batches, a.steps)
    wall = time.perf_counter() - t0
    print(json.dumps({"mode": a.mode, "images_per_s": tr.images / wall, "wait_share": tr.wait_s / wall,
                      "steps": a.steps, "batch": a.batch, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}), flush=True)
    os._exit(0)  # persistent DataLoader workers and the Flight stream end with the process


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(REPO, "data", "fashion-mnist", "train"),
                    help="Fashion-MNIST train shards for serve (scripts/benchdata.sh)")
    ap.add_argument("--serve", default=os.path.join(REPO, "bin", "serve"), help="serve binary (go build -o bin/serve ./tools/serve)")
    ap.add_argument("--serve-workers", type=int, default=2, help="serve's pipeline workers")
    ap.add_argument("--rounds", type=int, default=3, help="alternating pairs of runs")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="torchvision DataLoader workers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="")
    ap.add_argument("--mode", choices=["pairflow", "torchvision"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.mode:
        return one(a)

    env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX")
    env.pop("OPENBLAS_L2_SIZE", None)
    port = free_port()
    srv = subprocess.Popen([a.serve, "--dataset", f"fmnist={a.data}", "--listen", f"127.0.0.1:{port}",
                            "--workers", str(a.serve_workers)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        runs = []
        common = ["--steps", str(a.steps), "--warmup", str(a.warmup), "--batch", str(a.batch),
                  "--threads", str(a.threads), "--workers", str(a.workers), "--seed", str(a.seed)]
        for r in range(a.rounds):
            order = ["pairflow", "torchvision"] if r % 2 == 0 else ["torchvision", "pairflow"]
            for mode in order:
                out = subprocess.run([sys.executable, __file__, "--mode", mode, "--url", f"grpc://127.0.0.1:{port}",
                                      *common], env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"{mode} run failed:\n{out.stderr[-3000:]}")
                res = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(res)
                print(f"round {r} {mode:11s} {res['images_per_s']:7.1f} images/s  wait {100 * res['wait_share']:5.2f}%",
                      flush=True)
    finally:
        srv.kill()
        srv.wait()
    med = {}
    for mode in ("pairflow", "torchvision"):
        rs = [x for x in runs if x["mode"] == mode]
        med[mode] = {"images_per_s": statistics.median(x["images_per_s"] for x in rs),
                     "wait_share": statistics.median(x["wait_share"] for x in rs),
                     "runs": [round(x["images_per_s"], 1) for x in rs],
                     "waits": [round(x["wait_share"], 4) for x in rs]}
    ratio = med["pairflow"]["images_per_s"] / med["torchvision"]["images_per_s"]
    print(f"median: pairflow {med['pairflow']['images_per_s']:.1f} images/s (wait {100 * med['pairflow']['wait_share']:.2f}%), "
          f"torchvision {med['torchvision']['images_per_s']:.1f} images/s (wait {100 * med['torchvision']['wait_share']:.2f}%); "
          f"ratio {ratio:.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"median": med, "ratio": ratio, "runs": runs, "args": vars(a)}, f, indent=1)


if __name__ == "__main__":
    main()
