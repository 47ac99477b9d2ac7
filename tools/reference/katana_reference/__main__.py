"""CLI: python3 -m katana_reference track --bundle DIR --frames DIR_OR_MP4 (--box x,y,w,h | --prompts FILE) --out OUT
[--selection samurai|sam2] [--backend torch|onnx] [--max-frames N] [--pngs]
[--seed N | --checkpoint X.pt] [--kf-score-weight W] ...;  python3 -m katana_reference synth OUT_DIR [--frames N]."""

import argparse
import os
import sys


def _ensure_paths():
    here = os.path.dirname(os.path.abspath(__file__))
    tools = os.path.dirname(os.path.dirname(here))
    for p in (os.path.join(tools, "export"), os.path.join(tools, "reference")):
        if p not in sys.path:
            sys.path.insert(0, p)


def main(argv=None):
    _ensure_paths()
    ap = argparse.ArgumentParser(prog="katana_reference")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("track", help="track a box and write goldens")
    t.add_argument("--bundle", required=True)
    t.add_argument("--frames", required=True)
    t.add_argument("--box", default=None, help="x,y,w,h in source pixels (frame 0)")
    t.add_argument("--prompts", default=None,
                   help="JSON prompt list (boxes, points, masks, several objects, later frames); "
                        "writes OUT/obj_<id>/ per object")
    t.add_argument("--out", required=True)
    t.add_argument("--selection", choices=["samurai", "sam2"], default="samurai")
    t.add_argument("--backend", choices=["torch", "onnx"], default="onnx")
    t.add_argument("--max-frames", type=int, default=None)
    t.add_argument("--pngs", action="store_true", help="also write output mask PNGs")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--seed", type=int, default=None,
                   help="torch backend: seeded random init (default: the exporter's record)")
    t.add_argument("--checkpoint", default=None, help="torch backend: weights file")
    t.add_argument("--threads", type=int, default=1, help="onnx backend: intra-op threads")
    for k in ("stable_frames_threshold", "stable_ious_threshold", "min_obj_score_logits",
              "kf_score_weight", "memory_bank_iou_threshold", "memory_bank_obj_score_threshold",
              "memory_bank_kf_score_threshold"):
        t.add_argument("--" + k.replace("_", "-"), type=float, default=None, dest=k)
    s = sub.add_parser("synth", help="write the synthetic test clip (PNG frames + groundtruth)")
    s.add_argument("out")
    s.add_argument("--frames", type=int, default=30)
    s.add_argument("--ext", choices=["png", "jpg"], default="png")
    a = ap.parse_args(argv)
    if a.cmd == "synth":
        from .synth import write_clip
        write_clip(a.out, a.frames, ext=a.ext)
        return 0
    from .run import make_backend, read_prompts, track, track_prompts
    if (a.box is None) == (a.prompts is None):
        ap.error("give exactly one of --box and --prompts")
    box = prompts = None
    if a.box is not None:
        box = [float(v) for v in a.box.split(",")]
        if len(box) != 4:
            ap.error("--box needs x,y,w,h")
    else:
        try:
            prompts = read_prompts(a.prompts)
        except (OSError, ValueError) as e:
            ap.error(str(e))
    samurai = {k: getattr(a, k) for k in ("stable_frames_threshold", "stable_ious_threshold",
                                         "min_obj_score_logits", "kf_score_weight",
                                         "memory_bank_iou_threshold",
                                         "memory_bank_obj_score_threshold",
                                         "memory_bank_kf_score_threshold")
               if getattr(a, k) is not None}
    if "stable_frames_threshold" in samurai:
        samurai["stable_frames_threshold"] = int(samurai["stable_frames_threshold"])
    backend = make_backend(a.backend, a.bundle, a.seed, a.checkpoint, a.threads)

    def log(r):
        if not a.quiet:
            print("frame %d%s chosen %d score %.4f present %d box %s" % (
                r["frame"], "" if "obj" not in r else " obj %d" % r["obj"], r["chosen"],
                r["obj_score"], r["present"], r["box_xywh"]), file=sys.stderr)

    if prompts is not None:
        try:
            track_prompts(backend, a.frames, prompts, a.out, a.selection, samurai,
                          a.max_frames, a.pngs, log)
        except (NotImplementedError, ValueError) as e:
            print("katana_reference: %s" % e, file=sys.stderr)
            return 2
        return 0
    track(backend, a.frames, box, a.out, a.selection, samurai, a.max_frames, a.pngs, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
