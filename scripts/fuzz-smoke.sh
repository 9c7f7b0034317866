#!/usr/bin/env bash
# Runs every Go fuzz target of the given packages for a short, time-bounded smoke run.
#
#   scripts/fuzz-smoke.sh [-tags TAGS] [-fuzztime 5s] [-run REGEXP] [PACKAGE PATTERN...]   (default ./...)
#
# -run picks the fuzz targets (default every Fuzz function).
#
# Fails on a real finding: a panic or a failed check writes its input under
# testdata/fuzz/<Target>/ and the run fails with it.
#
# Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as a failure: when the
# deadline passes while a worker is mid-call, the run ends "--- FAIL: FuzzX ... context deadline
# exceeded" with no failing input (go.dev/issue/75804, fixed in Go 1.27's internal/fuzz; CI hit it
# on FuzzParseMeta under load). Such a run is not passed over: the target is fuzzed again with a
# count budget (-fuzztime Nx), which has no deadline to race, and that run must pass.
set -euo pipefail

tags=""
fuzztime="5s"
run="^Fuzz"
retry_count="${FUZZ_RETRY_COUNT:-1000x}"
while [ $# -gt 0 ]; do
  case "$1" in
    -tags) tags="$2"; shift 2 ;;
    -fuzztime) fuzztime="$2"; shift 2 ;;
    -run) run="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz-smoke: unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- ./...
tagflag=()
[ -z "$tags" ] || tagflag=(-tags "$tags")

fuzz() { # pkg target budget
  go test "${tagflag[@]}" -run '^$' -fuzz "^$2\$" -fuzztime "$3" -fuzzminimizetime 2s "$1" 2>&1
}

flakes=0
for pkg in $(go list "${tagflag[@]}" "$@"); do
  for target in $(go test "${tagflag[@]}" -list "$run" "$pkg" | grep '^Fuzz' || true); do
    echo "-- $pkg $target"
    if out=$(fuzz "$pkg" "$target" "$fuzztime"); then
      printf '%s\n' "$out"
      continue
    fi
    printf '%s\n' "$out"
    # Only the coordinator's own deadline, exactly: the FAIL line's sole message, no input written.
    if grep -q 'Failing input written' <<<"$out" ||
      [ "$(grep -c -- '--- FAIL' <<<"$out")" != 1 ] ||
      ! grep -A1 -- "--- FAIL: $target " <<<"$out" | tail -1 | grep -qx '    context deadline exceeded'; then
      echo "fuzz-smoke: $pkg $target failed" >&2
      exit 1
    fi
    flakes=$((flakes + 1))
    echo "fuzz-smoke: $target hit Go 1.26's -fuzztime deadline race (go.dev/issue/75804); fuzzing it again for $retry_count executions"
    if ! out=$(fuzz "$pkg" "$target" "$retry_count"); then
      printf '%s\n' "$out"
      echo "fuzz-smoke: $pkg $target failed" >&2
      exit 1
    fi
    printf '%s\n' "$out"
  done
done
echo "fuzz-smoke: every target passed ($flakes re-run after the deadline race)"
