"""ONNX export of the four bundle modules (opset 17) plus the export-rule lint.

export_modules(model, out_dir, ...) writes image_encoder.onnx, memory_attention.onnx,
mask_decoder.onnx, memory_encoder.onnx (and optionally memory_attention_fixed.onnx) with the tensor
names and dynamic axes of docs/bundle-format.md, checks each with onnx.checker and lint(), and
returns a description of every module (inputs/outputs with symbolic dims) for the manifest.
"""

import io
import os
import time
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper, shape_inference

from . import wrappers as W

OPSET = 17

# --------------------------------------------------------------------------------------------
# lint


def _log(*a):
    print(*a, flush=True)


class LintError(RuntimeError):
    pass


_COMPLEX = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
_COMPLEX_OPS = {"DFT", "STFT"}


def _const_values(graph):
    """name -> np.ndarray for initializers and Constant-node outputs."""
    vals = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    vals[n.output[0]] = numpy_helper.to_array(a.t)
                elif a.name == "value_int":
                    vals[n.output[0]] = np.array(a.i, dtype=np.int64)
                elif a.name == "value_ints":
                    vals[n.output[0]] = np.array(list(a.ints), dtype=np.int64)
    return vals


def _ranks_and_types(model):
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # lint still runs on what it can see
        inferred = model
    g = inferred.graph
    ranks, types = {}, {}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        tt = vi.type.tensor_type
        types[vi.name] = tt.elem_type
        if tt.HasField("shape"):
            ranks[vi.name] = len(tt.shape.dim)
    for t in g.initializer:
        ranks[t.name] = len(t.dims)
        types[t.name] = t.data_type
    return ranks, types


def _probe_ranks(model, names, types, feeds):
    """Ranks of intermediate tensors measured by running the graph with ONNX Runtime."""
    import tempfile
    from . import ort
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have and types.get(n):
            m.graph.output.append(onnx.helper.make_tensor_value_info(n, types[n], None))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.onnx")
        onnx.save(m, path)
        s = ort.Session(path, optimize=False)
        out = s.run(feeds, outputs=[n for n in names if types.get(n)])
        s.close()
    return {k: v.ndim for k, v in out.items()}


def lint(model, feeds=None):
    """Returns the list of export-rule violations of an onnx.ModelProto (empty when clean).

    Rules: no Gather on the last axis with a scalar constant index (Gathers that pick one entry
    of a Shape output are shape arithmetic, not data, and are allowed), no ScatterND, no complex
    tensors or ops, no Reshape whose output rank exceeds 5. Subgraphs are not allowed either."""
    problems = []
    g = model.graph
    consts = _const_values(g)
    ranks, types = _ranks_and_types(model)
    for name, et in types.items():
        if et in _COMPLEX:
            problems.append("complex tensor %s" % name)
    shape_outputs = {n.output[0] for n in g.node if n.op_type == "Shape"}
    if feeds is not None:
        unknown = [n.input[0] for n in g.node
                   if n.op_type == "Gather" and n.input[0] not in ranks and n.input[0] not in shape_outputs]
        if unknown:
            ranks.update(_probe_ranks(model, unknown, types, feeds))
    for i, n in enumerate(g.node):
        where = "node %d %s (%s)" % (i, n.name or "?", n.op_type)
        for a in n.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                problems.append("%s: has a subgraph" % where)
            if n.op_type == "Cast" and a.name == "to" and a.i in _COMPLEX:
                problems.append("%s: casts to complex" % where)
        if n.op_type == "ScatterND":
            problems.append("%s: ScatterND" % where)
        elif n.op_type in _COMPLEX_OPS:
            problems.append("%s: complex op" % where)
        elif n.op_type == "Gather":
            axis = 0
            for a in n.attribute:
                if a.name == "axis":
                    axis = a.i
            idx = consts.get(n.input[1]) if len(n.input) > 1 else None
            # shape arithmetic (Gather of one entry of a Shape output) is not a data gather
            if idx is not None and idx.ndim == 0 and n.input[0] not in shape_outputs:
                rank = ranks.get(n.input[0])
                if rank is None:
                    if axis == -1:
                        problems.append("%s: scalar-index Gather on the last axis" % where)
                    elif axis >= 0:
                        problems.append("%s: scalar-index Gather on axis %d of unknown rank"
                                        % (where, axis))
                elif axis == -1 or axis == rank - 1:
                    problems.append("%s: scalar-index Gather on the last axis (rank %d)"
                                    % (where, rank))
        elif n.op_type == "Reshape":
            shp = consts.get(n.input[1]) if len(n.input) > 1 else None
            rank = int(shp.size) if shp is not None else ranks.get(n.output[0])
            if rank is not None and rank > 5:
                problems.append("%s: Reshape to rank %d" % (where, rank))
    return problems


def op_histogram(model):
    hist = {}
    for n in model.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))


# --------------------------------------------------------------------------------------------
# module descriptions


def _spec(name, shape, dtype="float32"):
    return {"name": name, "dtype": dtype, "shape": list(shape)}


FORMAT_VERSION = 2  # the bundle format this exporter writes by default (bundle.py reads 1, 2)


def describe(model, fixed_tokens=None, format_version=FORMAT_VERSION):
    """Tensor contracts of every module of this model (docs/bundle-format.md). Format 2 adds
    the mask decoder's mask_input [1,1,S/4,S/4] f32 and has_mask_input [1] f32."""
    S = int(model.image_size)
    stride = int(getattr(model, "backbone_stride", 16))
    H = W_ = S // stride
    C = int(model.hidden_dim)
    Cm = int(model.mem_dim)
    hr = W.use_high_res(model)
    hr_specs = [_spec("high_res_feats_0", [1, C // 8, 4 * H, 4 * W_]),
                _spec("high_res_feats_1", [1, C // 4, 2 * H, 2 * W_])]
    mods = {}
    mods["image_encoder"] = {
        "inputs": [_spec("image", [1, 3, S, S])],
        "outputs": [_spec("vision_feats", [1, C, H, W_])] + (hr_specs if hr else []),
    }
    mods["memory_attention"] = {
        "inputs": [_spec("curr", [1, C, H, W_]), _spec("memory", [1, "M", Cm]),
                   _spec("memory_pos", [1, "M", Cm]), _spec("num_obj_ptr_tokens", [], "int64")],
        "outputs": [_spec("pix_feat_with_mem", [1, C, H, W_])],
    }
    if fixed_tokens:
        mods["memory_attention_fixed"] = {
            "inputs": [_spec("curr", [1, C, H, W_]), _spec("memory", [1, fixed_tokens, Cm]),
                       _spec("memory_pos", [1, fixed_tokens, Cm]),
                       _spec("num_obj_ptr_tokens", [], "int64")],
            "outputs": [_spec("pix_feat_with_mem", [1, C, H, W_])],
        }
    mods["mask_decoder"] = {
        "inputs": [_spec("image_embed", [1, C, H, W_])] + (hr_specs if hr else [])
        + [_spec("point_coords", [1, "N", 2]), _spec("point_labels", [1, "N"], "int32")]
        + ([_spec("mask_input", [1, 1, 4 * H, 4 * W_]), _spec("has_mask_input", [1])]
           if format_version >= 2 else []),
        "outputs": [_spec("masks", [1, 4, 4 * H, 4 * W_]), _spec("iou_pred", [1, 4]),
                    _spec("obj_score_logits", [1, 1]), _spec("obj_ptr", [1, 4, C])],
    }
    mods["memory_encoder"] = {
        "inputs": [_spec("pix_feat", [1, C, H, W_]), _spec("mask_logits", [1, 1, 4 * H, 4 * W_]),
                   _spec("is_mask_from_pts", [1])],
        "outputs": [_spec("maskmem_features", [1, Cm, H, W_])],
    }
    return mods


_NP = {"float32": np.float32, "int64": np.int64, "int32": np.int32}


def sample_inputs(spec, seed, dims=None):
    """Seeded inputs for a module spec; symbolic dims from `dims` (name -> int)."""
    dims = dims or {}
    rng = np.random.RandomState(seed)
    feeds = {}
    for t in spec["inputs"]:
        shape = [dims[d] if isinstance(d, str) else d for d in t["shape"]]
        if t["dtype"] == "float32":
            feeds[t["name"]] = rng.standard_normal(shape).astype(np.float32)
        else:
            feeds[t["name"]] = np.zeros(shape, dtype=_NP[t["dtype"]])
    return feeds


def probe_feeds(spec, hw, seed=0):
    """Seeded inputs valid for any module spec of a model with H*W = hw: M = hw + 8 (one
    spatial frame and 8 pointer tokens), N = 3 prompt points."""
    feeds = sample_inputs(spec, seed, {"M": hw + 8, "N": 3})
    if "num_obj_ptr_tokens" in feeds:
        m = [d for d in spec["inputs"] if d["name"] == "memory"][0]["shape"][1]
        m = hw + 8 if isinstance(m, str) else int(m)
        feeds["num_obj_ptr_tokens"] = np.array(m % hw, dtype=np.int64)
    return feeds


def make_wrappers(model, format_version=FORMAT_VERSION):
    """Wrapper modules and the constants the host needs (name -> float32 tensor). Format 2 adds
    the mask decoder's mask input and the constants mask_downsample.weight [1,1,4,4] and
    mask_downsample.bias [1] (the host's 4x4 stride-4 conv for mask prompts)."""
    model.eval()
    S = int(model.image_size)
    enc = W.ImageEncoderW(model).eval()
    with torch.no_grad():
        _, pos = enc.backbone(torch.zeros(1, 3, S, S))
    vision_pos = pos[-1].detach().float().clone()
    feat_hw = (vision_pos.shape[-2], vision_pos.shape[-1])
    mem = W.MemoryAttentionW(model, feat_hw, vision_pos).eval()
    dec = W.MaskDecoderW(model, mask_input=format_version >= 2).eval()
    menc = W.MemoryEncoderW(model).eval()
    C = int(model.hidden_dim)
    with torch.no_grad():
        mpos = menc.pos_enc(torch.zeros(1, C, *feat_hw), torch.zeros(1, 1, S // 4, S // 4),
                            torch.zeros(1)).detach().float().clone()
    consts = {"vision_pos": vision_pos, "maskmem_pos_enc": mpos,
              "maskmem_tpos_enc": model.maskmem_tpos_enc.detach().float().clone(),
              "no_mem_embed": model.no_mem_embed.detach().float().clone()}
    if getattr(model, "no_obj_ptr", None) is not None:
        consts["no_obj_ptr"] = model.no_obj_ptr.detach().float().clone()
    if getattr(model, "no_obj_embed_spatial", None) is not None:
        consts["no_obj_embed_spatial"] = model.no_obj_embed_spatial.detach().float().clone()
    if getattr(model, "proj_tpos_enc_in_obj_ptrs", False):
        consts["obj_ptr_tpos_proj.weight"] = model.obj_ptr_tpos_proj.weight.detach().float().clone()
        consts["obj_ptr_tpos_proj.bias"] = model.obj_ptr_tpos_proj.bias.detach().float().clone()
    ds = getattr(model, "mask_downsample", None)
    if format_version >= 2 and isinstance(ds, torch.nn.Conv2d):
        consts["mask_downsample.weight"] = ds.weight.detach().float().clone()
        consts["mask_downsample.bias"] = ds.bias.detach().float().clone()
    return {"image_encoder": enc, "memory_attention": mem, "mask_decoder": dec,
            "memory_encoder": menc}, consts


def to_torch_args(spec, feeds):
    return tuple(torch.from_numpy(np.ascontiguousarray(feeds[t["name"]])) for t in spec["inputs"])


def export_one(module, spec, path, example_dims):
    """torch.onnx.export of one wrapper with the contract's names and dynamic axes."""
    feeds = sample_inputs(spec, 0, example_dims)
    if "num_obj_ptr_tokens" in feeds:
        feeds["num_obj_ptr_tokens"] = np.array(example_dims["P"], dtype=np.int64)
    args = to_torch_args(spec, feeds)
    dyn = {}
    for t in spec["inputs"] + spec["outputs"]:
        axes = {i: d for i, d in enumerate(t["shape"]) if isinstance(d, str)}
        if axes:
            dyn[t["name"]] = axes
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, opset_version=OPSET, do_constant_folding=True,
                          input_names=[t["name"] for t in spec["inputs"]],
                          output_names=[t["name"] for t in spec["outputs"]],
                          dynamic_axes=dyn or None)
    m = onnx.load_from_string(buf.getvalue())
    m.producer_name = "katana_export"
    set_io_shapes(m, spec)
    onnx.checker.check_model(m)
    problems = lint(m, feeds)
    if problems:
        raise LintError("%s violates the export rules:\n  %s" % (os.path.basename(path),
                                                                  "\n  ".join(problems)))
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return m


def set_io_shapes(m, spec):
    """Declares the contract's exact shapes on the graph inputs/outputs (the tracer leaves
    computed names such as 'Reshapemasks_dim_1' where the contract has a fixed number)."""
    want = {t["name"]: t for t in spec["inputs"] + spec["outputs"]}
    for vi in list(m.graph.input) + list(m.graph.output):
        t = want.get(vi.name)
        if t is None:
            continue
        shp = vi.type.tensor_type.shape
        while len(shp.dim):
            shp.dim.pop()
        for d in t["shape"]:
            dim = shp.dim.add()
            if isinstance(d, str):
                dim.dim_param = d
            else:
                dim.dim_value = int(d)


def example_memory_dims(model, hw):
    """Example sizes for tracing: one memory frame + 2 pointers, 3 prompt points (the graph
    does not depend on them: M and N are dynamic axes; verify runs other sizes)."""
    return {"M": hw + 8, "N": 3, "P": 8}


def export_modules(model, out_dir, fixed_memory=None, fp16=False, log=None, fp16_storage=False,
                   format_version=FORMAT_VERSION):
    """Exports every module into out_dir; returns (specs, constants, per-module stats).
    fp16_storage: store the weights' FP16 values as FP16 initializers + Cast (halfstore.py);
    the model's weights must already be FP16 values (halfstore.round_weights).
    format_version: 2 (default) or 1 (no mask input on the mask decoder; kept for tests of
    readers that must refuse mask prompts on old bundles)."""
    log = log or _log
    os.makedirs(out_dir, exist_ok=True)
    specs = describe(model, fixed_tokens=fixed_memory, format_version=format_version)
    wraps, consts = make_wrappers(model, format_version)
    hw = consts["vision_pos"].shape[-2] * consts["vision_pos"].shape[-1]
    dims = example_memory_dims(model, hw)
    stats = {}
    jobs = [("image_encoder", "image_encoder"), ("memory_attention", "memory_attention"),
            ("mask_decoder", "mask_decoder"), ("memory_encoder", "memory_encoder")]
    if fixed_memory:
        jobs.append(("memory_attention_fixed", "memory_attention"))
    for name, wname in jobs:
        t0 = time.time()
        path = os.path.join(out_dir, name + ".onnx")
        if name == "memory_attention_fixed":
            dims = dict(dims, P=int(fixed_memory) % hw)
        m = export_one(wraps[wname], specs[name], path, dims)
        if fp16:
            from .fp16 import convert_fp16
            m = convert_fp16(m)
            onnx.checker.check_model(m)
            fe = sample_inputs(specs[name], 0, dims)
            if "num_obj_ptr_tokens" in fe:
                fe["num_obj_ptr_tokens"] = np.array(dims["P"], dtype=np.int64)
            problems = lint(m, fe)
            if problems:
                raise LintError("%s (fp16) violates the export rules:\n  %s"
                                % (name, "\n  ".join(problems)))
            with open(path, "wb") as f:
                f.write(m.SerializeToString())
        if fp16_storage and not fp16:
            from .halfstore import store_half
            converted = store_half(m)
            onnx.checker.check_model(m)
            with open(path, "wb") as f:
                f.write(m.SerializeToString())
            log("export: %s: %d initializers stored as FP16" % (name, converted))
        stats[name] = {"file": name + ".onnx", "bytes": os.path.getsize(path),
                       "nodes": len(m.graph.node), "ops": op_histogram(m),
                       "export_s": round(time.time() - t0, 2)}
        log("export: %-24s %8.1f KiB %5d nodes %6.2f s" % (name + ".onnx", stats[name]["bytes"] / 1024.0,
                                                          stats[name]["nodes"], stats[name]["export_s"]))
    return specs, consts, stats
