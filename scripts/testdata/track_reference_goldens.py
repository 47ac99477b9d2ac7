"""Runs engineer B's Python reference tracker (tools/reference/katana_reference, PyTorch backend)
on the synthetic clip with the seeded micro bundle's weights and writes its goldens, for the C
tracker's parity test (tests/test_tracker.c).

usage: track_reference_goldens.py BUNDLE_DIR SEED CLIP_DIR OUT_DIR SELECTION

The model is rebuilt from its config with the seed the bundle was exported with (the manifest
does not record the seed, so TorchBackend.from_bundle alone would build other weights).
"""
import json
import os
import sys

from katana_export.models import build_model
from katana_reference.backends import TorchBackend
from katana_reference.run import track


def main(bundle, seed, clip, out, selection):
    with open(os.path.join(bundle, "katana.json")) as f:
        config = json.load(f)["config"]
    backend = TorchBackend(build_model(config, int(seed)))
    with open(os.path.join(clip, "groundtruth.txt")) as f:
        box = [float(v) for v in f.readline().strip().split(",")]
    track(backend, clip, box, out_dir=out, selection=selection, write_pngs=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
