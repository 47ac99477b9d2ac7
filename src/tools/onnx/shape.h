/*
 * Local static shape inference for the ONNX passes: ranks and sizes of every value of a graph,
 * worked out op by op from the graph inputs, the initializers and Constant nodes, without ONNX's
 * shape inference and without value_info. Exporters (torch.onnx.export among them) write no
 * intermediate shapes by default, so a pass that reads only declared shapes sees nothing.
 *
 * Rules (docs/internals/onnx.md): declared shapes (inputs, outputs, value_info, initializers)
 * win; otherwise Constant, Shape, Size, Gather, Unsqueeze, Squeeze, Concat, Reshape (constant or
 * partly known shape vector: a Concat of constants and picks from Shape), Transpose, Slice,
 * Split, Expand, ConstantOfShape, Flatten, MatMul, Gemm, Cast/Identity and the unary and
 * broadcasting element-wise ops. Small integer vectors (at most KAT_ONNX_MAX_RANK elements: shape
 * arithmetic) also carry their known values, element by element, so that a Reshape to
 * Concat(Shape(x)[0], ..., [-1], [2]) is known to end in 2. Anything else is of unknown rank.
 * Unknown sizes are -1; inference never guesses a size it cannot derive.
 *
 * Ownership: the table copies every name it keeps, so the graph may be edited after inference;
 * the results describe the graph as it was then. dim_param names are not kept (params[] NULL).
 * Thread-safety: a table is a plain value once built; reading it from several threads is safe.
 */
#ifndef KAT_ONNX_SHAPE_H
#define KAT_ONNX_SHAPE_H

#include "tools/onnx/graph.h"

typedef struct kat__onnx_shapes kat__onnx_shapes;

/* Builds the table for `g` (borrowed for the call) under the default domain's `opset` (Slice,
 * Split, Squeeze and Unsqueeze read attributes below opsets 10/13). KAT_ENOMEM leaves *out NULL. */
int kat__onnx_shapes_infer(const Onnx__GraphProto *g, int64_t opset, kat__onnx_shapes **out,
                           kat__errbuf *eb);
/* Shape of `name`: true with s->rank >= 0 when its rank is known. `t` may be NULL (false). */
bool kat__onnx_shapes_get(const kat__onnx_shapes *t, const char *name, kat__onnx_shape *s);
/* Known integer values of a small (rank 0 or 1) integer value: fills up to `max` values, with
 * known[i] false where element i is not known. Returns the element count, or -1. */
int kat__onnx_shapes_values(const kat__onnx_shapes *t, const char *name, int64_t *v, bool *known,
                            int max);
void kat__onnx_shapes_destroy(kat__onnx_shapes *t);

#endif /* KAT_ONNX_SHAPE_H */
