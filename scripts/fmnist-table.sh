#!/usr/bin/env bash
# Reproduces issue 9's table on Fashion-MNIST from a clean machine: installs Debian's
# dataset-fashion-mnist, packs it into pairflow shards, pretrains smallcnn with SimCLR
# (FMNIST-SimCLR v1) and with inpainting, then evaluates every encoder with few labels
# (tools/lineval) beside the random-init and supervised-from-scratch baselines.
#
#   scripts/fmnist-table.sh [OUT]        (OUT defaults to runs/fmnist-table, gitignored)
#
# Every stage resumes: a pretraining run continues from its last checkpoint (bit-identical
# to an uninterrupted run on the same CPU tier and thread count), and a stage whose result
# is already there is skipped, so the script can be stopped and started again.
# Environment: STAGES (default "pack simclr inpainting eval"), SEEDS (label-subset seeds,
# default 1,2,3,4,5, the recipe's five; 1,2,3 saves four fine-tuning runs per row), EPOCHS
# (default 50), THREADS (trainer threads, default all CPUs), WORKERS (pipeline workers, default 1).
# Time on the 2-core development machine: about 1.5 h for SimCLR pretraining, 2+ h for
# inpainting, 5-10 min per fine-tuning run (2,500 steps; 11 runs per fine-tuned row), seconds to
# two minutes per linear probe.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/runs/fmnist-table}"
stages="${STAGES:-pack simclr inpainting eval}"
seeds="${SEEDS:-1,2,3,4,5}"
epochs="${EPOCHS:-50}"
threads="${THREADS:-$(nproc)}"
workers="${WORKERS:-1}"
data="$repo/data/fashion-mnist"
has() { [[ " $stages " == *" $1 "* ]]; }

if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "install ok installed"; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
fi

mkdir -p "$repo/bin" "$out"
(cd "$repo" && go build -o bin/ ./tools/shardify ./tools/pretrain ./tools/lineval)
bin="$repo/bin"

if has pack && { [ ! -f "$data/train/index.json" ] || [ ! -f "$data/test/index.json" ]; }; then
  fm=/usr/share/datasets/fashion-mnist
  classes="$out/classes.txt"
  printf '%s\n' "T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot" > "$classes"
  "$bin/shardify" pack --in "$fm/train-images-idx3-ubyte.gz" --out "$data/train" --split train \
    --encoding raw-zstd --dict --classes "$classes"
  "$bin/shardify" pack --in "$fm/t10k-images-idx3-ubyte.gz" --out "$data/test" --split test \
    --encoding raw-zstd --dict --classes "$classes"
fi

# pretrain NAME FLAGS...: runs or resumes a pretraining run into $out/NAME.
pretrain() {
  local name="$1"; shift
  local dir="$out/$name" last
  last=$(printf '%s/checkpoints/epoch-%04d.safetensors' "$dir" "$epochs")
  if [ -f "$last" ]; then
    echo "fmnist-table: $name is complete ($last)"
    return
  fi
  local resume=()
  compgen -G "$dir/checkpoints/epoch-*.safetensors" > /dev/null && resume=(--resume)
  "$bin/pretrain" --data "$data" --out "$dir" --epochs "$epochs" --knn-every 10 \
    --threads "$threads" --workers "$workers" --log-every 60s "${resume[@]}" "$@" 2>&1 | tee -a "$dir.log"
}
has simclr && pretrain simclr-v1 --objective simclr
has inpainting && pretrain inpainting-v1 --objective inpainting

# missing METHOD FRACTION: prints the subset seeds of $seeds that cell has no run of yet, comma-
# separated (fraction 1 runs with the first seed only); prints nothing when the cell is complete.
missing() {
  python3 - "$out/table/results.json" "$1" "$2" "$seeds" <<'PY'
import json, sys
path, method, frac, want = sys.argv[1], sys.argv[2], float(sys.argv[3]), [int(s) for s in sys.argv[4].split(",")]
try:
    methods = json.load(open(path))["methods"]
except FileNotFoundError:
    methods = []
have = {r["seed"] for m in methods if m["name"] == method
        for c in m["cells"] if abs(c["fraction"] - frac) < 1e-12 for r in c["runs"]}
if frac == 1:
    want = [] if have else want[:1]
print(",".join(str(s) for s in want if s not in have))
PY
}

# cell METHOD FLAGS...: runs lineval for each label fraction and subset seed missing from
# results.json (lineval adds further seeds to a cell run the same way, so a stopped script loses
# at most the invocation it was in, and a table of seeds 1,2,3 given SEEDS=1,2,3,4,5 runs seeds 4 and 5).
cell() {
  local method="$1"; shift
  local f need
  for f in 0.01 0.1 1; do
    need=$(missing "$method" "$f")
    if [ -z "$need" ]; then
      echo "fmnist-table: $method at fraction $f is done"
      continue
    fi
    "$bin/lineval" --train "$data/train" --test "$data/test" --out "$out/table" --seeds "$need" \
      --threads "$threads" --fractions "$f" --method "$method" "$@"
  done
}

if has eval; then
  ck() { printf '%s/%s/checkpoints/epoch-%04d.safetensors' "$out" "$1" "$epochs"; }
  cell "random-init encoder + linear" --baseline random
  cell "supervised from scratch" --baseline supervised
  for name in simclr-v1 inpainting-v1; do
    label="SimCLR"
    [ "$name" = inpainting-v1 ] && label="inpainting"
    if [ ! -f "$(ck $name)" ]; then
      echo "fmnist-table: $name has not finished pretraining: its rows are left out" >&2
      continue
    fi
    cell "$label ($epochs epochs) + linear" --encoder "$(ck $name)" --mode linear
    cell "$label ($epochs epochs) + fine-tune" --encoder "$(ck $name)" --mode finetune
  done
  for name in simclr-v1 inpainting-v1; do
    [ -f "$out/$name/metrics.csv" ] || continue
    knn=$(awk -F, -v e="$epochs" '$1==e {print $8}' "$out/$name/metrics.csv")
    echo "kNN monitor (k=200, cosine, T=0.1) of $name after $epochs epochs: top-1 $knn" | tee -a "$out/table/table.md"
  done
  cat "$out/table/table.md"
fi
