"""Several objects and every prompt kind over one backend: the reference for issue 13.

Mirrors the official SAM 2.1 video predictor (sam2_video_predictor.py @2b90b9f:
add_new_points_or_box, add_new_mask, _run_single_frame_inference, propagate_in_video with
add_all_frames_to_correct_as_cond=True) run online, frame by frame:

  * one image-encoder pass per frame, shared by all objects; every object then runs memory
    attention, the mask decoder and the memory encoder on its own state (batch_size=1 in a loop,
    as the official predictor since 12/2024), so each object's result is exactly what a
    single-object tracker gives for it;
  * a prompt on a frame the object was never tracked on starts it: a conditioning frame without
    memory (`vision_feats + no_mem_embed`);
  * a prompt on a frame the object was already tracked on is a correction, applied after that
    frame was tracked: memory-conditioned features of the frame, the frame's previous low-res
    logits clamped to +-32 as the mask input beside the points; the corrected frame becomes a
    conditioning frame (its non-conditioning memory is dropped), later frames follow from it;
  * a mask prompt is the output (`_use_mask_as_output`: logits mask*20-10, antialiased to
    S/4), with the object pointer from the heads run on the raw features and the 4x4-conv
    downsampled mask; object score +10 / -10;
  * a box is the first two points with labels 2, 3; points may be appended to the frame's
    prompt (append=True); multimask only with 0-1 points (`_use_multimask`);
  * memories: every selected conditioning frame (max_cond_frames_in_attn) with t_pos 0, plus
    the SAMURAI (or SAM 2) selection over the non-conditioning frames; pointers likewise;
  * SAMURAI's Kalman filter is reset by a prompt (the next multimask choice initiates it, as
    after the frame-0 box of the single-object fork).

Frame indices are absolute video indices for every object (an object started on frame 10 keeps
its memory walk over absolute indices, as the official predictor does).

Mask prompts and corrections need a mask input on the mask decoder: the torch backend has it;
bundle format 1 does not (docs/internals/prompts.md gives the contract change), and the ONNX
backend raises NotImplementedError for them instead of silently dropping the input.
"""

import numpy as np

from . import hostmath as hm
from . import memory as mb
from .tracker import SAMURAI_DEFAULTS, KalmanChooser, _use_multimask, choose_heads, preprocess


class Prompt:
    """One prompt call for (frame, object). box: xyxy video pixels; points [[x, y], ...] video
    pixels with labels (1 positive, 0 negative); mask: [H, W] bool video mask. A box may come
    with points (box first). append=True adds the points to the frame's earlier points."""

    def __init__(self, box=None, points=None, labels=None, mask=None, append=False):
        if mask is not None and (box is not None or points is not None):
            raise ValueError("a mask prompt takes no box or points")
        if mask is None and box is None and not points:
            raise ValueError("a prompt needs a box, points or a mask")
        if points is not None:
            if labels is None or len(labels) != len(points):
                raise ValueError("points need one label each")
            for lb in labels:
                if int(lb) not in (0, 1):
                    raise ValueError("point labels are 1 (positive) or 0 (negative)")
        if box is not None and append:
            raise ValueError("cannot add a box without clearing old points "
                             "(a box must be the first two points)")
        self.box = None if box is None else [float(v) for v in box]
        self.points = None if points is None else [[float(x), float(y)] for x, y in points]
        self.labels = None if labels is None else [int(v) for v in labels]
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.append = bool(append)

    @property
    def kind(self):
        if self.mask is not None:
            return "mask"
        if self.box is not None and self.points:
            return "box+points"
        return "box" if self.box is not None else "points"


class _Out:
    """One object's result on one frame (before the memory encoder)."""

    def __init__(self, **k):
        self.__dict__.update(k)


class ObjectState:
    """Per-object SAMURAI state: Kalman chooser, conditioning and non-conditioning frame records
    (memory features, pointer, scores), the current frame's output and point inputs."""

    def __init__(self, obj_id, kf):
        self.obj_id = obj_id
        self.kf = kf
        self.cond = {}  # frame -> FrameRecord, insertion order (output_dict cond_frame_outputs)
        self.records = {}  # frame -> FrameRecord (non_cond_frame_outputs)
        self.started = False
        self.lost = 0  # consecutive frames with the object absent


class MultiTracker:
    """add_prompt(frame, obj_id, ...) for the current or a later frame, remove_object(obj_id),
    step(rgb_u8) -> {obj_id: (record, low_res_logits [S/4,S/4] f32, mask [H,W] bool)} for every
    active object. Frames are stepped in order from 0."""

    def __init__(self, backend, video_w, video_h, num_frames, selection="samurai",
                 samurai=None, max_cond_frames_in_attn=None):
        if selection not in ("samurai", "sam2"):
            raise ValueError("selection must be samurai or sam2")
        self.b = backend
        self.meta = backend.meta
        self.tr = self.meta["tracker"]
        if not self.tr["directly_add_no_mem_embed"]:
            raise NotImplementedError("only directly_add_no_mem_embed configs are supported")
        self.sel = selection
        s = dict(SAMURAI_DEFAULTS)
        s.update(self.meta.get("samurai") or {})
        s.update(samurai or {})
        self.sp = s
        self.S = int(self.meta["image_size"])
        self.C = int(self.meta["hidden_dim"])
        self.Cm = int(self.meta["mem_dim"])
        self.nm = int(self.meta["num_maskmem"])
        self.max_ptrs = int(self.meta["max_obj_ptrs_in_encoder"])
        if max_cond_frames_in_attn is None:
            max_cond_frames_in_attn = int(self.tr.get("max_cond_frames_in_attn", -1))
        self.max_cond = int(max_cond_frames_in_attn)
        self.vw, self.vh = int(video_w), int(video_h)
        self.num_frames = num_frames
        self.min_obj = float(s["min_obj_score_logits"]) if selection == "samurai" else 0.0
        self.objects = {}  # obj_id -> ObjectState, insertion order
        self.pending = {}  # (frame, obj_id) -> [Prompt]
        self.frame_idx = 0

    # -- public calls --------------------------------------------------------------------------
    def add_prompt(self, frame, obj_id, box=None, points=None, labels=None, mask=None,
                   append=False):
        """Queue a prompt for `frame` (>= the next frame to step). box xyxy video pixels."""
        if frame < self.frame_idx:
            raise ValueError("frame %d is already past (next frame %d)" % (frame, self.frame_idx))
        p = Prompt(box, points, labels, mask, append)
        if p.mask is not None:
            if p.mask.shape != (self.vh, self.vw):
                raise ValueError("mask prompt is %s, video is %dx%d" % (p.mask.shape, self.vw,
                                                                        self.vh))
            if not getattr(self.b, "supports_mask_input", False):
                raise NotImplementedError(
                    "mask prompts need a mask_decoder with a mask input; bundle format 1 has "
                    "none (docs/internals/prompts.md); use the torch backend")
        if obj_id not in self.objects:
            kf = KalmanChooser(self.sp["stable_frames_threshold"], self.sp["stable_ious_threshold"],
                               self.sp["kf_score_weight"]) if self.sel == "samurai" else None
            self.objects[obj_id] = ObjectState(obj_id, kf)
        self.pending.setdefault((frame, obj_id), []).append(p)
        return p

    def reseed(self, obj_id, box):
        """A new box for an (e.g. LOST) object on the next frame to step: a correction."""
        return self.add_prompt(self.frame_idx, obj_id, box=box)

    def remove_object(self, obj_id):
        """Forget an object: its state and its queued prompts."""
        self.objects.pop(obj_id, None)
        for k in [k for k in self.pending if k[1] == obj_id]:
            del self.pending[k]

    # -- helpers -------------------------------------------------------------------------------
    def _memory_inputs(self, o, fi):
        """sam2_base.py _prepare_memory_conditioned_features for object o on frame fi."""
        sel_cond, unsel = mb.select_closest_cond_frames(fi, list(o.cond), self.max_cond)
        fallback = {t: o.cond[t] for t in unsel}
        if self.sel == "samurai":
            sel = mb.select_memory_samurai(
                fi, o.records, self.nm, self.max_ptrs, self.sp["memory_bank_iou_threshold"],
                self.sp["memory_bank_obj_score_threshold"],
                self.sp["memory_bank_kf_score_threshold"], fallback)
        else:
            sel = mb.select_memory_sam2(fi, o.records, self.nm,
                                        int(self.tr.get("memory_temporal_stride_for_eval", 1)),
                                        fallback)

        def rec(i):
            return o.records[i] if i in o.records else o.cond[i]
        spatial = [(0, o.cond[t].maskmem_features) for t in sel_cond] + [
            (t, rec(i).maskmem_features) for t, i in sel]
        ptr_sel, t_diff_max = mb.select_pointers_multi(
            fi, sel_cond, o.records, self.num_frames, self.max_ptrs,
            self.tr["only_obj_ptrs_in_the_past_for_eval"],
            self.tr["use_signed_tpos_enc_to_obj_ptrs"], fallback)
        ptrs = [rec(i).obj_ptr for _, i in ptr_sel]
        c = self.b.consts
        ppos = mb.pointer_pos_enc([p for p, _ in ptr_sel], t_diff_max, self.C, self.Cm,
                                  self.tr["add_tpos_enc_to_obj_ptrs"],
                                  self.tr["proj_tpos_enc_in_obj_ptrs"],
                                  c.get("obj_ptr_tpos_proj.weight"),
                                  c.get("obj_ptr_tpos_proj.bias"))
        memory, memory_pos, n_ptr = mb.assemble_memory(
            spatial, np.stack(ptrs), ppos, c["maskmem_pos_enc"], c["maskmem_tpos_enc"], self.nm,
            self.Cm)
        info = {"memory_frames": [[t, 0] for t in sel_cond] + [[i, t] for t, i in sel],
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

    def _decode(self, embed, hr, pts, labels, mask_input):
        feeds = {"image_embed": embed, "point_coords": pts, "point_labels": labels}
        feeds.update(hr)
        if mask_input is not None:
            if not getattr(self.b, "supports_mask_input", False):
                raise NotImplementedError(
                    "corrections need the previous logits as a mask input; bundle format 1 "
                    "has none (docs/internals/prompts.md); use the torch backend")
            feeds["mask_input"] = mask_input[None, None].astype(np.float32)
            feeds["has_mask_input"] = np.ones((1,), np.float32)
        return self.b.run("mask_decoder", feeds)

    def _heads(self, o, embed, hr, pts, labels, num_pts, init_cond, mask_input):
        """sam2_base.py _forward_sam_heads (+ the SAMURAI choice) -> _Out."""
        S, tr = self.S, self.tr
        dec = self._decode(embed, hr, pts, labels, mask_input)
        multimask = _use_multimask(tr, init_cond, num_pts)
        (low, chosen, iou4, score, present, best_iou, token, kf_score, branch,
         boxes3) = choose_heads(dec, tr, self.sel, self.min_obj, o.kf, S, multimask)
        return _Out(low=low.astype(np.float32), chosen=int(chosen), iou4=iou4, score=score,
                    present=bool(present), best_iou=best_iou, ptr=self._mix_ptr(token, score,
                                                                                present),
                    multimask=bool(multimask), branch=branch, kf_score=kf_score, boxes3=boxes3)

    def _mask_as_output(self, vf, hr, mask_bool):
        """sam2_base.py _use_mask_as_output on add_new_mask's input."""
        S = self.S
        m01 = hm.mask_prompt_to_image(mask_bool, S)
        low, _ = hm.mask_as_output_logits(m01)
        c = self.b.consts
        ds = hm.mask_downsample(m01, c["mask_downsample.weight"], c["mask_downsample.bias"])
        pts = np.zeros((1, 1, 2), np.float32)
        labels = -np.ones((1, 1), np.int32)
        dec = self._decode(vf, hr, pts, labels, ds)
        score_dec = np.float32(dec["obj_score_logits"].reshape(-1)[0])
        present_dec = bool(score_dec > np.float32(self.min_obj))
        ptr = self._mix_ptr(dec["obj_ptr"][0][0].astype(np.float32), score_dec, present_dec)
        appearing = bool(np.any(m01 > 0))
        lam = np.float32(1.0 if appearing else 0.0)
        if self.tr["pred_obj_scores"]:
            if self.tr["fixed_no_obj_ptr"]:
                ptr = lam * ptr
            ptr = (ptr + (np.float32(1) - lam) * c["no_obj_ptr"].reshape(-1)).astype(np.float32)
        score = np.float32(np.float32(20.0) * lam + np.float32(-10.0))
        return _Out(low=low, chosen=0, iou4=np.ones(4, np.float32), score=score,
                    present=appearing, best_iou=np.float32(1.0), ptr=ptr, multimask=False,
                    branch=None, kf_score=None, boxes3=None)

    def _prompt_points(self, p, prev_points):
        """add_new_points_or_box: box first (labels 2, 3), then the points; append=True concatenates
        to the frame's earlier point inputs (concat_points). Returns (coords [1,N,2], labels [1,N])."""
        S = self.S
        parts, labs = [], []
        if p.box is not None:
            parts.append(hm.scale_points([p.box[:2], p.box[2:]], self.vw, self.vh, S))
            labs.append(np.array([[2, 3]], np.int32))
        if p.points:
            parts.append(hm.scale_points(p.points, self.vw, self.vh, S))
            labs.append(np.array([p.labels], np.int32))
        pts = np.concatenate(parts, 1).astype(np.float32)
        lab = np.concatenate(labs, 1).astype(np.int32)
        if p.append and prev_points is not None:
            pts = np.concatenate([prev_points[0], pts], 1)
            lab = np.concatenate([prev_points[1], lab], 1)
        return pts, lab

    # -- one frame -----------------------------------------------------------------------------
    def step(self, rgb_u8):
        fi = self.frame_idx
        S = self.S
        img = preprocess(rgb_u8, S, self.meta["mean"], self.meta["std"])
        enc = self.b.run("image_encoder", {"image": img})
        vf = enc["vision_feats"]
        hr = {k: enc[k] for k in ("high_res_feats_0", "high_res_feats_1") if k in enc}
        no_mem = (vf + self.b.consts["no_mem_embed"].reshape(1, self.C, 1, 1)).astype(np.float32)
        results = {}
        for obj_id, o in list(self.objects.items()):
            prompts = self.pending.pop((fi, obj_id), [])
            if not o.started and not prompts:
                continue
            rec = {"frame": fi, "obj": obj_id, "prompt": None, "correction": False,
                   "memory_frames": [], "pointer_frames": []}
            out = None
            tracked_embed = None
            if o.started:
                memory, memory_pos, n_ptr, info = self._memory_inputs(o, fi)
                tracked_embed = self.b.run("memory_attention", {
                    "curr": vf, "memory": memory, "memory_pos": memory_pos,
                    "num_obj_ptr_tokens": np.array(n_ptr, np.int64)})["pix_feat_with_mem"]
                rec.update(info)
                out = self._heads(o, tracked_embed, hr, np.zeros((1, 1, 2), np.float32),
                                  -np.ones((1, 1), np.int32), 0, False, None)
            point_inputs = None
            for p in prompts:
                if o.kf is not None:  # a prompt re-initialises SAMURAI's Kalman filter
                    o.kf.mean = o.kf.cov = None
                    o.kf.stable_frames = 0
                if p.mask is not None:
                    out = self._mask_as_output(vf, hr, p.mask)
                    point_inputs = None
                else:
                    point_inputs = self._prompt_points(p, point_inputs)
                    prev = None if out is None else np.clip(out.low, -32.0, 32.0).astype(
                        np.float32)
                    init_cond = tracked_embed is None
                    embed = no_mem if init_cond else tracked_embed
                    out = self._heads(o, embed, hr, point_inputs[0], point_inputs[1],
                                      point_inputs[1].shape[1], init_cond, prev)
                rec["prompt"] = p.kind
                rec["correction"] = tracked_embed is not None
            is_cond = bool(prompts)
            mem = self.b.run("memory_encoder", {
                "pix_feat": vf, "mask_logits": out.low[None, None].astype(np.float32),
                "is_mask_from_pts": np.array([1.0 if is_cond else 0.0], np.float32)})
            feats = mem["maskmem_features"].astype(np.float32)
            if self.tr.get("no_obj_embed_spatial") and "no_obj_embed_spatial" in self.b.consts:
                is_obj = np.float32(1.0 if out.score > np.float32(0.0) else 0.0)
                feats = (feats + (np.float32(1) - is_obj) * self.b.consts[
                    "no_obj_embed_spatial"].reshape(1, self.Cm, 1, 1)).astype(np.float32)
            fr = mb.FrameRecord(hm.round_bf16(feats[0]), out.ptr, float(out.best_iou),
                                float(out.score), out.kf_score)
            if is_cond:
                o.records.pop(fi, None)
                o.cond[fi] = fr
            else:
                o.records[fi] = fr
            o.started = True
            o.lost = 0 if out.present else o.lost + 1
            out_mask = hm.bilinear_resize(out.low[None], self.vh, self.vw)[0] > 0
            kf = o.kf
            rec.update({
                "cond": is_cond, "chosen": out.chosen, "iou_pred": [float(v) for v in out.iou4],
                "obj_score": float(out.score), "present": out.present,
                "best_iou": float(out.best_iou), "multimask": out.multimask,
                "kf_branch": out.branch, "kf_score": out.kf_score,
                "kf_mean": None if kf is None or kf.mean is None else [float(v) for v in kf.mean],
                "kf_cov": None if kf is None or kf.cov is None else
                [float(v) for v in kf.cov.reshape(-1)],
                "stable_frames": None if kf is None else int(kf.stable_frames),
                "lost_frames": o.lost,
                "candidate_boxes_xyxy": out.boxes3,
                "box_xywh": hm.box_xywh_from_mask(out_mask),
            })
            results[obj_id] = (rec, out.low, out_mask)
        self.frame_idx += 1
        return results
