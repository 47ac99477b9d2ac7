"""Goldens of several objects and point prompts for tests/test_multi.c: the Python reference
MultiTracker (tools/reference/katana_reference/multi.py, PyTorch backend, the seeded weights of
the bundle) on the first 48 frames of the clip, scenario "multi":

  frame 0:  object 0 box (the ground-truth box), object 1 a positive point at the box centre and
            a negative point 30 px left of it, object 3 a single positive point (multimask);
  frame 10: object 2 box [150, 40, 40, 40] added;
  frame 30: object 1 removed (before the frame is tracked).

usage: track_multi_goldens.py BUNDLE_DIR SEED FRAMES_DIR X,Y,W,H OUT_DIR SELECTION
Writes OUT_DIR/records.txt, one line per (frame, object) record in the reference order:
"frame obj chosen present x y w h score" and OUT_DIR/low_res.f32 (the records' chosen low-res
logits, [n, S/4, S/4] float32, little-endian).
"""
import json
import os
import sys

import numpy as np

from katana_export.models import build_model
from katana_reference.backends import TorchBackend
from katana_reference.frames import FrameSource
from katana_reference.multi import MultiTracker

NUM_FRAMES = 48


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    bundle, seed, frames, box, out, selection = argv
    with open(os.path.join(bundle, "katana.json")) as f:
        config = json.load(f)["config"]
    backend = TorchBackend(build_model(config, int(seed)))
    x, y, w, h = [float(v) for v in box.split(",")]
    src = FrameSource(frames, NUM_FRAMES)
    mt = MultiTracker(backend, src.width, src.height, NUM_FRAMES, selection)
    cx, cy = x + w / 2, y + h / 2
    mt.add_prompt(0, 0, box=[x, y, x + w, y + h])
    mt.add_prompt(0, 1, points=[[cx, cy], [cx - 30, cy]], labels=[1, 0])
    mt.add_prompt(0, 3, points=[[cx, cy]], labels=[1])
    mt.add_prompt(10, 2, box=[150, 40, 190, 80])
    os.makedirs(out, exist_ok=True)
    lines, lows = [], []
    for fi, rgb in enumerate(src):
        if fi == 30:
            mt.remove_object(1)
        res = mt.step(rgb)
        for obj_id, (rec, low, _mask) in res.items():
            bx = rec["box_xywh"]
            lines.append("%d %d %d %d %d %d %d %d %.9g" % (
                fi, obj_id, rec["chosen"], 1 if rec["present"] else 0, bx[0], bx[1], bx[2], bx[3],
                rec["obj_score"]))
            lows.append(np.asarray(low, np.float32))
        if fi + 1 >= NUM_FRAMES:
            break
    src.close()
    with open(os.path.join(out, "records.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    np.stack(lows).astype("<f4").tofile(os.path.join(out, "low_res.f32"))


if __name__ == "__main__":
    main(sys.argv[1:])
