"""python3 -m katana_train (--data DIR | --gen SEED) --config CONFIG --out DIR
                          [--seg-minutes A] [--minutes B] [--device auto|cpu|cuda]

Trains on the clips under --data (made by `katana synth --suite train`) or on clips generated on
the fly by katana_train.gen (--gen SEED, deterministic by seed) in two phases: box-prompted
segmentation of batches of single frames (the conditioning-frame path, cheap) for --seg-minutes,
then tracking of --clip-len frame windows (box prompt on the first frame, memory attention and
memory encoder on the rest, optionally with correction clicks, memory from the model's own
detached masks and a weighted object-score loss on absent frames) for --minutes; --seg-mix puts
that share of segmentation steps into the tracking phase too.

Resumable: OUT/checkpoint.pt holds the weights (under "model", as the official files are laid
out), the optimizer, the step, each phase's elapsed seconds, the CPU seconds spent, the Python and
torch RNG states and the generator's clip counter. It is written atomically every --save-every
seconds, at the end of each phase and on SIGTERM/SIGINT (the run then exits 0 after the current
step). A rerun with --resume continues where it stopped; the learning-rate schedules follow the
phase's accumulated time, so one phase may span several sessions. --resume also accepts a packed
state (tools/train/finalize.py --with-optimizer: FP16 weights, BF16 second moments). Every save
also writes OUT/snapshots/step-NNNNNN.pt (FP16 weights) for the learning curve.
OUT/train_log.jsonl gets one line per step. Runs unchanged on a CUDA device (--device cuda).
"""

import os

# BLAS threads must be set before numpy/torch load OpenBLAS; torch's own pool is set below.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "export"))

from katana_export.export import make_wrappers  # noqa: E402
from katana_export.models import build_model, load_checkpoint  # noqa: E402

from .data import Clip, jitter_box, list_clips, normalise, sample_window  # noqa: E402
from .gen import ClipStream  # noqa: E402
from .loop import seg_batch, track_clip  # noqa: E402


def schedule(base, step_in_phase, frac):
    """Linear warm-up over 50 steps, then cosine from base to base/10 over the phase's time."""
    warm = min(1.0, (step_in_phase + 1) / 50.0)
    return base * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def _half_model(state_dict):
    return {k: (v.detach().to("cpu").half() if v.is_floating_point() else v.detach().to("cpu"))
            for k, v in state_dict.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="katana_train")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder of clips made by katana synth")
    src.add_argument("--gen", type=int, help="generate clips on the fly from this seed")
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
    ap.add_argument("--detach-mem", action="store_true",
                    help="memory from the model's own masks, detached (SAM 2's recipe)")
    ap.add_argument("--click-prob", type=float, default=0.0,
                    help="chance of a correction click on a wrongly tracked frame")
    ap.add_argument("--absent-weight", type=float, default=1.0,
                    help="object-score loss weight on frames without the target")
    ap.add_argument("--seg-mix", type=float, default=0.0,
                    help="share of segmentation steps during the tracking phase")
    ap.add_argument("--mix-data", help="with --gen: also draw from these katana synth clips")
    ap.add_argument("--mix-prob", type=float, default=0.25,
                    help="share of steps drawn from --mix-data")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    args = ap.parse_args(argv)

    dev = args.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(dev)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(os.path.join(args.out, "snapshots"), exist_ok=True)
    model = build_model(args.config, seed=args.seed)
    ckpt = os.path.join(args.out, "checkpoint.pt")
    state = None
    if args.resume and os.path.exists(ckpt):
        state = torch.load(ckpt, map_location="cpu")
        load_checkpoint(model, {"model": {k: v.float() if v.is_floating_point() else v
                                          for k, v in state["model"].items()}})
    if args.init and state is None:
        load_checkpoint(model, torch.load(args.init, map_location="cpu"))
    model.to(dev)
    mods, consts = make_wrappers(model)
    consts = {k: v.to(dev) for k, v in consts.items()}
    wrappers = tuple(mods[n].to(dev) for n in ("image_encoder", "memory_attention",
                                                 "mask_decoder", "memory_encoder"))
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
        for st in state["optimizer"]["state"].values():
            if "exp_avg_sq" in st and "exp_avg" not in st:  # a packed state (finalize.py)
                st["exp_avg"] = torch.zeros_like(st["exp_avg_sq"])
        opt.load_state_dict(state["optimizer"])  # casts moments to the parameters' dtype/device
    S = int(model.image_size)
    stream = None
    if args.gen is not None:
        stream = ClipStream(args.gen, S, max(args.clip_len, args.batch))
        clips, frames = None, None
    if args.mix_data or args.data:
        clips = [Clip(d, S) for d in list_clips(args.mix_data or args.data)]
        frames = [(c, t) for c in clips for t in range(c.n) if c.box_at_model_size(t) is not None]
    if state is not None:
        if "py_rng" in state:
            rng.setstate(state["py_rng"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        if stream is not None:
            stream.index = int(state.get("gen_index", 0))
    log = open(os.path.join(args.out, "train_log.jsonl"), "a")
    phases = [("seg", args.seg_minutes), ("track", args.minutes)]
    done = list(state.get("phases_done", [])) if state else []
    step = int(state.get("step", 0)) if state else 0
    elapsed = dict(state.get("phase_elapsed", {})) if state else {}
    phase_steps = dict(state.get("phase_steps", {})) if state else {}
    if state is not None and "phase_steps" not in state:
        phase_steps = {p: 50 for p in elapsed}  # an older state: its phases are warmed up
    cpu_base = float(state.get("cpu_s", 0.0)) if state else 0.0
    cpu0 = time.process_time()
    stop = {"sig": None}

    def on_signal(signum, frame):
        stop["sig"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def cpu_s():
        return cpu_base + time.process_time() - cpu0

    def save(phases_done):
        st = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
              "config": args.config, "seed": args.seed, "phases_done": phases_done,
              "phase_elapsed": elapsed, "phase_steps": phase_steps, "cpu_s": cpu_s(), "py_rng": rng.getstate(),
              "torch_rng": torch.get_rng_state(),
              "gen_index": stream.index if stream is not None else 0,
              "args": vars(args)}
        tmp = ckpt + ".tmp"
        torch.save(st, tmp)
        os.replace(tmp, ckpt)
        snap = os.path.join(args.out, "snapshots", "step-%06d.pt" % step)
        torch.save({"model": _half_model(model.state_dict()), "config": args.config,
                    "step": step, "cpu_s": cpu_s()}, snap)

    def use_stream():
        if stream is None:
            return False
        return clips is None or rng.random() >= args.mix_prob

    def seg_step():
        if use_stream():
            c = stream.next()
            pick = [(c, t) for t in range(c.n) if c.box_at_model_size(t) is not None]
            rng.shuffle(pick)
            pick = pick[:args.batch]
            if not pick:
                return None
        else:
            pick = [rng.choice(frames) for _ in range(args.batch)]
        images = torch.cat([normalise(c.image_u8(t)) for c, t in pick]).to(dev)
        boxes = [jitter_box(c.box_at_model_size(t), rng, args.box_noise) for c, t in pick]
        gts = [c.mask(t).to(dev) for c, t in pick]
        loss, ious = seg_batch(wrappers, model, images, boxes, gts)
        loss.backward()
        return float(loss), sum(ious) / len(ious)

    def track_step(gt_mem):
        loss_v, iou_sum, n_iou = 0.0, 0.0, 0
        for _ in range(args.accum):
            clip = stream.next() if use_stream() else rng.choice(clips)
            start = sample_window(clip, args.clip_len, rng)
            if start is None:
                continue
            box = jitter_box(clip.box_at_model_size(start), rng, args.box_noise)
            loss, ious = track_clip(wrappers, consts, model, clip, start, args.clip_len, box=box,
                                    gt_mem_prob=gt_mem, rng=rng, absent_weight=args.absent_weight,
                                    click_prob=args.click_prob, detach_mem=args.detach_mem)
            (loss / args.accum).backward()
            loss_v += float(loss) / args.accum
            iou_sum += sum(ious[1:])
            n_iou += len(ious) - 1
        if n_iou == 0:
            return None
        return loss_v, iou_sum / n_iou

    t_start = time.time()
    last_save = time.time()
    for phase, minutes in phases:
        budget = minutes * 60
        if phase in done and phase not in elapsed:
            continue  # a checkpoint from before phase times were stored
        if minutes <= 0 or elapsed.get(phase, 0.0) >= budget:
            continue
        k = 0
        ema = None
        while elapsed.get(phase, 0.0) < budget and k < args.max_steps and stop["sig"] is None:
            t_step = time.time()
            frac = elapsed.get(phase, 0.0) / max(1.0, budget)
            # Warm-up counts the phase's steps over all sessions, so a resumed run keeps its rate.
            lr = schedule(args.lr, phase_steps.get(phase, 0), frac)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("mult", 1.0)
            gt_mem = args.gt_mem_prob * max(0.0, 1.0 - frac / 0.6)
            opt.zero_grad()
            kind = phase
            if phase == "track" and args.seg_mix > 0 and rng.random() < args.seg_mix:
                kind = "seg"
            r = seg_step() if kind == "seg" else track_step(gt_mem)
            if r is None:
                continue
            loss_v, miou = r
            torch.nn.utils.clip_grad_norm_(params, 0.1)
            opt.step()
            step += 1
            k += 1
            phase_steps[phase] = phase_steps.get(phase, 0) + 1
            elapsed[phase] = elapsed.get(phase, 0.0) + time.time() - t_step
            if kind == phase:
                ema = miou if ema is None else 0.98 * ema + 0.02 * miou
            rec = {"phase": phase, "kind": kind, "step": step, "loss": round(loss_v, 5),
                   "miou": round(miou, 4), "miou_ema": round(ema or 0.0, 4), "lr": lr,
                   "elapsed_s": round(time.time() - t_start, 1),
                   "phase_s": round(elapsed[phase], 1), "cpu_s": round(cpu_s(), 1)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if k % 25 == 0:
                print(json.dumps(rec), flush=True)
            if time.time() - last_save > args.save_every:
                save(done)
                last_save = time.time()
        if stop["sig"] is not None:
            save(done)
            print(f"katana_train: signal {stop['sig']}: saved {ckpt} at step {step}", flush=True)
            return 0
        if phase not in done:
            done = done + [phase]
        save(done)
    print(f"katana_train: {step} steps in {time.time() - t_start:.0f} s; saved {ckpt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
