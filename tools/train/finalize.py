"""python3 tools/train/finalize.py TRAIN_CHECKPOINT OUT.pt

Writes the release checkpoint of a training run: the state dict under "model" (as the official
checkpoints are laid out) with floating-point tensors stored as FP16, plus the config name, seed
and step; the optimizer state is dropped. Export it with `katana_export --fp16-storage`."""

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))

from katana_export.halfstore import half_state_dict  # noqa: E402


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src = torch.load(argv[0], map_location="cpu")
    out = {"model": half_state_dict(src["model"]), "config": src.get("config"),
           "seed": src.get("seed"), "step": src.get("step"),
           "phases_done": src.get("phases_done")}
    torch.save(out, argv[1])
    print("finalize: %s (%d tensors, step %s) -> %s (%.1f MB)"
          % (argv[0], len(out["model"]), out["step"], argv[1], os.path.getsize(argv[1]) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
