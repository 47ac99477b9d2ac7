#!/usr/bin/env bash
# `katana batch --jobs 1` vs `--jobs 2` over one manifest of synthetic clips, side by side in one
# run, alternating (1, 2, 1, 2, ...), each run into a fresh folder; prints wall seconds and
# frames/s per run and checks that every run's boxes are identical (docs/batch.md).
#   bench/batch_jobs.sh [BUNDLE=models/default] [CLIPS=6] [FRAMES=30] [ROUNDS=2] [BUILD=build]
set -euo pipefail
bundle=${1:-models/default}
clips=${2:-6}
frames=${3:-30}
rounds=${4:-2}
build=${5:-build}
katana=$build/bin/katana
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$katana" synth --out "$work/clips" --seed 3 --count "$clips" --frames "$frames" --size 320x180 \
  --mp4 >/dev/null
for i in $(seq 0 $((clips - 1))); do
  c=$(printf '%s/clips/train-%03d' "$work" "$i")
  printf '{"id": "c%d", "source": "%s/video.mp4", "box": [%s]}\n' "$i" "$c" \
    "$(head -n 1 "$c/groundtruth.txt")"
done >"$work/m.jsonl"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bundle: $bundle; $clips synthetic 320x180 clips of $frames frames (synth seed 3)"
for r in $(seq 1 "$rounds"); do
  for j in 1 2; do
    out=$work/out-r$r-j$j
    t0=$(date +%s.%N)
    "$katana" batch "$work/m.jsonl" --model "$bundle" --out "$out" --jobs "$j" --quiet
    t1=$(date +%s.%N)
    awk -v r="$r" -v j="$j" -v a="$t0" -v b="$t1" -v n=$((clips * frames)) \
      'BEGIN { printf "round %d --jobs %d: %.1f s, %.2f frames/s\n", r, j, b - a, n / (b - a) }'
    for i in $(seq 0 $((clips - 1))); do
      cmp -s "$out/c$i/boxes.txt" "$work/out-r1-j1/c$i/boxes.txt" ||
        { echo "boxes differ: $out/c$i"; exit 1; }
    done
  done
done
echo "boxes identical across all runs"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
