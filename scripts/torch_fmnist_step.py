#!/usr/bin/python3
"""PyTorch's time for one FMNIST-SimCLR v1 training step (issue 9's recipe), for a same-run ratio
against pairflow's `go test -run '^$' -bench 'SimCLRStepFMNIST$' ./trainer/`.

Step: smallcnn with 1 input channel (conv3x3-BN-ReLU-maxpool ×2, conv3x3-BN-ReLU-avgpool, no conv
bias) + Linear(128,512)-ReLU-Linear(512,128), both views of 512 source images in one forward pass
(1,024 views of 1×28×28), NT-Xent τ=0.5, SGD momentum 0.9, lr 0.24, weight decay 5e-4. Inputs are
random: the step's time does not depend on pixel values, and augmentation is not included.

    /usr/bin/python3 scripts/torch_fmnist_step.py [--threads 2] [--steps 10] [--warmup 3]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def smallcnn():
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
    return nn.Sequential(*block(1, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2),
                         *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def nt_xent(z, n, tau):
    z = F.normalize(z, dim=1)
    sim = (z @ z.t()) / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512, help="source images per step (views = 2x)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = nn.Sequential(smallcnn(), nn.Linear(128, 512), nn.ReLU(inplace=True), nn.Linear(512, 128))
    opt = torch.optim.SGD(model.parameters(), lr=0.24, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(2 * a.batch, 1, 28, 28)
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = nt_xent(model(x), a.batch, 0.5)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"torch {torch.__version__}, {a.threads} threads: FMNIST-SimCLR v1 step, {a.batch} source images "
          f"({2 * a.batch} views of 1x28x28): median {med * 1e3:.1f} ms = {a.batch / med:.0f} source images/s "
          f"(min {a.batch / max(times):.0f}, max {a.batch / min(times):.0f}); 50 epochs of 117 steps: "
          f"{med * 117 * 50:.0f} s")


if __name__ == "__main__":
    main()
