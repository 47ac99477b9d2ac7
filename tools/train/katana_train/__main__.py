"""python3 -m katana_train --data DIR --config CONFIG --out DIR [--minutes M] [--seed S]

Trains from scratch on the clips under --data (made by `katana synth --suite train`), saving
checkpoints as the official files are laid out (a dict with the state dict under "model") to
OUT/checkpoint.pt, plus OUT/train_log.jsonl with one line per step.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "export"))

from katana_export.export import make_wrappers  # noqa: E402
from katana_export.models import build_model, load_checkpoint  # noqa: E402

from .data import Clip, list_clips, sample_window  # noqa: E402
from .loop import track_clip  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(prog="katana_train")
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True, help="config name or JSON file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--max-steps", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip-len", type=int, default=8)
    ap.add_argument("--accum", type=int, default=2, help="clips per optimizer step")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    model = build_model(args.config, seed=args.seed)
    ckpt = os.path.join(args.out, "checkpoint.pt")
    step0 = 0
    if args.resume and os.path.exists(ckpt):
        state = torch.load(ckpt, map_location="cpu")
        load_checkpoint(model, state)
        step0 = int(state.get("step", 0))
    mods, consts = make_wrappers(model)
    wrappers = (mods["image_encoder"], mods["memory_attention"], mods["mask_decoder"],
                mods["memory_encoder"])
    model.train()
    for m in wrappers:
        m.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    clips = [Clip(d, int(model.image_size)) for d in list_clips(args.data)]
    log = open(os.path.join(args.out, "train_log.jsonl"), "a")
    t_end = time.time() + args.minutes * 60
    step = step0
    t0 = time.time()
    while time.time() < t_end and step < args.max_steps:
        # linear warm-up over 100 steps, then cosine over the time budget
        frac = min(1.0, (time.time() - t0) / max(1.0, t_end - t0))
        lr = args.lr * min(1.0, (step - step0 + 1) / 100.0) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss_sum, iou_sum, n_iou = 0.0, 0.0, 0
        for _ in range(args.accum):
            clip = rng.choice(clips)
            start = sample_window(clip, args.clip_len, rng)
            if start is None:
                continue
            loss, ious = track_clip(wrappers, consts, model, clip, start, args.clip_len)
            (loss / args.accum).backward()
            loss_sum += float(loss)
            iou_sum += sum(ious)
            n_iou += len(ious)
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        opt.step()
        step += 1
        rec = {"step": step, "loss": loss_sum / args.accum, "miou": iou_sum / max(1, n_iou),
               "lr": lr, "elapsed_s": round(time.time() - t0, 1)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if step % 25 == 0:
            print(json.dumps(rec), flush=True)
        if step % 100 == 0:
            torch.save({"model": model.state_dict(), "step": step, "config": args.config}, ckpt)
    torch.save({"model": model.state_dict(), "step": step, "config": args.config}, ckpt)
    print(f"katana_train: {step - step0} steps in {time.time() - t0:.0f} s; saved {ckpt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
