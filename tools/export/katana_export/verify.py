"""Bundle verification: every ONNX module run with ONNX Runtime (ort.py) against the PyTorch
wrappers on seeded inputs. Also checks the manifest against the files (sha256, names, dtypes,
shapes).

Tolerance. Each output of each case passes when max|ort - torch| <= atol + rtol * max|torch|, the
magnitude taken over that case's whole output tensor. Defaults: ATOL_FP32 = 1e-4, RTOL_FP32 = 1e-3
(CLI --atol / --rtol). Why: both runtimes compute in float32 (unit roundoff u = 2^-24 ~ 6e-8) but
sum in different orders and fuse differently. One K-term dot product (K = 64..2048 here) then
differs by about sqrt(K)*u of its scale, 1e-7..3e-6, and that is what random-init bundles show
(rel <= 1e-6). A softmax amplifies the error of its logits by their size: trained attention is
sharp (logits of tens to hundreds), and MLP heads with trained magnitudes sit on top of it. On a
micro checkpoint with trained-like heads (final head layers x50, q/k projections x10) PyTorch
float32 itself differs from PyTorch float64 by up to 1.2e-4 of the output's scale (masks), and ORT
differs from PyTorch float32 by the same order (1e-4..2.2e-4 over seeds). rtol 1e-3 leaves about
4x over that; atol 1e-4 (the old fixed bound) covers outputs near zero, where
rtol * max|ref| vanishes. Real mismatches (another module, a weight off by 1%, a wrong op) move an
output by 1e-2..1 of its scale and still fail. A fixed 1e-4 refused faithful exports: object-score
logits of tens of units differ by 1e-4..1e-3 from float32 noise alone. FP32 bundles fail above the
bound; FP16 bundles only report.
"""

import os
import time

import numpy as np
import torch

from . import bundle as B
from . import export as E
from . import ort

ATOL_FP32 = 1e-4
RTOL_FP32 = 1e-3
TOL_FP32 = ATOL_FP32  # the absolute part (kept for callers that read the old name)


def bound(ref_max, atol=ATOL_FP32, rtol=RTOL_FP32):
    """The allowed max_abs for an output whose reference has max|ref| = ref_max."""
    return atol + rtol * ref_max


def compare(got, want):
    """(max_abs, max|want|) of two arrays in float64."""
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    d = float(np.max(np.abs(g - w))) if w.size else 0.0
    r = float(np.max(np.abs(w))) if w.size else 0.0
    return d, r


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
        prompts = (("box", [[0.2 * S, 0.25 * S], [0.7 * S, 0.8 * S]], [2, 3]),
                   ("none", [[0.0, 0.0]], [-1]),
                   ("points", rng.uniform(0, S, size=(3, 2)).tolist(), [1, 0, 1]))
        has_mask = any(t["name"] == "mask_input" for t in spec["inputs"])
        # format 2: a non-trivial mask input (an ellipse of logits +-10 with noise, as a
        # correction's clamped previous logits) fed with has_mask_input 0 (must be ignored) and 1
        low = S // 4
        yy, xx = np.mgrid[0:low, 0:low].astype(np.float32) / low
        blob = np.where(((xx - 0.45) / 0.3) ** 2 + ((yy - 0.55) / 0.2) ** 2 <= 1, 10.0, -10.0)
        mask = (blob + rng.standard_normal((low, low))).astype(np.float32)[None, None]
        flags = (0.0, 1.0) if has_mask else (None,)
        for label, coords, labels in prompts:
            for hv in flags:
                f = E.sample_inputs(spec, seed, {"N": len(labels)})
                f["point_coords"] = np.array([coords], dtype=np.float32)
                f["point_labels"] = np.array([labels], dtype=np.int32)
                tag = label
                if hv is not None:
                    f["mask_input"] = mask
                    f["has_mask_input"] = np.array([hv], dtype=np.float32)
                    tag = "%s,mask=%d" % (label, hv)
                cases.append((tag, f))
    elif name == "memory_encoder":
        for flag_v in (1.0, 0.0):
            f = E.sample_inputs(spec, seed)
            f["mask_logits"] = (4.0 * f["mask_logits"]).astype(np.float32)
            f["is_mask_from_pts"] = np.array([flag_v], dtype=np.float32)
            cases.append(("from_pts=%d" % flag_v, f))
    return cases


def _new_out():
    """Per-output record: maxima over all cases, plus the case closest to (or past) its bound."""
    return {"max_abs": 0.0, "ref_max": 0.0, "rel": 0.0, "pass": True, "ratio": -1.0,
            "worst": None}


def _update(o, d, r, atol, rtol, label):
    """Folds one case's (max_abs d, max|ref| r) into the per-output record o."""
    b = bound(r, atol, rtol)
    rel = d / r if r > 0 else (0.0 if d == 0 else float("inf"))
    ok = d <= b  # NaN fails too
    ratio = float("inf") if not ok and b == 0 else (d / b if b > 0 else 0.0)
    if ratio != ratio:  # NaN
        ratio = float("inf")
    o["max_abs"] = max(o["max_abs"], d) if d == d else float("nan")
    o["ref_max"] = max(o["ref_max"], r)
    o["rel"] = max(o["rel"], rel) if rel == rel else float("nan")
    o["pass"] = o["pass"] and ok
    if ratio > o["ratio"]:
        o["ratio"] = ratio
        o["worst"] = {"case": label, "max_abs": d, "ref_max": r, "rel": rel, "bound": b}


def _fmt_out(n, o):
    w = o["worst"]
    return ("%-18s max_abs %.3g  max|ref| %.3g  rel %.3g  | tightest case %s: %.3g vs bound %.3g"
            "  %s" % (n, o["max_abs"], o["ref_max"], o["rel"], w["case"], w["max_abs"],
                      w["bound"], "pass" if o["pass"] else "FAIL"))


def verify_bundle(bundle_dir, model, seed=0, log=None, threads=1, modules=None, reference=False,
                  atol=ATOL_FP32, rtol=RTOL_FP32):
    """Returns a result dict; raises VerifyError on a manifest problem or an FP32 mismatch.

    Per module and output, result["modules"][m]["outputs"][o] holds max_abs (over all cases),
    ref_max (max|torch|), rel (max over cases of max_abs / max|torch|), bound (atol + rtol *
    max|torch| of each case) and pass, and under "worst" the figures of the case with the largest
    max_abs / bound. The same records for the wrapper-vs-model comparison sit under
    "reference"."""
    log = log or _log
    t_all = time.time()
    man = B.load_manifest(bundle_dir)
    problems = check_manifest(bundle_dir, man)
    if problems:
        raise VerifyError("manifest check failed:\n  " + "\n  ".join(problems))
    fv = int(man["format_version"])
    specs = E.describe(model, man["modules"]["memory_attention"].get("fixed_tokens"), fv)
    wraps, consts = E.make_wrappers(model, fv)
    for name, spec in specs.items():
        ent = man["modules"].get(name if name != "memory_attention_fixed" else "memory_attention")
        want = [t["name"] for t in spec["inputs"]]
        have = [t["name"] for t in ent["inputs"]] if ent else None
        if have != want:
            raise VerifyError("%s inputs %s are not those of bundle format %d for this model %s"
                              % (name, have, fv, want))
    fp16 = any(m.get("precision") == "fp16" for m in man["modules"].values())
    # constants vs the model
    stored = B.load_constants(bundle_dir, man)
    result = {"modules": {}, "constants_max_abs": 0.0, "fp16": fp16,
              "tolerance": {"atol": atol, "rtol": rtol,
                            "rule": "max_abs <= atol + rtol * max|ref| per output and case"}}
    for k, v in consts.items():
        if k not in stored:
            raise VerifyError("constants.bin lacks %s" % k)
        d = float(np.max(np.abs(stored[k] - v.numpy()))) if v.numel() else 0.0
        result["constants_max_abs"] = max(result["constants_max_abs"], d)
    if result["constants_max_abs"] != 0.0:
        raise VerifyError("constants.bin differs from the model (max_abs %g)"
                          % result["constants_max_abs"])
    failed = []  # (module, output, record, what)
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
        mod_res = {"outputs": {n: _new_out() for n in out_names}, "reference": None,
                   "ref_max_abs": None, "cases": []}
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
                d, r = compare(got[n], w)
                _update(mod_res["outputs"][n], d, r, atol, rtol, label)
            if ref is not None:
                if mod_res["reference"] is None:
                    mod_res["reference"] = {n: _new_out() for n in out_names}
                for n, a, b in zip(out_names, want, ref):
                    d, r = compare(a.numpy(), b.numpy())
                    _update(mod_res["reference"][n], d, r, atol, rtol, label)
                mod_res["ref_max_abs"] = max(o["max_abs"] for o in mod_res["reference"].values())
            mod_res["cases"].append(label)
        sess.close()
        mod_res["max_abs"] = max(o["max_abs"] for o in mod_res["outputs"].values())
        mod_res["verify_s"] = round(time.time() - t0, 2)
        bad = False
        for n, o in mod_res["outputs"].items():
            if not o["pass"] and not fp16:
                failed.append((name, n, o, "ORT vs PyTorch"))
                bad = True
        for n, o in (mod_res["reference"] or {}).items():
            if not o["pass"]:
                failed.append((name, n, o, "wrapper vs model"))
                bad = True
        mod_res["pass"] = not bad
        result["modules"][name] = mod_res
        log("verify: %-24s [%s] %.2f s%s" % (name, ",".join(mod_res["cases"]),
                                              mod_res["verify_s"], "  FAIL" if bad else ""))
        for n, o in mod_res["outputs"].items():
            log("verify:   %s" % _fmt_out(n, o))
        for n, o in (mod_res["reference"] or {}).items():
            log("verify:   wrapper-vs-model %s" % _fmt_out(n, o))
        if "ref_error" in mod_res:
            log("verify: %-24s model reference path failed: %s" % (name, mod_res["ref_error"]))
    result["verify_s"] = round(time.time() - t_all, 2)
    result["ok"] = not failed
    if failed:
        lines = ["%s/%s (%s, case %s): max_abs %.3g > bound %.3g = atol %g + rtol %g * "
                 "max|ref| %.3g; rel %.3g" % (m, n, what, o["worst"]["case"],
                                              o["worst"]["max_abs"], o["worst"]["bound"], atol,
                                              rtol, o["worst"]["ref_max"], o["worst"]["rel"])
                 for m, n, o, what in failed]
        raise VerifyError("verify failed for %s%s:\n  %s"
                          % (", ".join(sorted({f[0] for f in failed})),
                             " (fp16 bundle)" if fp16 else "", "\n  ".join(lines)))
    return result
