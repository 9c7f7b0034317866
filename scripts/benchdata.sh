#!/usr/bin/env bash
# Builds pairflow's benchmark datasets, deterministically, from Debian packages.
#
#   scripts/benchdata.sh [OUT]      (OUT defaults to data/ at the repo root, gitignored)
#
# OUT/fashion-mnist/{train,test}   Fashion-MNIST (dataset-fashion-mnist) as raw-zstd shards with a
#                                  zstd dictionary, class names attached.
# OUT/photos/class_XX/*.jpg        ~2,000 JPEG photos (ImageFolder, 10 classes): seeded crops of the real
#                                  photographs in mate-backgrounds, plasma-workspace-wallpapers and
#                                  lomiri-wallpapers-20.04, shorter side 256..500 px (tools/shardify/internal/mkphotos;
#                                  the same recipe as the PyTorch peer's photo script). Point the peer
#                                  benchmarks at it with --photos OUT/photos.
# OUT/photos-keep, OUT/photos-raw-s2   that folder packed as keep (original JPEG bytes) and raw-s2 shards.
#
# Every dataset is verified after packing; the manifests' SHA-256 sums are printed so two runs can be
# compared (same packages + same commit => same bytes). Installs missing apt packages (needs root).
# Environment: PHOTOS_N (default 2000), PHOTOS_SEED (default 0), WORKERS (default: all CPUs).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/data}"
n="${PHOTOS_N:-2000}"
seed="${PHOTOS_SEED:-0}"
workers="${WORKERS:-$(nproc)}"

pkgs=(dataset-fashion-mnist mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-20.04)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "benchdata: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p "$out"
bin="$repo/bin/shardify"
mkphotos="$repo/bin/mkphotos"
(cd "$repo" && go build -o "$bin" ./tools/shardify && go build -o "$mkphotos" ./tools/shardify/internal/mkphotos)

# Fashion-MNIST: the IDX files carry no class names; these are the dataset's documented ones.
fm=/usr/share/datasets/fashion-mnist
classes="$out/fashion-mnist-classes.txt"
printf '%s\n' "T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot" > "$classes"
for split in train test; do
  src="$fm/$split-images-idx3-ubyte.gz"
  [ "$split" = test ] && src="$fm/t10k-images-idx3-ubyte.gz"
  "$bin" pack --in "$src" --out "$out/fashion-mnist/$split" --split "$split" \
    --encoding raw-zstd --dict --classes "$classes" --workers "$workers"
  "$bin" verify "$out/fashion-mnist/$split"
done

# Photos: regenerate the folder unless it already holds the same recipe (SOURCES.txt is its record).
photos="$out/photos"
stamp="$photos/.recipe"
recipe="mkphotos n=$n seed=$seed quality=90 $(sha256sum "$repo/tools/shardify/internal/mkphotos/main.go" "$repo/ops/lanczos.go" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$recipe" ]; then
  rm -rf "$photos"
  "$mkphotos" --out "$photos" --n "$n" --seed "$seed" --quality 90 --workers "$workers"
  echo "$recipe" > "$stamp"
fi
for enc in keep raw-s2; do
  "$bin" pack --in "$photos" --out "$out/photos-$enc" --split train --encoding "$enc" --workers "$workers"
  "$bin" verify "$out/photos-$enc"
done

echo "benchdata: manifests (sha256):"
(cd "$out" && sha256sum fashion-mnist/train/index.json fashion-mnist/test/index.json photos-keep/index.json photos-raw-s2/index.json photos/SOURCES.txt)
