"""katana bundle exporter CLI.

  /usr/bin/python3 -m katana_export --model efficienttam_ti_512 --checkpoint X.pt --out bundle/
  /usr/bin/python3 -m katana_export --model micro_efficienttam --random-init --seed 1 --out b/
      [--fp16 | --fp16-storage] [--fixed-memory N] [--no-verify] [--atol A] [--rtol R]
  /usr/bin/python3 -m katana_export verify BUNDLE [--checkpoint X.pt | --random-init --seed N]

Verify passes an output when max|ort - torch| <= atol + rtol * max|torch| (defaults 1e-4 and 1e-3,
reasoning in verify.py) and prints max_abs, max|ref|, rel and the bound for every output.
"""

import argparse
import json
import os
import sys
import time

import torch

from . import bundle as B
from . import export as E
from . import verify as V
from .modelsrc import config_entry, family_of, load_model


def _export(args):
    t0 = time.time()
    torch.set_num_threads(max(1, args.threads))
    model, name = load_model(args.model, args.checkpoint, args.seed if args.random_init else None)
    cfg = config_entry(name)
    if args.fp16_storage:
        from .halfstore import round_weights
        round_weights(model)
    os.makedirs(args.out, exist_ok=True)
    specs, consts, stats = E.export_modules(model, args.out, fixed_memory=args.fixed_memory,
                                            fp16=args.fp16, fp16_storage=args.fp16_storage,
                                            format_version=args.format_version)
    man = B.write_manifest(args.out, model, name, family_of(name, cfg), specs, consts, cfg=cfg,
                           fixed_tokens=args.fixed_memory, fp16=args.fp16,
                           format_version=args.format_version)
    export_s = time.time() - t0
    print("export: %s -> %s in %.1f s" % (name, args.out, export_s))
    report = {"config": name, "export_s": round(export_s, 2), "modules": stats,
              "seed": args.seed if args.random_init else None,
              "checkpoint": args.checkpoint, "format_version": args.format_version}
    if not args.no_verify:
        res = V.verify_bundle(args.out, model, seed=args.seed or 0, threads=args.threads,
                              reference=args.reference, atol=args.atol, rtol=args.rtol)
        report["verify"] = res
        print("verify: OK in %.1f s" % res["verify_s"])
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
    del man
    return 0


def _verify(args):
    man = B.load_manifest(args.bundle)
    if args.checkpoint is None and not args.random_init:
        raise SystemExit("verify needs --checkpoint or --random-init --seed N (the weights the "
                         "bundle was exported from)")
    torch.set_num_threads(max(1, args.threads))
    model, _ = load_model(man["config"], args.checkpoint, args.seed if args.random_init else None)
    res = V.verify_bundle(args.bundle, model, seed=args.seed or 0, threads=args.threads,
                          reference=args.reference, atol=args.atol, rtol=args.rtol)
    print("verify: OK in %.1f s" % res["verify_s"])
    if args.report:
        with open(args.report, "w") as f:
            json.dump(res, f, indent=2)
    return 0


def _tol(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text)
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0, got %r" % text)
    return v


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--checkpoint", help="official .pt checkpoint")
    common.add_argument("--random-init", action="store_true", help="seeded random weights")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--threads", type=int, default=2)
    common.add_argument("--report", help="write timings / numbers as JSON here")
    common.add_argument("--reference", action="store_true", help="verify: also compare the "
                        "wrappers with the model's own code paths on big models (always on micro)")
    common.add_argument("--atol", type=_tol, default=V.ATOL_FP32, metavar="A",
                        help="verify: absolute part of the bound max_abs <= A + R * max|ref| "
                        "(default %(default)g)")
    common.add_argument("--rtol", type=_tol, default=V.RTOL_FP32, metavar="R",
                        help="verify: relative part, scaled by each output's max|ref| over the "
                        "case (default %(default)g); FP16 bundles only report")
    if argv and argv[0] == "verify":
        p = argparse.ArgumentParser(prog="katana_export verify", parents=[common])
        p.add_argument("bundle")
        args = p.parse_args(argv[1:])
        return _refused(_verify, args, "katana_export verify")
    p = argparse.ArgumentParser(prog="katana_export", parents=[common],
                                description="export a katana bundle (docs/bundle-format.md)")
    p.add_argument("--model", required=True, help="config name, e.g. efficienttam_ti_512x512")
    p.add_argument("--out", required=True, help="bundle folder")
    p.add_argument("--fp16-storage", action="store_true",
                   help="round the weights to FP16 values and store them as FP16 (half the "
                   "file size); compute stays FP32")
    p.add_argument("--fp16", action="store_true", help="FP16 weights/compute (LN, Softmax, "
                   "attention scores kept FP32)")
    p.add_argument("--fixed-memory", type=int, default=None, metavar="N",
                   help="also export memory_attention_fixed.onnx with M = N tokens")
    p.add_argument("--format-version", type=int, choices=(1, 2), default=B.FORMAT_VERSION,
                   help="bundle format to write (default %(default)s; 1 has no mask input on the "
                   "mask decoder and exists for tests of readers that refuse mask prompts)")
    p.add_argument("--no-verify", action="store_true")
    args = p.parse_args(argv)
    if (args.checkpoint is None) == (not args.random_init):
        p.error("give exactly one of --checkpoint and --random-init")
    return _refused(_export, args, "katana_export")


def _refused(fn, args, prog):
    """Runs fn(args); a refused verify or an unreadable bundle prints one line (no traceback)
    on stderr and gives exit status 1."""
    try:
        return fn(args)
    except (V.VerifyError, ValueError, OSError) as e:
        msg = "; ".join(x.strip() for x in str(e).splitlines() if x.strip())
        print("%s: error: %s" % (prog, msg), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
