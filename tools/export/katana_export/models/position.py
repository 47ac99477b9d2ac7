"""Position encodings: 2-D sine (image/memory features), random Fourier (prompts) and axial RoPE.

RoPE is done in real arithmetic on (even, odd) channel pairs with precomputed cos/sin tables; the
reference does the same rotation with complex numbers (x_pair * exp(i * angle)).
"""

import math
from typing import Dict, Optional, Tuple, Union

import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """Fixed 2-D sine/cosine encoding of an NCHW feature map: [B, C, H, W] -> [B, C, H, W].

    Channels: first C/2 encode y, last C/2 encode x; within each half, (sin, cos) pairs of
    geometrically spaced frequencies. No parameters.
    """

    def __init__(
        self,
        num_pos_feats: int,
        temperature: int = 10000,
        normalize: bool = True,
        scale: Optional[float] = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2 != 0:
            raise ValueError("num_pos_feats must be even")
        if scale is not None and not normalize:
            raise ValueError("scale requires normalize=True")
        self.num_pos_feats = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: Dict[Tuple[int, int], torch.Tensor] = {}

    def _frequencies(self) -> torch.Tensor:
        idx = torch.arange(self.num_pos_feats, dtype=torch.float32)
        return self.temperature ** (2 * torch.div(idx, 2, rounding_mode="floor") / self.num_pos_feats)

    def _interleave(self, v: torch.Tensor) -> torch.Tensor:
        # v: [..., F] angles; channel 2j -> sin(angle_2j), channel 2j+1 -> cos(angle_2j+1)
        shape = list(v.shape)
        even, odd = torch.unbind(v.reshape(shape[:-1] + [shape[-1] // 2, 2]), -1)
        return torch.stack((even.sin(), odd.cos()), dim=-1).reshape(shape)

    @torch.no_grad()
    def grid(self, h: int, w: int) -> torch.Tensor:
        """[C, H, W] float32 encoding of an H x W grid (cached)."""
        key = (int(h), int(w))
        if key not in self._cache:
            hh, ww = key
            y = torch.arange(1, hh + 1, dtype=torch.float32).view(hh, 1).expand(hh, ww)
            x = torch.arange(1, ww + 1, dtype=torch.float32).view(1, ww).expand(hh, ww)
            if self.normalize:
                eps = 1e-6
                y = y / (y[-1:, :] + eps) * self.scale
                x = x / (x[:, -1:] + eps) * self.scale
            freqs = self._frequencies()
            pos_y = self._interleave(y[:, :, None] / freqs)
            pos_x = self._interleave(x[:, :, None] / freqs)
            self._cache[key] = torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1).contiguous()
        return self._cache[key]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pe = self.grid(x.shape[-2], x.shape[-1]).to(device=x.device)
        return pe.unsqueeze(0).expand(x.shape[0], -1, -1, -1)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised coordinates (SAM prompt encoder).

    Buffer `positional_encoding_gaussian_matrix` [2, num_pos_feats] is part of the state dict.
    """

    def __init__(self, num_pos_feats: int = 64, scale: Optional[float] = None) -> None:
        super().__init__()
        if scale is None or scale <= 0.0:
            scale = 1.0
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _pe_encoding(self, coords: torch.Tensor) -> torch.Tensor:
        # coords in [0, 1], [..., 2] as (x, y) -> [..., 2 * num_pos_feats]
        coords = 2 * coords - 1
        coords = coords @ self.positional_encoding_gaussian_matrix
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def forward(self, size: Tuple[int, int]) -> torch.Tensor:
        """Dense encoding of an h x w grid of cell centres: [C, h, w]."""
        h, w = size
        dev = self.positional_encoding_gaussian_matrix.device
        ones = torch.ones((h, w), device=dev, dtype=torch.float32)
        y = (ones.cumsum(dim=0) - 0.5) / h
        x = (ones.cumsum(dim=1) - 0.5) / w
        return self._pe_encoding(torch.stack([x, y], dim=-1)).permute(2, 0, 1)

    def forward_with_coords(self, coords_input: torch.Tensor, image_size: Tuple[int, int]) -> torch.Tensor:
        """Encode pixel coordinates [B, N, 2] (x, y) of an image of size (H, W): [B, N, C]."""
        denom = torch.tensor(
            [float(image_size[1]), float(image_size[0])], dtype=torch.float32, device=coords_input.device
        )
        return self._pe_encoding(coords_input.to(torch.float32) / denom)


# ----------------------------------------------------------------------------------------------
# Axial rotary position encoding (real arithmetic)


def axial_rope_angles(dim: int, end_x: int, end_y: int, theta: float = 10000.0) -> torch.Tensor:
    """Rotation angles [end_x * end_y, dim // 2] for row-major tokens (t = y * end_x + x).

    The first dim // 4 pair-frequencies rotate with the x coordinate, the next dim // 4 with y.
    """
    base = torch.arange(0, dim, 4)[: dim // 4].float() / dim
    freqs = 1.0 / (theta ** base)
    t = torch.arange(end_x * end_y, dtype=torch.float32)
    t_x = t % end_x
    t_y = torch.div(t, end_x, rounding_mode="floor")
    return torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)


def axial_rope_cos_sin(dim: int, end_x: int, end_y: int, theta: float = 10000.0):
    """(cos, sin) tables, each [end_x * end_y, dim // 2] float32."""
    ang = axial_rope_angles(dim, end_x, end_y, theta)
    return torch.cos(ang), torch.sin(ang)


def rope_rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (2j, 2j+1) of x [B, heads, L, D] by per-token angles.

    cos/sin: [L, D // 2] (broadcast over batch and heads). Returns [B, heads, L, D].
    (x_2j, x_2j+1) -> (x_2j c - x_2j+1 s, x_2j s + x_2j+1 c).
    """
    b, nh, length, d = x.shape
    pairs = x.reshape(b, nh, length, d // 2, 2)
    xr, xi = torch.unbind(pairs, -1)
    out_r = xr * cos - xi * sin
    out_i = xr * sin + xi * cos
    return torch.stack((out_r, out_i), dim=-1).reshape(b, nh, length, d)


def rope_tables_for_keys(
    cos: torch.Tensor,
    sin: torch.Tensor,
    num_keys: Union[int, torch.Tensor],
    num_rope: Union[int, torch.Tensor],
):
    """Per-key (cos, sin) [num_keys, D // 2] for memory keys.

    Key t < num_rope uses row t mod N of the per-frame tables (memory frames are concatenated
    blocks of N tokens); keys t >= num_rope (object-pointer tokens) get the identity rotation
    (cos 1, sin 0), which leaves them bit-exactly unchanged. Works with int or 0-d tensor sizes
    so the graph stays valid for a dynamic number of memory tokens.
    """
    n = cos.shape[0]
    idx = torch.arange(num_keys, device=cos.device)
    rows = torch.remainder(idx, n)
    keep = (idx < num_rope).unsqueeze(-1)
    cos_k = torch.where(keep, cos.index_select(0, rows), torch.ones_like(cos[:1]))
    sin_k = torch.where(keep, sin.index_select(0, rows), torch.zeros_like(sin[:1]))
    return cos_k, sin_k
