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


def read_prompts(path):
    """--prompts FILE: a JSON list of {"frame": int >= 0, "obj": int, and one of
    "box": [x, y, w, h] | "points": [[x, y, label], ...] (label 1 positive, 0 negative) |
    "box" and "points" together | "mask": "file.png" (relative to the JSON file; nonzero =
    object)}, optional "append": true (add the points to the frame's earlier points).
    Returns a list of (frame, obj, kwargs for MultiTracker.add_prompt) in file order."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError("%s: prompts must be a JSON list" % path)
    out = []
    base = os.path.dirname(os.path.abspath(path))
    for n, e in enumerate(data):
        where = "%s: prompt %d" % (path, n)
        if not isinstance(e, dict):
            raise ValueError(where + ": not an object")
        unknown = set(e) - {"frame", "obj", "box", "points", "mask", "append"}
        if unknown:
            raise ValueError(where + ": unknown keys %s" % sorted(unknown))
        fr, obj = e.get("frame"), e.get("obj")
        if not isinstance(fr, int) or isinstance(fr, bool) or fr < 0:
            raise ValueError(where + ": frame must be an integer >= 0")
        if not isinstance(obj, int) or isinstance(obj, bool):
            raise ValueError(where + ": obj must be an integer")
        kw = {"append": bool(e.get("append", False))}
        if "box" in e:
            b = e["box"]
            if not (isinstance(b, list) and len(b) == 4) or float(b[2]) <= 0 or float(b[3]) <= 0:
                raise ValueError(where + ": box must be [x, y, w, h] with w, h > 0")
            x, y, w, h = (float(v) for v in b)
            kw["box"] = [x, y, x + w, y + h]
        if "points" in e:
            pts = e["points"]
            if not isinstance(pts, list) or not pts or any(
                    not isinstance(p, list) or len(p) != 3 or p[2] not in (0, 1) for p in pts):
                raise ValueError(where + ": points must be [[x, y, label], ...], label 0 or 1")
            kw["points"] = [[float(p[0]), float(p[1])] for p in pts]
            kw["labels"] = [int(p[2]) for p in pts]
        if "mask" in e:
            from PIL import Image
            mp = e["mask"]
            if not os.path.isabs(mp):
                mp = os.path.join(base, mp)
            kw["mask"] = np.array(Image.open(mp).convert("L")) > 0
        if not any(k in kw for k in ("box", "points", "mask")):
            raise ValueError(where + ": needs box, points or mask")
        out.append((fr, obj, kw))
    return out


def track_prompts(backend, frames_path, prompts, out_dir=None, selection="samurai",
                  samurai=None, max_frames=None, write_pngs=False, log=None):
    """Tracks the objects of `prompts` (read_prompts) with the MultiTracker. Writes per object
    OUT/obj_<id>/frames.jsonl, masks.npz (low_res [frames of the object, S/4, S/4] f32 and
    `frames` int64), boxes.txt ("frame,x,y,w,h"), masks/NNNNN.png with write_pngs; and
    OUT/meta.json. Returns {obj: (records, low_res)}."""
    from .multi import MultiTracker
    src = FrameSource(frames_path, max_frames)
    try:
        mt = MultiTracker(backend, src.width, src.height, len(src), selection, samurai)
        for fr, obj, kw in prompts:
            if "mask" in kw and kw["mask"].shape != (src.height, src.width):
                raise ValueError("mask prompt for frame %d is %dx%d, video is %dx%d" % (
                    fr, kw["mask"].shape[1], kw["mask"].shape[0], src.width, src.height))
            mt.add_prompt(fr, obj, **kw)
        per = {}
        for rgb in src:
            for oid, (rec, low, mask) in mt.step(rgb).items():
                per.setdefault(oid, ([], [], []))
                per[oid][0].append(rec)
                per[oid][1].append(low)
                if log:
                    log(rec)
                if out_dir and write_pngs:
                    from PIL import Image
                    d = os.path.join(out_dir, "obj_%d" % oid, "masks")
                    os.makedirs(d, exist_ok=True)
                    Image.fromarray((mask * 255).astype(np.uint8)).save(
                        os.path.join(d, "%05d.png" % rec["frame"]))
        result = {oid: (r, np.stack(l).astype(np.float32)) for oid, (r, l, _) in per.items()}
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            for oid, (recs, lows) in result.items():
                d = os.path.join(out_dir, "obj_%d" % oid)
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, "frames.jsonl"), "w") as f:
                    for r in recs:
                        f.write(json.dumps(r) + "\n")
                np.savez_compressed(os.path.join(d, "masks.npz"), low_res=lows,
                                    frames=np.array([r["frame"] for r in recs], np.int64))
                with open(os.path.join(d, "boxes.txt"), "w") as f:
                    for r in recs:
                        f.write("%d,%d,%d,%d,%d\n" % ((r["frame"],) + tuple(r["box_xywh"])))
            with open(os.path.join(out_dir, "meta.json"), "w") as f:
                json.dump({"frames": os.path.abspath(frames_path), "objects": sorted(result),
                           "selection": selection, "samurai": mt.sp if selection == "samurai"
                           else None, "backend": getattr(backend, "name", "?"),
                           "num_frames": len(src), "video_size": [src.width, src.height],
                           "prompts": [{"frame": fr, "obj": obj, "kind": sorted(
                               k for k in kw if k in ("box", "points", "mask"))}
                               for fr, obj, kw in prompts]}, f, indent=1)
        return result
    finally:
        src.close()
