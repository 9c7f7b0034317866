#!/usr/bin/env python3
"""SimCLR on Fashion-MNIST in PyTorch, fed by pairflow.

The model and loss are pairflow's FMNIST-SimCLR v1 (trainer's smallcnn,
scripts/torch_fmnist_step.py): smallcnn with 1 input channel
(conv3x3-BN-ReLU-maxpool x2, conv3x3-BN-ReLU-avgpool, no conv bias) and a
Linear(128,512)-ReLU-Linear(512,128) head, NT-Xent with tau 0.5, SGD with
momentum 0.9 and weight decay 5e-4. The views come from pairflow, augmented
in Go by `serve` (or read from a `pairstream` file): no DataLoader workers.

    # a data service (another terminal or machine)
    go run ./tools/serve --dataset fmnist=tools/pretrain/demo/train
    python examples/torch_simclr.py --url grpc://127.0.0.1:8815 --steps 300

    # or pairstream's IPC output
    go run ./tools/pairstream --data tools/pretrain/demo/train --recipe fmnist-simclr-v1 \\
        --batch 128 --epochs 20 --out pairs.arrows
    python examples/torch_simclr.py --ipc pairs.arrows

--state FILE saves the model, the optimiser and the data position at the end
(and resumes from FILE when it exists): the stream continues with the
identical next batch. --save-encoder FILE writes the encoder as safetensors.
Prints one line per --log-every steps and a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import pairflow
    import pairflow.torch
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "src"))
    import pairflow
    import pairflow.torch


def smallcnn(channels: int = 1) -> nn.Sequential:
    """pairflow's smallcnn encoder (128 features)."""
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
    return nn.Sequential(*block(channels, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2),
                         *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class SimCLR(nn.Module):
    def __init__(self, channels: int = 1):
        super().__init__()
        self.f = smallcnn(channels)
        self.g = nn.Sequential(nn.Linear(128, 512), nn.ReLU(inplace=True), nn.Linear(512, 128))

    def forward(self, x):
        return self.g(self.f(x))


def nt_xent(z: torch.Tensor, n: int, tau: float = 0.5) -> torch.Tensor:
    """NT-Xent over 2n embeddings: row i's positive is row i+n (and back)."""
    z = F.normalize(z, dim=1)
    sim = (z @ z.t()) / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def views(batch) -> torch.Tensor:
    """Both views of a contrastive batch as one float32 NCHW tensor. uint8
    HWC views (a uint8_hwc recipe) are converted here, where a GPU would."""
    x = torch.cat([batch["view_0"], batch["view_1"]])
    if x.dtype == torch.uint8:
        x = x.permute(0, 3, 1, 2).float().div_(255)
    return x


class Trainer:
    """One SimCLR step per batch; counts time spent waiting for data."""

    def __init__(self, channels=1, lr=0.24, batch=512, seed=1, device="cpu"):
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.model = SimCLR(channels).to(self.device)
        # lr 0.24 at 512 source images (issue 9's recipe), scaled linearly.
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr * batch / 512, momentum=0.9, weight_decay=5e-4)
        self.step_n = 0
        self.images = 0
        self.wait_s = 0.0
        self.train_s = 0.0

    def step(self, batch) -> float:
        x = views(batch).to(self.device, non_blocking=True)
        n = x.shape[0] // 2
        self.opt.zero_grad(set_to_none=True)
        loss = nt_xent(self.model(x), n)
        loss.backward()
        self.opt.step()
        self.step_n += 1
        self.images += n
        return float(loss)

    def run(self, batches, steps: int, log_every: int = 0, log=print):
        """Trains on up to ``steps`` batches; returns the per-step losses."""
        losses = []
        it = iter(batches)
        t = time.perf_counter()
        while len(losses) < steps:
            try:
                batch = next(it)
            except StopIteration:
                break
            t1 = time.perf_counter()
            self.wait_s += t1 - t
            losses.append(self.step(batch))
            t = time.perf_counter()
            self.train_s += t - t1
            if log_every and len(losses) % log_every == 0:
                log(f"step {self.step_n:5d}  loss {sum(losses[-log_every:]) / log_every:.4f}  "
                    f"{self.images / (self.wait_s + self.train_s):7.0f} images/s  "
                    f"data wait {100 * self.wait_s / (self.wait_s + self.train_s):4.1f}%")
            self.last = batch
        return losses


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--url", help="serve address: grpc://host:port (Flight) or http://host:port")
    src.add_argument("--ipc", help="a pairstream output file")
    ap.add_argument("--dataset", default="fmnist", help="dataset name given to serve --dataset NAME=PATH")
    ap.add_argument("--recipe", default="fmnist-simclr-v1")
    ap.add_argument("--batch", type=int, default=128, help="source images per step (2x views)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=300, help="stop after this many steps")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.24, help="learning rate at 512 source images (scaled linearly)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--state", help="resume from / save to this file (model, optimiser, data position)")
    ap.add_argument("--save-encoder", help="write the encoder's weights here (safetensors)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--token", default=None, help="serve's bearer token (default: $PAIRFLOW_TOKEN)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    tr = Trainer(channels=1, lr=a.lr, batch=a.batch, seed=a.seed)
    if a.url:
        ds = pairflow.torch.PairDataset(a.url, dataset=a.dataset, kind="contrastive", recipe=a.recipe,
                                        seed=a.seed, batch_size=a.batch, epochs=a.epochs, token=a.token)
        if a.state and os.path.exists(a.state):
            st = torch.load(a.state)
            tr.model.load_state_dict(st["model"])
            tr.opt.load_state_dict(st["opt"])
            tr.step_n = st["step"]
            ds.load_state_dict(st["data"])
            print(f"resumed at step {tr.step_n}, data epoch {st['data']['epoch']} batch {st['data']['batch']}")
        batches = torch.utils.data.DataLoader(ds, batch_size=None)  # no workers: serve does the work
    else:
        batches = (pairflow.torch.to_tensors(b) for b in pairflow.read_ipc(a.ipc, params=False))

    t0 = time.perf_counter()
    losses = tr.run(batches, a.steps, a.log_every)
    wall = time.perf_counter() - t0
    if not losses:
        sys.exit("no batches arrived (is the stream empty, or the state at the end of the run?)")
    if a.state and a.url:
        torch.save({"model": tr.model.state_dict(), "opt": tr.opt.state_dict(), "step": tr.step_n,
                    "data": ds.state_dict(after=tr.last)}, a.state)
    if a.save_encoder:
        from safetensors.torch import save_file
        # pairflow trainer's parameter names (f.0.weight, f.1.running_mean, …)
        save_file({f"f.{k}": v.contiguous() for k, v in tr.model.f.state_dict().items()}, a.save_encoder,
                  metadata={"model": "smallcnn", "channels": "1", "steps": str(tr.step_n)})
    k = max(1, min(20, len(losses) // 5))
    print(json.dumps({"steps": len(losses), "first_loss": sum(losses[:k]) / k, "last_loss": sum(losses[-k:]) / k,
                      "images_per_s": tr.images / wall, "data_wait_share": tr.wait_s / max(wall, 1e-9),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
