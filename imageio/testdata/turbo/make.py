#!/usr/bin/python3
"""Makes the JPEG fixtures of the turbojpeg build's tests and their goldens.

Run with Debian's python3-pil (it decodes with the system libjpeg-turbo):
    /usr/bin/python3 imageio/testdata/turbo/make.py
Each fixture is a synthetic image (gradients, a disc, a checkerboard, seeded
noise) saved by PIL in one JPEG variant; goldens.json holds, for each, the
SHA-256 of PIL's decode to RGB (Image.convert("RGB") of the opened file),
which is what torchvision's loaders see. With the same libjpeg-turbo,
imageio's turbojpeg build must give the same bytes.
"""
import hashlib
import json
import os
import random

import PIL
from PIL import Image, ImageDraw, features

here = os.path.dirname(os.path.abspath(__file__))


def scene(w, h, seed):
    rng = random.Random(seed)
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (255 * x // max(1, w - 1), 255 * y // max(1, h - 1), (37 * x + 11 * y) % 256)
    d = ImageDraw.Draw(im)
    d.ellipse((w // 5, h // 5, 3 * w // 4, 4 * h // 5), fill=(230, 40, 60))
    for i in range(0, w, 6):
        for j in range(0, h // 3, 6):
            if (i // 6 + j // 6) % 2 == 0:
                d.rectangle((i, j, i + 5, j + 5), fill=(20, 200, 90))
    for _ in range(w * h // 20):
        x, y = rng.randrange(w), rng.randrange(h)
        px[x, y] = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return im


variants = [
    # name, size, save options
    ("420", (67, 45), dict(quality=85, subsampling=2)),
    ("422", (64, 48), dict(quality=90, subsampling=1)),
    ("444", (33, 17), dict(quality=95, subsampling=0)),
    ("progressive", (80, 61), dict(quality=80, subsampling=2, progressive=True)),
    ("restart", (70, 50), dict(quality=85, subsampling=2, restart_marker_blocks=2)),
    ("gray", (41, 29), dict(quality=90, mode="L")),
    ("cmyk", (24, 16), dict(quality=90, mode="CMYK")),
]

goldens = {"pil": PIL.__version__, "libjpeg_turbo": features.version("jpg"), "files": {}}
for i, (name, size, opt) in enumerate(variants):
    opt = dict(opt)
    mode = opt.pop("mode", "RGB")
    im = scene(*size, seed=i).convert(mode)
    path = os.path.join(here, name + ".jpg")
    im.save(path, "JPEG", **opt)
    with Image.open(path) as back:
        rgb = back.convert("RGB")
        goldens["files"][name + ".jpg"] = {
            "width": rgb.width,
            "height": rgb.height,
            "mode": back.mode,
            "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
        }
with open(os.path.join(here, "goldens.json"), "w") as f:
    json.dump(goldens, f, indent=1, sort_keys=True)
    f.write("\n")
