#!/usr/bin/python3
"""Arithmetic of memory attention per frame for docs/scaling.md, from a bundle's own graph:
    bench/attn_cost.py BUNDLE [M]
Runs ONNX shape inference on memory_attention.onnx with the memory length M (default: the full
memory of the manifest, num_maskmem * H * W + max_obj_ptrs_in_encoder * C / Cm), prints the
MatMuls whose shapes are known (the key/value projections of the memory and the self-attention
scores, which show the head count), and derives the cross-attention cost per frame: multiply-adds
of Q K^T and A V and the bytes of K, V and the score matrix (written once and read by Softmax and
by A V: every cross-attention layer's scores are materialised by ONNX Runtime's CPU kernels)."""
import json
import os
import sys

import onnx
from onnx import shape_inference

bundle = sys.argv[1]
with open(os.path.join(bundle, "katana.json")) as f:
    man = json.load(f)
H, W = man["feat_size"]
C, Cm = man["hidden_dim"], man["mem_dim"]
full = man["num_maskmem"] * H * W + man["max_obj_ptrs_in_encoder"] * (C // Cm)
M = int(sys.argv[2]) if len(sys.argv) > 2 else full
m = onnx.load(os.path.join(bundle, man["modules"]["memory_attention"]["file"]))
for i in m.graph.input:
    for d in i.type.tensor_type.shape.dim:
        if d.dim_param:
            d.dim_value = M
m = shape_inference.infer_shapes(m)
shapes = {}
for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
    shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None
                      for d in v.type.tensor_type.shape.dim]
inits = {i.name: list(i.dims) for i in m.graph.initializer}
kv_layers, heads = 0, None
print(f"bundle {man['config']}: H x W = {H} x {W} queries, C = {C}, Cm = {Cm}, M = {M} "
      f"(full memory {full})")
for n in m.graph.node:
    if n.op_type != "MatMul":
        continue
    a = shapes.get(n.input[0], inits.get(n.input[0]))
    b = shapes.get(n.input[1], inits.get(n.input[1]))
    y = shapes.get(n.output[0])
    if a and b and y and all(x is not None for x in a + b + y):
        print(f"  {n.name}: {a} x {b} -> {y}")
        if len(a) == 3 and a[1] == M and b == [Cm, C]:
            kv_layers += 1
        if len(a) == 4 and a[2] == H * W and heads is None:
            heads = a[1]
layers = kv_layers // 2  # one key and one value projection per cross-attention layer
heads = heads or 1
q = H * W
macs = layers * 2 * q * M * C  # Q K^T and A V
kv_bytes = layers * 2 * M * C * 4
score_bytes = layers * heads * q * M * 4
touched = kv_bytes * 2 + score_bytes * 4  # K,V written+read; scores written, read, written, read
print(f"cross-attention layers {layers}, heads {heads}")
print(f"  multiply-adds per frame (QK^T + AV): {macs / 1e9:.2f} G")
print(f"  K,V bytes per frame: {kv_bytes / 1e6:.1f} MB; score bytes per frame: "
      f"{score_bytes / 1e6:.1f} MB")
print(f"  memory traffic per frame if nothing stays in cache: {touched / 1e6:.0f} MB")
