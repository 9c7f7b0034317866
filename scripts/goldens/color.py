#!/usr/bin/python3
"""Generate the colour/filter goldens of package ops from torchvision's functional ops on uint8 tensors.

Usage: /usr/bin/python3 scripts/goldens/color.py [--remake-inputs]

Inputs (committed, under ops/testdata/color/): two 224x224 photo crops taken deterministically from Debian
wallpapers (downscaled, then cropped), two 32x32 images (a noisy gradient, a thumbnail with a gray band) and a 64x64 lattice of the RGB cube
(16 levels per channel). They are only remade with --remake-inputs; otherwise the committed PNGs are read
back, so the goldens can be regenerated without the wallpapers.

Output: ops/testdata/color/goldens.bin.gz: gzip of [4-byte little-endian length][JSON header][sample bytes];
the header lists cases {op, params, input, gray_input, grid, w, h, c, off, n}, off/n locating the case's
HWC output bytes in the sample section.
Outputs of 224-px photos are stored on a sparse grid (every `stride`-th pixel from an offset) to keep the
file small; small images and the lattice are stored whole.
The Go test (ops/color_golden_test.go) applies the same op with the same parameters and requires every
stored sample to match within +-1.
"""
import argparse, gzip, json, os, sys

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "ops", "testdata", "color")
PHOTOS = [
    ("photo_kleiber", "/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg", 0.42, 0.38),
    ("photo_cups", "/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg", 0.5, 0.6),
]


def make_inputs():
    os.makedirs(OUT, exist_ok=True)
    for name, path, fx, fy in PHOTOS:
        im = Image.open(path).convert("RGB")
        # Downscale so that the short side is 560 px, then crop 224x224 at a fixed relative position.
        s = 560 / min(im.size)
        im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.BICUBIC)
        x0 = int((im.size[0] - 224) * fx)
        y0 = int((im.size[1] - 224) * fy)
        im.crop((x0, y0, x0 + 224, y0 + 224)).save(os.path.join(OUT, name + ".png"), optimize=True)
    rng = np.random.default_rng(20261127)
    yy, xx = np.mgrid[0:32, 0:32]
    a = np.stack([xx * 8, yy * 8, (xx + yy) * 4], axis=-1) + rng.integers(-3, 4, (32, 32, 3))
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(os.path.join(OUT, "small_gradient.png"))
    # a 32x32 thumbnail of the cups photo with a band of gray pixels
    b = np.asarray(Image.open(os.path.join(OUT, "photo_cups.png")).resize((32, 32), Image.BOX)).copy()
    b[8:12, :, :] = b[8:12, :, :1]
    Image.fromarray(b).save(os.path.join(OUT, "small_photo.png"))
    lv = np.arange(16) * 17
    r, g, bb = np.meshgrid(lv, lv, lv, indexing="ij")
    lat = np.stack([r.ravel(), g.ravel(), bb.ravel()], axis=-1).reshape(64, 64, 3)
    Image.fromarray(lat.astype(np.uint8)).save(os.path.join(OUT, "lattice.png"))


def load(name):
    a = np.asarray(Image.open(os.path.join(OUT, name + ".png")).convert("RGB"))
    return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous()  # CHW uint8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--remake-inputs", action="store_true")
    args = ap.parse_args()
    if args.remake_inputs or not os.path.exists(os.path.join(OUT, "lattice.png")):
        make_inputs()
    photos = [p[0] for p in PHOTOS]
    smalls = ["small_gradient", "small_photo"]
    imgs = {n: load(n) for n in photos + smalls + ["lattice"]}
    cases = []
    blob = bytearray()

    def emit(op, params, name, out, idx, gray_input=False):
        out = out.permute(1, 2, 0).contiguous().numpy()  # HWC
        grid = None
        if name in photos:
            stride = 11
            off = (idx * 3) % stride
            grid = [off, (idx * 5 + 1) % stride, stride]
            out = out[grid[1]::stride, grid[0]::stride]
        cases.append(dict(op=op, params=params, input=name, gray_input=gray_input, grid=grid,
                          h=int(out.shape[0]), w=int(out.shape[1]), c=int(out.shape[2]),
                          off=len(blob), n=int(out.size)))
        blob.extend(out.tobytes())

    def targets(i):
        # every draw on one photo (alternating) and on one small image (alternating)
        return [photos[i % 2], smalls[i % 2]]

    def gray(x):
        return F.rgb_to_grayscale(x, 1)

    factors = [0.0, 0.05, 0.2, 0.37, 0.5, 0.61, 0.75, 0.9, 0.99, 1.0, 1.01, 1.13, 1.25, 1.4, 1.5, 1.63, 1.8, 1.9, 1.97, 2.0]
    for op, fn in [("brightness", F.adjust_brightness), ("contrast", F.adjust_contrast), ("saturation", F.adjust_saturation)]:
        for i, f in enumerate(factors):
            for name in targets(i):
                emit(op, {"f": f}, name, fn(imgs[name], f), i)
            if op != "saturation" and i % 4 == 0:  # gray inputs: brightness/contrast on the luma
                g = gray(imgs[smalls[i % 2]])
                emit(op, {"f": f}, smalls[i % 2], fn(g, f), i, gray_input=True)
    hues = [-0.5, -0.4999, -0.45, -0.4, -0.33, -0.25, -0.17, -0.1, -0.03, -0.001, 0.0, 0.001, 0.04, 0.1, 0.2, 0.27, 0.35, 0.42, 0.4999, 0.5]
    for i, h in enumerate(hues):
        for name in targets(i) + (["lattice"] if i % 3 == 0 else []):
            emit("hue", {"f": h}, name, F.adjust_hue(imgs[name], h), i)
    for i, name in enumerate(photos + smalls + ["lattice"]):
        for ch in (1, 3):
            emit("grayscale", {"channels": ch}, name, F.rgb_to_grayscale(imgs[name], ch), i)
    blurs = [(23, 0.1), (23, 2.0), (23, 1.0), (23, 0.5), (23, 1.5), (23, 0.3), (23, 1.77), (3, 0.1), (3, 2.0), (3, 0.8),
             (5, 0.1), (5, 2.0), (5, 1.1), (7, 0.6), (9, 2.0), (9, 0.25), (11, 1.3), (15, 2.0), (1, 1.0), (21, 0.9)]
    for i, (k, s) in enumerate(blurs):
        for name in targets(i):
            emit("blur", {"k": k, "sigma": s}, name, F.gaussian_blur(imgs[name], [k, k], [s, s]), i)
        if i % 5 == 0:
            g = gray(imgs[smalls[i % 2]])
            emit("blur", {"k": k, "sigma": s}, smalls[i % 2], F.gaussian_blur(g, [k, k], [s, s]), i, gray_input=True)
    gen = torch.Generator().manual_seed(7)
    for i in range(20):
        order = torch.randperm(4, generator=gen).tolist()
        u = torch.rand(4, generator=gen).tolist()
        fb, fc, fs = 2 * u[0], 2 * u[1], 2 * u[2]
        fh = u[3] - 0.5
        for name in targets(i):
            x = imgs[name]
            for k in order:
                x = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue][k](x, [fb, fc, fs, fh][k])
            emit("jitter", {"order": order, "factors": [fb, fc, fs, fh]}, name, x, i)
    for i, th in enumerate([0, 1, 64, 128, 200, 254, 255]):
        name = targets(i)[0]
        emit("solarize", {"threshold": th}, name, F.solarize(imgs[name], th), i)
    path = os.path.join(OUT, "goldens.bin.gz")
    head = json.dumps(dict(torch=torch.__version__, torchvision=torchvision.__version__, cases=cases)).encode()
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(len(head).to_bytes(4, "little") + head + bytes(blob))
    print(f"{len(cases)} cases -> {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
