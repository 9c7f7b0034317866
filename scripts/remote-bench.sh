#!/usr/bin/env bash
# Same-run comparison of pairbench over a local split, the same split in S3 with a warm cache, and
# with a cold cache; the S3 server (internal/s3test/s3server, gofakes3 in memory) runs as a separate
# process on 127.0.0.1, so its CPU counts against the pipeline's as it would on a real node.
#
#   scripts/remote-bench.sh [DATA] [REPS]      DATA defaults to data/photos-raw-s2, REPS to 5
#
# Environment: RECIPE (simclr-imagenet: 224 px), WORKERS (2), BATCH (64), BATCHES (24), WARMUP (1),
# ORDER (shards), WINDOW (256 records: a shuffle window of a few shards, as a streaming reader
# uses). Modes run interleaved (local, warm, cold, local, ...) and the medians are printed.
# Every pairbench child opens the dataset itself: "wall" is from opening it to the last batch
# (downloads included), "timed" the steady window after the warmup batches.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$(cd "${1:-$repo/data/photos-raw-s2}" && pwd)"
reps="${2:-5}"
recipe="${RECIPE:-simclr-imagenet}" workers="${WORKERS:-2}" batch="${BATCH:-64}"
batches="${BATCHES:-24}" warmup="${WARMUP:-1}" order="${ORDER:-shards}" window="${WINDOW:-256}"
tmp="$(mktemp -d)"
cleanup() { [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
(cd "$repo" && go build -o "$tmp/pairbench" ./tools/pairbench && go build -o "$tmp/s3server" ./internal/s3test/s3server)

mkfifo "$tmp/in"
"$tmp/s3server" --preload "$data=bench/train" < "$tmp/in" > "$tmp/srv.out" &
srv_pid=$!
exec 3> "$tmp/in" # the server runs until this closes
for _ in $(seq 600); do grep -q listening "$tmp/srv.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^s3server: listening on //p' "$tmp/srv.out")"
[ -n "$url" ] || { echo "remote-bench: the S3 server did not start" >&2; exit 1; }
export AWS_ENDPOINT_URL="$url" AWS_ACCESS_KEY_ID=pairflow-test AWS_SECRET_ACCESS_KEY=pairflow-test-secret PAIRFLOW_S3_PATH_STYLE=1
echo "remote-bench: $data served at $url (pid $srv_pid); recipe $recipe, $workers workers, batch $batch, $warmup+$batches batches, order $order, window $window"

bench() { # mode src cache json
  PAIRFLOW_CACHE_DIR="$3" "$tmp/pairbench" --data "$2" --recipe "$recipe" --workers "$workers" --batch "$batch" \
    --batches "$batches" --warmup "$warmup" --order "$order" --window "$window" --json "$4" > /dev/null
}
bench warm s3://data/bench/train "$tmp/warm" "$tmp/prime.json" # fills the warm cache
for r in $(seq "$reps"); do
  bench local "$data" "$tmp/unused" "$tmp/local-$r.json"
  bench warm s3://data/bench/train "$tmp/warm" "$tmp/warm-$r.json"
  bench cold s3://data/bench/train "$tmp/cold-$r" "$tmp/cold-$r.json"
  rm -rf "$tmp/cold-$r"
done
python3 - "$tmp" "$reps" "$batch" "$batches" "$warmup" <<'PY'
import json, statistics, sys
tmp, reps, batch, batches, warmup = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
total = batch * (batches + warmup)
rows = {}
for mode in ("local", "warm", "cold"):
    rs = [json.load(open(f"{tmp}/{mode}-{r}.json"))["results"][0] for r in range(1, reps + 1)]
    rows[mode] = {
        "timed": statistics.median(r["images_per_s"] for r in rs),
        "wall": statistics.median(total / r["wall_s"] for r in rs),
        "anon": statistics.median(r["rss_anon_mib"] for r in rs),
        "file": statistics.median(r["rss_file_mib"] for r in rs),
        "peak": statistics.median(r["peak_rss_mib"] for r in rs),
        "fetched": statistics.median(r["shards_fetched"] for r in rs),
        "all_timed": [round(r["images_per_s"]) for r in rs],
        "all_wall": [round(total / r["wall_s"]) for r in rs],
    }
print("| mode | timed images/s (median) | vs local | wall images/s (median) | vs local | shards fetched | RSS anon / file-backed / peak MiB | runs (timed; wall) |")
print("|---|---|---|---|---|---|---|---|")
for mode, v in rows.items():
    print(f"| {mode} | {v['timed']:.1f} | {v['timed']/rows['local']['timed']:.3f} | {v['wall']:.1f} | {v['wall']/rows['local']['wall']:.3f} | "
          f"{v['fetched']:.0f} | {v['anon']:.0f} / {v['file']:.0f} / {v['peak']:.0f} | {v['all_timed']}; {v['all_wall']} |")
PY
