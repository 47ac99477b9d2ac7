#!/usr/bin/python3
"""Prints the INT8-vs-FP32 tables of docs/performance.md from the runs bench/int8_doc.sh made:
    int8_table.py suite|clips|drift RUNS_ROOT VARIANTS BUNDLES_ROOT
RUNS_ROOT/fp32/<clip>/ and RUNS_ROOT/<variant>/<clip>/ hold `katana track --masks` outputs and
RUNS_ROOT/<variant>/<clip>.against.json the `katana eval --against` report. A variant whose
clips are not all there yet is reported over the clips it has, and says so."""
import json
import os
import sys

import numpy as np
from PIL import Image

what, root, variants, bdir = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
MODS = ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder")


def present(path):
    with open(path) as f:
        return [json.loads(l)["present"] for l in f if l.strip()]


def iou(pa, pb):
    if not (os.path.exists(pa) and os.path.exists(pb)):
        return float("nan")
    a, b = np.asarray(Image.open(pa)) > 0, np.asarray(Image.open(pb)) > 0
    u = np.logical_or(a, b).sum()
    return 1.0 if u == 0 else float(np.logical_and(a, b).sum()) / float(u)


def precision(v):
    path = os.path.join(bdir, v, "katana.json")
    if not os.path.exists(path):
        return "?"
    with open(path) as f:
        m = json.load(f)["modules"]
    return ",".join(k for k in MODS if m[k].get("precision") == "int8") or "none"


clips = sorted(os.listdir(os.path.join(root, "fp32")))
if what == "drift":
    print("| variant | int8 modules | mask IoU @10 | @100 | @999 | mean (all frames) | same presence |")
    print("|---|---|---|---|---|---|---|")
else:
    print("| variant | int8 modules | clips | frames | mean mask IoU vs FP32 | worst clip | "
          "same presence | bar (IoU >= 0.98, presence >= 99%) |")
    print("|---|---|---|---|---|---|---|---|")
for v in variants:
    done = [c for c in clips if os.path.exists(os.path.join(root, v, c + ".against.json"))]
    if not done:
        print(f"| {v} | {precision(v)} | 0 | - | not run | | | |")
        continue
    tot_iou = tot_n = agree = frames = 0
    worst = 1.0
    at = {}
    for c in done:
        a, b = os.path.join(root, v, c), os.path.join(root, "fp32", c)
        with open(a + ".against.json") as f:
            cmp = json.load(f)["comparisons"][0]
        worst = min(worst, cmp["mean_mask_iou"])
        tot_iou += cmp["mean_mask_iou"] * cmp["mask_frames"]
        tot_n += cmp["mask_frames"]
        pa, pb = present(os.path.join(a, "results.jsonl")), present(os.path.join(b, "results.jsonl"))
        n = min(len(pa), len(pb))
        agree += sum(1 for i in range(n) if pa[i] == pb[i])
        frames += n
        if what == "drift":
            for k in (10, 100, 999):
                at[k] = iou(os.path.join(a, "masks", "%05d.png" % k),
                            os.path.join(b, "masks", "%05d.png" % k))
    mean = tot_iou / tot_n if tot_n else float("nan")
    same = agree / frames if frames else float("nan")
    if what == "drift":
        print(f"| {v} | {precision(v)} | {at[10]:.4f} | {at[100]:.4f} | {at[999]:.4f} | "
              f"{mean:.4f} | {100 * same:.1f}% |")
    else:
        ok = "pass" if mean >= 0.98 and same >= 0.99 else "fail"
        part = "" if len(done) == len(clips) else f" (of {len(clips)})"
        print(f"| {v} | {precision(v)} | {len(done)}{part} | {frames} | {mean:.4f} | {worst:.4f} | "
              f"{100 * same:.1f}% | {ok} |")
