"""Bundle verification: every ONNX module run with ONNX Runtime (ort.py) against the PyTorch
wrappers on seeded inputs; max_abs per output. FP32 bundles fail above TOL_FP32; FP16 bundles only
report. Also checks the manifest against the files (sha256, names, dtypes, shapes)."""

import os
import time

import numpy as np
import torch

from . import bundle as B
from . import export as E
from . import ort

TOL_FP32 = 1e-4


def _log(*a):
    print(*a, flush=True)


class VerifyError(RuntimeError):
    pass


def check_manifest(bundle_dir, man=None):
    """Hashes, file presence, and ONNX input/output names/dtypes/shapes vs the manifest."""
    man = man or B.load_manifest(bundle_dir)
    problems = []
    files = []
    for name, ent in man["modules"].items():
        files.append((ent["file"], ent["sha256"], name, ent))
        if ent.get("fixed_tokens"):
            files.append((ent["fixed_file"], ent["fixed_sha256"], name + "_fixed", None))
    files.append((man["constants"]["file"], man["constants"]["sha256"], "constants", None))
    for fname, sha, what, ent in files:
        path = os.path.join(bundle_dir, fname)
        if not os.path.isfile(path):
            problems.append("%s: missing %s" % (what, fname))
            continue
        if B.sha256_file(path) != sha:
            problems.append("%s: sha256 mismatch for %s" % (what, fname))
        if ent is not None:
            s = ort.Session(path)
            for kind, got in (("inputs", s.inputs), ("outputs", s.outputs)):
                want = ent[kind]
                gl = [(t.name, t.dtype, list(t.shape)) for t in got]
                wl = [(t["name"], t["dtype"], list(t["shape"])) for t in want]
                if gl != wl:
                    problems.append("%s %s: onnx %s != manifest %s" % (what, kind, gl, wl))
            s.close()
    size = os.path.getsize(os.path.join(bundle_dir, man["constants"]["file"]))
    end = 0
    for e in man["constants"]["entries"]:
        n = 4 * int(np.prod(e["shape"]))
        if e["offset"] != end:
            problems.append("constants: %s offset %d, expected %d" % (e["name"], e["offset"], end))
        end = e["offset"] + n
    if end != size:
        problems.append("constants: entries cover %d bytes, file has %d" % (end, size))
    return problems


def _cases(man, name, spec, seed):
    """(label, feeds) test cases for one module."""
    S = man["image_size"]
    fh, fw = man["feat_size"]
    hw = fh * fw
    rng = np.random.RandomState(seed)
    cases = []
    if name == "image_encoder":
        cases.append(("image", E.sample_inputs(spec, seed)))
    elif name.startswith("memory_attention"):
        fixed = man["modules"]["memory_attention"].get("fixed_tokens") if name.endswith("fixed") else None
        if fixed:
            combos = [(fixed, fixed % hw)]  # whole spatial frames, the rest pointer tokens
        else:
            # sizes other than the traced example (hw + 8); the big-model list is shorter
            # because PyTorch here runs on a generic BLAS (slow)
            combos = ([(hw + 4, 4), (2 * hw + 12, 12), (3 * hw + 16, 16), (hw, 0)]
                      if hw <= 256 else [(2 * hw + 12, 12)])
        for m, nptr in combos:
            f = E.sample_inputs(spec, seed + m, {"M": m})
            f["num_obj_ptr_tokens"] = np.array(nptr, dtype=np.int64)
            cases.append(("M=%d,ptr=%d" % (m, nptr), f))
    elif name == "mask_decoder":
        for label, coords, labels in (
                ("box", [[0.2 * S, 0.25 * S], [0.7 * S, 0.8 * S]], [2, 3]),
                ("none", [[0.0, 0.0]], [-1]),
                ("points", rng.uniform(0, S, size=(3, 2)).tolist(), [1, 0, 1])):
            f = E.sample_inputs(spec, seed, {"N": len(labels)})
            f["point_coords"] = np.array([coords], dtype=np.float32)
            f["point_labels"] = np.array([labels], dtype=np.int32)
            cases.append((label, f))
    elif name == "memory_encoder":
        for flag_v in (1.0, 0.0):
            f = E.sample_inputs(spec, seed)
            f["mask_logits"] = (4.0 * f["mask_logits"]).astype(np.float32)
            f["is_mask_from_pts"] = np.array([flag_v], dtype=np.float32)
            cases.append(("from_pts=%d" % flag_v, f))
    return cases


def verify_bundle(bundle_dir, model, seed=0, log=None, threads=1, modules=None, reference=False):
    """Returns a result dict; raises VerifyError on a manifest problem or an FP32 mismatch."""
    log = log or _log
    t_all = time.time()
    man = B.load_manifest(bundle_dir)
    problems = check_manifest(bundle_dir, man)
    if problems:
        raise VerifyError("manifest check failed:\n  " + "\n  ".join(problems))
    specs = E.describe(model, man["modules"]["memory_attention"].get("fixed_tokens"))
    wraps, consts = E.make_wrappers(model)
    fp16 = any(m.get("precision") == "fp16" for m in man["modules"].values())
    # constants vs the model
    stored = B.load_constants(bundle_dir, man)
    result = {"modules": {}, "constants_max_abs": 0.0, "fp16": fp16}
    for k, v in consts.items():
        if k not in stored:
            raise VerifyError("constants.bin lacks %s" % k)
        d = float(np.max(np.abs(stored[k] - v.numpy()))) if v.numel() else 0.0
        result["constants_max_abs"] = max(result["constants_max_abs"], d)
    if result["constants_max_abs"] != 0.0:
        raise VerifyError("constants.bin differs from the model (max_abs %g)"
                          % result["constants_max_abs"])
    failed = []
    small = man["feat_size"][0] * man["feat_size"][1] <= 256
    names = ["image_encoder", "memory_attention", "mask_decoder", "memory_encoder"]
    if man["modules"]["memory_attention"].get("fixed_tokens"):
        names.append("memory_attention_fixed")
    if modules is not None:
        names = [n for n in names if n in modules]
    for name in names:
        t0 = time.time()
        wname = "memory_attention" if name.startswith("memory_attention") else name
        fname = (man["modules"]["memory_attention"]["fixed_file"] if name.endswith("_fixed")
                 else man["modules"][name]["file"])
        sess = ort.Session(os.path.join(bundle_dir, fname), threads=threads)
        spec = specs[name]
        out_names = [t["name"] for t in spec["outputs"]]
        mod_res = {"outputs": {n: 0.0 for n in out_names}, "ref_max_abs": None, "cases": []}
        for label, feeds in _cases(man, name, spec, seed):
            got = sess.run(feeds)
            with torch.no_grad():
                args = E.to_torch_args(spec, feeds)
                want = wraps[wname](*args)
                if isinstance(want, torch.Tensor):
                    want = (want,)
                ref = None
                # the model's own path: wrapper == reference (micro models only: same code at
                # every size, and PyTorch here runs on a generic BLAS, so big models skip it)
                if hasattr(wraps[wname], "reference") and (small or reference):
                    try:
                        ref = wraps[wname].reference(*args)
                        if isinstance(ref, torch.Tensor):
                            ref = (ref,)
                    except Exception as e:  # report, do not hide
                        mod_res["ref_error"] = "%s: %s" % (type(e).__name__, e)
            for n, w in zip(out_names, want):
                w = w.numpy()
                if got[n].shape != w.shape:
                    raise VerifyError("%s/%s %s: ORT shape %s != torch %s"
                                      % (name, label, n, got[n].shape, w.shape))
                d = float(np.max(np.abs(got[n].astype(np.float64) - w)))
                mod_res["outputs"][n] = max(mod_res["outputs"][n], d)
            if ref is not None:
                rd = max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(want, ref))
                mod_res["ref_max_abs"] = max(mod_res["ref_max_abs"] or 0.0, rd)
            mod_res["cases"].append(label)
        sess.close()
        mod_res["max_abs"] = max(mod_res["outputs"].values())
        mod_res["verify_s"] = round(time.time() - t0, 2)
        result["modules"][name] = mod_res
        bad = (not fp16 and mod_res["max_abs"] > TOL_FP32) or (
            mod_res["ref_max_abs"] is not None and mod_res["ref_max_abs"] > TOL_FP32)
        if bad:
            failed.append(name)
        outs = " ".join("%s=%.3g" % kv for kv in mod_res["outputs"].items())
        ref_s = ("" if mod_res["ref_max_abs"] is None
                 else " | wrapper-vs-model %.3g" % mod_res["ref_max_abs"])
        log("verify: %-24s %s%s [%s] %.2f s%s" % (name, outs, ref_s, ",".join(mod_res["cases"]),
                                                 mod_res["verify_s"], "  FAIL" if bad else ""))
        if "ref_error" in mod_res:
            log("verify: %-24s model reference path failed: %s" % (name, mod_res["ref_error"]))
    result["verify_s"] = round(time.time() - t_all, 2)
    result["ok"] = not failed
    if failed:
        raise VerifyError("verify failed for %s (tolerance %g%s)"
                          % (", ".join(failed), TOL_FP32, ", fp16 bundle" if fp16 else ""))
    return result
