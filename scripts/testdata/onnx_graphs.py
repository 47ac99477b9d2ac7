"""Writes the small ONNX graphs the `katana onnx` tests use (run by scripts/testdata/07-onnx).

Each graph carries one pattern a rewrite pass targets, built the way real exporters build it:
torch.onnx.export (opset 17) for the slice assignment, the decoder's candidate selection, the
dynamic memory length and the FP16 block; onnx.helper for the last-axis Gathers.
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper, shape_inference

out = sys.argv[1]
torch.manual_seed(0)
np.random.seed(0)


def save(model, name, **kw):
    model = shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name), **kw)


def export(module, args, name, **kw):
    path = os.path.join(out, name)
    torch.onnx.export(module, args, path, opset_version=17, **kw)
    save(onnx.load(path), name)


def gather_model(opset):
    # y = x[..., 0] + 2 * x[..., 2] - x[..., -1] ; z = Gather(w[..., :], 1) of a weight
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 6, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    consts = [numpy_helper.from_array(np.array(v, dtype=np.int64), f"i{k}")
              for k, v in enumerate([0, 2, -1])]
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    w = numpy_helper.from_array(np.random.randn(6, 3).astype(np.float32), "w")
    one = numpy_helper.from_array(np.array(1, dtype=np.int64), "one")
    nodes = [
        helper.make_node("Gather", ["x", "i0"], ["g0"], axis=-1),
        helper.make_node("Gather", ["x", "i1"], ["g1"], axis=2),
        helper.make_node("Gather", ["x", "i2"], ["g2"], axis=-1),
        helper.make_node("Mul", ["g1", "two"], ["g1s"]),
        helper.make_node("Add", ["g0", "g1s"], ["s0"]),
        helper.make_node("Sub", ["s0", "g2"], ["s1"]),
        helper.make_node("Gather", ["w", "one"], ["wc"], axis=1),
        helper.make_node("Add", ["s1", "wc"], ["y"]),
    ]
    g = helper.make_graph(nodes, "gather_last", [x], [y], consts + [two, w, one])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


save(gather_model(17), "gather_last.onnx")
save(gather_model(11), "gather_last_op11.onnx")
save(gather_model(17), "external.onnx", save_as_external_data=True,
     all_tensors_to_one_file=True, location="external.onnx.data", size_threshold=0)


class SliceAssign(torch.nn.Module):
    """k[:, :, :n] = f(k[:, :, :n]), as in rotary-embedding code."""

    def __init__(self, start=0, n=3):
        super().__init__()
        self.start, self.n = start, n

    def forward(self, k):
        k = k.clone()
        a, b = self.start, self.start + self.n
        k[:, :, a:b] = torch.sin(k[:, :, a:b]) * 2.0 + 0.5
        return k * 1.5


k = torch.randn(1, 2, 8, 4)
export(SliceAssign(), (k,), "scatter_static.onnx", input_names=["k"], output_names=["y"])
export(SliceAssign(), (k,), "scatter_dyn.onnx", input_names=["k"], output_names=["y"],
       dynamic_axes={"k": {2: "L"}})
export(SliceAssign(start=2), (k,), "scatter_middle.onnx", input_names=["k"], output_names=["y"])


def scatter_const_model():
    # ScatterND(k, constant grid of k[:, :, :3] as [1, 2, 3, 3] indices, Sin(k[:, :, :3]))
    k = helper.make_tensor_value_info("k", TensorProto.FLOAT, [1, 2, 8, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 4])
    grid = np.stack(np.meshgrid(np.arange(1), np.arange(2), np.arange(3), indexing="ij"), -1)
    inits = [numpy_helper.from_array(grid.astype(np.int64), "idx"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "s0"),
             numpy_helper.from_array(np.array([3], dtype=np.int64), "s1"),
             numpy_helper.from_array(np.array([2], dtype=np.int64), "ax")]
    nodes = [helper.make_node("Slice", ["k", "s0", "s1", "ax"], ["head"]),
             helper.make_node("Sin", ["head"], ["upd"]),
             helper.make_node("ScatterND", ["k", "idx", "upd"], ["y"])]
    g = helper.make_graph(nodes, "scatter_const", [k], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


save(scatter_const_model(), "scatter_const.onnx")


class Decoder(torch.nn.Module):
    """A toy SAM-style decoder: IoU token + 4 mask tokens, then picks the best candidate."""

    def __init__(self):
        super().__init__()
        self.tokens = torch.nn.Parameter(torch.randn(1, 5, 16))
        self.mix = torch.nn.Linear(16, 16)
        self.iou = torch.nn.Linear(16, 4)
        self.hyper = torch.nn.Linear(16, 8)

    def forward(self, feats):  # feats [1, 8, 6, 6]
        hs = self.mix(self.tokens + feats.mean(dim=(2, 3))[:, None, :8].repeat(1, 1, 2))
        iou_token, mask_tokens = hs[:, 0, :], hs[:, 1:5, :]
        masks = torch.einsum("bkc,bchw->bkhw", self.hyper(mask_tokens), feats)
        iou = self.iou(iou_token)
        masks, iou = masks[:, 1:], iou[:, 1:]  # multimask candidates
        best = torch.argmax(iou, dim=1)
        return masks[:, best], iou[:, best]


export(Decoder(), (torch.randn(1, 8, 6, 6),), "multimask.onnx", input_names=["feats"],
       output_names=["masks", "iou_pred"])


class MemAttn(torch.nn.Module):
    """Cross-attention of the current frame onto M memory tokens (M dynamic)."""

    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(8, 8)
        self.kv = torch.nn.Linear(8, 16)

    def forward(self, curr, memory, memory_pos, num_obj_ptr_tokens):
        x = curr.flatten(2).transpose(1, 2)  # [1, 16, 8]
        kv = self.kv(memory + memory_pos)
        kk, vv = kv[..., :8], kv[..., 8:]
        n = num_obj_ptr_tokens.to(torch.float32)
        att = torch.softmax(self.q(x) @ kk.transpose(1, 2) / (8 ** 0.5), dim=-1)
        y = att @ vv + 0.0 * n
        return y.transpose(1, 2).reshape(1, 8, 4, 4)


export(MemAttn(), (torch.randn(1, 8, 4, 4), torch.randn(1, 10, 8), torch.randn(1, 10, 8),
                   torch.tensor(4, dtype=torch.int64)),
       "memattn.onnx", input_names=["curr", "memory", "memory_pos", "num_obj_ptr_tokens"],
       output_names=["pix_feat_with_mem"],
       dynamic_axes={"memory": {1: "M"}, "memory_pos": {1: "M"}})


class Block(torch.nn.Module):
    """Transformer block: LayerNorm, decomposed LayerNorm, attention, GELU MLP."""

    def __init__(self, c=32):
        super().__init__()
        self.ln = torch.nn.LayerNorm(c)
        self.g = torch.nn.Parameter(torch.ones(c) + 0.1 * torch.randn(c))
        self.qkv = torch.nn.Linear(c, 3 * c)
        self.proj = torch.nn.Linear(c, c)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(c, 64), torch.nn.GELU(),
                                       torch.nn.Linear(64, c))
        self.c = c

    def forward(self, x):  # [1, T, C]
        h = self.ln(x)
        q, k, v = self.qkv(h).split(self.c, dim=-1)
        att = torch.softmax((q @ k.transpose(1, 2)) / (self.c ** 0.5), dim=-1)
        x = x + self.proj(att @ v)
        mu = x.mean(-1, keepdim=True)
        d = x - mu
        var = (d * d).mean(-1, keepdim=True)
        h = d / torch.sqrt(var + 1e-5) * self.g
        return x + self.mlp(h)


export(Block(), (torch.randn(1, 10, 32),), "fp16_block.onnx", input_names=["x"],
       output_names=["y"], dynamic_axes={"x": {1: "T"}})


class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


export(Plain(), (torch.randn(1, 3, 8, 8),), "plain.onnx", input_names=["x"], output_names=["y"])
