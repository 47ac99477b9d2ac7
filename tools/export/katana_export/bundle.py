"""Writes and reads the bundle manifest (katana.json) and constants.bin (docs/bundle-format.md)."""

import hashlib
import json
import os

import numpy as np

FORMAT = "katana-bundle"
FORMAT_VERSION = 2  # written by default
READ_VERSIONS = (1, 2)  # format 1: no mask input on the mask decoder

# tracker flags: (manifest key, where to read it: "model" attribute or "decoder" attribute, default)
TRACKER_FLAGS = [
    ("add_tpos_enc_to_obj_ptrs", "model", False),
    ("proj_tpos_enc_in_obj_ptrs", "model", False),
    ("use_signed_tpos_enc_to_obj_ptrs", "model", False),
    ("only_obj_ptrs_in_the_past_for_eval", "model", False),
    ("directly_add_no_mem_embed", "model", False),
    ("pred_obj_scores", "model", False),
    ("fixed_no_obj_ptr", "model", False),
    ("soft_no_obj_ptr", "model", False),
    ("use_multimask_token_for_obj_ptr", "model", False),
    ("multimask_output_for_tracking", "model", False),
    ("multimask_output_in_sam", "model", False),
    ("multimask_min_pt_num", "model", 1),
    ("multimask_max_pt_num", "model", 1),
    ("dynamic_multimask_via_stability", "decoder", False),
    ("dynamic_multimask_stability_delta", "decoder", 0.05),
    ("dynamic_multimask_stability_thresh", "decoder", 0.98),
    ("sigmoid_scale_for_mem_enc", "model", 1.0),
    ("sigmoid_bias_for_mem_enc", "model", 0.0),
    ("memory_temporal_stride_for_eval", "model", 1),
    ("no_obj_embed_spatial", "model", False),
    ("binarize_mask_from_pts_for_mem_enc", "model", False),
    ("iou_prediction_use_sigmoid", "model", False),
    ("use_obj_ptrs_in_encoder", "model", False),
]

# released SAMURAI defaults (configs/samurai/sam2.1_hiera_*.yaml)
SAMURAI_DEFAULTS = {
    "stable_frames_threshold": 15, "stable_ious_threshold": 0.3, "min_obj_score_logits": -1.0,
    "kf_score_weight": 0.25, "memory_bank_iou_threshold": 0.5,
    "memory_bank_obj_score_threshold": 0.0, "memory_bank_kf_score_threshold": 0.0,
}

CONSTANT_ORDER = ["vision_pos", "maskmem_pos_enc", "maskmem_tpos_enc", "no_mem_embed",
                  "no_obj_ptr", "no_obj_embed_spatial", "obj_ptr_tpos_proj.weight",
                  "obj_ptr_tpos_proj.bias", "mask_downsample.weight", "mask_downsample.bias"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plain(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


def _cfg_get(cfg, name):
    """Value of `name` from the config entry (dict or object; nested 'model'/'tracker' allowed)."""
    if cfg is None:
        return None
    for holder in (cfg, getattr(cfg, "get", lambda k, d=None: None)("model"),
                   getattr(cfg, "get", lambda k, d=None: None)("tracker"),
                   getattr(cfg, "get", lambda k, d=None: None)("samurai")):
        if holder is None:
            continue
        if isinstance(holder, dict):
            if name in holder:
                return holder[name]
        elif hasattr(holder, name):
            return getattr(holder, name)
    return None


def tracker_flags(model, cfg=None):
    out = {}
    for key, where, default in TRACKER_FLAGS:
        src = model.sam_mask_decoder if where == "decoder" else model
        if key == "no_obj_embed_spatial":
            v = getattr(model, "no_obj_embed_spatial", None) is not None
        elif hasattr(src, key):
            v = getattr(src, key)
        else:
            c = _cfg_get(cfg, key)
            v = default if c is None else c
        out[key] = _plain(v)
    return out


def samurai_params(model, cfg=None):
    out = {}
    for key, default in SAMURAI_DEFAULTS.items():
        c = _cfg_get(cfg, key)
        if c is None:
            c = getattr(model, key, None) if getattr(model, "samurai_mode", False) else None
        out[key] = _plain(default if c is None else c)
    return out


def write_constants(out_dir, consts):
    """constants.bin: raw little-endian float32 tensors, concatenated in CONSTANT_ORDER."""
    entries = []
    path = os.path.join(out_dir, "constants.bin")
    off = 0
    names = [n for n in CONSTANT_ORDER if n in consts] + sorted(
        n for n in consts if n not in CONSTANT_ORDER)
    with open(path, "wb") as f:
        for name in names:
            a = np.ascontiguousarray(consts[name].detach().cpu().numpy()
                                     if hasattr(consts[name], "detach") else consts[name],
                                     dtype="<f4")
            f.write(a.tobytes())
            entries.append({"name": name, "shape": [int(d) for d in a.shape], "offset": off})
            off += a.nbytes
    return {"file": "constants.bin", "sha256": sha256_file(path), "entries": entries}


def write_manifest(out_dir, model, config_name, family, specs, consts, cfg=None,
                   fixed_tokens=None, fp16=False, format_version=FORMAT_VERSION):
    S = int(model.image_size)
    feat = consts["vision_pos"].shape
    modules = {}
    for name in ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder"):
        fname = name + ".onnx"
        ent = {"file": fname, "sha256": sha256_file(os.path.join(out_dir, fname)),
               "precision": "fp16" if fp16 else "fp32",
               "inputs": specs[name]["inputs"], "outputs": specs[name]["outputs"]}
        if name == "memory_attention":
            ent["dynamic"] = True
            ent["fixed_tokens"] = None
            if fixed_tokens:
                ff = "memory_attention_fixed.onnx"
                ent["fixed_tokens"] = int(fixed_tokens)
                ent["fixed_file"] = ff
                ent["fixed_sha256"] = sha256_file(os.path.join(out_dir, ff))
        modules[name] = ent
    man = {
        "format": FORMAT, "format_version": int(format_version),
        "family": family, "config": config_name,
        "image_size": S, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        "feat_size": [int(feat[-2]), int(feat[-1])],
        "hidden_dim": int(model.hidden_dim), "mem_dim": int(model.mem_dim),
        "low_res_mask_size": S // 4,
        "use_high_res_features": bool(getattr(model, "use_high_res_features_in_sam", False)),
        "num_maskmem": int(model.num_maskmem),
        "max_obj_ptrs_in_encoder": int(getattr(model, "max_obj_ptrs_in_encoder", 16)),
        "tracker": tracker_flags(model, cfg),
        "samurai": samurai_params(model, cfg),
        "modules": modules,
        "constants": write_constants(out_dir, consts),
    }
    with open(os.path.join(out_dir, "katana.json"), "w") as f:
        json.dump(man, f, indent=2)
        f.write("\n")
    return man


def load_manifest(bundle_dir):
    with open(os.path.join(bundle_dir, "katana.json")) as f:
        man = json.load(f)
    if man.get("format") != FORMAT or man.get("format_version") not in READ_VERSIONS:
        raise ValueError("%s: not a katana bundle of format %s (found format %r, "
                         "format_version %r)" % (bundle_dir, " or ".join(map(str, READ_VERSIONS)),
                                                 man.get("format"), man.get("format_version")))
    return man


def load_constants(bundle_dir, man=None):
    """name -> np.ndarray float32 from constants.bin."""
    man = man or load_manifest(bundle_dir)
    with open(os.path.join(bundle_dir, man["constants"]["file"]), "rb") as f:
        raw = f.read()
    out = {}
    for e in man["constants"]["entries"]:
        n = int(np.prod(e["shape"])) if e["shape"] else 1
        out[e["name"]] = np.frombuffer(raw, dtype="<f4", count=n,
                                       offset=e["offset"]).reshape(e["shape"]).astype(np.float32)
    return out
