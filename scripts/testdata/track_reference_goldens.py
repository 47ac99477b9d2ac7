"""Runs engineer B's Python reference tracker (tools/reference/katana_reference, PyTorch backend)
on a clip with the seeded micro bundle's weights and writes its goldens, for the C tracker's
parity test (tests/test_tracker.c).

usage: track_reference_goldens.py BUNDLE_DIR SEED FRAMES_DIR X,Y,W,H OUT_DIR SELECTION
                                  [--min-obj-score-logits V]

The model is rebuilt from its config with the seed the bundle was exported with (the manifest
does not record the seed, so TorchBackend.from_bundle alone would build other weights).
"""
import json
import os
import sys

from katana_export.models import build_model
from katana_reference.backends import TorchBackend
from katana_reference.run import track


def main(argv):
    if len(argv) not in (6, 8) or (len(argv) == 8 and argv[6] != "--min-obj-score-logits"):
        sys.exit(__doc__)
    bundle, seed, frames, box, out, selection = argv[:6]
    samurai = {"min_obj_score_logits": float(argv[7])} if len(argv) == 8 else None
    with open(os.path.join(bundle, "katana.json")) as f:
        config = json.load(f)["config"]
    backend = TorchBackend(build_model(config, int(seed)))
    box = [float(v) for v in box.split(",")]
    track(backend, frames, box, out_dir=out, selection=selection, samurai=samurai,
          write_pngs=True)


if __name__ == "__main__":
    main(sys.argv[1:])
