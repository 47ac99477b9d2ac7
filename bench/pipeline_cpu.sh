#!/usr/bin/env bash
# Sequential vs pipelined `katana track` on one clip, side by side in one run, with several
# intra-op thread splits; prints one line per configuration (wall FPS, frame interval p50/p95,
# latency p50/p95) for docs/performance.md. Checks that every run's boxes are identical.
#   bench/pipeline_cpu.sh BUNDLE [FRAMES=300] [SPLIT_FRAMES=60] [BUILD=build]
set -euo pipefail
bundle=${1:?usage: bench/pipeline_cpu.sh BUNDLE [FRAMES] [SPLIT_FRAMES] [BUILD]}
frames=${2:-300}
split_frames=${3:-60}
build=${4:-build}
katana=$build/bin/katana
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$katana" synth --suite eval --seed 11 --count 1 --frames "$frames" --size 640x360 \
  --out "$work/clip" >/dev/null
clip=$work/clip/eval-000
box=$(head -n 1 "$clip/groundtruth.txt")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "bundle: $bundle; clip: synth eval seed 11, 640x360"
run() { # name frames pipeline threads
  local out=$work/$1
  "$katana" track "$clip/img" --model "$bundle" --box "$box" --out "$out" --frames "$2" \
    --pipeline "$3" ${4:+--threads "$4"} 2>&1 | grep -o '[0-9]* frames (.*' | sed "s/^/$1: /"
}
run seq "$frames" off ""
run pipe "$frames" on ""
cmp "$work/seq/boxes.txt" "$work/pipe/boxes.txt" && echo "boxes identical: seq vs pipe ($frames frames)"
for split in 1 2 "1,2,2,2" "2,1,1,1"; do
  run "pipe-threads-$split" "$split_frames" on "$split"
  run "seq-threads-$split" "$split_frames" off "$split"
done
