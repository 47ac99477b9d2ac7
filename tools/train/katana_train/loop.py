"""The differentiable tracking loop used for training, on the export wrappers (the same modules
that become the bundle's ONNX graphs), with plain SAM 2 memory (the previous frames) and the
object-pointer tokens. It mirrors the reference's video training step (sam2 training:
box prompt on the first frame, then tracking), simplified to one object and batch 1."""

import torch
import torch.nn.functional as F

NO_OBJ_SCORE = -1024.0


def focal_loss(logits, target, alpha=0.25, gamma=2.0):
    """Sigmoid focal loss averaged over pixels (sam2 training/loss_fns.py: sigmoid_focal_loss)."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * ((1 - p_t) ** gamma)
    a_t = alpha * target + (1 - alpha) * (1 - target)
    return (a_t * loss).mean()


def dice_loss(logits, target, eps=1.0):
    p = torch.sigmoid(logits).flatten()
    t = target.flatten()
    return 1 - (2 * (p * t).sum() + eps) / (p.sum() + t.sum() + eps)


def mask_iou(logits, target):
    pred = (logits > 0).float()
    inter = (pred * target).sum()
    union = ((pred + target) > 0).float().sum()
    return (inter / union) if union > 0 else torch.ones((), device=logits.device)


class Weights:
    mask = 20.0  # focal
    dice = 1.0
    iou = 1.0
    obj = 1.0


def frame_loss(masks_lr, ious, obj_logit, gt, size, candidates, w=Weights, absent_weight=1.0):
    """Loss of one frame: candidates are token indices (e.g. [0] or [1,2,3]).
    `absent_weight` multiplies the object-score loss on frames without the target, so that the
    rare full occlusions are learned.

    masks_lr [1,4,S/4,S/4] logits; ious [1,4]; obj_logit [1,1]; gt [S,S] in {0,1}.
    The mask loss applies to the candidate with the lowest focal+dice loss and only when the
    object is present; the IoU loss (L1 against the actual IoU) applies to every candidate.
    Returns (loss, index of the best candidate)."""
    present = float(gt.sum() > 0)
    up = F.interpolate(masks_lr, size=(size, size), mode="bilinear", align_corners=False)[0]
    losses, iou_terms = [], []
    for c in candidates:
        lg = up[c]
        losses.append(w.mask * focal_loss(lg, gt) + w.dice * dice_loss(lg, gt))
        with torch.no_grad():
            actual = mask_iou(lg, gt) if present else torch.zeros((), device=lg.device)
        iou_terms.append(torch.abs(ious[0, c] - actual))
    stacked = torch.stack(losses)
    best = int(torch.argmin(stacked.detach()))
    loss = present * stacked[best] + w.iou * present * torch.stack(iou_terms).mean()
    target = torch.full_like(obj_logit, present)
    ow = 1.0 if present else absent_weight
    loss = loss + w.obj * ow * F.binary_cross_entropy_with_logits(obj_logit, target)
    return loss, candidates[best]


def seg_batch(wr, model, images, boxes, gts):
    """Box-prompted segmentation of a batch of independent frames (the conditioning-frame path,
    without memory): images [B,3,S,S] f32, boxes B x (x0,y0,x1,y1) at model size, gts [B,S,S].
    Returns (mean loss, per-frame IoU of token 0)."""
    enc, _, dec, _ = wr
    S = images.shape[-1]
    C = model.hidden_dim
    dev = images.device
    feat = enc(images) + model.no_mem_embed.reshape(1, C, 1, 1)
    coords = torch.tensor([[[b[0], b[1]], [b[2], b[3]]] for b in boxes], dtype=torch.float32,
                          device=dev)
    labels = torch.tensor([[2, 3]] * len(boxes), dtype=torch.int32, device=dev)
    masks, iou_p, obj, _ = dec(feat, coords, labels)
    total, ious = 0.0, []
    for i in range(len(boxes)):
        l0, _ = frame_loss(masks[i:i + 1], iou_p[i:i + 1], obj[i:i + 1], gts[i], S, [0])
        l1, _ = frame_loss(masks[i:i + 1], iou_p[i:i + 1], obj[i:i + 1], gts[i], S, [1, 2, 3])
        total = total + l0 + 0.5 * l1
        with torch.no_grad():
            up = F.interpolate(masks[i:i + 1, 0:1], size=(S, S), mode="bilinear",
                               align_corners=False)[0, 0]
            ious.append(float(mask_iou(up, gts[i])))
    return total / len(boxes), ious


def correction_click(pred_up, gt, rng):
    """A simulated user's correction as in SAM 2's training (sam2 training: sample points from
    the error region): a positive click on a missed pixel or a negative click on a wrongly
    segmented one, whichever error is larger, picked uniformly in it. pred_up [S,S] bool,
    gt [S,S] f32. Returns ((x, y), label) at model size, or None if the mask is right."""
    g = gt > 0.5
    fn = (g & ~pred_up).nonzero()
    fp = (pred_up & ~g).nonzero()
    if len(fn) == 0 and len(fp) == 0:
        return None
    pts, label = (fn, 1) if len(fn) >= len(fp) else (fp, 0)
    yx = pts[rng.randrange(len(pts))]
    return (float(yx[1]) + 0.5, float(yx[0]) + 0.5), label


def track_clip(wr, consts, model, clip, start, length, num_maskmem=7, max_ptrs=16, box=None,
               gt_mem_prob=0.0, rng=None, absent_weight=1.0, click_prob=0.0, detach_mem=False,
               want_masks=False):
    """Runs the loop over frames [start, start+length) and returns (total loss, per-frame IoU).
    `box` overrides the first frame's prompt (x0, y0, x1, y1 at model size). With probability
    `gt_mem_prob` (drawn from `rng`) a tracked frame's memory is encoded from its ground-truth
    mask instead of the prediction (teacher forcing, to train memory attention on a usable
    memory while the predictions are still poor). With `detach_mem` the memory encoder gets the
    model's own mask, detached, as SAM 2's training builds memory from its predictions. With
    probability `click_prob` a tracked frame whose prediction is wrong gets one correction click
    (correction_click) and is decoded again with it; both decodes are trained and the corrected
    one goes to memory. `absent_weight` weights the object-score loss on frames without the
    target. With `want_masks` a third value is returned: per-frame (chosen mask logits
    [S/4,S/4] f32 detached, object-score logit)."""
    enc, mem_attn, dec, menc = wr
    S = clip.size
    C = model.hidden_dim
    dev = model.no_mem_embed.device
    no_mem = model.no_mem_embed.reshape(1, C, 1, 1)
    mpos = consts["maskmem_pos_enc"].to(dev)  # [1,64,H,W]
    tpos = model.maskmem_tpos_enc  # [num_maskmem,1,1,64], learnable
    bank = []  # (frame offset, maskmem [1,64,H,W], obj_ptr [1,C])
    total = 0.0
    ious = []
    outs = []
    for k in range(length):
        t = start + k
        feat = enc(clip.image(t).to(dev))
        gt = clip.mask(t).to(dev)
        if k == 0:
            x0, y0, x1, y1 = box if box is not None else clip.box_at_model_size(t)
            coords = torch.tensor([[[x0, y0], [x1, y1]]], dtype=torch.float32, device=dev)
            labels = torch.tensor([[2, 3]], dtype=torch.int32, device=dev)
            masks, iou_p, obj, ptrs = dec(feat + no_mem, coords, labels)
            loss0, _ = frame_loss(masks, iou_p, obj, gt, S, [0])
            loss1, _ = frame_loss(masks, iou_p, obj, gt, S, [1, 2, 3])
            loss = loss0 + 0.5 * loss1
            chosen = 0
            from_pts = torch.ones(1, device=dev)
        else:
            mem_tokens, pos_tokens = [], []
            # The conditioning frame (t_pos 0: tpos row num_maskmem-1), then the last
            # num_maskmem-1 frames oldest first; as in the reference, the frame d frames back
            # has t_pos num_maskmem-d and so tpos row d-1 (the previous frame uses row 0).
            prev = [b for b in bank[1:]][-(num_maskmem - 1):]
            sel = [(num_maskmem - 1, bank[0])] + [(k - b[0] - 1, b) for b in prev]
            for row, b in sel:
                mem_tokens.append(b[1].flatten(2).permute(0, 2, 1))
                pos_tokens.append((mpos + tpos[row].reshape(1, -1, 1, 1)).flatten(2).permute(0, 2, 1))
            # Pointers: the conditioning frame's first, then the previous frames newest first.
            ptr_list = [bank[0][2]] + [b[2] for b in bank[1:]][::-1][:max_ptrs - 1]
            ptrs_t = torch.stack(ptr_list, dim=1)  # [1,P,C]
            P = ptrs_t.shape[1]
            ptr_tok = ptrs_t.reshape(1, P, C // 64, 64).reshape(1, P * (C // 64), 64)
            memory = torch.cat(mem_tokens + [ptr_tok], dim=1)
            memory_pos = torch.cat(pos_tokens + [torch.zeros_like(ptr_tok)], dim=1)
            pix = mem_attn(feat, memory, memory_pos, torch.tensor(ptr_tok.shape[1]))
            coords = torch.zeros(1, 1, 2, device=dev)
            labels = torch.full((1, 1), -1, dtype=torch.int32, device=dev)
            masks, iou_p, obj, ptrs = dec(pix, coords, labels)
            loss, _ = frame_loss(masks, iou_p, obj, gt, S, [1, 2, 3], absent_weight=absent_weight)
            chosen = 1 + int(torch.argmax(iou_p[0, 1:].detach()))
            from_pts = torch.zeros(1, device=dev)
            if click_prob > 0 and rng is not None and gt.sum() > 0 and rng.random() < click_prob:
                with torch.no_grad():
                    up = F.interpolate(masks[:, chosen:chosen + 1], size=(S, S), mode="bilinear",
                                       align_corners=False)[0, 0] > 0
                click = correction_click(up, gt, rng)
                if click is not None:
                    (cx, cy), lab = click
                    coords = torch.tensor([[[cx, cy]]], dtype=torch.float32, device=dev)
                    labels = torch.tensor([[lab]], dtype=torch.int32, device=dev)
                    masks, iou_p, obj, ptrs = dec(pix, coords, labels)
                    loss2, _ = frame_loss(masks, iou_p, obj, gt, S, [1, 2, 3],
                                          absent_weight=absent_weight)
                    loss = 0.5 * (loss + loss2)
                    chosen = 1 + int(torch.argmax(iou_p[0, 1:].detach()))
                    from_pts = torch.ones(1, device=dev)
        total = total + loss
        present = (obj > 0).float()
        m = masks[:, chosen:chosen + 1]
        m = torch.where(obj.reshape(1, 1, 1, 1) > 0, m, torch.full_like(m, NO_OBJ_SCORE))
        if detach_mem:
            m = m.detach()
        if k > 0 and gt_mem_prob > 0 and rng is not None and rng.random() < gt_mem_prob:
            # Ground truth as saturated logits at the low-res mask size [1,1,S/4,S/4].
            g = F.interpolate(gt[None, None], size=m.shape[-2:], mode="area")
            m = ((g > 0.5).float() * 2 - 1) * 20.0
        maskmem = menc(feat, m, from_pts)
        ptr = ptrs[:, chosen]
        if getattr(model, "no_obj_ptr", None) is not None:
            ptr = present * ptr + (1 - present) * model.no_obj_ptr
        bank.append((k, maskmem, ptr))
        if len(bank) > max(num_maskmem, max_ptrs) + 1:
            del bank[1]  # keep the conditioning frame and the recent ones only
        with torch.no_grad():
            up = F.interpolate(masks[:, chosen:chosen + 1], size=(S, S), mode="bilinear",
                               align_corners=False)[0, 0]
            ious.append(float(mask_iou(up, gt)) if gt.sum() > 0 else float((up > 0).sum() == 0))
            if want_masks:
                outs.append((masks[0, chosen].detach().float().cpu(), float(obj.reshape(-1)[0])))
    if want_masks:
        return total / length, ious, outs
    return total / length, ious
