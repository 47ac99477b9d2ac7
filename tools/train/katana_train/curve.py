"""python3 -m katana_train.curve --clips DIR --snapshots DIR --out FILE [--count N]

The learning curve: for every snapshot a training run wrote (OUT/snapshots/step-NNNNNN.pt, FP16
weights and the CPU seconds spent so far) that FILE does not list yet, tracks the first --count
clip folders under --clips (e.g. scripts/eval_heldout's suite) with the training loop in
inference mode and appends one JSON line: step, CPU minutes, mean box IoU over the frames that
show the target (frame 0 excluded; the box of the predicted mask at model size, mapped back to the
source frame, against the ground-truth box; an empty prediction scores 0) and the share of
absent frames whose object score says absent. This is a cheap proxy of `katana eval` (plain SAM 2
selection, no Kalman filter, Pillow resize); the model card's numbers come from katana itself.
"""

import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "export"))

from katana_export.export import make_wrappers  # noqa: E402
from katana_export.models import build_model, load_checkpoint  # noqa: E402

from .data import Clip, list_clips  # noqa: E402
from .loop import track_clip  # noqa: E402


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def score(model, clips):
    mods, consts = make_wrappers(model)
    wr = tuple(mods[n] for n in ("image_encoder", "memory_attention", "mask_decoder",
                                 "memory_encoder"))
    ious, absent_ok, absent_n = [], 0, 0
    with torch.no_grad():
        for c in clips:
            _, _, outs = track_clip(wr, consts, model, c, 0, c.n, want_masks=True)
            for t in range(1, c.n):
                gt = c.box_at_model_size(t)
                lg, obj = outs[t]
                if gt is None:
                    absent_n += 1
                    absent_ok += int(obj <= 0)
                    continue
                up = F.interpolate(lg[None, None], size=(c.size, c.size), mode="bilinear",
                                   align_corners=False)[0, 0] > 0
                if obj <= 0 or not bool(up.any()):
                    ious.append(0.0)
                    continue
                ys, xs = np.nonzero(up.numpy())
                pred = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                ious.append(box_iou(pred, gt))
    return float(np.mean(ious)) if ious else 0.0, (absent_ok / absent_n) if absent_n else None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="katana_train.curve")
    ap.add_argument("--clips", required=True)
    ap.add_argument("--snapshots", required=True, help="folder of step-*.pt files, or one file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--config", default="micro_efficienttam")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    done = set()
    if os.path.exists(a.out):
        with open(a.out) as f:
            done = {json.loads(ln)["snapshot"] for ln in f if ln.strip()}
    snaps = ([a.snapshots] if os.path.isfile(a.snapshots)
             else sorted(glob.glob(os.path.join(a.snapshots, "step-*.pt"))))
    model = build_model(a.config, seed=0)
    S = int(model.image_size)
    clips = [Clip(d, S) for d in list_clips(a.clips)[:a.count]]
    for p in snaps:
        name = os.path.basename(p)
        if name in done:
            continue
        st = torch.load(p, map_location="cpu")
        load_checkpoint(model, st)
        model.eval()
        miou, absent = score(model, clips)
        rec = {"snapshot": name, "step": st.get("step"),
               "cpu_min": round(float(st.get("cpu_s") or 0.0) / 60, 2),
               "heldout_box_iou": round(miou, 4), "absent_detected": absent}
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    main()
