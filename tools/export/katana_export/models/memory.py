"""Memory attention (RoPE transformer over past-frame memories) and memory encoder.

Tensors follow the reference layout: MemoryAttention takes sequence-first tokens
curr [HW, B, C], memory [M, B, Cm] and returns [HW, B, C].
"""

import copy
import math
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .common import DropPath, LayerNorm2d, activation_from_name, attention_math
from .position import axial_rope_cos_sin, rope_rotate, rope_tables_for_keys
from .sam_heads import Attention

IntLike = Union[int, torch.Tensor]


class RoPEAttention(Attention):
    """Attention with axial rotary position encoding on queries and (the first part of) keys.

    cos/sin tables for the `feat_sizes` grid are non-persistent buffers (not in the state dict).
    forward(q [B,Lq,C], k [B,Lk,kv], v [B,Lk,kv], num_k_exclude_rope) -> [B,Lq,C]; the last
    `num_k_exclude_rope` keys (object pointers) are not rotated.
    """

    def __init__(
        self,
        *args,
        rope_theta: float = 10000.0,
        rope_k_repeat: bool = False,
        feat_sizes: Sequence[int] = (64, 64),
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rope_theta = rope_theta
        self.rope_k_repeat = rope_k_repeat
        self.feat_sizes = tuple(int(s) for s in feat_sizes)
        cos, sin = axial_rope_cos_sin(self.internal_dim // self.num_heads, self.feat_sizes[0], self.feat_sizes[1], rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def _tables(self, num_queries: int):
        if self.rope_cos.shape[0] == num_queries:
            return self.rope_cos, self.rope_sin
        side = int(round(math.sqrt(num_queries)))
        cos, sin = axial_rope_cos_sin(self.internal_dim // self.num_heads, side, side, self.rope_theta)
        return cos.to(self.rope_cos.device), sin.to(self.rope_sin.device)

    def _rotate(self, q: torch.Tensor, k: torch.Tensor, num_k_exclude_rope: IntLike):
        cos, sin = self._tables(q.shape[-2])
        q = rope_rotate(q, cos, sin)
        num_keys = k.shape[-2]
        num_k_rope = num_keys - num_k_exclude_rope
        if not self.rope_k_repeat and isinstance(num_k_exclude_rope, int) and num_k_exclude_rope == 0:
            if num_keys != q.shape[-2]:
                raise ValueError("keys and queries differ in length; rope_k_repeat is required")
            k = rope_rotate(k, cos, sin)
        else:
            cos_k, sin_k = rope_tables_for_keys(cos, sin, num_keys, num_k_rope)
            k = rope_rotate(k, cos_k, sin_k)
        return q, k, num_k_rope

    def forward(self, q, k, v, num_k_exclude_rope: IntLike = 0):
        q, k, v = self._project(q, k, v)
        q, k, _ = self._rotate(q, k, num_k_exclude_rope)
        return self.out_proj(self._recombine_heads(attention_math(q, k, v)))


def _pool_memory_tokens(t: torch.Tensor, num_queries: int, side: int) -> torch.Tensor:
    """2x2 average-pool each memory frame's token grid, with the reference's exact reshapes.

    t: [B, heads, F * Nq, d] -> [B, heads, F * Nq / 4, d].
    """
    fs, bs, _, ds = t.shape
    grid = t.reshape(fs, -1, num_queries, ds).transpose(-2, -1).reshape(fs, -1, side, side)
    pooled = F.avg_pool2d(grid, 2, stride=2)
    pooled = pooled.reshape(fs, -1, ds, num_queries // 4).transpose(-2, -1)
    return pooled.reshape(fs, bs, -1, ds)


def _split_tokens(t: torch.Tensor, first: IntLike):
    """(t[:, :, :first], t[:, :, first:]); with a 0-d tensor `first` via index_select so a traced
    graph keeps the split dynamic."""
    if isinstance(first, int):
        return t[:, :, :first], t[:, :, first:]
    head = torch.arange(first, device=t.device)
    tail = torch.arange(first, t.shape[2], device=t.device)
    return t.index_select(2, head), t.index_select(2, tail)


class _EfficientRoPEAttentionBase(RoPEAttention):
    """Cross-attention whose spatial memory keys/values are 2x2 average-pooled per frame
    ("landmarks") once there is more than one frame of spatial memory.

    Whether the landmark path runs is a Python decision (num_k_rope > Nq), so a traced/exported
    graph is specific to either the single-frame or the multi-frame case.
    """

    landmark_mode = 0

    def __init__(self, *args, feat_sizes: Sequence[int] = (32, 32), **kwargs) -> None:
        super().__init__(*args, feat_sizes=feat_sizes, **kwargs)

    def forward(self, q, k, v, num_k_exclude_rope: IntLike = 0):
        q, k, v = self._project(q, k, v)
        q, k, num_k_rope = self._rotate(q, k, num_k_exclude_rope)
        nq = q.shape[-2]
        if not self.rope_k_repeat or num_k_rope <= nq:
            out = attention_math(q, k, v)
        else:
            side = int(math.sqrt(nq))
            k_sp, k_ptr = _split_tokens(k, num_k_rope)
            v_sp, v_ptr = _split_tokens(v, num_k_rope)
            k_land = _pool_memory_tokens(k_sp, nq, side)
            v_land = torch.cat([_pool_memory_tokens(v_sp, nq, side), v_ptr], dim=-2)
            bias = 2 * math.log(2)  # log(pool area): each landmark stands for 4 keys
            if self.landmark_mode == 1:
                scale = 1 / math.sqrt(k.shape[-1])
                logits_sp = torch.matmul(q, k_land.transpose(-2, -1)) * scale + bias
                logits_ptr = torch.matmul(q, k_ptr.transpose(-2, -1)) * scale
                weights = torch.softmax(torch.cat([logits_sp, logits_ptr], dim=-1), dim=-1)
                out = torch.matmul(weights, v_land)
            else:
                k_all = torch.cat([k_land + bias, k_ptr], dim=-2)
                out = attention_math(q, k_all, v_land)
        return self.out_proj(self._recombine_heads(out))


class EfficientRoPEAttention1(_EfficientRoPEAttentionBase):
    """Landmark pooling variant 1: log(4) added to the pooled-key logits."""

    landmark_mode = 1


class EfficientRoPEAttention2(_EfficientRoPEAttentionBase):
    """Landmark pooling variant 2: log(4) added to the pooled key vectors themselves."""

    landmark_mode = 2


ROPE_ATTENTION_CLASSES = {
    "RoPEAttention": RoPEAttention,
    "EfficientRoPEAttention1": EfficientRoPEAttention1,
    "EfficientRoPEAttention2": EfficientRoPEAttention2,
}


class MemoryAttentionLayer(nn.Module):
    """Self-attention (RoPE) -> cross-attention to memory (RoPE) -> feed-forward, pre-norm."""

    def __init__(
        self,
        activation: str,
        cross_attention: nn.Module,
        d_model: int,
        dim_feedforward: int,
        dropout: float,
        pos_enc_at_attn: bool,
        pos_enc_at_cross_attn_keys: bool,
        pos_enc_at_cross_attn_queries: bool,
        self_attention: nn.Module,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.dim_feedforward = dim_feedforward
        self.dropout_value = dropout
        self.self_attn = self_attention
        self.cross_attn_image = cross_attention
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation_str = activation
        self.activation = activation_from_name(activation)
        self.pos_enc_at_attn = pos_enc_at_attn
        self.pos_enc_at_cross_attn_queries = pos_enc_at_cross_attn_queries
        self.pos_enc_at_cross_attn_keys = pos_enc_at_cross_attn_keys

    def _forward_sa(self, tgt, query_pos):
        normed = self.norm1(tgt)
        qk = normed + query_pos if self.pos_enc_at_attn else normed
        return tgt + self.dropout1(self.self_attn(qk, qk, v=normed))

    def _forward_ca(self, tgt, memory, query_pos, pos, num_k_exclude_rope: IntLike = 0):
        normed = self.norm2(tgt)
        q = normed + query_pos if self.pos_enc_at_cross_attn_queries else normed
        k = memory + pos if self.pos_enc_at_cross_attn_keys else memory
        if isinstance(self.cross_attn_image, RoPEAttention):
            out = self.cross_attn_image(q=q, k=k, v=memory, num_k_exclude_rope=num_k_exclude_rope)
        else:
            out = self.cross_attn_image(q=q, k=k, v=memory)
        return tgt + self.dropout2(out)

    def forward(self, tgt, memory, pos=None, query_pos=None, num_k_exclude_rope: IntLike = 0):
        tgt = self._forward_sa(tgt, query_pos)
        tgt = self._forward_ca(tgt, memory, query_pos, pos, num_k_exclude_rope)
        ff = self.linear2(self.dropout(self.activation(self.linear1(self.norm3(tgt)))))
        return tgt + self.dropout3(ff)


class MemoryAttention(nn.Module):
    """Stack of MemoryAttentionLayer (deep copies of `layer`) plus a final LayerNorm.

    forward(curr [HW,B,C] (or a 1-element list), memory [M,B,Cm], curr_pos [HW,B,C],
    memory_pos [M,B,Cm], num_obj_ptr_tokens) -> [HW,B,C].
    """

    def __init__(self, d_model: int, pos_enc_at_input: bool, layer: nn.Module, num_layers: int, batch_first: bool = True) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = nn.LayerNorm(d_model)
        self.pos_enc_at_input = pos_enc_at_input
        self.batch_first = batch_first

    def forward(
        self,
        curr: Union[torch.Tensor, List[torch.Tensor]],
        memory: torch.Tensor,
        curr_pos: Optional[Union[torch.Tensor, List[torch.Tensor]]] = None,
        memory_pos: Optional[torch.Tensor] = None,
        num_obj_ptr_tokens: IntLike = 0,
    ) -> torch.Tensor:
        if isinstance(curr, list):
            if not isinstance(curr_pos, list) or len(curr) != 1 or len(curr_pos) != 1:
                raise ValueError("list inputs must hold exactly one level")
            curr, curr_pos = curr[0], curr_pos[0]
        if curr.shape[1] != memory.shape[1]:
            raise ValueError("batch size must be the same for curr and memory")
        output = curr
        if self.pos_enc_at_input and curr_pos is not None:
            output = output + 0.1 * curr_pos
        if self.batch_first:
            output = output.transpose(0, 1)
            curr_pos = curr_pos.transpose(0, 1)
            memory = memory.transpose(0, 1)
            memory_pos = memory_pos.transpose(0, 1)
        for layer in self.layers:
            output = layer(tgt=output, memory=memory, pos=memory_pos, query_pos=curr_pos, num_k_exclude_rope=num_obj_ptr_tokens)
        normed = self.norm(output)
        if self.batch_first:
            normed = normed.transpose(0, 1)
        return normed


class MaskDownSampler(nn.Module):
    """Mask [B,1,H,W] -> [B,embed_dim,H/total_stride,W/total_stride] by conv+LayerNorm2d+act stages."""

    def __init__(
        self,
        embed_dim: int = 256,
        kernel_size: int = 4,
        stride: int = 4,
        padding: int = 0,
        total_stride: int = 16,
        activation=nn.GELU,
    ) -> None:
        super().__init__()
        num_layers = int(math.log2(total_stride) // math.log2(stride))
        if stride ** num_layers != total_stride:
            raise ValueError("total_stride must be a power of stride")
        self.encoder = nn.Sequential()
        cin = 1
        cout = 1
        for _ in range(num_layers):
            cout = cin * stride * stride
            self.encoder.append(nn.Conv2d(cin, cout, kernel_size=kernel_size, stride=stride, padding=padding))
            self.encoder.append(LayerNorm2d(cout))
            self.encoder.append(activation())
            cin = cout
        self.encoder.append(nn.Conv2d(cout, embed_dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise conv, LayerNorm2d, pointwise MLP (as Linear), layer scale, residual."""

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        padding: int = 3,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        use_dwconv: bool = True,
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=padding, groups=dim if use_dwconv else 1)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (
            nn.Parameter(layer_scale_init_value * torch.ones((dim)), requires_grad=True)
            if layer_scale_init_value > 0
            else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(y)))
        if self.gamma is not None:
            y = self.gamma * y
        return x + self.drop_path(y.permute(0, 3, 1, 2))


class Fuser(nn.Module):
    def __init__(self, layer: nn.Module, num_layers: int, dim: Optional[int] = None, input_projection: bool = False) -> None:
        super().__init__()
        self.proj = nn.Identity()
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        if input_projection:
            if dim is None:
                raise ValueError("input_projection needs dim")
            self.proj = nn.Conv2d(dim, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """forward(pix_feat [B,C,H,W], masks [B,1,16H,16W], skip_mask_sigmoid)
    -> {"vision_features": [B,Cm,H,W], "vision_pos_enc": [[B,Cm,H,W]]}."""

    def __init__(self, out_dim: int, mask_downsampler: nn.Module, fuser: nn.Module, position_encoding: nn.Module, in_dim: int = 256) -> None:
        super().__init__()
        self.mask_downsampler = mask_downsampler
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = fuser
        self.position_encoding = position_encoding
        self.out_proj = nn.Identity()
        if out_dim != in_dim:
            self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1)

    def forward(self, pix_feat: torch.Tensor, masks: torch.Tensor, skip_mask_sigmoid: bool = False):
        if not skip_mask_sigmoid:
            masks = torch.sigmoid(masks)
        masks = self.mask_downsampler(masks)
        x = self.pix_feat_proj(pix_feat.to(masks.device)) + masks
        x = self.out_proj(self.fuser(x))
        pos = self.position_encoding(x).to(x.dtype)
        return {"vision_features": x, "vision_pos_enc": [pos]}
