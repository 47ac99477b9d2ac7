#!/usr/bin/env bash
# The measurements of docs/scaling.md: intra-op thread scaling 1 vs 2 per module (`katana bench
# --threads N`, modules timed alone), and one stream vs two streams at once on this machine
# (two `katana track` processes, each with its own model and a one-thread budget, against one
# process with the whole machine and one with one thread).
#
#   bench/scaling.sh BUNDLE OUT [FRAMES]     (FRAMES per stream, default 24)
#
# Prints the load (uptime) next to every timing; outputs OUT/threads{1,2}.json and
# OUT/scaling.txt.
set -euo pipefail
bundle=${1:?usage: scaling.sh BUNDLE OUT [FRAMES]}
out=${2:?out}
frames=${3:-24}
here=$(cd "$(dirname "$0")/.." && pwd)
katana=${KATANA:-$here/build/bin/katana}
mkdir -p "$out"
report="$out/scaling.txt"
: > "$report"
say() { echo "$*" | tee -a "$report"; }

for t in 1 2; do
  say "threads $t: load $(uptime | sed 's/.*load average: //')"
  "$katana" bench --model "$bundle" --modes seq --threads "$t" --frames 4 --warmup 2 \
    --iterations "${ITERATIONS:-8}" --json "$out/threads$t.json" > "$out/threads$t.txt"
  grep -E "^  (image_encoder|memory_attention|mask_decoder|memory_encoder) " "$out/threads$t.txt" |
    tee -a "$report"
done

if [ ! -d "$out/clip/eval-000" ]; then
  "$katana" synth --suite eval --seed 3 --count 1 --frames "$frames" --size 640x360 \
    --out "$out/clip" > /dev/null
fi
clip="$out/clip/eval-000"
run() { # NAME THREADS
  "$katana" track "$clip/img" --model "$bundle" --box-file "$clip/groundtruth.txt" \
    --pipeline off --threads "$2" --out "$out/$1" --quiet
}
now() { date +%s.%N; }
fps() { /usr/bin/python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$@"; }

say "one stream, 2 threads: load $(uptime | sed 's/.*load average: //')"
t0=$(now); run one2 2; t1=$(now)
w1=$(/usr/bin/python3 -c "print('%.2f' % ($t1 - $t0))")
say "  wall ${w1} s for $frames frames: $(fps "$frames" "$w1") frames/s"

say "one stream, 1 thread: load $(uptime | sed 's/.*load average: //')"
t0=$(now); run one1 1; t1=$(now)
w2=$(/usr/bin/python3 -c "print('%.2f' % ($t1 - $t0))")
say "  wall ${w2} s for $frames frames: $(fps "$frames" "$w2") frames/s"

say "two streams at once, 1 thread each: load $(uptime | sed 's/.*load average: //')"
t0=$(now)
run twoA 1 &
pa=$!
run twoB 1 &
pb=$!
wait "$pa"
wait "$pb"
t1=$(now)
w3=$(/usr/bin/python3 -c "print('%.2f' % ($t1 - $t0))")
say "  wall ${w3} s for 2 x $frames frames: $(fps "$((2 * frames))" "$w3") frames/s in total"
if cmp -s "$out/twoA/boxes.txt" "$out/one1/boxes.txt" && cmp -s "$out/twoB/boxes.txt" "$out/one1/boxes.txt"; then
  say "  boxes identical to the one-thread single-stream run"
else
  say "  WARNING: boxes differ from the one-thread single-stream run"
fi
say "load after: $(uptime | sed 's/.*load average: //')"
