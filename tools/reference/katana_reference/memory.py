"""Memory-bank and object-pointer selection (sam2_base.py _prepare_memory_conditioned_features).

Pure functions over per-frame score records, so the rules can be tested on synthetic histories and
ported to C one by one. The conditioning frame is frame `cond_idx` (0 for box-prompted tracking);
every later frame is a "non-conditioning" frame holding a FrameRecord.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import hostmath


@dataclass
class FrameRecord:
    """What the reference keeps per tracked frame (sam2_video_predictor.py compact_current_out)."""
    maskmem_features: np.ndarray  # [Cm,H,W] f32, already rounded to bfloat16 values
    obj_ptr: np.ndarray  # [C] f32, after no-object mixing
    best_iou: float  # f32 predicted IoU of the chosen candidate
    obj_score: float  # f32 object score logit
    kf_score: Optional[float]  # f64 kf IoU of the chosen candidate, None outside the stable branch


def select_memory_samurai(frame_idx, records, num_maskmem, max_obj_ptrs_in_encoder,
                          iou_thr, obj_thr, kf_thr, fallback=()):
    """samurai_mode branch: walk back i = frame_idx-1 .. 2, keep frames with best_iou > iou_thr,
    obj_score > obj_thr and (kf_score None or > kf_thr); stop once max_obj_ptrs_in_encoder-1 are
    kept; append frame_idx-1 if not kept; the last num_maskmem-1 kept frames get t_pos 1.. in
    order (newest = num_maskmem-1). Frames without a record (the conditioning frame) are
    skipped, as the reference skips a None output. Returns [(t_pos, frame_index)].
    Comparisons: .item() gives Python floats, so these compare in float64 (as the reference).
    `fallback`: frames that are conditioning frames left out by max_cond_frames_in_attn
    (`unselected_cond_outputs`); a kept index is looked up there when it has no record."""
    valid = []
    if frame_idx > 1:
        for i in range(frame_idx - 1, 1, -1):
            r = records.get(i)
            if r is None:
                # a conditioning frame, or a frame before the object existed: the official
                # fork only ever sees non-conditioning outputs here (single box on frame 0)
                continue
            if (float(r.best_iou) > iou_thr and float(r.obj_score) > obj_thr
                    and (r.kf_score is None or float(r.kf_score) > kf_thr)):
                valid.insert(0, i)
            if len(valid) >= max_obj_ptrs_in_encoder - 1:
                break
    if frame_idx - 1 not in valid:
        valid.append(frame_idx - 1)
    out = []
    for t_pos in range(1, num_maskmem):
        k = t_pos - num_maskmem
        if k < -len(valid):
            continue
        idx = valid[k]
        if idx in records or idx in fallback:
            out.append((t_pos, idx))
    return out


def select_memory_sam2(frame_idx, records, num_maskmem, stride=1, fallback=()):
    """Plain SAM 2 (track forward): t_pos 1..num_maskmem-1; t_rel = num_maskmem - t_pos frames
    back; t_rel == 1 is the previous frame, others on the stride grid. Returns [(t_pos, idx)]."""
    out = []
    for t_pos in range(1, num_maskmem):
        t_rel = num_maskmem - t_pos
        if t_rel == 1:
            prev = frame_idx - t_rel
        else:
            prev = ((frame_idx - 2) // stride) * stride
            prev = prev - (t_rel - 2) * stride
        if prev in records or prev in fallback:
            out.append((t_pos, prev))
    return out


def select_closest_cond_frames(frame_idx, cond_frames, max_cond_frame_num):
    """sam2_utils.py select_closest_cond_frames: up to max_cond_frame_num conditioning frames
    (-1 = all): the closest before, the closest at/after, then the rest by |t - frame_idx|.
    cond_frames: frame indices in insertion order. Returns (selected, unselected): all frames in
    insertion order when no limit applies, else [before, after, others by distance] as the
    reference's dict order; unselected in insertion order."""
    if max_cond_frame_num == -1 or len(cond_frames) <= max_cond_frame_num:
        return list(cond_frames), []
    assert max_cond_frame_num >= 2, "we should allow using 2+ conditioning frames"
    sel = []
    before = [t for t in cond_frames if t < frame_idx]
    if before:
        sel.append(max(before))
    after = [t for t in cond_frames if t >= frame_idx]
    if after:
        sel.append(min(after))
    num_remain = max_cond_frame_num - len(sel)
    rest = sorted((t for t in cond_frames if t not in sel), key=lambda x: abs(x - frame_idx))
    sel += rest[:num_remain]
    return sel, [t for t in cond_frames if t not in sel]


def select_pointers(frame_idx, cond_idx, records, num_frames, max_obj_ptrs_in_encoder,
                    only_past_for_eval=True, signed_tpos=False):
    """Object pointers: the conditioning frame's (if in the past or only_past_for_eval is off),
    then frames frame_idx-1, frame_idx-2, ... up to max_ptrs-1 back (those with a record).
    max_ptrs = min(num_frames, max_obj_ptrs_in_encoder) as the reference. Returns
    ([(tpos_value, frame_index)], t_diff_max) with the conditioning pointer first."""
    max_ptrs = min(num_frames, max_obj_ptrs_in_encoder)
    out = []
    if not only_past_for_eval or cond_idx <= frame_idx:
        out.append((frame_idx - cond_idx if signed_tpos else abs(frame_idx - cond_idx), cond_idx))
    for t_diff in range(1, max_ptrs):
        t = frame_idx - t_diff
        if t < 0 or (num_frames is not None and t >= num_frames):
            break
        if t in records:
            out.append((t_diff, t))
    return out, max_ptrs - 1


def pointer_pos_enc(tpos_values, t_diff_max, hidden_dim, mem_dim, add_tpos, proj_tpos,
                    proj_weight=None, proj_bias=None):
    """Temporal encodings of the pointers [P, mem_dim] f32: get_1d_sine_pe(pos / t_diff_max,
    dim) then obj_ptr_tpos_proj (Linear C->Cm when proj_tpos, identity otherwise); zeros when
    add_tpos is off."""
    n = len(tpos_values)
    if not add_tpos:
        return np.zeros((n, mem_dim), np.float32)
    pos = np.asarray(tpos_values, np.float32) / np.float32(t_diff_max)
    dim = hidden_dim if proj_tpos else mem_dim
    pe = hostmath.sine_pe_1d(pos, dim)
    if proj_tpos:
        pe = (pe @ proj_weight.T.astype(np.float32) + proj_bias.astype(np.float32))
    return pe.astype(np.float32)


def assemble_memory(spatial, pointers, pointer_pos, maskmem_pos_enc, maskmem_tpos_enc,
                    num_maskmem, mem_dim):
    """Build the memory_attention inputs in the reference order.
    spatial: [(t_pos, maskmem_features [Cm,H,W])] (conditioning frame first with t_pos 0);
    pointers: [P, C] f32; pointer_pos: [P, Cm] f32; maskmem_pos_enc [1,Cm,H,W];
    maskmem_tpos_enc [num_maskmem,1,1,Cm]. Returns memory [1,M,Cm], memory_pos [1,M,Cm],
    num_obj_ptr_tokens (int)."""
    mem, pos = [], []
    pe = maskmem_pos_enc.reshape(mem_dim, -1).T  # [HW, Cm]
    for t_pos, feats in spatial:
        mem.append(feats.reshape(mem_dim, -1).T)
        pos.append(pe + maskmem_tpos_enc[num_maskmem - t_pos - 1].reshape(1, mem_dim))
    n_ptr_tok = 0
    if len(pointers):
        ptrs = np.asarray(pointers, np.float32)
        split = ptrs.shape[1] // mem_dim
        mem.append(ptrs.reshape(-1, mem_dim))  # pointer p -> tokens p*split .. p*split+split-1
        pos.append(np.repeat(np.asarray(pointer_pos, np.float32), split, axis=0))
        n_ptr_tok = ptrs.shape[0] * split
    memory = np.concatenate(mem, 0).astype(np.float32)[None]
    memory_pos = np.concatenate(pos, 0).astype(np.float32)[None]
    return np.ascontiguousarray(memory), np.ascontiguousarray(memory_pos), n_ptr_tok


def select_pointers_multi(frame_idx, cond_frames, records, num_frames, max_obj_ptrs_in_encoder,
                          only_past_for_eval=True, signed_tpos=False, fallback=()):
    """select_pointers with several conditioning frames (sam2_base.py
    _prepare_memory_conditioned_features, forward tracking): one pointer per selected
    conditioning frame (in the order given; only those at or before frame_idx when
    only_past_for_eval), temporal value frame_idx - t (abs unless signed_tpos); then t_diff =
    1 .. max_ptrs-1 frames back from the records, else from `fallback` (unselected conditioning
    frames). Returns ([(tpos_value, frame_index)], t_diff_max)."""
    max_ptrs = min(num_frames, max_obj_ptrs_in_encoder)
    out = []
    for t in cond_frames:
        if not only_past_for_eval or t <= frame_idx:
            out.append((frame_idx - t if signed_tpos else abs(frame_idx - t), t))
    for t_diff in range(1, max_ptrs):
        t = frame_idx - t_diff
        if t < 0 or (num_frames is not None and t >= num_frames):
            break
        if t in records or t in fallback:
            out.append((t_diff, t))
    return out, max_ptrs - 1
