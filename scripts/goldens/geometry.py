#!/usr/bin/python3
"""Golden outputs of torchvision's geometric ops for pairflow's ops package.

Run from the repository root with Debian's python3-torchvision:

    /usr/bin/python3 scripts/goldens/geometry.py

It writes into ops/testdata/geometry/:
  in_*.png          small inputs: deterministic crops of Debian wallpapers
                    (photo224: 224x224 RGB, photo128x96: 128x96 RGB,
                    small32: 32x32 RGB, gray28: 28x28 gray)
  goldens.json      one entry per case: op, input, parameters, output shape,
                    byte offset into goldens.bin.gz
  goldens.bin.gz    the outputs, HWC uint8, concatenated, gzip (mtime 0)

Every output comes from torchvision.transforms.functional on a uint8 CHW
tensor: resized_crop / resize with antialias=True and bilinear
interpolation, center_crop, hflip, vflip, rotate (bilinear, fill=[f]*C),
and torch.rot90. Parameters are fixed (seeded numpy draws plus hand-picked
edge cases), so the files only change when torchvision does.
CI has no Python: the Go tests read the committed files.
"""
import gzip
import json
import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
from PIL import Image

OUT = os.path.join("ops", "testdata", "geometry")
BG = "/usr/share/backgrounds"


def make_inputs():
    """Deterministic crops of installed wallpapers (box-filter reduce, crop)."""
    ins = {}
    im = Image.open(os.path.join(BG, "Kleiber_by_Lukas_Baubkus.jpg")).convert("RGB")
    im = im.reduce(max(1, im.width // 560))
    x0, y0 = (im.width - 224) // 2, (im.height - 224) // 2
    ins["photo224"] = im.crop((x0, y0, x0 + 224, y0 + 224))
    im = Image.open(os.path.join(BG, "Painting-Colors_by__herobrine7gamer.jpg")).convert("RGB")
    im = im.reduce(max(1, im.width // 400))
    ins["photo128x96"] = im.crop((40, 30, 40 + 128, 30 + 96))
    im = Image.open(os.path.join(BG, "Fossa_by_Jasper_Roks.jpg")).convert("RGB")
    im = im.reduce(max(1, im.width // 160))
    ins["small32"] = im.crop((64, 40, 96, 72))
    ins["gray28"] = ins["photo128x96"].convert("L").reduce(3).crop((7, 2, 35, 30))
    for name, img in ins.items():
        img = Image.fromarray(np.asarray(img))  # drop ICC/EXIF metadata: pixels only
        ins[name] = img
        img.save(os.path.join(OUT, "in_" + name + ".png"), optimize=True)
    return ins


def to_tensor(img):
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous()


def to_hwc(t):
    return t.permute(1, 2, 0).contiguous().numpy().astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    ins = make_inputs()
    ts = {k: to_tensor(v) for k, v in ins.items()}
    rng = np.random.RandomState(20261127)
    cases, blobs = [], []
    off = 0

    def add(case, out):
        nonlocal off
        hwc = to_hwc(out)
        case["out"] = list(hwc.shape)
        case["offset"] = off
        off += hwc.size
        cases.append(case)
        blobs.append(hwc.tobytes())

    # resized_crop (antialias=True): hand-picked boxes then random ones.
    rc = [
        ("photo224", 0, 0, 224, 224, 32, 32),    # 7x down
        ("photo224", 0, 0, 224, 224, 74, 74),    # ~3x down
        ("photo224", 10, 3, 200, 150, 50, 40),   # 4x / 3.75x
        ("photo128x96", 0, 0, 96, 128, 96, 128),  # identity
        ("photo224", 100, 100, 20, 15, 64, 64),  # upscale
        ("photo224", 223, 223, 1, 1, 5, 3),      # 1x1 crop
        ("photo224", 0, 0, 224, 224, 1, 1),      # to 1x1
        ("photo224", 5, 0, 219, 224, 17, 224),   # very wide out
        ("photo224", 0, 7, 224, 200, 224, 9),    # very tall out
        ("photo128x96", 0, 0, 96, 128, 24, 32),  # 4x
        ("photo128x96", 3, 5, 90, 120, 29, 31),
        ("small32", 0, 0, 32, 32, 32, 32),
        ("small32", 4, 6, 11, 9, 32, 32),
        ("gray28", 2, 1, 20, 25, 28, 28),
        ("gray28", 0, 0, 28, 28, 9, 9),
    ]
    for name, top, left, h, w, oh, ow in rc:
        out = F.resized_crop(ts[name], top, left, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=True)
        add(dict(op="resized_crop", input=name, top=top, left=left, height=h, width=w, size=[oh, ow]), out)
    for name, n in (("photo224", 16), ("photo128x96", 6), ("small32", 8), ("gray28", 8)):
        t = ts[name]
        H, W = t.shape[1], t.shape[2]
        for _ in range(n):
            h = int(rng.randint(1, H + 1))
            w = int(rng.randint(1, W + 1))
            top = int(rng.randint(0, H - h + 1))
            left = int(rng.randint(0, W - w + 1))
            if name == "photo224":
                side = int(rng.choice([24, 32, 48, 56, 64, 96]))
                oh, ow = side, int(rng.choice([side, side + 7]))
            else:
                oh, ow = (32, 32) if name != "gray28" else (28, 28)
            out = F.resized_crop(t, top, left, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=True)
            add(dict(op="resized_crop", input=name, top=top, left=left, height=h, width=w, size=[oh, ow]), out)

    # resize (whole image, antialias=True): fixed sizes, then random ones
    rs = [("photo224", 56, 56), ("photo224", 75, 33), ("photo128x96", 32, 43),
          ("photo128x96", 100, 75), ("small32", 7, 11), ("gray28", 56, 14)]
    for _ in range(16):
        name = ("photo224", "photo128x96", "small32", "gray28")[int(rng.randint(0, 4))]
        H, W = ts[name].shape[1], ts[name].shape[2]
        if name == "photo224":
            rs.append((name, int(rng.randint(8, 75)), int(rng.randint(8, 75))))  # 3x..28x down
        else:
            rs.append((name, int(rng.randint(1, 2 * H)), int(rng.randint(1, 2 * W))))
    for name, oh, ow in rs:
        out = F.resize(ts[name], [oh, ow], InterpolationMode.BILINEAR, antialias=True)
        add(dict(op="resize", input=name, size=[oh, ow]), out)

    # center_crop, including boxes larger than the image (zero padding)
    cc = [("photo128x96", 50, 61), ("photo128x96", 96, 128), ("small32", 40, 36),
          ("gray28", 27, 30), ("small32", 5, 32)]
    for _ in range(15):
        name = ("photo128x96", "small32", "gray28")[int(rng.randint(0, 3))]
        H, W = ts[name].shape[1], ts[name].shape[2]
        cc.append((name, int(rng.randint(1, H + 9)), int(rng.randint(1, W + 9))))
    for name, oh, ow in cc:
        out = F.center_crop(ts[name], [oh, ow])
        add(dict(op="center_crop", input=name, size=[oh, ow]), out)

    # RandomCrop's deterministic core: pad (constant fill) then crop
    for _ in range(20):
        name = ("small32", "gray28", "photo128x96")[int(rng.randint(0, 3))]
        t = ts[name]
        pad = [int(v) for v in rng.randint(0, 6, size=4)]  # left, top, right, bottom
        fill = int(rng.choice([0, 7, 255]))
        padded = F.pad(t, pad, fill=fill, padding_mode="constant")
        PH, PW = padded.shape[1], padded.shape[2]
        h, w = int(rng.randint(1, min(PH, 40) + 1)), int(rng.randint(1, min(PW, 40) + 1))
        top, left = int(rng.randint(0, PH - h + 1)), int(rng.randint(0, PW - w + 1))
        out = F.crop(padded, top, left, h, w)
        add(dict(op="pad_crop", input=name, padding=pad, fill=fill, top=top, left=left, height=h, width=w), out)

    # flips and quarter turns, on random crops (the crop box is the parameter)
    for _ in range(20):
        name = ("photo128x96", "small32", "gray28", "photo224")[int(rng.randint(0, 4))]
        H, W = ts[name].shape[1], ts[name].shape[2]
        h, w = int(rng.randint(1, min(H, 48) + 1)), int(rng.randint(1, min(W, 48) + 1))
        top, left = int(rng.randint(0, H - h + 1)), int(rng.randint(0, W - w + 1))
        c = F.crop(ts[name], top, left, h, w)
        box = dict(input=name, top=top, left=left, height=h, width=w)
        add(dict(op="hflip", **box), F.hflip(c))
        add(dict(op="vflip", **box), F.vflip(c))
        k = int(rng.randint(1, 4))
        add(dict(op="rot90", k=k, **box), torch.rot90(c, k, dims=[-2, -1]))

    # rotate: bilinear, fill as RandomRotation passes it ([f]*C)
    angles = [0.0, 90.0, -90.0, 180.0, 45.0, 30.5, -17.25, 1.0, -0.3, 135.0, 359.0]
    angles += [float(a) for a in rng.uniform(-180, 180, size=12)]
    for i, a in enumerate(angles):
        name = ("photo128x96", "small32", "gray28")[i % 3]
        fill = (0, 0, 128, 255)[i % 4]
        c = ts[name].shape[0]
        out = F.rotate(ts[name], a, InterpolationMode.BILINEAR, expand=False, center=None, fill=[float(fill)] * c)
        add(dict(op="rotate", input=name, angle=a, fill=fill), out)

    raw = b"".join(blobs)
    with open(os.path.join(OUT, "goldens.bin.gz"), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as g:
            g.write(raw)
    meta = dict(torch=torch.__version__, torchvision=torchvision.__version__, cases=cases)
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(meta, f, indent=0)
        f.write("\n")
    print(f"{len(cases)} cases, {len(raw)} bytes raw", file=sys.stderr)


if __name__ == "__main__":
    main()
