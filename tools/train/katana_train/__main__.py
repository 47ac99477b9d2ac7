"""python3 -m katana_train --data DIR --config CONFIG --out DIR [--seg-minutes A] [--minutes B]

Trains from scratch on the clips under --data (made by `katana synth --suite train`) in two
phases: box-prompted segmentation of batches of single frames (the conditioning-frame path, cheap)
for --seg-minutes, then tracking of --clip-len frame windows (box prompt on the first frame,
memory attention and memory encoder on the rest) for --minutes. Checkpoints are saved as the
official files are laid out (a dict with the state dict under "model") to OUT/checkpoint.pt every
--save-every seconds and at the end; OUT/train_log.jsonl gets one line per step. A rerun with
--resume continues from the checkpoint (phase and step are stored in it). Reproducible by seed for
the same time budget and machine speed (the schedules follow the clock).
"""

import os

# BLAS threads must be set before numpy/torch load OpenBLAS; torch's own pool is set below.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "export"))

from katana_export.export import make_wrappers  # noqa: E402
from katana_export.models import build_model, load_checkpoint  # noqa: E402

from .data import Clip, jitter_box, list_clips, normalise, sample_window  # noqa: E402
from .loop import seg_batch, track_clip  # noqa: E402


def schedule(base, step_in_phase, frac):
    """Linear warm-up over 50 steps, then cosine from base to base/10 over the phase's time."""
    warm = min(1.0, (step_in_phase + 1) / 50.0)
    return base * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="katana_train")
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True, help="config name or JSON file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seg-minutes", type=float, default=15.0)
    ap.add_argument("--minutes", type=float, default=60.0, help="tracking phase")
    ap.add_argument("--max-steps", type=int, default=1000000, help="per phase")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8, help="frames per segmentation step")
    ap.add_argument("--clip-len", type=int, default=8)
    ap.add_argument("--accum", type=int, default=1, help="clips per tracking step")
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--box-noise", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=float, default=300.0, help="seconds")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", help="start from this checkpoint's weights (fresh optimizer)")
    ap.add_argument("--mem-lr-mult", type=float, default=1.0,
                    help="learning-rate factor of the memory path (memory attention, memory "
                    "encoder, temporal encodings, pointer projection)")
    ap.add_argument("--gt-mem-prob", type=float, default=0.0,
                    help="teacher forcing at the start of tracking, decaying linearly to 0 at "
                    "60%% of the phase")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    model = build_model(args.config, seed=args.seed)
    ckpt = os.path.join(args.out, "checkpoint.pt")
    state = None
    if args.resume and os.path.exists(ckpt):
        state = torch.load(ckpt, map_location="cpu")
        load_checkpoint(model, state)
    if args.init and state is None:
        load_checkpoint(model, torch.load(args.init, map_location="cpu"))
    mods, consts = make_wrappers(model)
    wrappers = (mods["image_encoder"], mods["memory_attention"], mods["mask_decoder"],
                mods["memory_encoder"])
    model.train()
    for m in wrappers:
        m.train()
    mem_prefixes = ("memory_attention.", "memory_encoder.", "maskmem_tpos_enc", "obj_ptr_proj.",
                    "no_obj_ptr", "mask_downsample.")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    groups = [{"params": [p for n, p in named if not n.startswith(mem_prefixes)], "mult": 1.0},
              {"params": [p for n, p in named if n.startswith(mem_prefixes)],
               "mult": args.mem_lr_mult}]
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.01)
    if state is not None and "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    S = int(model.image_size)
    clips = [Clip(d, S) for d in list_clips(args.data)]
    frames = [(c, t) for c in clips for t in range(c.n) if c.box_at_model_size(t) is not None]
    log = open(os.path.join(args.out, "train_log.jsonl"), "a")
    phases = [("seg", args.seg_minutes), ("track", args.minutes)]
    done = state.get("phases_done", []) if state else []
    step = int(state.get("step", 0)) if state else 0
    last_save = time.time()

    def save(phases_done):
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                    "config": args.config, "seed": args.seed, "phases_done": phases_done}, ckpt)

    t_start = time.time()
    for phase, minutes in phases:
        if phase in done or minutes <= 0:
            continue
        t0 = time.time()
        t_end = t0 + minutes * 60
        k = 0
        ema = None
        while time.time() < t_end and k < args.max_steps:
            frac = (time.time() - t0) / max(1.0, t_end - t0)
            lr = schedule(args.lr, k, frac)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("mult", 1.0)
            gt_mem = args.gt_mem_prob * max(0.0, 1.0 - frac / 0.6)
            opt.zero_grad()
            if phase == "seg":
                pick = [rng.choice(frames) for _ in range(args.batch)]
                images = torch.cat([normalise(c.image_u8(t)) for c, t in pick])
                boxes = [jitter_box(c.box_at_model_size(t), rng, args.box_noise) for c, t in pick]
                gts = [c.mask(t) for c, t in pick]
                loss, ious = seg_batch(wrappers, model, images, boxes, gts)
                loss.backward()
                loss_v, miou = float(loss), sum(ious) / len(ious)
            else:
                loss_v, iou_sum, n_iou = 0.0, 0.0, 0
                for _ in range(args.accum):
                    clip = rng.choice(clips)
                    start = sample_window(clip, args.clip_len, rng)
                    if start is None:
                        continue
                    box = jitter_box(clip.box_at_model_size(start), rng, args.box_noise)
                    loss, ious = track_clip(wrappers, consts, model, clip, start, args.clip_len,
                                            box=box, gt_mem_prob=gt_mem, rng=rng)
                    (loss / args.accum).backward()
                    loss_v += float(loss) / args.accum
                    iou_sum += sum(ious[1:])
                    n_iou += len(ious) - 1
                miou = iou_sum / max(1, n_iou)
            torch.nn.utils.clip_grad_norm_(params, 0.1)
            opt.step()
            step += 1
            k += 1
            ema = miou if ema is None else 0.98 * ema + 0.02 * miou
            rec = {"phase": phase, "step": step, "loss": round(loss_v, 5), "miou": round(miou, 4),
                   "miou_ema": round(ema, 4), "lr": lr, "elapsed_s": round(time.time() - t_start, 1)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if k % 25 == 0:
                print(json.dumps(rec), flush=True)
            if time.time() - last_save > args.save_every:
                save(done)
                last_save = time.time()
        done = done + [phase]
        save(done)
    print(f"katana_train: {step} steps in {time.time() - t_start:.0f} s; saved {ckpt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
