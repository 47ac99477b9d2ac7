"""Backends for the reference tracker: each runs the four bundle modules (docs/bundle-format.md)
by contract tensor name and exposes the manifest fields (`meta`) and constants (`consts`).

  OnnxBackend(bundle_dir)      the bundle's ONNX files through katana_export.ort (ORT C API)
  TorchBackend(model)          katana_export.wrappers on a model object with the official
                               attribute names (A1's build_model(...) or an official SAM2Base)
  TorchBackend.from_bundle(d)  the model named by the bundle's manifest, rebuilt with
                               katana_export.models.build_model(config, seed)
"""

import json
import os

import numpy as np

TRACKER_FLAGS = {  # manifest `tracker` entries and their defaults (SAM2Base.__init__ defaults)
    "add_tpos_enc_to_obj_ptrs": True, "proj_tpos_enc_in_obj_ptrs": False,
    "use_signed_tpos_enc_to_obj_ptrs": False, "only_obj_ptrs_in_the_past_for_eval": False,
    "directly_add_no_mem_embed": False, "pred_obj_scores": False, "fixed_no_obj_ptr": False,
    "soft_no_obj_ptr": False, "use_multimask_token_for_obj_ptr": False,
    "multimask_output_for_tracking": False, "multimask_output_in_sam": False,
    "multimask_min_pt_num": 1, "multimask_max_pt_num": 1,
    "sigmoid_scale_for_mem_enc": 1.0, "sigmoid_bias_for_mem_enc": 0.0,
    "memory_temporal_stride_for_eval": 1, "binarize_mask_from_pts_for_mem_enc": False,
}


def read_manifest(bundle_dir):
    with open(os.path.join(bundle_dir, "katana.json")) as f:
        return json.load(f)


def read_constants(bundle_dir, manifest):
    """constants.bin: raw little-endian f32 entries at manifest offsets -> dict name -> array."""
    c = manifest["constants"]
    with open(os.path.join(bundle_dir, c["file"]), "rb") as f:
        raw = f.read()
    out = {}
    for e in c["entries"]:
        n = int(np.prod(e["shape"]))
        off = int(e["offset"])
        out[e["name"]] = np.frombuffer(raw, dtype="<f4", count=n, offset=off).reshape(
            e["shape"]).astype(np.float32)
    return out


class OnnxBackend:
    def __init__(self, bundle_dir, threads=1):
        from katana_export.ort import Session
        self.meta = read_manifest(bundle_dir)
        self.consts = read_constants(bundle_dir, self.meta)
        self.sessions = {}
        for name in ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder"):
            self.sessions[name] = Session(
                os.path.join(bundle_dir, self.meta["modules"][name]["file"]), threads=threads)
        self.name = "onnx"
        # bundle format 2 has the mask decoder's mask input; format 1 has none, so mask
        # prompts and corrections are refused on it (docs/bundle-format.md)
        self.format_version = int(self.meta.get("format_version", 1))
        self.supports_mask_input = (
            "mask_input" in {i.name for i in self.sessions["mask_decoder"].inputs}
            and "mask_downsample.weight" in self.consts)

    def run(self, module, feeds):
        sess = self.sessions[module]
        names = {s.name for s in sess.inputs}
        feeds = {k: v for k, v in feeds.items() if k in names}
        if "mask_input" in names and "mask_input" not in feeds:
            # format 2 decoder without a mask prompt: zeros, has_mask_input 0 (no-mask embedding)
            low = int(self.meta["low_res_mask_size"])
            feeds["mask_input"] = np.zeros((1, 1, low, low), np.float32)
            feeds["has_mask_input"] = np.zeros((1,), np.float32)
        return sess.run(feeds)


def model_meta(model):
    """Manifest-like fields read from a model object with the official attribute names."""
    tr = {}
    for k, d in TRACKER_FLAGS.items():
        v = getattr(model, k, d)
        tr[k] = type(d)(v) if not isinstance(d, bool) else bool(v)
    dec = model.sam_mask_decoder
    tr["dynamic_multimask_via_stability"] = bool(dec.dynamic_multimask_via_stability)
    tr["dynamic_multimask_stability_delta"] = float(dec.dynamic_multimask_stability_delta)
    tr["dynamic_multimask_stability_thresh"] = float(dec.dynamic_multimask_stability_thresh)
    tr["no_obj_embed_spatial"] = getattr(model, "no_obj_embed_spatial", None) is not None
    S = int(model.image_size)
    meta = {
        "image_size": S, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        "hidden_dim": int(model.hidden_dim), "mem_dim": int(model.mem_dim),
        "num_maskmem": int(model.num_maskmem),
        "max_obj_ptrs_in_encoder": int(model.max_obj_ptrs_in_encoder),
        "use_high_res_features": bool(getattr(model, "use_high_res_features_in_sam", False)),
        "low_res_mask_size": S // 4, "tracker": tr,
    }
    if getattr(model, "samurai_mode", False):
        meta["samurai"] = {k: float(getattr(model, k)) for k in (
            "stable_frames_threshold", "stable_ious_threshold", "min_obj_score_logits",
            "kf_score_weight", "memory_bank_iou_threshold", "memory_bank_obj_score_threshold",
            "memory_bank_kf_score_threshold")}
        meta["samurai"]["stable_frames_threshold"] = int(model.stable_frames_threshold)
    return meta


class TorchBackend:
    """katana_export.wrappers around `model` (eval mode, float32, CPU)."""

    def __init__(self, model, use_reference_paths=False):
        import torch
        from katana_export import wrappers as W
        self.torch = torch
        model = model.eval()
        self.model = model
        self.meta = model_meta(model)
        S = self.meta["image_size"]
        self.ie = W.ImageEncoderW(model).eval()
        self.md = W.MaskDecoderW(model, mask_input=True).eval()  # bundle format 2 inputs
        self.me = W.MemoryEncoderW(model).eval()
        with torch.no_grad():
            img = torch.zeros(1, 3, S, S)
            fpn, pos = self.ie.backbone(img)
            vision_pos = pos[-1].detach().clone()
            self.ma = W.MemoryAttentionW(model, tuple(fpn[-1].shape[-2:]), vision_pos).eval()
            h = S // 4
            mpos = self.me.pos_enc(fpn[-1], torch.zeros(1, 1, h, h), torch.zeros(1))
        self.ref = use_reference_paths
        c = {
            "vision_pos": vision_pos.numpy(),
            "maskmem_pos_enc": mpos.detach().numpy().astype(np.float32),
            "maskmem_tpos_enc": model.maskmem_tpos_enc.detach().numpy().astype(np.float32),
            "no_mem_embed": model.no_mem_embed.detach().numpy().astype(np.float32),
        }
        if getattr(model, "no_obj_ptr", None) is not None:
            c["no_obj_ptr"] = model.no_obj_ptr.detach().numpy().astype(np.float32)
        if getattr(model, "no_obj_embed_spatial", None) is not None:
            c["no_obj_embed_spatial"] = model.no_obj_embed_spatial.detach().numpy().astype(
                np.float32)
        ds = getattr(model, "mask_downsample", None)
        if isinstance(ds, torch.nn.Conv2d):
            c["mask_downsample.weight"] = ds.weight.detach().numpy().astype(np.float32)
            c["mask_downsample.bias"] = ds.bias.detach().numpy().astype(np.float32)
        proj = getattr(model, "obj_ptr_tpos_proj", None)
        if isinstance(proj, torch.nn.Linear):
            c["obj_ptr_tpos_proj.weight"] = proj.weight.detach().numpy().astype(np.float32)
            c["obj_ptr_tpos_proj.bias"] = proj.bias.detach().numpy().astype(np.float32)
        self.consts = c
        self.name = "torch"
        self.supports_mask_input = True

    @classmethod
    def from_bundle(cls, bundle_dir, seed=None, checkpoint=None):
        """Rebuild the bundle's model: from `checkpoint`, else seeded random init with `seed`,
        else the seed recorded by the exporter (manifest "seed", or the export report
        <bundle>.report.json that scripts/testdata/10-bundles writes next to the bundle)."""
        from katana_export.modelsrc import load_model
        m = read_manifest(bundle_dir)
        if checkpoint is None and seed is None:
            seed = m.get("seed")
            rep = os.path.normpath(bundle_dir) + ".report.json"
            if seed is None and os.path.isfile(rep):
                with open(rep) as f:
                    seed = json.load(f).get("seed")
            if seed is None:
                raise ValueError("torch backend: give --seed or --checkpoint for %s" % bundle_dir)
        model, _ = load_model(m["config"], checkpoint, seed if checkpoint is None else None)
        be = cls(model)
        # tracker flags stay the model's own (so a wrong manifest shows up as a disagreement
        # with the onnx backend); SAMURAI defaults come from the manifest when the model has none
        if "samurai" not in be.meta and "samurai" in m:
            be.meta["samurai"] = dict(m["samurai"])
        be.manifest_flag_mismatch = {
            k: (v, m.get("tracker", {}).get(k)) for k, v in be.meta["tracker"].items()
            if k in m.get("tracker", {}) and m["tracker"][k] != v}
        return be

    def run(self, module, feeds):
        torch = self.torch
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()}
        with torch.no_grad():
            if module == "image_encoder":
                out = self.ie(t["image"])
                if isinstance(out, tuple):
                    return {"vision_feats": out[0].numpy(), "high_res_feats_0": out[1].numpy(),
                            "high_res_feats_1": out[2].numpy()}
                return {"vision_feats": out.numpy()}
            if module == "memory_attention":
                f = self.ma.reference if self.ref else self.ma
                out = f(t["curr"], t["memory"], t["memory_pos"], t["num_obj_ptr_tokens"])
                return {"pix_feat_with_mem": out.numpy()}
            if module == "mask_decoder":
                # format 2 inputs; without a mask input: zeros and has_mask_input 0, which
                # selects the no-mask embedding exactly as a format 1 decoder
                low = self.meta["low_res_mask_size"]
                if "mask_input" not in t:
                    t["mask_input"] = torch.zeros(1, 1, low, low)
                    t["has_mask_input"] = torch.zeros(1)
                args = [t["image_embed"]]
                if self.meta["use_high_res_features"]:
                    args += [t["high_res_feats_0"], t["high_res_feats_1"]]
                args += [t["point_coords"], t["point_labels"], t["mask_input"],
                         t["has_mask_input"]]
                f = self.md.reference if self.ref else self.md
                masks, iou, score, ptr = f(*args)
                return {"masks": masks.numpy(), "iou_pred": iou.numpy(),
                        "obj_score_logits": score.numpy(), "obj_ptr": ptr.numpy()}
            if module == "memory_encoder":
                out = self.me(t["pix_feat"], t["mask_logits"], t["is_mask_from_pts"])
                return {"maskmem_features": out.numpy()}
        raise KeyError(module)
