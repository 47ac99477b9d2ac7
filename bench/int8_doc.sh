#!/usr/bin/env bash
# The INT8 accuracy figures of docs/performance.md ("INT8"): quantizes a bundle per module and
# in the sets below with `katana onnx quantize`, tracks with each variant, and compares every
# INT8 run with the FP32 run of the same bundle on the same clip (`katana eval --against` for
# the mean mask IoU; the "present" flags of results.jsonl for the presence decisions).
#
#   bench/int8_doc.sh suite BUNDLE OUT [VARIANTS]   20-clip eval suite (katana synth, seed 100)
#   bench/int8_doc.sh clips BUNDLE OUT [VARIANTS]   the test clips in .testdata (track/clip,
#                                                   stream/eval-000)
#   bench/int8_doc.sh drift BUNDLE OUT [VARIANTS]   one 1,000-frame clip: mask IoU vs FP32 at
#                                                   frames 10, 100 and 999
#   bench/int8_doc.sh speed BUNDLE OUT [VARIANTS]   one `katana bench --model FP32,INT8...` run
#                                                   (seq and pipe, per module and end to end);
#                                                   not niced, the load (uptime) is printed
#
# VARIANTS (comma-separated, default "default,ie,ma,md,me,all"): default = katana onnx quantize
# with no --modules (KAT_ONNX_QUANTIZE_DEFAULT_MODULES), ie/ma/md/me = that module alone,
# ma+me = memory_attention and memory_encoder together,
# all = every module, ma-nok = memory_attention with its key projections (node names containing
# k_proj) kept FP32. Runs are niced (these are accuracy runs, not timing runs); runs already
# there are reused; CLIPS=N limits a mode to its first N clips. Needs /usr/bin/python3 with numpy and PIL for the tables.
set -euo pipefail
what=${1:?usage: int8_doc.sh suite|clips|drift BUNDLE OUT [VARIANTS]}
bundle=${2:?bundle}
out=${3:?out}
variants=${4:-default,ie,ma,md,me,all}
here=$(cd "$(dirname "$0")/.." && pwd)
katana=${KATANA:-$here/build/bin/katana}
data=${KAT_TEST_DATA:-$here/.testdata}
py=/usr/bin/python3
mkdir -p "$out/bundles"

modules_of() {
  case "$1" in
    default) echo "" ;;
    ie) echo image_encoder ;;
    ma) echo memory_attention ;;
    md) echo mask_decoder ;;
    me) echo memory_encoder ;;
    ma+me) echo memory_attention,memory_encoder ;;
    all) echo image_encoder,memory_attention,mask_decoder,memory_encoder ;;
    ma-nok) echo memory_attention ;;
    *) echo "int8_doc: unknown variant $1" >&2; exit 2 ;;
  esac
}

make_variant() {
  local v=$1 dst="$out/bundles/$1" mods
  mods=$(modules_of "$v")
  [ -s "$dst/katana.json" ] && [ "$dst/katana.json" -nt "$bundle/katana.json" ] && return 0
  rm -rf "$dst"
  # The check bar is relaxed here (--tol 1): the tracking comparison below is the judge.
  local extra=()
  [ "$v" = ma-nok ] && extra=(--exclude k_proj)
  "$katana" onnx quantize "$bundle" -o "$dst" ${mods:+--modules "$mods"} "${extra[@]}" --tol 1 \
    > "$out/bundles/$v.log"
}

track() { # BUNDLE CLIPDIR RESDIR
  if [ -s "$3/results.jsonl" ] && [ "$3/results.jsonl" -nt "$1/katana.json" ]; then return 0; fi
  # Into DIR.part, renamed when complete: a run killed mid-clip is redone, never reused.
  rm -rf "$3" "$3.part"
  mkdir -p "$(dirname "$3")"
  nice -n 10 "$katana" track "$2/img" --model "$1" --box-file "$2/groundtruth.txt" --masks \
    --out "$3.part" --quiet
  mv "$3.part" "$3"
}

if [ "$what" = speed ]; then
  IFS=, read -r -a vs <<< "${4:-default}"
  list=$bundle
  for v in "${vs[@]}"; do make_variant "$v"; list="$list,$out/bundles/$v"; done
  echo "load before: $(uptime)"
  "$katana" bench --model "$list" --modes seq,pipe --frames "${FRAMES:-30}" \
    --iterations "${ITERATIONS:-10}" --json "$out/speed.json"
  echo "load after: $(uptime)"
  exit 0
fi

clips=()
case "$what" in
  suite)
    if [ ! -d "$out/suite-clips/eval-019" ]; then
      "$katana" synth --suite eval --seed 100 --count 20 --frames 120 --size 640x360 \
        --out "$out/suite-clips"
    fi
    for c in "$out"/suite-clips/eval-*/; do clips+=("${c%/}"); done
    ;;
  clips)
    clips=("$data/track/clip" "$data/stream/eval-000")
    ;;
  drift)
    if [ ! -d "$out/long/eval-000" ]; then
      "$katana" synth --suite eval --seed 7 --count 1 --frames 1000 --size 640x360 \
        --out "$out/long"
    fi
    clips=("$out/long/eval-000")
    ;;
  *) echo "int8_doc: unknown mode $what (suite, clips, drift)" >&2; exit 2 ;;
esac

# CLIPS=N keeps the first N clips (a bounded run; the tables say how many clips they cover).
if [ -n "${CLIPS:-}" ] && [ "${#clips[@]}" -gt "$CLIPS" ]; then clips=("${clips[@]:0:$CLIPS}"); fi
IFS=, read -r -a vs <<< "$variants"
# Clip by clip (FP32, then every variant), so that a run stopped early covers the same clips
# in every variant.
for v in "${vs[@]}"; do make_variant "$v"; done
for c in "${clips[@]}"; do
  name=$(basename "$c")
  track "$bundle" "$c" "$out/$what/fp32/$name"
  for v in "${vs[@]}"; do
    track "$out/bundles/$v" "$c" "$out/$what/$v/$name"
    "$katana" eval --results "$out/$what/$v/$name" --against "$out/$what/fp32/$name" \
      --json "$out/$what/$v/$name.against.json" > /dev/null
  done
done

"$py" "$here/bench/int8_table.py" "$what" "$out/$what" "$variants" "$out/bundles"
