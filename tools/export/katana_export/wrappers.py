"""One nn.Module per ONNX module of a katana bundle (docs/bundle-format.md).

Each wrapper holds a reference to a full tracker model (SAM2Base / EfficientTAMBase attribute names:
image_encoder, memory_attention, memory_encoder, sam_prompt_encoder, sam_mask_decoder, obj_ptr_proj,
...) and computes exactly what the bundle contract says, mirroring the reference's
forward_image / _prepare_backbone_features / _forward_sam_heads / memory attention /
_encode_new_memory. Everything host-side (candidate choice, object-score gating, memory bank,
pointer mixing) stays out of the graphs.

Export rules the graphs must satisfy (checked by export.lint): no Gather on the last axis with a
scalar constant index (we slice with ranges instead), no ScatterND (no in-place slice assignment),
no complex numbers (RoPE is written with real cos/sin tables), no Reshape to rank > 5.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def flag(model, name, default=False):
    """A tracker flag read from the model (official attribute names)."""
    return getattr(model, name, default)


def use_high_res(model):
    return bool(flag(model, "use_high_res_features_in_sam", False))


# ----------------------------------------------------------------------------------------------
# image_encoder


class ImageEncoderW(nn.Module):
    """image [1,3,S,S] -> vision_feats [1,C,H,W] (+ high_res_feats_0/1 for SAM 2.1)."""

    def __init__(self, model):
        super().__init__()
        self.m = model
        self.high_res = use_high_res(model)

    def backbone(self, image):
        out = self.m.image_encoder(image)
        fpn = list(out["backbone_fpn"])
        pos = list(out["vision_pos_enc"])
        if self.high_res:
            # forward_image: project the two high-res levels with the decoder's conv_s0/conv_s1
            fpn[0] = self.m.sam_mask_decoder.conv_s0(fpn[0])
            fpn[1] = self.m.sam_mask_decoder.conv_s1(fpn[1])
        return fpn, pos

    def forward(self, image):
        fpn, _ = self.backbone(image)
        if self.high_res:
            return fpn[-1], fpn[0], fpn[1]
        return fpn[-1]

    def reference(self, image):
        """The model's own forward_image (when it has one), for checks."""
        if not hasattr(self.m, "forward_image"):
            return self.forward(image)
        fpn = list(self.m.forward_image(image)["backbone_fpn"])
        if self.high_res:
            return fpn[-1], fpn[0], fpn[1]
        return fpn[-1]


# ----------------------------------------------------------------------------------------------
# memory_attention


def axial_rope_tables(head_dim, end_x, end_y, theta=10000.0):
    """cos/sin [end_x*end_y, head_dim/2] of the axial 2-D RoPE (x frequencies then y)."""
    n = head_dim // 4
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 4)[:n].float() / head_dim))
    t = torch.arange(end_x * end_y, dtype=torch.float32)
    t_x = (t % end_x).float()
    t_y = torch.div(t, end_x, rounding_mode="floor").float()
    ang = torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)
    return torch.cos(ang), torch.sin(ang)


def rope_tables_of(attn, hw):
    """cos/sin tables [hw, head_dim/2] for a RoPE attention module of the model.

    Uses the module's own precomputed table when it has one (complex `freqs_cis`, or real
    `freqs_cos`/`freqs_sin`), so the values are bit-identical to the reference's."""
    head_dim = attn.internal_dim // attn.num_heads
    fc = getattr(attn, "freqs_cis", None)
    if isinstance(fc, torch.Tensor) and fc.shape[0] == hw:
        if fc.is_complex():
            return fc.real.float().clone(), fc.imag.float().clone()
        if fc.dim() == 3 and fc.shape[-1] == 2:  # [hw, d/2, 2] real view
            return fc[..., 0].float().clone(), fc[..., 1].float().clone()
    for cn, sn in (("rope_cos", "rope_sin"), ("freqs_cos", "freqs_sin")):
        cos = getattr(attn, cn, None)
        sin = getattr(attn, sn, None)
        if isinstance(cos, torch.Tensor) and isinstance(sin, torch.Tensor) and cos.shape[0] == hw:
            return cos.float().clone(), sin.float().clone()
    theta = getattr(attn, "rope_theta", None)
    if theta is None:
        cc = getattr(attn, "compute_cis", None)
        theta = getattr(cc, "keywords", {}).get("theta", 10000.0) if cc is not None else 10000.0
    side = int(round(math.sqrt(hw)))
    return axial_rope_tables(head_dim, side, side, float(theta))


def is_rope(attn):
    return ("RoPE" in type(attn).__name__ or hasattr(attn, "freqs_cis")
            or hasattr(attn, "rope_cos") or hasattr(attn, "rope_k_repeat"))


def apply_rope(x, cos, sin):
    """x [1,h,L,d] with interleaved (re,im) pairs; cos/sin [L,d/2]. Real-valued complex rotate.

    Pairs are taken with range slices (Slice), never scalar indices on the last axis."""
    b, h, n, d = x.shape
    xp = x.reshape(b, h, n, d // 2, 2)
    a = xp[..., 0:1]
    c = xp[..., 1:2]
    cos = cos.unsqueeze(-1)
    sin = sin.unsqueeze(-1)
    out = torch.cat([a * cos - c * sin, a * sin + c * cos], dim=-1)
    return out.reshape(b, h, n, d)


def sdpa(q, k, v):
    """softmax(q k^T / sqrt(d)) v. The score MatMul feeds the Softmax (FP16 keeps it FP32)."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    attn = torch.matmul(q, k.transpose(-2, -1)) * scale
    attn = torch.softmax(attn, dim=-1)
    return torch.matmul(attn, v)


class MemoryAttentionW(nn.Module):
    """curr [1,C,H,W], memory [1,M,Cm], memory_pos [1,M,Cm], num_obj_ptr_tokens [] int64
    -> pix_feat_with_mem [1,C,H,W].

    Re-expresses the model's memory attention layer by layer with its own weights, with RoPE in
    real arithmetic and the object-pointer tokens excluded from RoPE by a mask (no slice
    assignment), so M and num_obj_ptr_tokens can be graph inputs."""

    def __init__(self, model, feat_hw, curr_pos):
        super().__init__()
        self.m = model
        ma = model.memory_attention
        self.ma = ma
        self.h, self.w = feat_hw
        hw = self.h * self.w
        # curr_pos: [1,C,H,W] -> [1,HW,C]; baked into the graph
        self.register_buffer("curr_pos", curr_pos.flatten(2).permute(0, 2, 1).contiguous())
        self.tables = nn.ModuleList()
        for layer in ma.layers:
            t = nn.Module()
            for tag, attn in (("sa", layer.self_attn), ("ca", layer.cross_attn_image)):
                cls = type(attn).__name__
                if tag == "ca":
                    # EfficientTAM _1/_2 variants: spatial memory K/V 2x2-pooled per frame
                    mode = 0
                    if getattr(attn, "rope_k_repeat", False):
                        if cls == "EfficientRoPEAttention1":
                            mode = 1
                        elif cls == "EfficientRoPEAttention2":
                            mode = 2
                    t.pool_mode = mode
                if is_rope(attn):
                    cos, sin = rope_tables_of(attn, hw)
                else:
                    cos = sin = torch.zeros(0)
                t.register_buffer(tag + "_cos", cos)
                t.register_buffer(tag + "_sin", sin)
            self.tables.append(t)

    @staticmethod
    def _heads(x, nh):
        b, n, c = x.shape
        return x.reshape(b, n, nh, c // nh).transpose(1, 2)

    @staticmethod
    def _merge(x):
        b, nh, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, nh * d)

    def _self_attn(self, attn, q, k, v, cos, sin):
        nh = attn.num_heads
        q = self._heads(attn.q_proj(q), nh)
        k = self._heads(attn.k_proj(k), nh)
        v = self._heads(attn.v_proj(v), nh)
        if cos.numel():
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
        return attn.out_proj(self._merge(sdpa(q, k, v)))

    def _pool(self, t):
        """2x2 average pool of each spatial memory frame: [1,h,F*HW,d] -> [1,h,F*HW/4,d], with
        the reference's reshape sequence (landmarks of EfficientRoPEAttention1/2)."""
        nq = self.h * self.w
        b, nh, _, d = t.shape
        g = t.reshape(b, -1, nq, d).transpose(-2, -1).reshape(b, -1, self.w, self.h)
        g = F.avg_pool2d(g, 2, stride=2)
        g = g.reshape(b, -1, d, nq // 4).transpose(-2, -1)
        return g.reshape(b, nh, -1, d)

    def _cross_attn(self, attn, q, k, v, cos, sin, num_ptr, pool_mode=0):
        nh = attn.num_heads
        q = self._heads(attn.q_proj(q), nh)
        k = self._heads(attn.k_proj(k), nh)
        v = self._heads(attn.v_proj(v), nh)
        m = k.shape[2]
        idx = torch.arange(m, device=k.device)
        n_sp = m - num_ptr
        if cos.numel():
            q = apply_rope(q, cos, sin)
            # memory token j (spatial) uses the RoPE row j mod HW (rope_k_repeat); the trailing
            # num_ptr pointer tokens are left unrotated.
            rows = torch.remainder(idx, cos.shape[0])
            kc = torch.index_select(cos, 0, rows)
            ks = torch.index_select(sin, 0, rows)
            k_rot = apply_rope(k, kc, ks)
            keep = (idx < n_sp).reshape(1, 1, m, 1)
            k = torch.where(keep, k_rot, k)
        plain = sdpa(q, k, v)
        if pool_mode == 0:
            return attn.out_proj(self._merge(plain))
        # pooled landmarks when there is more than one spatial frame (reference: num_k_rope > nq)
        nq = q.shape[2]
        sp_idx = torch.arange(n_sp, device=k.device)
        ptr_idx = torch.arange(num_ptr, device=k.device) + n_sp
        k_sp, k_ptr = torch.index_select(k, 2, sp_idx), torch.index_select(k, 2, ptr_idx)
        v_sp, v_ptr = torch.index_select(v, 2, sp_idx), torch.index_select(v, 2, ptr_idx)
        k_land = self._pool(k_sp)
        v_all = torch.cat([self._pool(v_sp), v_ptr], dim=-2)
        bias = 2 * math.log(2)
        if pool_mode == 1:
            scale = 1.0 / math.sqrt(k.shape[-1])
            logits = torch.cat([torch.matmul(q, k_land.transpose(-2, -1)) * scale + bias,
                                torch.matmul(q, k_ptr.transpose(-2, -1)) * scale], dim=-1)
            pooled = torch.matmul(torch.softmax(logits, dim=-1), v_all)
        else:
            pooled = sdpa(q, torch.cat([k_land + bias, k_ptr], dim=-2), v_all)
        out = torch.where(n_sp > nq, pooled, plain)
        return attn.out_proj(self._merge(out))

    def forward(self, curr, memory, memory_pos, num_obj_ptr_tokens):
        ma = self.ma
        x = curr.flatten(2).permute(0, 2, 1)  # [1,HW,C]
        qpos = self.curr_pos
        if getattr(ma, "pos_enc_at_input", False):
            x = x + 0.1 * qpos
        num_ptr = num_obj_ptr_tokens.reshape(())
        for layer, t in zip(ma.layers, self.tables):
            # self-attention
            y = layer.norm1(x)
            qk = y + qpos if layer.pos_enc_at_attn else y
            x = x + self._self_attn(layer.self_attn, qk, qk, y, t.sa_cos, t.sa_sin)
            # cross-attention to the memory
            y = layer.norm2(x)
            q = y + qpos if layer.pos_enc_at_cross_attn_queries else y
            k = memory + memory_pos if layer.pos_enc_at_cross_attn_keys else memory
            x = x + self._cross_attn(layer.cross_attn_image, q, k, memory, t.ca_cos, t.ca_sin,
                                     num_ptr, t.pool_mode)
            # feed-forward
            y = layer.norm3(x)
            x = x + layer.linear2(layer.activation(layer.linear1(y)))
        x = ma.norm(x)
        b, n, c = x.shape
        return x.permute(0, 2, 1).reshape(b, c, self.h, self.w)

    def reference(self, curr, memory, memory_pos, num_obj_ptr_tokens):
        """The model's own memory attention (seq-first call as in the reference), for checks."""
        cur = curr.flatten(2).permute(2, 0, 1)
        pos = self.curr_pos.permute(1, 0, 2)
        out = self.ma(curr=[cur], curr_pos=[pos], memory=memory.permute(1, 0, 2),
                      memory_pos=memory_pos.permute(1, 0, 2),
                      num_obj_ptr_tokens=int(num_obj_ptr_tokens))
        if out.shape[0] != 1:  # [HW,1,C]
            out = out.permute(1, 0, 2)
        return out.permute(0, 2, 1).reshape(1, -1, self.h, self.w)


# ----------------------------------------------------------------------------------------------
# mask_decoder


class MaskDecoderW(nn.Module):
    """image_embed [1,C,H,W] (+ high_res_feats_0/1), point_coords [1,N,2] f32,
    point_labels [1,N] int32 (+ bundle format 2: mask_input [1,1,4H,4W] f32, has_mask_input [1]
    f32) -> masks [1,4,4H,4W], iou_pred [1,4], obj_score_logits [1,1], obj_ptr [1,4,C].

    mask_input=True (format 2): the dense prompt embedding is chosen in-graph with Where:
    has_mask_input > 0.5 selects sam_prompt_encoder.mask_downscaling(mask_input), else the
    broadcast no_mask_embed; both branches are computed. Where copies the chosen value, so the
    result is bit-identical to the prompt encoder's own _embed_masks / no_mask_embed path."""

    def __init__(self, model, mask_input=True):
        super().__init__()
        self.m = model
        pe = model.sam_prompt_encoder
        self.high_res = use_high_res(model)
        self.mask_input = bool(mask_input)
        self.register_buffer("dense_pe", pe.get_dense_pe().detach().clone())
        h, w = pe.image_embedding_size
        self.register_buffer(
            "dense_nomask", pe.no_mask_embed.weight.detach().reshape(1, -1, 1, 1)
            .expand(1, -1, h, w).contiguous())
        self.in_h, self.in_w = pe.input_image_size

    def sparse_embed(self, coords, labels):
        """The prompt encoder's _embed_points(pad=True) without in-place masked writes."""
        pe = self.m.sam_prompt_encoder
        coords = coords + 0.5
        pad_pt = torch.zeros_like(coords[:, :1, :])
        pad_lb = torch.full_like(labels[:, :1], -1)
        coords = torch.cat([coords, pad_pt], dim=1)
        labels = torch.cat([labels, pad_lb], dim=1)
        # normalise by the input image size (x by width, y by height), as the reference divides
        norm = torch.cat([coords[:, :, 0:1] / self.in_w, coords[:, :, 1:2] / self.in_h], dim=-1)
        g = pe.pe_layer.positional_encoding_gaussian_matrix
        c = 2 * norm - 1
        c = c @ g
        c = 2 * math.pi * c
        emb = torch.cat([torch.sin(c), torch.cos(c)], dim=-1)
        lab = labels.unsqueeze(-1)
        add = torch.zeros_like(emb)
        for i, pemb in enumerate(pe.point_embeddings):
            add = add + (lab == i).to(emb.dtype) * pemb.weight
        emb = emb + add
        emb = torch.where(lab == -1, pe.not_a_point_embed.weight.expand_as(emb), emb)
        return emb

    def split_args(self, rest):
        """(high, coords, labels, mask_input, has_mask_input) from the inputs after image_embed,
        in contract order; the mask pair is None on format 1 or when not given."""
        rest = list(rest)
        high = None
        if self.high_res:
            high = [rest.pop(0), rest.pop(0)]
        coords, labels = rest.pop(0), rest.pop(0)
        # callers in PyTorch (training) may leave the mask pair out: no mask input
        mask, has = (rest[0], rest[1]) if self.mask_input and len(rest) == 2 else (None, None)
        return high, coords, labels, mask, has

    def dense_embed(self, mask, has):
        """[1,C,H,W] f32 dense prompt embedding (no_mask_embed when there is no mask input)."""
        if mask is None:
            return self.dense_nomask
        pe = self.m.sam_prompt_encoder
        sel = has.reshape(1, 1, 1, 1) > 0.5
        return torch.where(sel, pe.mask_downscaling(mask), self.dense_nomask)

    def forward(self, image_embed, *rest):
        high, coords, labels, mask, has = self.split_args(rest)
        sparse = self.sparse_embed(coords, labels)
        masks, iou_pred, tokens, obj_score = self.m.sam_mask_decoder.predict_masks(
            image_embeddings=image_embed, image_pe=self.dense_pe, sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=self.dense_embed(mask, has), repeat_image=False,
            high_res_features=high)
        obj_ptr = self.m.obj_ptr_proj(tokens)
        return masks, iou_pred, obj_score, obj_ptr

    def reference(self, image_embed, *rest):
        """The official path: prompt encoder forward (masks=mask_input when has_mask_input is
        set, as sam2_base.py _forward_sam_heads) + mask decoder predict_masks."""
        high, coords, labels, mask, has = self.split_args(rest)
        masks_in = mask if mask is not None and float(has.reshape(-1)[0]) > 0.5 else None
        sparse, dense = self.m.sam_prompt_encoder(points=(coords, labels), boxes=None,
                                                  masks=masks_in)
        masks, iou_pred, tokens, obj_score = self.m.sam_mask_decoder.predict_masks(
            image_embeddings=image_embed, image_pe=self.m.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, repeat_image=False,
            high_res_features=high)
        return masks, iou_pred, obj_score, self.m.obj_ptr_proj(tokens)


# ----------------------------------------------------------------------------------------------
# memory_encoder


class MemoryEncoderW(nn.Module):
    """pix_feat [1,C,H,W], mask_logits [1,1,S/4,S/4], is_mask_from_pts [1] f32
    -> maskmem_features [1,Cm,H,W]."""

    def __init__(self, model):
        super().__init__()
        self.m = model
        self.size = int(model.image_size)
        self.binarize = bool(flag(model, "binarize_mask_from_pts_for_mem_enc", False))
        self.scale = float(flag(model, "sigmoid_scale_for_mem_enc", 1.0))
        self.bias = float(flag(model, "sigmoid_bias_for_mem_enc", 0.0))

    def prepare(self, mask_logits, is_mask_from_pts):
        high = F.interpolate(mask_logits, size=(self.size, self.size), mode="bilinear",
                             align_corners=False)
        prob = torch.sigmoid(high)
        if self.binarize:
            hard = (high > 0).to(high.dtype)
            sel = (is_mask_from_pts.reshape(1, 1, 1, 1) > 0.5)
            prob = torch.where(sel, hard, prob)
        if self.scale != 1.0:
            prob = prob * self.scale
        if self.bias != 0.0:
            prob = prob + self.bias
        return prob

    def forward(self, pix_feat, mask_logits, is_mask_from_pts):
        mask = self.prepare(mask_logits, is_mask_from_pts)
        out = self.m.memory_encoder(pix_feat, mask, skip_mask_sigmoid=True)
        return out["vision_features"]

    def reference(self, pix_feat, mask_logits, is_mask_from_pts):
        """_encode_new_memory written as the reference does it (Python branch on the flag)."""
        high = F.interpolate(mask_logits, size=(self.size, self.size), mode="bilinear",
                             align_corners=False)
        if self.binarize and float(is_mask_from_pts.reshape(-1)[0]) > 0.5:
            mask = (high > 0).float()
        else:
            mask = torch.sigmoid(high)
        if self.scale != 1.0:
            mask = mask * self.scale
        if self.bias != 0.0:
            mask = mask + self.bias
        return self.m.memory_encoder(pix_feat, mask, skip_mask_sigmoid=True)["vision_features"]

    def pos_enc(self, pix_feat, mask_logits, is_mask_from_pts):
        mask = self.prepare(mask_logits, is_mask_from_pts)
        out = self.m.memory_encoder(pix_feat, mask, skip_mask_sigmoid=True)
        return out["vision_pos_enc"][-1]
