#!/usr/bin/python3
"""Issue 9's "supervised from scratch" recipe in PyTorch, to check pairflow's row against PyTorch on
this machine (same recipe, a class-balanced label subset drawn here with numpy, not pairflow's subset).

smallcnn (1 input channel, PyTorch default initialisation) + Linear(128,10); 2,500 steps of batches of
256 drawn with replacement from the subset; views RandomResizedCrop(28, scale=(0.5,1), ratio=(3/4,4/3),
bilinear, antialias) + horizontal flip, normalised (x-0.2860)/0.3530; Adam lr 1e-3 with L2 weight decay
1e-4, cosine schedule per step; top-1 on the 10,000 test images with BatchNorm in evaluation mode.

    # /tmp/fmnist/{train,test}.npz: Fashion-MNIST as uint8 arrays (the peers' make_fmnist.py writes them
    # from Debian's dataset-fashion-mnist; see docs/benchmarks.md)
    /usr/bin/python3 scripts/torch_fmnist_supervised.py --data /tmp/fmnist --fraction 0.1 --seed 1
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T


def smallcnn():
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
    return nn.Sequential(*block(1, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2),
                         *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with train.npz and test.npz (make_fmnist.py)")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    tr, te = np.load(f"{a.data}/train.npz"), np.load(f"{a.data}/test.npz")
    x, y = tr["images"], tr["labels"].astype(np.int64)
    sub = np.concatenate([rng.choice(np.flatnonzero(y == c), round(a.fraction * np.sum(y == c)), replace=False)
                          for c in range(10)])
    xs = torch.from_numpy(x[sub]).unsqueeze(1)  # uint8 N×1×28×28
    ys = torch.from_numpy(y[sub])
    aug = T.Compose([T.RandomResizedCrop(28, scale=(0.5, 1.0), antialias=True), T.RandomHorizontalFlip()])
    mean, std = 0.2860, 0.3530
    model = nn.Sequential(smallcnn(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.steps)
    t0 = time.time()
    model.train()
    for step in range(a.steps):
        idx = torch.randint(len(sub), (256,))
        views = torch.stack([aug(xs[i]) for i in idx]).float().div_(255).sub_(mean).div_(std)
        loss = F.cross_entropy(model(views), ys[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(te["images"]).unsqueeze(1).float().div_(255).sub_(mean).div_(std)
        pred = torch.cat([model(xt[i:i + 1000]).argmax(1) for i in range(0, len(xt), 1000)])
        top1 = (pred.numpy() == te["labels"]).mean() * 100
    print(f"torch {torch.__version__}: supervised from scratch, fraction {a.fraction} seed {a.seed} "
          f"(subset {len(sub)}), {a.steps} steps: top-1 {top1:.2f}% (last loss {loss.item():.4f}, "
          f"{time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
