#!/usr/bin/python3
"""Read a pairflow checkpoint with the standard library and torch.frombuffer.

Usage: read_safetensors.py CHECKPOINT [INPUT]
       read_safetensors.py --simclr CHECKPOINT INPUT

Parses the safetensors layout by hand (8-byte little-endian header length,
JSON header, raw little-endian data), loads every tensor with
torch.frombuffer and prints a JSON summary: metadata, and per tensor dtype,
shape, float64 sum and the first values. With INPUT (a safetensors file
holding a tensor "input" of NCHW images), it also loads the "f.*" tensors
into PyTorch's smallcnn (nn.Sequential attribute f, strict load_state_dict),
runs it in training mode on the input and prints the output.

With --simclr, it loads the whole checkpoint into PyTorch's SimCLR model
(enc = smallcnn, head = Linear(128,512)-ReLU-Linear(512,128)), computes
train_bench.py's NT-Xent (tau 0.5) on the input's 2N views in training mode,
backpropagates, and prints the loss and every parameter's gradient.
"""
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}


def load(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = bytearray(buf[8 + n:])
    out = {}
    for name, e in header.items():
        dt, size = DTYPES[e["dtype"]]
        a, b = e["data_offsets"]
        if b > a:
            t = torch.frombuffer(data, dtype=dt, count=(b - a) // size, offset=a)
        else:
            t = torch.empty(0, dtype=dt)
        if sys.byteorder != "little":
            t = t.byteswap()
        out[name] = t.reshape(e["shape"])
    return meta, out


class E1(nn.Module):
    def __init__(self, c):
        super().__init__()

        def blk(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
        self.f = nn.Sequential(*blk(c, 32), nn.MaxPool2d(2), *blk(32, 64), nn.MaxPool2d(2), *blk(64, 128),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.f(x)


class SimCLR(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.enc = E1(c)
        self.head = nn.Sequential(nn.Linear(128, 512), nn.ReLU(inplace=True), nn.Linear(512, 128))

    def forward(self, x):
        return self.head(self.enc(x))


def nt_xent(z, n, t=0.5):
    z = F.normalize(z, dim=1)
    sim = z @ z.t() / t
    eye = torch.eye(2 * n, dtype=torch.bool)
    sim = sim.masked_fill(eye, float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def simclr(ckpt, inp):
    _, ts = load(ckpt)
    _, x = load(inp)
    x = x["input"]
    m = SimCLR(ts["enc.f.0.weight"].shape[1])
    m.load_state_dict({k: v for k, v in ts.items() if not k.startswith("optim.")}, strict=True)
    m.train()
    loss = nt_xent(m(x), x.shape[0] // 2, 0.5)
    loss.backward()
    print(json.dumps({"loss": float(loss),
                      "grads": {k: [float(v) for v in p.grad.reshape(-1)] for k, p in m.named_parameters()}}))


def main():
    torch.set_num_threads(1)
    if sys.argv[1] == "--simclr":
        simclr(sys.argv[2], sys.argv[3])
        return
    meta, ts = load(sys.argv[1])
    res = {"metadata": meta, "tensors": {}}
    for name, t in ts.items():
        flat = t.reshape(-1)
        res["tensors"][name] = {
            "dtype": str(t.dtype).replace("torch.", ""),
            "shape": list(t.shape),
            "sum": float(flat.to(torch.float64).sum()),
            "head": [float(v) if t.is_floating_point() else int(v) for v in flat[:4]],
        }
    if len(sys.argv) > 2:
        _, inp = load(sys.argv[2])
        c = ts["f.0.weight"].shape[1]
        m = E1(c)
        m.load_state_dict({k: v for k, v in ts.items() if k.startswith("f.")}, strict=True)
        m.train()
        with torch.no_grad():
            y = m(inp["input"])
        res["forward"] = [float(v) for v in y.reshape(-1)]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
