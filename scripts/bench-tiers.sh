#!/usr/bin/env bash
# Same-run comparison of the SimCLR training step: pairflow's trainbench on
# the best tier, the same binary with PAIRFLOW_TIER=avx2, and PyTorch's
# train_bench.py (the peer script, given by path), run in turn REPS times so
# that all three see the same machine load. PyTorch runs with OpenBLAS's
# SkylakeX kernel (OPENBLAS_CORETYPE=SkylakeX, OPENBLAS_L2_SIZE unset).
#
# Usage: scripts/bench-tiers.sh PATH/TO/train_bench.py [smallcnn|resnet18]...
#        (env REPS=3, THREADS=2; STEPS/WARMUP override the per-encoder defaults;
#        CLOCK=cpu times steps by each process's CPU time, all threads, which
#        leaves out the time other work on a shared machine ran: trainbench
#        -clock cpu, and the peer with its step timer read from
#        time.process_time instead of time.perf_counter)
# Prints one markdown table row per encoder: medians of images/s and the
# medians of the per-repetition ratios.
set -euo pipefail
peer=${1:?usage: $0 PATH/TO/train_bench.py [smallcnn|resnet18]...}
shift
encoders=("${@:-smallcnn}")
reps=${REPS:-3}
clock=${CLOCK:-wall}
peercmd=("$peer")
if [ "$clock" = cpu ]; then
  peercmd=(-c 'import runpy, sys, time; time.perf_counter = time.process_time; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' "$peer")
fi
threads=${THREADS:-2}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/trainbench" ./tools/trainbench
summarise() { # encoder: one table row from the JSON files of its repetitions
/usr/bin/python3 - "$tmp" "$reps" "$1" <<'PY'
import json, statistics, sys
tmp, reps, e = sys.argv[1], int(sys.argv[2]), sys.argv[3]
b, a, t, tier = [], [], [], "?"
for r in range(1, reps + 1):
    jb = json.load(open(f"{tmp}/{e}.best.{r}.json"))
    tier = jb["kernel_tier"]
    b.append(jb["train"]["images_per_s_median_min_max"][0])
    a.append(json.load(open(f"{tmp}/{e}.avx2.{r}.json"))["train"]["images_per_s_median_min_max"][0])
    t.append(json.load(open(f"{tmp}/{e}.torch.{r}.json"))["train"]["images_per_s"]["median"])
med = statistics.median
ratio = lambda x, y: med([p / q for p, q in zip(x, y)])
print(f"| {e} | {tier} | {med(b):.1f} | {med(a):.1f} | {med(t):.1f} | {ratio(b, a):.2f}x | {ratio(b, t):.2f}x | {ratio(a, t):.2f}x |")
print(f"<!-- {e} per repetition: best {['%.1f' % v for v in b]}, avx2 {['%.1f' % v for v in a]}, torch {['%.1f' % v for v in t]} -->")
PY
}
echo "clock: $clock, threads: $threads, repetitions: $reps"
echo "| encoder | best tier | images/s best | images/s avx2 | images/s PyTorch | best/avx2 | best/PyTorch | avx2/PyTorch |"
echo "|---|---|---|---|---|---|---|---|"
for enc in "${encoders[@]}"; do
  case $enc in
    smallcnn) E=E1; steps=${STEPS:-5}; warm=${WARMUP:-2} ;;
    resnet18) E=E2; steps=${STEPS:-2}; warm=${WARMUP:-1} ;;
    *) echo "unknown encoder $enc" >&2; exit 2 ;;
  esac
  for r in $(seq "$reps"); do
    echo "== $enc repetition $r/$reps" >&2
    "$tmp/trainbench" -clock "$clock" -encoder "$enc" -threads "$threads" -steps "$steps" -warmup "$warm" -no-forward -json "$tmp/$enc.best.$r.json" >&2
    PAIRFLOW_TIER=avx2 "$tmp/trainbench" -clock "$clock" -encoder "$enc" -threads "$threads" -steps "$steps" -warmup "$warm" -no-forward -json "$tmp/$enc.avx2.$r.json" >&2
    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 "${peercmd[@]}" --encoder "$E" --threads "$threads" \
      --steps "$steps" --warmup "$warm" --no-forward --json "$tmp/$enc.torch.$r.json" >/dev/null
  done
  summarise "$enc"
done
