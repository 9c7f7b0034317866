#!/usr/bin/env bash
# Rebuilds tools/pretrain/demo/: the first 2,000 Fashion-MNIST training
# images and the first 1,000 test images (with labels), packed as pairflow
# shards (raw-zstd with a dictionary), which tools/pretrain embeds for its
# no-argument demonstration. Needs Debian's dataset-fashion-mnist
# (/usr/share/datasets/fashion-mnist) and python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
src=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$src" "$tmp" <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for split, prefix, n in (("train", "train", 2000), ("test", "t10k", 1000)):
    with gzip.open(f"{src}/{prefix}-images-idx3-ubyte.gz") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051 and count >= n
        pix = f.read(n * rows * cols)
    with gzip.open(f"{src}/{prefix}-labels-idx1-ubyte.gz") as f:
        magic, count = struct.unpack(">II", f.read(8))
        assert magic == 2049 and count >= n
        lab = f.read(n)
    with open(f"{dst}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, rows, cols) + pix)
    with open(f"{dst}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + lab)
PY
printf '%s\n' "T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot" > "$tmp/classes.txt"
out=tools/pretrain/demo
for split in train test; do
  go run ./tools/shardify pack --quiet --in "$tmp/$split-images-idx3-ubyte" --out "$out/$split" \
    --split "$split" --encoding raw-zstd --dict --classes "$tmp/classes.txt" --workers 1
done
du -sh "$out"
