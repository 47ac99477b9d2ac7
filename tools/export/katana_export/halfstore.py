"""FP16 weight storage with FP32 compute (`--fp16-storage`).

round_weights() rounds every floating-point parameter and buffer of a torch model to the nearest
FP16 value in place (the model keeps computing in FP32). After export, store_half() replaces each
FP32 initializer whose values survive an FP16 round trip exactly, and that holds at least
`min_elems` values, by an FP16 initializer followed by a Cast back to FP32 under the original
name. The graph computes exactly what the FP32 graph computes (the Cast is exact and ONNX
Runtime folds it at session creation), in about half the file size. Initializers that constant
folding derived from several weights (not FP16 values) stay FP32.
"""

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper


def round_weights(model):
    """Rounds the model's floating-point parameters and buffers to FP16 values, in place."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    return model


def half_state_dict(state):
    """A copy of a state dict with floating-point tensors stored as FP16 (for a smaller file)."""
    return {k: (v.half() if torch.is_tensor(v) and v.is_floating_point() else v)
            for k, v in state.items()}


def store_half(m, min_elems=256):
    """Rewrites an onnx.ModelProto in place (see the module comment); returns the number of
    initializers converted."""
    g = m.graph
    keep, casts, n = [], [], 0
    for init in g.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_elems:
            keep.append(init)
            continue
        a = numpy_helper.to_array(init)
        h = a.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), a):
            keep.append(init)
            continue
        half = numpy_helper.from_array(h, init.name + "__fp16")
        keep.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=init.name + "__cast"))
        n += 1
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return n
