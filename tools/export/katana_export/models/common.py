"""Small building blocks shared by every katana model module.

Everything here is written for torch.onnx.export (opset 17) as well as eager use on torch 1.13+:
plain matmul + softmax attention (no scaled_dot_product_attention), no complex tensors, no
reshape above rank 5, no slice assignment.
"""

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn


def attention_math(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over the last two axes.

    q: [..., Lq, d], k: [..., Lk, d], v: [..., Lk, dv] -> [..., Lq, dv]. No mask, no dropout
    (inference only), same result as F.scaled_dot_product_attention to float32 rounding.
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    logits = torch.matmul(q, k.transpose(-2, -1)) * scale
    return torch.matmul(torch.softmax(logits, dim=-1), v)


def activation_from_name(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Functional activation for the memory-attention feed-forward ("relu" | "gelu" | "glu")."""
    table = {"relu": F.relu, "gelu": F.gelu, "glu": F.glu}
    if name not in table:
        raise ValueError("unknown activation %r (expected relu, gelu or glu)" % (name,))
    return table[name]


class MLP(nn.Module):
    """Stack of `num_layers` Linear layers, activation between them (not after the last).

    Parameter names: layers.{i}.weight / layers.{i}.bias.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        activation: Callable[[], nn.Module] = nn.ReLU,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims_in, dims_out)])
        self.sigmoid_output = sigmoid_output
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for idx, lin in enumerate(self.layers):
            x = lin(x)
            if idx < last:
                x = self.act(x)
        if self.sigmoid_output:
            x = torch.sigmoid(x)
        return x


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (weight/bias of shape [C])."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        centered = x - mean
        var = centered.pow(2).mean(1, keepdim=True)
        normed = centered / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * normed + self.bias[:, None, None]


def window_partition(x: torch.Tensor, window_size: int):
    """Split [B, H, W, C] into [B * nH * nW, ws, ws, C] windows (zero padding at the bottom/right).

    Window order is (batch, window row, window column), as in the reference. Only rank <= 5
    reshapes are used (ONNX friendly). Returns (windows, (Hp, Wp)).
    """
    b, h, w, c = x.shape
    pad_h = (window_size - h % window_size) % window_size
    pad_w = (window_size - w % window_size) % window_size
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    nh, nw = hp // window_size, wp // window_size
    # [B*nH, ws, nW, ws, C] -> [B*nH, nW, ws, ws, C]
    x = x.reshape(b * nh, window_size, nw, window_size, c).permute(0, 2, 1, 3, 4)
    return x.reshape(b * nh * nw, window_size, window_size, c), (hp, wp)


def window_unpartition(windows: torch.Tensor, window_size: int, pad_hw, hw) -> torch.Tensor:
    """Inverse of window_partition: [B*nH*nW, ws, ws, C] -> [B, H, W, C] (padding removed)."""
    hp, wp = pad_hw
    h, w = hw
    nh, nw = hp // window_size, wp // window_size
    c = windows.shape[-1]
    b = windows.shape[0] // (nh * nw)
    x = windows.reshape(b * nh, nw, window_size, window_size, c).permute(0, 2, 1, 3, 4)
    x = x.reshape(b, hp, wp, c)
    if hp > h or wp > w:
        x = x[:, :h, :w, :]
    return x


class DropPath(nn.Module):
    """Stochastic depth placeholder: identity at inference (kept for structural parity)."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def maybe_identity(module: Optional[nn.Module]) -> nn.Module:
    return module if module is not None else nn.Identity()
