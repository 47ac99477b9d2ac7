"""Runs the reference tracker over a frame source and writes the goldens:
  OUT/frames.jsonl   one JSON object per frame (see tracker.Tracker.step for the fields)
  OUT/masks.npz      `low_res` float32 [N, S/4, S/4]: chosen low-res mask logits (after gating)
  OUT/boxes.txt      LaSOT x,y,w,h per frame from the output mask (0,0,0,0 when empty)
  OUT/meta.json      run parameters
  OUT/masks/NNNNN.png  optional output masks (0/255) at video resolution
"""

import json
import os

import numpy as np

from .frames import FrameSource
from .tracker import Tracker


def make_backend(kind, bundle, seed=None, checkpoint=None, threads=1):
    from . import backends
    if kind == "onnx":
        return backends.OnnxBackend(bundle, threads=threads)
    if kind == "torch":
        return backends.TorchBackend.from_bundle(bundle, seed, checkpoint)
    raise ValueError("backend must be onnx or torch")


def track(backend, frames_path, box_xywh, out_dir=None, selection="samurai", samurai=None,
          max_frames=None, write_pngs=False, log=None):
    """Tracks one box through the frames. Returns (records, low_res [N,h,w] f32)."""
    src = FrameSource(frames_path, max_frames)
    try:
        x, y, w, h = box_xywh
        trk = Tracker(backend, (x, y, x + w, y + h), src.width, src.height, len(src),
                      selection, samurai)
        recs, lows = [], []
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            if write_pngs:
                os.makedirs(os.path.join(out_dir, "masks"), exist_ok=True)
        for rgb in src:
            rec, low, mask = trk.step(rgb)
            recs.append(rec)
            lows.append(low)
            if log:
                log(rec)
            if out_dir and write_pngs:
                from PIL import Image
                Image.fromarray((mask * 255).astype(np.uint8)).save(
                    os.path.join(out_dir, "masks", "%05d.png" % rec["frame"]))
        lows = np.stack(lows).astype(np.float32)
        if out_dir:
            with open(os.path.join(out_dir, "frames.jsonl"), "w") as f:
                for r in recs:
                    f.write(json.dumps(r) + "\n")
            np.savez_compressed(os.path.join(out_dir, "masks.npz"), low_res=lows)
            with open(os.path.join(out_dir, "boxes.txt"), "w") as f:
                for r in recs:
                    f.write("%d,%d,%d,%d\n" % tuple(r["box_xywh"]))
            with open(os.path.join(out_dir, "meta.json"), "w") as f:
                json.dump({"frames": os.path.abspath(frames_path), "box_xywh": list(box_xywh),
                           "selection": selection, "samurai": trk.sp if selection == "samurai"
                           else None, "backend": getattr(backend, "name", "?"),
                           "num_frames": len(src), "video_size": [src.width, src.height]},
                          f, indent=1)
        return recs, lows
    finally:
        src.close()
