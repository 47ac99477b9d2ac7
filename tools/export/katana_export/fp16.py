"""FP16 conversion of an exported module, keeping the numerically fragile parts in FP32.

Kept in FP32 (with Cast nodes at the boundaries): LayerNormalization nodes and the decomposed
layer-norm pattern (ReduceMean -> Sub -> Pow/Mul -> ReduceMean -> Add -> Sqrt -> Div), every
Softmax, and the attention-score MatMul feeding a Softmax (plus the scale Mul/Div/Add between
them). Graph inputs and outputs stay float32. Float inputs that ONNX requires as float32
(Resize roi/scales) are left alone.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper, shape_inference

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16

# (op_type, input slot) that must stay float32 whatever the node's precision
_FIXED_F32_SLOTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}


def _consumers(graph):
    cons = {}
    for i, n in enumerate(graph.node):
        for j, x in enumerate(n.input):
            if x:
                cons.setdefault(x, []).append((i, j))
    return cons


def _producer(graph):
    prod = {}
    for i, n in enumerate(graph.node):
        for x in n.output:
            prod[x] = i
    return prod


def fp32_nodes(graph):
    """Indices of the nodes that stay FP32."""
    keep = set()
    nodes = graph.node
    cons = _consumers(graph)
    prod = _producer(graph)

    def only_consumer(t, op):
        c = cons.get(t, [])
        return [i for i, _ in c if nodes[i].op_type in op]

    for i, n in enumerate(nodes):
        if n.op_type in ("LayerNormalization", "Softmax"):
            keep.add(i)
        if n.op_type == "Softmax":
            # walk back through the scale ops (and a Concat of score blocks) to the score MatMuls
            stack = [(n.input[0], 0)]
            while stack:
                t, depth = stack.pop()
                p = prod.get(t)
                if p is None or depth > 6:
                    continue
                op = nodes[p].op_type
                if op in ("MatMul", "Gemm"):
                    keep.add(p)
                elif op in ("Mul", "Div", "Add", "Sub", "Concat"):
                    keep.add(p)
                    for x in nodes[p].input:  # follow the non-constant operands
                        if x in prod and nodes[prod[x]].op_type != "Constant":
                            stack.append((x, depth + 1))
        if n.op_type == "ReduceMean":
            # decomposed layer norm: x - mean(x), squared, mean, + eps, sqrt, divide
            subs = only_consumer(n.output[0], ("Sub",))
            for s in subs:
                sq = only_consumer(nodes[s].output[0], ("Pow", "Mul"))
                rm = [r for q in sq for r in only_consumer(nodes[q].output[0], ("ReduceMean",))]
                if not rm:
                    continue
                chain = {i, s} | set(sq) | set(rm)
                frontier = [nodes[r].output[0] for r in rm]
                for _ in range(3):
                    nxt = []
                    for t in frontier:
                        for c in only_consumer(t, ("Add", "Sqrt", "Div", "Reciprocal", "Mul")):
                            chain.add(c)
                            nxt.extend(nodes[c].output)
                            if nodes[c].op_type == "Div":
                                nxt = []
                                break
                    frontier = nxt
                keep |= chain
                # the Div(x - mean, std) consumer of the Sub output
                for c in only_consumer(nodes[s].output[0], ("Div",)):
                    keep.add(c)
    return keep


def convert_fp16(model):
    """Returns a new ModelProto with FP16 weights/compute except the FP32 islands."""
    model = shape_inference.infer_shapes(model)
    g = model.graph
    types = {}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        types[vi.name] = vi.type.tensor_type.elem_type
    for t in g.initializer:
        types[t.name] = t.data_type
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    types[n.output[0]] = a.t.data_type
    keep = fp32_nodes(g)
    cons = _consumers(g)
    nodes = list(g.node)

    def node_prec(i):
        return F32 if i in keep else F16

    # precision each consumer slot wants for a float tensor
    def wanted(i, j):
        n = nodes[i]
        if (n.op_type, j) in _FIXED_F32_SLOTS:
            return F32
        if n.op_type == "Constant":
            return None
        return node_prec(i)

    inits = {t.name: t for t in g.initializer}
    new_inits = []
    tensor_prec = {}  # float tensor name -> precision it is produced in
    for vi in g.input:
        if vi.type.tensor_type.elem_type == F32:
            tensor_prec[vi.name] = F32
    for name, t in inits.items():
        if t.data_type != F32:
            new_inits.append(t)
            continue
        wants = {wanted(i, j) for i, j in cons.get(name, [])} - {None}
        if wants == {F16}:
            arr = numpy_helper.to_array(t).astype(np.float16)
            new_inits.append(numpy_helper.from_array(arr, name))
            tensor_prec[name] = F16
        else:
            new_inits.append(t)
            tensor_prec[name] = F32
    out_nodes = []
    casts = {}

    def cast_to(name, prec):
        key = (name, prec)
        if key not in casts:
            nm = "%s__to%s" % (name, "f16" if prec == F16 else "f32")
            casts[key] = nm
            out_nodes.append(helper.make_node("Cast", [name], [nm], to=prec,
                                              name=nm + "_cast"))
        return casts[key]

    for i, n in enumerate(nodes):
        prec = node_prec(i)
        if n.op_type == "Constant":
            a = [a for a in n.attribute if a.name == "value"]
            if a and a[0].t.data_type == F32:
                wants = {wanted(c, j) for c, j in cons.get(n.output[0], [])} - {None}
                if wants == {F16}:
                    arr = numpy_helper.to_array(a[0].t).astype(np.float16)
                    a[0].t.CopyFrom(numpy_helper.from_array(arr, a[0].t.name))
                    tensor_prec[n.output[0]] = F16
                else:
                    tensor_prec[n.output[0]] = F32
            out_nodes.append(n)
            continue
        for j, x in enumerate(n.input):
            if not x or x not in tensor_prec:
                continue
            w = wanted(i, j)
            if w is not None and tensor_prec[x] != w:
                n.input[j] = cast_to(x, w)
        # attributes that name a float type
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i == F32 and prec == F16:
                a.i = F16
            if n.op_type == "ConstantOfShape" and a.name == "value" and a.t.data_type == F32 \
                    and prec == F16:
                arr = numpy_helper.to_array(a.t).astype(np.float16)
                a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))
        for x in n.output:
            if types.get(x) == F32:
                tensor_prec[x] = prec
        out_nodes.append(n)
    # graph outputs stay float32
    final_casts = []
    for o in g.output:
        if o.type.tensor_type.elem_type == F32 and tensor_prec.get(o.name) == F16:
            inner = o.name + "__f16"
            for n in out_nodes:
                for k, x in enumerate(n.output):
                    if x == o.name:
                        n.output[k] = inner
                for k, x in enumerate(n.input):
                    if x == o.name:
                        n.input[k] = inner
            final_casts.append(helper.make_node("Cast", [inner], [o.name], to=F32,
                                                name=o.name + "_tof32"))
    # topological order: casts are appended right after their producers were visited, so put
    # every node after the producers of its inputs
    ordered = _toposort(out_nodes + final_casts, [vi.name for vi in g.input] + [t.name for t in new_inits])
    del g.node[:]
    g.node.extend(ordered)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    del g.value_info[:]
    model = shape_inference.infer_shapes(model)
    return model


def _toposort(nodes, available):
    have = set(available)
    have.add("")
    pending = list(nodes)
    out = []
    while pending:
        rest = []
        progressed = False
        for n in pending:
            if all(x in have for x in n.input):
                out.append(n)
                have.update(n.output)
                progressed = True
            else:
                rest.append(n)
        if not progressed:
            raise RuntimeError("fp16: cannot order graph (cycle or missing input %s)"
                               % [x for x in rest[0].input if x not in have])
        pending = rest
    return out
