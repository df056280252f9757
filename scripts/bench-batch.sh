#!/usr/bin/env bash
# bench-batch.sh — `mapscope batch` on N incidents vs N sequential
# `mapscope analyze` runs, in one run, with the ratio (issue #8).
#
# Usage: scripts/bench-batch.sh [-n N] [--jobs J] [--rounds R] [--out DIR] [--bin MAPSCOPE]
#   -n N        incidents (default 8), alternating the shipped samples
#               go1.22 and go1.26 (core decompressed once, then symlinked)
#   --jobs J    passed to `mapscope batch` (default: its own rule)
#   --rounds R  measure both sides R times, alternating (default 3); the
#               ratio uses each side's fastest round
#   --out DIR   work directory (default /tmp/bench-batch)
#   --bin PATH  the mapscope binary (default: cargo build --release, then
#               $CARGO_TARGET_DIR/release/mapscope)
#
# Both sides read the same files with a warm page cache (one analyze is run
# first and not timed). Nothing is asserted; the script prints the numbers.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=8
rounds=3
jobs=""
out=/tmp/bench-batch
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench-batch.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "$bin" ]; then
  (cd "$repo" && cargo build --release -q -p mapscope)
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/mapscope"
fi

samples=(go1.22 go1.26)
mkdir -p "$out/cache"
for s in "${samples[@]}"; do
  mkdir -p "$out/cache/$s"
  for f in core mapzoo; do
    [ -s "$out/cache/$s/$f" ] || zstd -q -d -f --long=31 "$repo/samples/$s/$f.zst" -o "$out/cache/$s/$f"
  done
  cp -f "$repo/samples/$s/heap.pb.gz" "$out/cache/$s/heap.pb.gz"
done

rm -rf "$out/incidents" "$out/reports" "$out/sequential"
mkdir -p "$out/incidents" "$out/sequential"
for i in $(seq 1 "$n"); do
  s=${samples[$(( (i - 1) % ${#samples[@]} ))]}
  d="$out/incidents/$(printf 'inc%02d-%s' "$i" "$s")"
  mkdir -p "$d"
  for f in core mapzoo heap.pb.gz; do ln -s "$out/cache/$s/$f" "$d/$f"; done
done

# Warm-up (page cache, binary), not timed.
"$bin" analyze "$out/incidents/$(ls "$out/incidents" | head -1)" --format json -o /dev/null

# Wall and CPU (user+sys) time of each side, via GNU time.
export bin out
jobs_flag=()
[ -n "$jobs" ] && jobs_flag=(--jobs "$jobs")
best_seq=""; best_batch=""; rc=0
printf 'machine: %s cores, load %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  /usr/bin/time -f '%e %U %S' -o "$out/time-seq" bash -c '
    for d in "$out/incidents"/*/; do
      "$bin" analyze "$d" --format json -o "$out/sequential/$(basename "$d").json"
    done'
  rm -rf "$out/reports"
  set +e
  /usr/bin/time -f '%e %U %S' -o "$out/time-batch" \
    "$bin" batch "$out/incidents" -o "$out/reports" --quiet --format json "${jobs_flag[@]}" > "$out/summary.json"
  rc=$?
  set -e
  read -r seq_s seq_u seq_k < "$out/time-seq"
  read -r batch_s batch_u batch_k < "$out/time-batch"
  printf 'round %d: sequential %.2f s wall / %.2f s CPU, batch %.2f s wall / %.2f s CPU, ratio %.3f\n' \
    "$r" "$seq_s" "$(echo "$seq_u + $seq_k" | bc -l)" "$batch_s" "$(echo "$batch_u + $batch_k" | bc -l)" \
    "$(echo "$batch_s / $seq_s" | bc -l)"
  if [ -z "$best_seq" ] || [ "$(echo "$seq_s < $best_seq" | bc -l)" = 1 ]; then best_seq=$seq_s; fi
  if [ -z "$best_batch" ] || [ "$(echo "$batch_s < $best_batch" | bc -l)" = 1 ]; then best_batch=$batch_s; fi
done
ok=$(grep -o '"status": "ok"' "$out/summary.json" | wc -l)
used_jobs=$(grep -o '"jobs": [0-9]*' "$out/summary.json" | grep -o '[0-9]*$')
printf 'incidents: %d (%s), batch exit %d, %d ok, %s jobs\n' "$n" "${samples[*]}" "$rc" "$ok" "$used_jobs"
printf 'sequential analyze (best of %d): %.2f s (%.2f s per incident)\n' "$rounds" "$best_seq" "$(echo "$best_seq / $n" | bc -l)"
printf 'batch (best of %d):              %.2f s\n' "$rounds" "$best_batch"
printf 'ratio batch/sequential: %.3f\n' "$(echo "$best_batch / $best_seq" | bc -l)"
printf 'load after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
