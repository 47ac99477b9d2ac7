"""python3 tools/train/finalize.py TRAIN_CHECKPOINT OUT.pt [--with-optimizer]

Writes the release checkpoint of a training run: the state dict under "model" (as the official
checkpoints are laid out) with floating-point tensors stored as FP16, plus the config name, seed
and step; the optimizer state is dropped. Export it with `katana_export --fp16-storage`.

With --with-optimizer it writes a packed resumable state instead (for committing a run that a
later session continues with `katana_train --resume`: copy it to OUT_DIR/checkpoint.pt): FP16
weights, AdamW's second moments as BF16 (FP16 would flush small second moments to zero, and a
zero second moment turns the next Adam step into a huge one) and the step, phase times, CPU
seconds, RNG states and generator counter unchanged. The first moments are dropped to halve the
size (16 MB instead of 32 MB for 8 M parameters): with beta1 = 0.9 the trainer rebuilds them
from zero in about ten steps, while the second moments (beta2 = 0.999) would take a thousand.
The trainer casts everything back to FP32 on load.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))

from katana_export.halfstore import half_state_dict  # noqa: E402

KEEP = ("config", "seed", "step", "phases_done", "phase_elapsed", "phase_steps", "cpu_s", "py_rng",
        "torch_rng", "gen_index", "args")


def pack_optimizer(opt_state):
    out = {"param_groups": opt_state["param_groups"], "state": {}}
    for k, st in opt_state["state"].items():
        out["state"][k] = {n: (v.to(torch.bfloat16) if torch.is_tensor(v) and v.is_floating_point()
                               and v.dim() > 0 else v) for n, v in st.items() if n != "exp_avg"}
    return out


def main(argv):
    with_opt = "--with-optimizer" in argv
    argv = [a for a in argv if a != "--with-optimizer"]
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src = torch.load(argv[0], map_location="cpu")
    out = {"model": half_state_dict(src["model"])}
    for k in KEEP:
        if k in src:
            out[k] = src[k]
    if with_opt and "optimizer" in src:
        out["optimizer"] = pack_optimizer(src["optimizer"])
    torch.save(out, argv[1])
    print("finalize: %s (%d tensors, step %s%s) -> %s (%.1f MB)"
          % (argv[0], len(out["model"]), out.get("step"),
             ", with optimizer" if "optimizer" in out else "", argv[1],
             os.path.getsize(argv[1]) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
