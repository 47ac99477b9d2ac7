#!/usr/bin/env bash
# Rebuilds katana's embedded default model (models/default) from scratch on this machine's CPU:
# the train suite, the two-phase training run, the FP16-stored checkpoint and the exported bundle.
#
#   tools/train/train_default.sh [WORK_DIR] [--seg-minutes A] [--minutes B]
#
# The committed model was trained with the defaults below (20 + 80 minutes on one core of a
# 2-core AMD EPYC with Debian's torch 1.13 over OpenBLAS); the schedules follow the clock, so a
# faster machine takes more steps in the same budget and gives a slightly different model.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$here/out/train
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  work=$1
  shift
fi
seg=20 track=80
while [ $# -gt 0 ]; do
  case "$1" in
    --seg-minutes) seg=$2; shift 2 ;;
    --minutes) track=$2; shift 2 ;;
    *) echo "train_default: unknown option $1" >&2; exit 2 ;;
  esac
done
py=${KAT_PYTHON:-/usr/bin/python3}
katana=${KATANA:-$here/build/bin/katana}
[ -x "$katana" ] || { echo "train_default: build katana first (make build)" >&2; exit 1; }
mkdir -p "$work"
# The train suite: 2 x 60 clips of 120 frames at 480x270 (the eval suite's 16:9 aspect, so objects
# are squeezed alike at the model's 256x256), seeds 2000.. and 3000...
for part in a:2000 b:3000; do
  name=${part%%:*}
  seed=${part#*:}
  [ -f "$work/d120$name/train-059/groundtruth.txt" ] ||
    "$katana" synth --suite train --seed "$seed" --count 60 --frames 120 --size 480x270 \
      --out "$work/d120$name"
done
mkdir -p "$work/all"
for name in a b; do
  for d in "$work/d120$name"/train-*; do ln -sfn "$d" "$work/all/$name-$(basename "$d")"; done
done
cd "$here/tools/train"
"$py" -m katana_train --data "$work/all" --config micro_efficienttam --out "$work/run" \
  --seg-minutes "$seg" --minutes "$track" --seed 1 --threads 1 --resume
cd "$here"
"$py" tools/train/finalize.py "$work/run/checkpoint.pt" "$work/micro_efficienttam_synth.pt"
PYTHONPATH=tools/export "$py" -m katana_export --model micro_efficienttam \
  --checkpoint "$work/micro_efficienttam_synth.pt" --fp16-storage --out "$work/bundle"
echo "train_default: bundle in $work/bundle; copy it and the checkpoint to models/default"
