"""Image encoders: plain ViT (EfficientTAM) + ViTDet neck, Hiera (SAM 2.1) + FPN neck.

ImageEncoder.forward(x [B,3,S,S]) -> {"vision_features": [B,256,S/16,S/16],
"vision_pos_enc": list per level, "backbone_fpn": list per level (high resolution first)}.
"""

import math
from functools import partial
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .common import MLP, DropPath, LayerNorm2d, attention_math, window_partition, window_unpartition


class PatchEmbed(nn.Module):
    """Conv patchify: [B,3,H,W] -> [B,H',W',C] (channels last)."""

    def __init__(
        self,
        kernel_size: Tuple[int, int] = (7, 7),
        stride: Tuple[int, int] = (4, 4),
        padding: Tuple[int, int] = (3, 3),
        in_chans: int = 3,
        embed_dim: int = 768,
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ImageEncoder(nn.Module):
    def __init__(self, trunk: nn.Module, neck: nn.Module, scalp: int = 0) -> None:
        super().__init__()
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp
        if list(self.trunk.channel_list) != list(self.neck.backbone_channel_list):
            raise ValueError(
                "trunk channels %s do not match neck channels %s"
                % (self.trunk.channel_list, self.neck.backbone_channel_list)
            )

    def forward(self, sample: torch.Tensor):
        features, pos = self.neck(self.trunk(sample))
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return {"vision_features": features[-1], "vision_pos_enc": pos, "backbone_fpn": features}


# ----------------------------------------------------------------------------------------------
# Plain ViT (ViTDet style) used by EfficientTAM


def abs_pos_for_grid(abs_pos: torch.Tensor, has_cls_token: bool, hw: Tuple[int, int]) -> torch.Tensor:
    """Pretraining absolute position table [1, (1+)P*P, C] -> [1, h, w, C] (bicubic resize)."""
    h, w = hw
    if has_cls_token:
        abs_pos = abs_pos[:, 1:]
    count = abs_pos.shape[1]
    size = int(math.sqrt(count))
    if size * size != count:
        raise ValueError("absolute position table is not square")
    if size != h or size != w:
        grid = abs_pos.reshape(1, size, size, -1).permute(0, 3, 1, 2)
        resized = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return resized.permute(0, 2, 3, 1)
    return abs_pos.reshape(1, h, w, -1)


class ViTAttention(nn.Module):
    """Global multi-head self-attention on [B, H, W, C] (no relative positions)."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        n = h * w
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = torch.unbind(qkv, 0)  # each [B, heads, N, d]
        out = attention_math(q, k, v)  # [B, heads, N, d]
        out = out.reshape(b, self.num_heads, h, w, c // self.num_heads).permute(0, 2, 3, 1, 4).reshape(b, h, w, c)
        return self.proj(out)


class ViTBlock(nn.Module):
    """Pre-norm transformer block; window attention when window_size > 0."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_layer=nn.LayerNorm,
        act_layer=nn.GELU,
        window_size: int = 0,
        dropout: float = 0.0,
        init_values: Optional[float] = None,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = ViTAttention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim, num_layers=2, activation=act_layer)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
        x = self.ls1(self.attn(x))
        if self.window_size > 0:
            x = window_unpartition(x, self.window_size, pad_hw, (h, w))
        x = shortcut + self.dropout(self.drop_path(x))
        return x + self.dropout(self.drop_path(self.ls2(self.mlp(self.norm2(x)))))


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class ViT(nn.Module):
    """Plain ViT trunk; returns [features [B, C, S/16, S/16]] (the last global-attention block)."""

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
        act_layer=nn.GELU,
        use_abs_pos: bool = True,
        window_size: int = 14,
        window_block_indexes: Sequence[int] = (0, 1, 3, 4, 6, 7, 9, 10),
        pretrain_img_size: int = 224,
        pretrain_use_cls_token: bool = True,
        dropout: float = 0.0,
        return_interm_layers: bool = False,
        init_values: Optional[float] = None,
    ) -> None:
        super().__init__()
        self.pretrain_use_cls_token = pretrain_use_cls_token
        self.patch_embed = PatchEmbed(
            kernel_size=(patch_size, patch_size),
            stride=(patch_size, patch_size),
            padding=(0, 0),
            in_chans=in_chans,
            embed_dim=embed_dim,
        )
        if use_abs_pos:
            patches = (pretrain_img_size // patch_size) ** 2
            positions = patches + 1 if pretrain_use_cls_token else patches
            self.pos_embed = nn.Parameter(torch.zeros(1, positions, embed_dim))
        else:
            self.pos_embed = None
        self.blocks = nn.ModuleList()
        self.full_attn_ids: List[int] = []
        for i in range(depth):
            self.blocks.append(
                ViTBlock(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop_path=drop_path_rate * i / max(depth - 1, 1),
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                    window_size=window_size if i in window_block_indexes else 0,
                    dropout=dropout,
                    init_values=init_values,
                )
            )
            if i not in window_block_indexes:
                self.full_attn_ids.append(i)
        self.return_interm_layers = return_interm_layers
        self.channel_list = [embed_dim] * len(self.full_attn_ids) if return_interm_layers else [embed_dim]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + abs_pos_for_grid(self.pos_embed, self.pretrain_use_cls_token, (x.shape[1], x.shape[2]))
        outputs = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i == self.full_attn_ids[-1] or (self.return_interm_layers and i in self.full_attn_ids):
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs


class ViTDetNeck(nn.Module):
    """Single-level neck: 1x1 conv (+LN2d) + 3x3 conv (+LN2d) to d_model, plus sine position encoding."""

    def __init__(
        self,
        position_encoding: nn.Module,
        d_model: int,
        backbone_channel_list: List[int],
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        neck_norm: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.backbone_channel_list = list(backbone_channel_list)
        self.position_encoding = position_encoding
        self.convs = nn.ModuleList()
        self.d_model = d_model
        use_bias = neck_norm is None
        for dim in self.backbone_channel_list:
            seq = nn.Sequential()
            seq.add_module("conv_1x1", nn.Conv2d(dim, d_model, kernel_size=1, bias=use_bias))
            if neck_norm is not None:
                seq.add_module("norm_0", LayerNorm2d(d_model))
            seq.add_module("conv_3x3", nn.Conv2d(d_model, d_model, kernel_size=3, padding=1, bias=use_bias))
            if neck_norm is not None:
                seq.add_module("norm_1", LayerNorm2d(d_model))
            self.convs.append(seq)

    def forward(self, xs: List[torch.Tensor]):
        if len(xs) != len(self.convs):
            raise ValueError("expected %d feature levels" % len(self.convs))
        feat = self.convs[0](xs[0])
        return [feat], [self.position_encoding(feat).to(feat.dtype)]


# ----------------------------------------------------------------------------------------------
# Hiera (SAM 2.1)


def _pool_nhwc(x: torch.Tensor, pool: Optional[nn.Module]) -> torch.Tensor:
    if pool is None:
        return x
    return pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Self-attention on [B, H, W, C] with optional max-pooled queries (stage transitions)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_pool: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.num_heads = num_heads
        self.q_pool = q_pool
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1)
        q, k, v = torch.unbind(qkv, 2)  # each [B, HW, heads, d]
        if self.q_pool is not None:
            q = _pool_nhwc(q.reshape(b, h, w, -1), self.q_pool)
            h, w = q.shape[1], q.shape[2]
            q = q.reshape(b, h * w, self.num_heads, -1)
        out = attention_math(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, h, w, -1)
        return self.proj(out)


class MultiScaleBlock(nn.Module):
    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        norm_layer="LayerNorm",
        q_stride: Optional[Tuple[int, int]] = None,
        act_layer=nn.GELU,
        window_size: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(norm_layer, str):
            norm_layer = partial(getattr(nn, norm_layer), eps=1e-6)
        self.dim = dim
        self.dim_out = dim_out
        self.norm1 = norm_layer(dim)
        self.window_size = window_size
        self.pool, self.q_stride = None, q_stride
        if self.q_stride:
            self.pool = nn.MaxPool2d(kernel_size=q_stride, stride=q_stride, ceil_mode=False)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads=num_heads, q_pool=self.pool)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim_out)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=act_layer)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = _pool_nhwc(self.proj(x), self.pool)
        window_size = self.window_size
        if window_size > 0:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, window_size)
        x = self.attn(x)
        if self.q_stride:
            # queries were pooled: the windows (and the grid) shrank by the stride
            window_size = self.window_size // self.q_stride[0]
            h, w = shortcut.shape[1], shortcut.shape[2]
            pad_h = (window_size - h % window_size) % window_size
            pad_w = (window_size - w % window_size) % window_size
            pad_hw = (h + pad_h, w + pad_w)
        if self.window_size > 0:
            x = window_unpartition(x, window_size, pad_hw, (h, w))
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Hiera(nn.Module):
    """Hierarchical ViT trunk; returns the output of every stage, highest resolution first."""

    def __init__(
        self,
        embed_dim: int = 96,
        num_heads: int = 1,
        drop_path_rate: float = 0.0,
        q_pool: int = 3,
        q_stride: Tuple[int, int] = (2, 2),
        stages: Sequence[int] = (2, 3, 16, 3),
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        window_pos_embed_bkg_spatial_size: Sequence[int] = (14, 14),
        window_spec: Sequence[int] = (8, 4, 14, 7),
        global_att_blocks: Optional[Sequence[int]] = (12, 16, 20),
        return_interm_layers: bool = True,
    ) -> None:
        super().__init__()
        if len(stages) != len(window_spec):
            raise ValueError("stages and window_spec must have the same length")
        self.window_spec = list(window_spec)
        depth = sum(stages)
        self.q_stride = tuple(q_stride)
        self.stage_ends = [sum(stages[:i]) - 1 for i in range(1, len(stages) + 1)]
        if not 0 <= q_pool <= len(self.stage_ends[:-1]):
            raise ValueError("invalid q_pool")
        self.q_pool_blocks = [x + 1 for x in self.stage_ends[:-1]][:q_pool]
        self.return_interm_layers = return_interm_layers
        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        self.global_att_blocks = list(global_att_blocks) if global_att_blocks is not None else None
        self.window_pos_embed_bkg_spatial_size = tuple(window_pos_embed_bkg_spatial_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *self.window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, self.window_spec[0], self.window_spec[0]))
        cur_stage = 1
        self.blocks = nn.ModuleList()
        for i in range(depth):
            dim_out = embed_dim
            # the first block of a stage still uses the previous stage's window size
            window_size = self.window_spec[cur_stage - 1]
            if self.global_att_blocks is not None and i in self.global_att_blocks:
                window_size = 0
            if i - 1 in self.stage_ends:
                dim_out = int(embed_dim * dim_mul)
                num_heads = int(num_heads * head_mul)
                cur_stage += 1
            self.blocks.append(
                MultiScaleBlock(
                    dim=embed_dim,
                    dim_out=dim_out,
                    num_heads=num_heads,
                    drop_path=drop_path_rate * i / max(depth - 1, 1),
                    q_stride=self.q_stride if i in self.q_pool_blocks else None,
                    window_size=window_size,
                )
            )
            embed_dim = dim_out
        self.channel_list = (
            [self.blocks[i].dim_out for i in self.stage_ends[::-1]] if return_interm_layers else [self.blocks[-1].dim_out]
        )

    def _get_pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        h, w = hw
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        reps = [a // b for a, b in zip(pos.shape, win.shape)]
        pos = pos + win.repeat(reps)
        return pos.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._get_pos_embed((x.shape[1], x.shape[2]))
        outputs = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i == self.stage_ends[-1] or (i in self.stage_ends and self.return_interm_layers):
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs


class FpnNeck(nn.Module):
    """FPN neck: 1x1 lateral convs to d_model, top-down (nearest x2) fusion on selected levels.

    Input: trunk levels, highest resolution first; output: same order, plus position encodings.
    """

    def __init__(
        self,
        position_encoding: nn.Module,
        d_model: int,
        backbone_channel_list: List[int],
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        fpn_interp_model: str = "bilinear",
        fuse_type: str = "sum",
        fpn_top_down_levels: Optional[List[int]] = None,
    ) -> None:
        super().__init__()
        self.position_encoding = position_encoding
        self.convs = nn.ModuleList()
        self.backbone_channel_list = list(backbone_channel_list)
        self.d_model = d_model
        for dim in self.backbone_channel_list:
            seq = nn.Sequential()
            seq.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=kernel_size, stride=stride, padding=padding))
            self.convs.append(seq)
        self.fpn_interp_model = fpn_interp_model
        if fuse_type not in ("sum", "avg"):
            raise ValueError("fuse_type must be sum or avg")
        self.fuse_type = fuse_type
        if fpn_top_down_levels is None:
            fpn_top_down_levels = range(len(self.convs))
        self.fpn_top_down_levels = list(fpn_top_down_levels)

    def forward(self, xs: List[torch.Tensor]):
        if len(xs) != len(self.convs):
            raise ValueError("expected %d feature levels" % len(self.convs))
        n = len(self.convs) - 1
        out: List[Optional[torch.Tensor]] = [None] * (n + 1)
        pos: List[Optional[torch.Tensor]] = [None] * (n + 1)
        prev = None
        for i in range(n, -1, -1):
            lateral = self.convs[n - i](xs[i])
            if i in self.fpn_top_down_levels and prev is not None:
                if self.fpn_interp_model == "nearest":
                    top_down = F.interpolate(prev.to(dtype=torch.float32), scale_factor=2.0, mode="nearest")
                else:
                    top_down = F.interpolate(
                        prev.to(dtype=torch.float32), scale_factor=2.0, mode=self.fpn_interp_model, align_corners=False
                    )
                prev = lateral + top_down
                if self.fuse_type == "avg":
                    prev = prev / 2
            else:
                prev = lateral
            out[i] = prev
            pos[i] = self.position_encoding(prev).to(prev.dtype)
        return out, pos
