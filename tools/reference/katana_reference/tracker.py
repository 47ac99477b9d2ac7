"""The reference tracking loop over a backend implementing the four bundle module contracts.

Mirrors, per frame, sam2_video_predictor.py (add_new_points_or_box on frame 0, then
propagate_in_video) with sam2_base.py track_step in samurai_mode ("samurai") or the official
SAM 2 / EfficientTAM predictors ("sam2": no Kalman, present iff score > 0, argmax IoU, previous
frames as memories). A backend provides:
  meta    dict: image_size, hidden_dim, mem_dim, num_maskmem, max_obj_ptrs_in_encoder,
          use_high_res_features, tracker{...}, samurai{...} (manifest katana.json fields)
  consts  dict name -> f32 array (constants.bin entries)
  run(module_name, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray] (contract names)
"""

import numpy as np

from . import hostmath as hm
from . import memory as mb

SAMURAI_DEFAULTS = {
    "stable_frames_threshold": 15, "stable_ious_threshold": 0.3, "min_obj_score_logits": -1.0,
    "kf_score_weight": 0.25, "memory_bank_iou_threshold": 0.5,
    "memory_bank_obj_score_threshold": 0.0, "memory_bank_kf_score_threshold": 0.0,
}


class KalmanChooser:
    """SAMURAI's candidate choice (sam2_base.py _forward_sam_heads, samurai_mode branch) with its
    state: kf mean/covariance (float64) and stable_frames."""

    def __init__(self, stable_frames_threshold, stable_ious_threshold, kf_score_weight):
        self.thr_frames = int(stable_frames_threshold)
        self.thr_iou = np.float32(stable_ious_threshold)
        self.w = float(kf_score_weight)
        self.mean = None
        self.cov = None
        self.stable_frames = 0

    def choose(self, ious3, boxes3):
        """ious3: [3] f32 predicted IoUs; boxes3: 3 xyxy int boxes of the gated candidates
        upsampled to image_size (> 0). Returns (index 0..2, kf_score or None, branch name)."""
        if (self.mean is None and self.cov is None) or self.stable_frames == 0:
            best = int(np.argmax(ious3))
            self.mean, self.cov = hm.kf_initiate(hm.xyxy_to_xyah(boxes3[best]))
            self.stable_frames += 1
            return best, None, "init"
        if self.stable_frames < self.thr_frames:
            self.mean, self.cov = hm.kf_predict(self.mean, self.cov)
            best = int(np.argmax(ious3))
            if np.float32(ious3[best]) > self.thr_iou:
                self.mean, self.cov = hm.kf_update(self.mean, self.cov,
                                                   hm.xyxy_to_xyah(boxes3[best]))
                self.stable_frames += 1
            else:
                self.stable_frames = 0
            return best, None, "warmup"
        self.mean, self.cov = hm.kf_predict(self.mean, self.cov)
        kf_iou = hm.kf_ious(self.mean, boxes3)  # f64
        weighted = self.w * kf_iou + (np.float32(1 - self.w) * ious3.astype(np.float32)).astype(
            np.float64)
        best = int(np.argmax(weighted))
        if np.float32(ious3[best]) < self.thr_iou:
            self.stable_frames = 0
        else:
            self.mean, self.cov = hm.kf_update(self.mean, self.cov,
                                               hm.xyxy_to_xyah(boxes3[best]))
        return best, float(kf_iou[best]), "stable"


def preprocess(rgb_u8, image_size, mean, std):
    """sam2/utils/misc.py _load_img_as_tensor + AsyncVideoFrameLoader (the LaSOT path):
    PIL resize (default bicubic) of 8-bit RGB to S x S, /255 in float64, minus mean and over
    std in float64 (float32 constants), then float32. Returns [1,3,S,S] f32."""
    from PIL import Image
    img = np.array(Image.fromarray(rgb_u8, "RGB").resize((image_size, image_size)))
    x = img.astype(np.float64) / 255.0
    m = np.asarray(mean, np.float32).astype(np.float64)
    s = np.asarray(std, np.float32).astype(np.float64)
    x = (x - m) / s
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


def _use_multimask(tr, is_init_cond_frame, num_pts):
    """sam2_base.py _use_multimask."""
    return bool(tr["multimask_output_in_sam"]
                and (is_init_cond_frame or tr["multimask_output_for_tracking"])
                and tr["multimask_min_pt_num"] <= num_pts <= tr["multimask_max_pt_num"])


def choose_heads(dec, tr, sel, min_obj, kf, S, multimask):
    """The candidate choice of sam2_base.py _forward_sam_heads (SAMURAI branch when `sel` is
    "samurai", through `kf`) on one mask_decoder run `dec`. Returns (low [S/4,S/4] f32 gated
    logits, chosen token, iou4 [4] f32, score f32, present, best_iou f32, pointer token [C] f32,
    kf_score, kf branch, candidate boxes or None)."""
    masks4 = dec["masks"][0].astype(np.float32)  # [4,S/4,S/4]
    iou4 = dec["iou_pred"][0].astype(np.float32)  # [4]
    score = np.float32(dec["obj_score_logits"].reshape(-1)[0])
    ptr4 = dec["obj_ptr"][0].astype(np.float32)  # [4,C]
    kf_score = branch = boxes3 = None
    if multimask:
        cand_masks, cand_ious = masks4[1:], iou4[1:]
        cand_masks, present = hm.gate_masks(cand_masks, score, min_obj)
        hi = hm.bilinear_resize(cand_masks, S, S)
        boxes3 = [hm.box_from_mask(hi[k] > 0) for k in range(3)]
        if sel == "samurai":
            k, kf_score, branch = kf.choose(cand_ious, boxes3)
        else:
            k = int(np.argmax(cand_ious))
        chosen = 1 + k
        low = cand_masks[k]
        token = ptr4[chosen] if tr["use_multimask_token_for_obj_ptr"] else ptr4[0]
        best_iou = np.float32(cand_ious[k])
    else:
        if tr["dynamic_multimask_via_stability"]:
            chosen = hm.dynamic_multimask_choice(masks4, iou4,
                                                 tr["dynamic_multimask_stability_delta"],
                                                 tr["dynamic_multimask_stability_thresh"])
        else:
            chosen = 0
        low, present = hm.gate_masks(masks4[chosen], score, min_obj)
        token = ptr4[0]
        best_iou = np.float32(iou4[chosen])
    return low, chosen, iou4, score, present, best_iou, token, kf_score, branch, boxes3


class Tracker:
    """One object, box prompt on frame 0, forward tracking. step(rgb) per frame in order."""

    def __init__(self, backend, box_xyxy, video_w, video_h, num_frames, selection="samurai",
                 samurai=None):
        if selection not in ("samurai", "sam2"):
            raise ValueError("selection must be samurai or sam2")
        self.b = backend
        self.meta = backend.meta
        self.tr = self.meta["tracker"]
        self.sel = selection
        s = dict(SAMURAI_DEFAULTS)
        s.update(self.meta.get("samurai") or {})
        s.update(samurai or {})
        self.sp = s
        if not self.tr["directly_add_no_mem_embed"]:
            raise NotImplementedError("only directly_add_no_mem_embed configs are supported")
        self.S = int(self.meta["image_size"])
        self.C = int(self.meta["hidden_dim"])
        self.Cm = int(self.meta["mem_dim"])
        self.nm = int(self.meta["num_maskmem"])
        self.max_ptrs = int(self.meta["max_obj_ptrs_in_encoder"])
        self.box = box_xyxy
        self.vw, self.vh = int(video_w), int(video_h)
        self.num_frames = num_frames
        self.min_obj = float(s["min_obj_score_logits"]) if selection == "samurai" else 0.0
        self.kf = KalmanChooser(s["stable_frames_threshold"], s["stable_ious_threshold"],
                                s["kf_score_weight"]) if selection == "samurai" else None
        self.records = {}  # frame index -> FrameRecord (non-conditioning frames)
        self.cond = None  # FrameRecord of the conditioning frame 0
        self.frame_idx = 0

    # -- per-module helpers ------------------------------------------------------------------
    def _memory_inputs(self, fi):
        """Memory tokens for frame fi (> 0): returns (memory, memory_pos, n_ptr_tokens, info)."""
        if self.sel == "samurai":
            sel = mb.select_memory_samurai(
                fi, self.records, self.nm, self.max_ptrs, self.sp["memory_bank_iou_threshold"],
                self.sp["memory_bank_obj_score_threshold"],
                self.sp["memory_bank_kf_score_threshold"])
        else:
            sel = mb.select_memory_sam2(fi, self.records, self.nm,
                                        int(self.tr.get("memory_temporal_stride_for_eval", 1)))
        spatial = [(0, self.cond.maskmem_features)] + [
            (t, self.records[i].maskmem_features) for t, i in sel]
        ptr_sel, t_diff_max = mb.select_pointers(
            fi, 0, self.records, self.num_frames, self.max_ptrs,
            self.tr["only_obj_ptrs_in_the_past_for_eval"],
            self.tr["use_signed_tpos_enc_to_obj_ptrs"])
        ptrs = [self.cond.obj_ptr if i == 0 else self.records[i].obj_ptr for _, i in ptr_sel]
        c = self.b.consts
        ppos = mb.pointer_pos_enc([p for p, _ in ptr_sel], t_diff_max, self.C, self.Cm,
                                  self.tr["add_tpos_enc_to_obj_ptrs"],
                                  self.tr["proj_tpos_enc_in_obj_ptrs"],
                                  c.get("obj_ptr_tpos_proj.weight"),
                                  c.get("obj_ptr_tpos_proj.bias"))
        memory, memory_pos, n_ptr = mb.assemble_memory(
            spatial, np.stack(ptrs), ppos, c["maskmem_pos_enc"], c["maskmem_tpos_enc"], self.nm,
            self.Cm)
        info = {"memory_frames": [[0, 0]] + [[i, t] for t, i in sel],
                "pointer_frames": [[i, p] for p, i in ptr_sel]}
        return memory, memory_pos, n_ptr, info

    def _mix_ptr(self, ptr, score, present):
        """sam2_base.py _forward_sam_heads: no-object pointer mixing."""
        if not self.tr["pred_obj_scores"]:
            return ptr
        if self.tr["soft_no_obj_ptr"]:
            lam = np.float32(1.0 / (1.0 + np.exp(-np.float32(score))))
        else:
            lam = np.float32(1.0 if present else 0.0)
        if self.tr["fixed_no_obj_ptr"]:
            ptr = lam * ptr
        return (ptr + (np.float32(1) - lam) * self.b.consts["no_obj_ptr"].reshape(-1)).astype(
            np.float32)

    # -- one frame -----------------------------------------------------------------------------
    def step(self, rgb_u8):
        fi = self.frame_idx
        S, tr = self.S, self.tr
        img = preprocess(rgb_u8, S, self.meta["mean"], self.meta["std"])
        enc = self.b.run("image_encoder", {"image": img})
        vf = enc["vision_feats"]
        hr = {k: enc[k] for k in ("high_res_feats_0", "high_res_feats_1") if k in enc}
        rec = {"frame": fi}
        if fi == 0:
            embed = (vf + self.b.consts["no_mem_embed"].reshape(1, self.C, 1, 1)).astype(
                np.float32)
            pts, labels = hm.box_prompt_points(self.box, self.vw, self.vh, S)
            rec.update(memory_frames=[], pointer_frames=[])
        else:
            memory, memory_pos, n_ptr, info = self._memory_inputs(fi)
            embed = self.b.run("memory_attention", {
                "curr": vf, "memory": memory, "memory_pos": memory_pos,
                "num_obj_ptr_tokens": np.array(n_ptr, np.int64)})["pix_feat_with_mem"]
            pts = np.zeros((1, 1, 2), np.float32)
            labels = -np.ones((1, 1), np.int32)
            rec.update(info)
        feeds = {"image_embed": embed, "point_coords": pts, "point_labels": labels}
        feeds.update(hr)
        dec = self.b.run("mask_decoder", feeds)
        num_pts = 2 if fi == 0 else 0
        multimask = _use_multimask(tr, fi == 0, num_pts)
        (low, chosen, iou4, score, present, best_iou, token, kf_score, branch,
         boxes3) = choose_heads(dec, tr, self.sel, self.min_obj, self.kf, S, multimask)
        obj_ptr = self._mix_ptr(token, score, present)
        mem = self.b.run("memory_encoder", {
            "pix_feat": vf, "mask_logits": low[None, None].astype(np.float32),
            "is_mask_from_pts": np.array([1.0 if fi == 0 else 0.0], np.float32)})
        feats = mem["maskmem_features"].astype(np.float32)
        if tr.get("no_obj_embed_spatial") and "no_obj_embed_spatial" in self.b.consts:
            is_obj = np.float32(1.0 if score > np.float32(0.0) else 0.0)
            feats = (feats + (np.float32(1) - is_obj) *
                     self.b.consts["no_obj_embed_spatial"].reshape(1, self.Cm, 1, 1)).astype(
                np.float32)
        feats = hm.round_bf16(feats[0])
        fr = mb.FrameRecord(feats, obj_ptr, float(best_iou), float(score), kf_score)
        if fi == 0:
            self.cond = fr
        else:
            self.records[fi] = fr
        # output mask at video resolution (_get_orig_video_res_output) and its LaSOT box
        out_mask = hm.bilinear_resize(low[None], self.vh, self.vw)[0] > 0
        rec.update({
            "chosen": int(chosen), "iou_pred": [float(v) for v in iou4],
            "obj_score": float(score), "present": bool(present), "best_iou": float(best_iou),
            "multimask": bool(multimask),
            "kf_branch": branch, "kf_score": kf_score,
            "kf_mean": None if self.kf is None or self.kf.mean is None else
            [float(v) for v in self.kf.mean],
            "kf_cov": None if self.kf is None or self.kf.cov is None else
            [float(v) for v in self.kf.cov.reshape(-1)],
            "stable_frames": None if self.kf is None else int(self.kf.stable_frames),
            "candidate_boxes_xyxy": boxes3,
            "box_xywh": hm.box_xywh_from_mask(out_mask),
        })
        self.frame_idx += 1
        return rec, low.astype(np.float32), out_mask
