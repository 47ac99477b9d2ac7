#!/usr/bin/env bash
# Continues issue 17's wide-distribution run of the default model's architecture on this
# machine (CPU, or a CUDA GPU with --device cuda): the mix-in train suite, the training run, the
# FP16-stored checkpoint, the packed resumable state and the exported bundle. (The committed
# models/default still comes from tools/train/train_default.sh, issue 8's recipe; see
# tools/train/checkpoints/README.md for where this run stands.)
#
#   tools/train/train_wide.sh [WORK_DIR] [--seg-minutes A] [--minutes B] [--device D]
#                             [--from-scratch]
#
# Issue 17's recipe: clips generated on the fly by katana_train.gen (seed 1700; wide target,
# background, camera and event distribution, 16-frame clips) with a quarter of the steps drawn
# from `katana synth --suite train` clips, correction clicks (p 0.2), memory from the model's own
# detached masks, object-score loss x5 on absent frames, a quarter of segmentation steps mixed
# into tracking. It starts from the committed packed state tools/train/checkpoints/
# default_run.pt when there is one (so each session continues the last one's run; phase times
# add up, so raise --minutes to go on) and otherwise from the issue-8 weights in
# models/default/checkpoint.pt (--from-scratch: from seeded random weights). The schedules follow
# the accumulated phase time, so a faster machine takes more steps in the same budget.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$here/out/train_wide
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  work=$1
  shift
fi
seg=14 track=60 device=cpu scratch=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seg-minutes) seg=$2; shift 2 ;;
    --minutes) track=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --from-scratch) scratch=1; shift ;;
    *) echo "train_wide: unknown option $1" >&2; exit 2 ;;
  esac
done
py=${KAT_PYTHON:-/usr/bin/python3}
katana=${KATANA:-$here/build/bin/katana}
[ -x "$katana" ] || { echo "train_wide: build katana first (make build)" >&2; exit 1; }
mkdir -p "$work/run"
# The mix-in train suite: 40 clips of 120 frames at 480x270 from seed 2000.
[ -f "$work/synth/train-039/groundtruth.txt" ] ||
  "$katana" synth --suite train --seed 2000 --count 40 --frames 120 --size 480x270 \
    --out "$work/synth"
init=()
if [ ! -f "$work/run/checkpoint.pt" ]; then
  if [ "$scratch" = 0 ] && [ -f "$here/tools/train/checkpoints/default_run.pt" ]; then
    cp "$here/tools/train/checkpoints/default_run.pt" "$work/run/checkpoint.pt"
  elif [ "$scratch" = 0 ]; then
    init=(--init "$here/models/default/checkpoint.pt")
  fi
fi
cd "$here/tools/train"
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$py" -m katana_train --gen 1700 --mix-data "$work/synth" \
  --mix-prob 0.25 --config micro_efficienttam --out "$work/run" "${init[@]}" --resume \
  --seg-minutes "$seg" --minutes "$track" --clip-len 16 --batch 8 --detach-mem --click-prob 0.2 \
  --absent-weight 5 --seg-mix 0.25 --lr 3e-4 --seed 17 --threads 1 --save-every 300 \
  --device "$device"
cd "$here"
"$py" tools/train/finalize.py "$work/run/checkpoint.pt" "$work/micro_efficienttam_synth.pt"
"$py" tools/train/finalize.py "$work/run/checkpoint.pt" "$work/default_run.pt" --with-optimizer
PYTHONPATH=tools/export "$py" -m katana_export --model micro_efficienttam \
  --checkpoint "$work/micro_efficienttam_synth.pt" --fp16-storage --out "$work/bundle"
echo "train_wide: bundle in $work/bundle, checkpoint $work/micro_efficienttam_synth.pt," \
  "resumable state $work/default_run.pt (commit it as tools/train/checkpoints/default_run.pt)"
