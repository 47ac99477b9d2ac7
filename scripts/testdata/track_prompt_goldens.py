"""Goldens of corrections, mask prompts and re-seeding on bundle format 2 for
tests/test_prompts.c: the Python reference MultiTracker (tools/reference/katana_reference/multi.py)
with the ONNX backend on the trained bundle (models/default, format 2), so masks are shaped like
the object, on the clip of scripts/testdata/30-track (320x180; the target is fully occluded on
frames 15-26 and out of view on 33-47). SAMURAI selection. Scenarios (SCENARIOS below):

  correct: object 0 the ground-truth box on frame 0, a positive-point correction at the
           ground-truth box centre of frame 12, a box correction on frame 24 (the target is
           occluded there: the box is its last ground-truth box, of frame 14); object 1 a box
           (the ground-truth box of frame 10) added on frame 10 and removed before frame 30;
           48 frames.
  mask:    object 0 the ground-truth mask of frame 0; object 1 the ground-truth mask of frame 8
           as a new object on frame 8; 48 frames.
  reseed:  min_obj_score_logits 2.0, so the object goes absent during and after the occlusion
           (the C test makes it LOST with lost_after_frames 5); object 0 the ground-truth box on
           frame 0, reseeded (a box correction of the next frame) with the ground-truth box of
           frame 28 before frame 28; 48 frames.

usage: track_prompt_goldens.py BUNDLE_DIR CLIP_DIR OUT_DIR
Writes OUT_DIR/<scenario>/records.txt, one line per (frame, object) record in the reference
order: "frame obj chosen present cond correction x y w h score", and OUT_DIR/<scenario>/low_res.f32
(the records' chosen low-res logits, [n, S/4, S/4] float32, little-endian).
"""
import os
import sys

import numpy as np
from PIL import Image

from katana_reference.backends import OnnxBackend
from katana_reference.frames import FrameSource
from katana_reference.multi import MultiTracker


def gt_boxes(clip):
    with open(os.path.join(clip, "groundtruth.txt")) as f:
        return [[float(v) for v in line.split(",")] for line in f if line.strip()]


def gt_mask(clip, i):
    return np.asarray(Image.open(os.path.join(clip, "masks", "%05d.png" % i))) > 127


def xyxy(b):
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


def centre(b):
    return [b[0] + b[2] / 2, b[1] + b[3] / 2]


def scenario_correct(mt, clip, g):
    mt.add_prompt(0, 0, box=xyxy(g[0]))
    mt.add_prompt(10, 1, box=xyxy(g[10]))
    mt.add_prompt(12, 0, points=[centre(g[12])], labels=[1])
    mt.add_prompt(24, 0, box=xyxy(g[14]))
    return 48, {30: lambda: mt.remove_object(1)}


def scenario_mask(mt, clip, g):
    mt.add_prompt(0, 0, mask=gt_mask(clip, 0))
    mt.add_prompt(8, 1, mask=gt_mask(clip, 8))
    return 48, {}


def scenario_reseed(mt, clip, g):
    mt.add_prompt(0, 0, box=xyxy(g[0]))
    return 48, {28: lambda: mt.reseed(0, xyxy(g[28]))}


RESEED_MIN_OBJ = 2.0
SCENARIOS = {"correct": scenario_correct, "mask": scenario_mask, "reseed": scenario_reseed}


def run(backend, clip, out, name):
    g = gt_boxes(clip)
    src = FrameSource(os.path.join(clip, "img"), 64)
    samurai = {"min_obj_score_logits": RESEED_MIN_OBJ} if name == "reseed" else None
    mt = MultiTracker(backend, src.width, src.height, 64, "samurai", samurai=samurai)
    n, before = SCENARIOS[name](mt, clip, g)
    lines, lows = [], []
    for fi, rgb in enumerate(src):
        if fi in before:
            before[fi]()
        for obj_id, (rec, low, _mask) in mt.step(rgb).items():
            bx = rec["box_xywh"]
            lines.append("%d %d %d %d %d %d %d %d %d %d %.9g" % (
                fi, obj_id, rec["chosen"], 1 if rec["present"] else 0, 1 if rec["cond"] else 0,
                1 if rec["correction"] else 0, bx[0], bx[1], bx[2], bx[3], rec["obj_score"]))
            lows.append(np.asarray(low, np.float32))
        if fi + 1 >= n:
            break
    src.close()
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "records.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    np.stack(lows).astype("<f4").tofile(os.path.join(d, "low_res.f32"))
    return lines


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    bundle, clip, out = argv
    backend = OnnxBackend(bundle)
    if not backend.supports_mask_input:
        sys.exit("track_prompt_goldens: %s has no mask input (bundle format 1)" % bundle)
    for name in SCENARIOS:
        run(backend, clip, out, name)


if __name__ == "__main__":
    main(sys.argv[1:])
