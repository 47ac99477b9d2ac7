/*
 * Static model report for `katana onnx inspect` and the pattern findings shared with coverage.
 */
#ifndef KAT_ONNX_INSPECT_H
#define KAT_ONNX_INSPECT_H

#include "tools/onnx/passes.h"

/* Appends the inspect report of `m` (loaded without resolving external data) to `b`. */
int kat__onnx_inspect_text(const kat__onnx_model *m, kat__sb *b);
/* Appends one line per pattern finding (each prefixed with `indent`) and a summary line. Shapes
 * are the declared ones plus local inference (onnx/shape.h) under the default domain's `opset`. */
void kat__onnx_patterns(const Onnx__GraphProto *g, int64_t opset, kat__sb *b, const char *indent);

#endif /* KAT_ONNX_INSPECT_H */
