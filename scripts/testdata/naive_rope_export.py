"""Writes onnx/naive_rope.onnx: a small memory-attention-like module exported the naive way.

The module uses the RoPE style of the CoreML seed write-up (docs: seed-coreml-apple-silicon.txt):
pairs picked with `x.reshape(*x.shape[:-1], -1, 2)[..., 0]` / `[..., 1]` (torch.onnx.export
lowers each pick to a Gather with a scalar index on the last axis) and the keys rotated in place
with a slice assignment `k[:, :, :n] = rope(k[:, :, :n])` (lowered to ScatterND). It also has a
Reshape to the constant shape [1, 16, 4, 2] feeding a Gather.

The export is plain torch.onnx.export(opset_version=17), dynamic memory length M, and the file
is saved as torch wrote it: no onnx.shape_inference, no value_info. That is what a user of an
older stack hands to `katana onnx rewrite`, and none of our own exporter's conventions apply.
Written from scratch for the tests; it does not mirror any upstream code line by line.

It also writes onnx/naive_gather.onnx and onnx/naive_gather_op11.onnx, made by hand with
onnx.helper, again without value_info: a Reshape whose shape is an int64 initializer
[1, 16, 4, 2] feeding Gathers on axis 3 and -1, and Gathers on the last axis of an input whose
last size is symbolic ("D": no Split can be sized, the rewrite must do without the size).

usage: naive_rope_export.py OUTDIR   (writes OUTDIR/naive_rope.onnx, naive_gather*.onnx)
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
torch.manual_seed(0)


def rope(x, cos, sin):
    """x [B, heads, T, D] f32; cos/sin [T, D/2] f32. Rotates consecutive pairs of the last axis."""
    pair = x.reshape(*x.shape[:-1], -1, 2)  # [B, heads, T, D/2, 2]
    real = pair[..., 0]
    imag = pair[..., 1]
    rot = torch.stack([real * cos - imag * sin, real * sin + imag * cos], dim=-1)
    return rot.flatten(3)


class NaiveMemoryAttention(torch.nn.Module):
    """Self-attention with RoPE on the current tokens, then cross-attention onto M memory tokens
    whose first M - n_excluded get RoPE by slice assignment (the last n_excluded are pointers)."""

    def __init__(self, dim=16, heads=2, layers=2, tokens=16, n_excluded=2):
        super().__init__()
        self.heads, self.dh, self.layers, self.n_excluded = heads, dim // heads, layers, n_excluded
        self.q = torch.nn.ModuleList([torch.nn.Linear(dim, dim) for _ in range(2 * layers)])
        self.k = torch.nn.ModuleList([torch.nn.Linear(dim, dim) for _ in range(2 * layers)])
        self.v = torch.nn.ModuleList([torch.nn.Linear(dim, dim) for _ in range(2 * layers)])
        freqs = 1.0 / (100.0 ** (torch.arange(0, self.dh, 2).float() / self.dh))
        ang = torch.arange(64).float()[:, None] * freqs[None, :]  # [64, dh/2]
        self.register_buffer("cos", torch.cos(ang))
        self.register_buffer("sin", torch.sin(ang))

    def heads_of(self, x):  # [1, T, C] -> [1, heads, T, dh]
        return x.reshape(x.shape[0], x.shape[1], self.heads, self.dh).transpose(1, 2)

    def attend(self, q, k, v):
        att = torch.softmax(q @ k.transpose(-1, -2) / (self.dh ** 0.5), dim=-1)
        o = att @ v  # [1, heads, T, dh]
        return o.transpose(1, 2).flatten(2)

    def forward(self, curr, memory):  # curr [1, 16, 16], memory [1, M, 16]
        x = curr
        t = x.shape[1]
        m = memory.shape[1]
        for i in range(self.layers):
            a, b = 2 * i, 2 * i + 1
            q = rope(self.heads_of(self.q[a](x)), self.cos[:t], self.sin[:t])
            k = rope(self.heads_of(self.k[a](x)), self.cos[:t], self.sin[:t])
            x = x + self.attend(q, k, self.heads_of(self.v[a](x)))
            q = rope(self.heads_of(self.q[b](x)), self.cos[:t], self.sin[:t])
            k = self.heads_of(self.k[b](memory))
            n = m - self.n_excluded
            k[:, :, :n] = rope(k[:, :, :n], self.cos[:n], self.sin[:n])
            x = x + self.attend(q, k, self.heads_of(self.v[b](memory)))
        # A Reshape to the constant shape [1, 16, 4, 2] feeding a last-axis pick.
        even = curr[:, :, :8].reshape(1, 16, 4, 2)[..., 0]  # [1, 16, 4]
        return x + torch.cat([even, even * 2.0, even - 1.0, even + 1.0], 2)  # [1, 16, 16]


def main():
    model = NaiveMemoryAttention().eval()
    path = os.path.join(out, "naive_rope.onnx")
    args = (torch.randn(1, 16, 16), torch.randn(1, 12, 16))
    torch.onnx.export(model, args, path, opset_version=17, input_names=["curr", "memory"],
                      output_names=["out"], dynamic_axes={"memory": {1: "M"}})
    m = onnx.load(path)
    # The point of this fixture: torch wrote no intermediate shapes.
    assert len(m.graph.value_info) == 0, "the exporter wrote value_info"
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("ScatterND") > 0 and ops.count("Gather") > 0, ops


def gather_model(opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 3, "D"])
    out = [helper.make_tensor_value_info("even_odd", TensorProto.FLOAT, [1, 16, 4]),
           helper.make_tensor_value_info("ends", TensorProto.FLOAT, ["B", 3])]
    inits = [numpy_helper.from_array(np.array([1, 16, 4, 2], dtype=np.int64), "pair_shape"),
             numpy_helper.from_array(np.array(0, dtype=np.int64), "k0"),
             numpy_helper.from_array(np.array(1, dtype=np.int64), "k1"),
             numpy_helper.from_array(np.array(-1, dtype=np.int64), "klast")]
    nodes = [
        helper.make_node("Reshape", ["x", "pair_shape"], ["pairs"]),
        helper.make_node("Gather", ["pairs", "k0"], ["re"], axis=3),
        helper.make_node("Gather", ["pairs", "k1"], ["im"], axis=-1),
        helper.make_node("Sub", ["re", "im"], ["even_odd"]),
        helper.make_node("Gather", ["y", "klast"], ["y_last"], axis=2),
        helper.make_node("Gather", ["y", "k0"], ["y_first"], axis=-1),
        helper.make_node("Mul", ["y_last", "y_first"], ["ends"]),
    ]
    g = helper.make_graph(nodes, "naive_gather", [x, y], out, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    return m


main()
onnx.save(gather_model(17), os.path.join(out, "naive_gather.onnx"))
onnx.save(gather_model(11), os.path.join(out, "naive_gather_op11.onnx"))
